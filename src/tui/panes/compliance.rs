//! Compliance with the rotation policy: each region's share of compliant keys as a gauge, the
//! violations, and a forecast of what becomes due in the next 7, 30 and 90 days.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph, Row, Table};

use super::{block, table_rows};
use crate::policy::Evaluation;
use crate::policy::forecast::HORIZONS_DAYS;
use crate::tui::app::App;
use crate::tui::keytable::scroll_offset;
use crate::tui::theme::Theme;
use crate::tui::view::date;

/// Weeks the forecast timeline covers (the 90-day horizon).
const TIMELINE_WEEKS: usize = 13;

pub fn render(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let Some(evaluation) = &app.evaluation else {
        super::message(
            vec!["Waiting for the first region to be read…".into()],
            "Compliance".into(),
            theme,
            area,
            frame,
        );
        return;
    };
    let regions = evaluation.regions.len() as u16;
    let [gauges, violations, forecast] = Layout::vertical([
        Constraint::Length(regions + 2),
        Constraint::Fill(1),
        Constraint::Length(5),
    ])
    .areas(area);
    render_gauges(evaluation, theme, gauges, frame);
    render_violations(app, theme, violations, frame);
    render_forecast(evaluation, theme, forecast, frame);
}

fn render_gauges(evaluation: &Evaluation, theme: Theme, area: Rect, frame: &mut Frame) {
    let outcome = match evaluation.outcome {
        crate::policy::Outcome::Compliant => "compliant",
        crate::policy::Outcome::Violations => "VIOLATIONS",
        crate::policy::Outcome::Incomplete => "incomplete: not everything could be read",
    };
    let outer = block(format!("Compliance: {outcome}"), theme);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let rows = Layout::vertical(vec![Constraint::Length(1); evaluation.regions.len()]).split(inner);
    for (region, row) in evaluation.regions.iter().zip(rows.iter()) {
        let (ratio, label) = match (&region.error, region.compliant_share) {
            (Some(err), _) => (0.0, format!("{} NOT READ {}", region.region, err.code)),
            (None, Some(share)) => (
                share,
                format!(
                    "{:<14} {:>3.0}% ({} of {} judged; {} violating)",
                    region.region,
                    share * 100.0,
                    region.judged - region.violations,
                    region.judged,
                    region.violations
                ),
            ),
            (None, None) => (1.0, format!("{:<14} no key is judged", region.region)),
        };
        let style = if region.violations > 0 || region.error.is_some() {
            theme.bad()
        } else {
            theme.good()
        };
        frame.render_widget(
            LineGauge::default()
                .ratio(ratio.clamp(0.0, 1.0))
                .label(label)
                .filled_style(style)
                .unfilled_style(theme.dim()),
            *row,
        );
    }
}

fn render_violations(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let violations = app.violations();
    let title = format!("Violations: {}", violations.len());
    if violations.is_empty() {
        super::message(
            vec!["No key violates the rotation policy.".into()],
            title,
            theme,
            area,
            frame,
        );
        return;
    }
    let wide = area.width >= 110;
    let height = table_rows(area);
    let offset = scroll_offset(app.compliance_selected, height, violations.len());
    let rows =
        violations
            .iter()
            .enumerate()
            .skip(offset)
            .take(height)
            .map(|(position, verdict)| {
                let style = if position == app.compliance_selected {
                    theme.selected()
                } else {
                    Style::new()
                };
                let overdue = verdict
                    .days_overdue
                    .map_or_else(|| "-".into(), |d| format!("{d}d"));
                let mut cells = vec![
                    Span::raw(verdict.region.clone()),
                    Span::raw(verdict.name().to_owned()),
                    Span::styled(verdict.status.as_str(), theme.bad()),
                    Span::raw(overdue),
                    Span::raw(
                        verdict
                            .rule
                            .as_ref()
                            .map_or("-", |r| r.name.as_str())
                            .to_owned(),
                    ),
                ];
                if wide {
                    cells.insert(3, Span::raw(date(verdict.last_rotated)));
                }
                Row::new(cells).style(style)
            });
    let mut widths = vec![
        Constraint::Length(14),
        Constraint::Fill(1),
        Constraint::Length(22),
        Constraint::Length(6),
        Constraint::Length(10),
    ];
    let mut header = vec!["REGION", "KEY", "STATUS", "LATE", "RULE"];
    if wide {
        widths.insert(3, Constraint::Length(10));
        header.insert(3, "ROTATED");
    }
    let header = Row::new(header).style(theme.title());
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block(title, theme)),
        area,
    );
}

/// The buckets in words, and a week-by-week timeline of deadlines over the next 90 days.
fn render_forecast(evaluation: &Evaluation, theme: Theme, area: Rect, frame: &mut Frame) {
    let forecast = &evaluation.forecast;
    let mut summary = Vec::new();
    let mut from = 0;
    for (horizon, keys) in forecast.buckets() {
        summary.push(Span::styled(
            format!("{}-{horizon} days: ", from + 1),
            theme.dim(),
        ));
        summary.push(Span::styled(
            format!("{}   ", keys.len()),
            if keys.is_empty() {
                Style::new()
            } else {
                theme.warn()
            },
        ));
        from = horizon;
    }
    let mut weeks = [0usize; TIMELINE_WEEKS];
    for (_, keys) in forecast.buckets() {
        for upcoming in keys {
            let week = (upcoming.days_left.max(0) / 7) as usize;
            if let Some(count) = weeks.get_mut(week) {
                *count += 1;
            }
        }
    }
    let mut header = vec![Span::styled("week ", theme.dim())];
    let mut counts = vec![Span::styled("due  ", theme.dim())];
    for (week, count) in weeks.iter().enumerate() {
        header.push(Span::styled(format!("{:>3}", week + 1), theme.dim()));
        counts.push(if *count == 0 {
            Span::styled("  ·", theme.dim())
        } else {
            Span::styled(format!("{count:>3}"), theme.warn())
        });
    }
    let horizon = HORIZONS_DAYS[HORIZONS_DAYS.len() - 1];
    let lines = vec![Line::from(summary), Line::from(header), Line::from(counts)];
    frame.render_widget(
        Paragraph::new(lines).block(block(format!("Forecast: the next {horizon} days"), theme)),
        area,
    );
}
