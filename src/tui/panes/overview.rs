//! The overview: per region, keys by rotation status, clusters and alarms firing; below, what
//! needs attention first (or the drill), scrolling when it is longer than the pane.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, Table};

use super::block;
use crate::estate::AlarmState;
use crate::rotation::RotationStatus;
use crate::tui::app::App;
use crate::tui::keytable::key_of;
use crate::tui::theme::Theme;
use crate::tui::view::age;

/// Draws the overview; returns how far its lower half can scroll.
pub fn render(app: &App, theme: Theme, area: Rect, frame: &mut Frame) -> u16 {
    let regions = app.estate.order.len() as u16;
    let [top, bottom] =
        Layout::vertical([Constraint::Length(regions + 3), Constraint::Fill(1)]).areas(area);
    render_regions(app, theme, top, frame);
    match &app.drill {
        Some(drill) => super::drill::render(app, drill, theme, bottom, frame),
        None => render_attention(app, theme, bottom, frame),
    }
}

fn render_regions(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let header = Row::new([
        "REGION", "KEYS", "OK", "DUE", "OVERDUE", "OFF", "MANUAL", "HSM", "ALARM", "READ",
    ])
    .style(theme.title());
    let rows = app
        .estate
        .iter()
        .enumerate()
        .map(|(position, (region, state))| {
            let count = |status: RotationStatus| {
                app.keys
                    .rows
                    .iter()
                    .filter(|r| r.region == position && r.view.status == status)
                    .count()
            };
            let keys = match (&state.keys.data, &state.keys.error) {
                (Some(keys), _) => keys.len().to_string(),
                (None, Some(_)) => "-".into(),
                (None, None) => "…".into(),
            };
            let clusters = match (&state.clusters.data, &state.clusters.error) {
                (_, Some(_)) => "ERROR".into(),
                // A cluster without HSMs serves nothing: count the HSMs, not the clusters.
                (Some(clusters), None) => {
                    let hsms: usize = clusters.iter().map(|c| c.hsms.len()).sum();
                    crate::plural::count(hsms, "HSM", "HSMs")
                }
                (None, None) => "…".into(),
            };
            let alarms = match (&state.alarms.data, &state.alarms.error) {
                (_, Some(_)) => "ERROR".into(),
                (Some(alarms), None) => {
                    let firing = alarms
                        .iter()
                        .filter(|a| a.state == AlarmState::Alarm)
                        .count();
                    format!("{firing}/{}", alarms.len())
                }
                (None, None) => "…".into(),
            };
            let lost = app
                .drill
                .as_ref()
                .is_some_and(|d| d.lose.as_deref() == Some(region));
            let read = match (&state.keys.error, state.keys.fetched_at) {
                _ if lost => "LOST".into(),
                // A read lists the keys and aliases first, then describes what it must.
                _ if !state.describing.is_empty() => format!("{} left", state.describing.len()),
                _ if state.is_loading() => "listing".into(),
                (Some(_), _) => "ERROR".into(),
                // The time of the read, not its age: an idle console draws nothing, and an
                // age would stand still on screen while it grew.
                (None, Some(at)) => at.format("%H:%M:%S").to_string(),
                (None, None) => "-".into(),
            };
            let overdue = count(RotationStatus::Overdue);
            let style = if state.keys.error.is_some() || overdue > 0 {
                theme.bad()
            } else {
                ratatui::style::Style::new()
            };
            // A region never read has no counts, which is not the same as none.
            let shown = |n: usize| match state.keys.data {
                Some(_) => n.to_string(),
                None => "-".to_owned(),
            };
            Row::new([
                region.to_owned(),
                keys,
                shown(count(RotationStatus::Ok)),
                shown(count(RotationStatus::DueSoon)),
                shown(overdue),
                shown(count(RotationStatus::Disabled)),
                shown(count(RotationStatus::NotRotatable)),
                clusters,
                alarms,
                read,
            ])
            .style(style)
        });
    let widths = [
        Constraint::Length(14),
        Constraint::Length(5),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block("Regions".into(), theme)),
        area,
    );
}

/// Region errors, overdue and due-soon keys, and alarms firing, most urgent first.
fn render_attention(app: &App, theme: Theme, area: Rect, frame: &mut Frame) -> u16 {
    let mut lines: Vec<Line> = Vec::new();
    for (region, state) in app.estate.iter() {
        let code = |e: &Option<crate::estate::SourceError>| e.as_ref().map(|e| e.code.clone());
        if let Some(err) = &state.keys.error
            && code(&state.clusters.error).as_ref() == Some(&err.code)
            && code(&state.alarms.error).as_ref() == Some(&err.code)
        {
            let last = state.keys.fetched_at.map_or_else(
                || "no data yet".into(),
                |at| format!("last good data {}", age(at, app.now)),
            );
            lines.push(Line::from(vec![
                Span::styled(format!("{region} NOT READ "), theme.bad()),
                Span::raw(format!("{}: {} ({last})", err.code, err.message)),
            ]));
            continue;
        }
        // Keys listed but not described: their rows say Unknown, and so should this.
        let undescribed: Vec<&crate::estate::Key> = state
            .key_list()
            .iter()
            .filter(|k| k.state == crate::estate::UNDESCRIBED)
            .collect();
        if let Some(first) = undescribed.first() {
            let why = first
                .errors
                .first()
                .map_or_else(String::new, |e| format!(": {}: {}", e.code, e.message));
            lines.push(Line::from(vec![
                Span::styled(
                    format!(
                        "{region} {} NOT DESCRIBED",
                        crate::plural::count(undescribed.len(), "key", "keys")
                    ),
                    theme.bad(),
                ),
                Span::raw(why),
            ]));
        }
        for (what, err, at) in [
            ("keys", &state.keys.error, state.keys.fetched_at),
            ("CloudHSM", &state.clusters.error, state.clusters.fetched_at),
            ("alarms", &state.alarms.error, state.alarms.fetched_at),
        ] {
            if let Some(err) = err {
                let last = at.map_or_else(
                    || "no data yet".into(),
                    |at| format!("last good data {}", age(at, app.now)),
                );
                lines.push(Line::from(vec![
                    Span::styled(format!("{region} {what} NOT READ "), theme.bad()),
                    Span::raw(format!("{}: {} ({last})", err.code, err.message)),
                ]));
            }
        }
    }
    let mut urgent: Vec<_> = app
        .keys
        .rows
        .iter()
        .filter(|r| {
            matches!(
                r.view.status,
                RotationStatus::Overdue | RotationStatus::DueSoon
            )
        })
        .collect();
    urgent.sort_by_key(|r| r.view.days_left);
    let mut urgent_arns: Vec<&str> = Vec::new();
    for row in urgent {
        let Some(key) = key_of(&app.estate, row) else {
            continue;
        };
        urgent_arns.push(&key.arn);
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:<9}", row.view.status.label()),
                theme.rotation(row.view.status),
            ),
            Span::raw(format!(
                "{} in {}: {}",
                key.display_name(),
                key.region,
                row.view.countdown()
            )),
        ]));
    }
    // Policy violations the countdowns above do not show: rotation off, a schedule too slow,
    // a manual rotation needed.
    let shown: std::collections::BTreeSet<&str> = urgent_arns.iter().copied().collect();
    for verdict in app
        .violations()
        .into_iter()
        .filter(|v| !shown.contains(v.arn.as_str()))
    {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<9}", "POLICY"), theme.bad()),
            Span::raw(format!(
                "{} in {}: {}",
                verdict.name(),
                verdict.region,
                verdict.detail
            )),
        ]));
    }
    for alarm in app.estate.alarms().filter(|a| a.state == AlarmState::Alarm) {
        lines.push(Line::from(vec![
            Span::styled("ALARM    ", theme.bad()),
            Span::raw(format!(
                "{} in {}: {}",
                alarm.name, alarm.region, alarm.reason
            )),
        ]));
    }
    if lines.is_empty() {
        // No all-clear while anything is still being read.
        let reading = app
            .estate
            .iter()
            .filter(|(_, s)| s.is_loading() || !s.describing.is_empty())
            .count();
        let text = if reading > 0 {
            format!(
                "Reading {}; nothing needs attention so far.",
                crate::plural::count(reading, "region", "regions")
            )
        } else {
            "Nothing needs attention: no key is due or overdue, no alarm fires.".to_owned()
        };
        lines.push(Line::styled(text, theme.dim()));
    }
    let title = "Needs attention".to_owned();
    crate::tui::scroll::render_text(lines, title, Some(app.overview_scroll), theme, area, frame)
}
