//! Drawing the console: a pure function of the [`App`].
//!
//! The frame is a header line, the pane tabs, the pane, a line of per-region freshness and
//! the key hints; overlays draw over the pane. Below 80x24 only a message is drawn.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::app::{App, DrillView, Pane};
use super::keymap::bindings_for;
use super::panes;
use super::theme::Theme;
use crate::estate::{RegionState, SourceError};

/// The smallest terminal every pane is laid out for.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

const SPINNER: [&str; 4] = ["|", "/", "-", "\\"];

/// Draws the whole console; returns how far the text in focus (an overlay's, else the
/// pane's) can scroll, for [`crate::tui::app::Message::Drawn`].
pub fn render(app: &App, theme: Theme, frame: &mut Frame) -> u16 {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        render_too_small(area, frame);
        return 0;
    }
    let [header, tabs, body, regions, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);

    match &app.drill {
        Some(drill) => frame.render_widget(drill_banner(app, drill, theme), header),
        None => frame.render_widget(header_line(app, theme), header),
    }
    frame.render_widget(tab_line(app, theme), tabs);
    // Of the panes, the overview and a key's detail show text that scrolls.
    let mut pane_limit = 0;
    match app.pane {
        Pane::Overview => pane_limit = panes::overview::render(app, theme, body, frame),
        Pane::Keys => pane_limit = panes::keys::render(app, theme, body, frame),
        Pane::Rotation => panes::rotation::render(app, theme, body, frame),
        Pane::Compliance => panes::compliance::render(app, theme, body, frame),
        Pane::Hsm => panes::hsm::render(app, theme, body, frame),
        Pane::Alarms => panes::alarms::render(app, theme, body, frame),
        Pane::Audit => panes::audit::render(app, theme, body, frame),
        Pane::Log => panes::log::render(theme, body, frame),
    }
    frame.render_widget(region_line(app, theme, regions.width), regions);
    frame.render_widget(footer_line(app, theme), footer);
    match &app.overlay {
        Some(overlay) => super::overlay::render(app, overlay, theme, body, frame),
        None => pane_limit,
    }
}

fn render_too_small(area: Rect, frame: &mut Frame) {
    let text = vec![
        Line::from("keyward: terminal too small"),
        Line::from(format!(
            "{}x{} here; every pane needs at least {MIN_WIDTH}x{MIN_HEIGHT}.",
            area.width, area.height
        )),
        Line::from("Enlarge the window, or press q to quit."),
    ];
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
        area,
    );
}

fn header_line(app: &App, theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("keyward", theme.title()), Span::raw("  ")];
    spans.push(Span::raw(format!("endpoint {}", app.endpoint)));
    if let Some(profile) = &app.profile {
        spans.push(Span::raw(format!("  profile {profile}")));
    }
    if let Some((account, _)) = &app.identity {
        spans.push(Span::raw(format!("  account {account}")));
    }
    if app.read_only {
        spans.push(Span::styled("  [READ-ONLY]", theme.warn()));
    }
    Line::from(spans)
}

/// The unmistakable drill banner with its stopwatch, across the whole first line.
fn drill_banner(app: &App, drill: &DrillView, theme: Theme) -> Paragraph<'static> {
    let lost = drill
        .lose
        .as_deref()
        .map_or_else(|| "no region lost".to_owned(), |r| format!("losing {r}"));
    let clock = match &drill.finished {
        None => {
            let secs = (app.now - drill.started).num_seconds().max(0);
            format!("{:02}:{:02} running", secs / 60, secs % 60)
        }
        Some((report, _)) => format!(
            "verdict {} after {:.1} s; d ends the drill",
            if report.passed { "PASSED" } else { "FAILED" },
            report.verdict_after_ms as f64 / 1000.0
        ),
    };
    Paragraph::new(format!(" DR DRILL  {lost}  {clock} ")).style(theme.banner())
}

fn tab_line(app: &App, theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for (n, pane) in Pane::ALL.iter().enumerate() {
        let label = format!(" {} {} ", n + 1, pane.title());
        spans.push(if *pane == app.pane {
            Span::styled(label, theme.selected())
        } else {
            Span::raw(label)
        });
    }
    Line::from(spans)
}

/// How much of each region's status the region line can afford.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// An error with its code and the age of the last good data.
    Full,
    /// An error with its code.
    Code,
    /// An error as the word ERROR.
    Word,
}

/// Each region's freshness (loading, when last read, or its error) in the longest form that
/// fits in `width` columns; when even the shortest per-region form does not, counts of the
/// regions failing, loading and read.
fn region_line(app: &App, theme: Theme, width: u16) -> Line<'static> {
    let width = usize::from(width);
    let failing = app
        .estate
        .iter()
        .any(|(_, state)| state.keys.error.is_some() && !state.is_loading());
    // Shortened errors point at the pane that has them in full, unless it is on screen.
    let point = failing && app.pane != Pane::Overview;
    let candidates = [
        (Detail::Full, false),
        (Detail::Code, point),
        (Detail::Code, false),
        (Detail::Word, point),
        (Detail::Word, false),
    ];
    for (detail, pointer) in candidates {
        let line = region_statuses(app, theme, detail, pointer);
        if line.width() <= width {
            return line;
        }
    }
    region_counts(app, theme)
}

/// Every region's status in one `detail`, and a pointer to the overview if `pointer`.
fn region_statuses(app: &App, theme: Theme, detail: Detail, pointer: bool) -> Line<'static> {
    let mut spans = Vec::new();
    for (region, state) in app.estate.iter() {
        if !spans.is_empty() {
            spans.push(Span::raw("  "));
        }
        let (mut text, style) = region_status(state, app.now, app.spinner, detail);
        if app.stale.contains(region) {
            text = format!("cached, {text}");
        }
        spans.push(Span::raw(format!("{region} ")));
        spans.push(Span::styled(
            text,
            if state.keys.error.is_some() {
                theme.bad()
            } else {
                style(theme)
            },
        ));
    }
    if pointer {
        spans.push(Span::styled("  see Overview", theme.dim()));
    }
    Line::from(spans)
}

/// The regions counted by state: "3 regions: 2 failing (see Overview), 1 read at 12:00:00".
fn region_counts(app: &App, theme: Theme) -> Line<'static> {
    let (mut failing, mut loading, mut read) = (0, 0, Vec::new());
    for (_, state) in app.estate.iter() {
        if state.is_loading() {
            loading += 1;
        } else if state.keys.error.is_some() {
            failing += 1;
        } else {
            read.extend(state.keys.fetched_at);
        }
    }
    let total = app.estate.order.len();
    let mut parts: Vec<Span> = Vec::new();
    if failing > 0 {
        let pointer = if app.pane == Pane::Overview {
            ""
        } else {
            " (see Overview)"
        };
        parts.push(Span::styled(
            format!("{failing} failing{pointer}"),
            theme.bad(),
        ));
    }
    if loading > 0 {
        parts.push(Span::styled(format!("{loading} loading"), theme.accent()));
    }
    if let Some(oldest) = read.iter().min() {
        let at = oldest.format("%H:%M:%S");
        let when = if read.len() == 1 {
            format!("read at {at}")
        } else {
            format!("read (the oldest at {at})")
        };
        parts.push(Span::styled(format!("{} {when}", read.len()), theme.dim()));
    }
    if !app.stale.is_empty() {
        parts.push(Span::styled(
            format!("{} showing cached data", app.stale.len()),
            theme.warn(),
        ));
    }
    let mut spans = vec![Span::raw(format!(
        "{}: ",
        crate::plural::count(total, "region", "regions")
    ))];
    for (n, part) in parts.into_iter().enumerate() {
        if n > 0 {
            spans.push(Span::raw(", "));
        }
        spans.push(part);
    }
    Line::from(spans)
}

type StyleOf = fn(Theme) -> ratatui::style::Style;

fn region_status(
    state: &RegionState,
    now: DateTime<Utc>,
    spinner: usize,
    detail: Detail,
) -> (String, StyleOf) {
    if state.is_loading() {
        let frame = SPINNER[spinner % SPINNER.len()];
        if !state.describing.is_empty() {
            return (
                format!(
                    "{frame} {} left",
                    crate::plural::count(state.describing.len(), "key", "keys")
                ),
                Theme::accent,
            );
        }
        return (format!("{frame} loading"), Theme::accent);
    }
    match (&state.keys.error, state.keys.fetched_at) {
        (Some(_), _) if detail == Detail::Word => ("ERROR".into(), Theme::bad),
        (Some(err), Some(at)) if detail == Detail::Full => (
            format!("ERROR {} (data {})", err.code, age(at, now)),
            Theme::bad,
        ),
        (Some(err), _) => (format!("ERROR {}", err.code), Theme::bad),
        (None, Some(at)) if state.throttled > 0 => (
            format!("{} throttled x{}", at.format("%H:%M:%S"), state.throttled),
            Theme::warn,
        ),
        (None, Some(at)) => (at.format("%H:%M:%S").to_string(), Theme::dim),
        (None, None) => ("not read".into(), Theme::dim),
    }
}

fn footer_line(app: &App, theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for binding in bindings_for(app.focus(), app.read_only).filter(|b| b.hint) {
        spans.push(Span::styled(binding.keys.to_string(), theme.title()));
        spans.push(Span::styled(
            format!(" {}  ", short_hint(binding.help)),
            theme.dim(),
        ));
    }
    Line::from(spans)
}

/// The first word or two of a help text, for the footer.
fn short_hint(help: &str) -> &str {
    help.split([':', ','])
        .next()
        .unwrap_or(help)
        .split(' ')
        .next()
        .unwrap_or(help)
}

/// "3m ago", "2h ago", "5d ago": how old data fetched at `at` is.
pub fn age(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

/// A source error with the age of the last good data, for a pane that could not be read.
pub fn error_lines(
    what: &str,
    err: &SourceError,
    last_good: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut lines = vec![
        format!("{what}: {} {}", err.operation, err.code),
        err.message.clone(),
    ];
    lines.push(match last_good {
        Some(at) => format!("showing the last good data, {}", age(at, now)),
        None => "no data has been read yet".into(),
    });
    lines
}

/// Formats a date for tables.
pub fn date(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".into(), |d| d.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests;
