//! Drill mode on the overview: what survives the loss of a region, check by check, failures
//! first, with each check's reason and duration.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::tui::app::{App, DrillView};
use crate::tui::scroll::render_text;
use crate::tui::theme::Theme;

/// Draws the drill's progress or checks; returns how far they can scroll.
pub fn render(app: &App, drill: &DrillView, theme: Theme, area: Rect, frame: &mut Frame) -> u16 {
    let title = match &drill.lose {
        Some(region) => format!("Drill: what losing {region} would mean"),
        None => "Drill: replicas and cross-region round trips".to_owned(),
    };
    let Some((report, journal)) = &drill.finished else {
        let frame_char = ["|", "/", "-", "\\"][app.spinner % 4];
        let lines = vec![
            Line::raw(format!(
                "{frame_char} Reading every region, checking replicas, and round-tripping data \
                 keys between each primary and its replicas…"
            )),
            Line::styled(
                "Plaintexts are compared in memory and never shown.",
                theme.dim(),
            ),
        ];
        return render_text(lines, title, Some(app.overview_scroll), theme, area, frame);
    };

    let failed = report.checks.iter().filter(|c| !c.passed).count();
    let mut lines = vec![Line::from(vec![
        if report.passed {
            Span::styled("PASSED ", theme.good())
        } else {
            Span::styled("FAILED ", theme.bad())
        },
        Span::raw(format!(
            "{}, {failed} failed, verdict after {:.1} s; {}",
            crate::plural::count(report.checks.len(), "check", "checks"),
            report.verdict_after_ms as f64 / 1000.0,
            match journal {
                Ok(seq) => format!("journaled as entry {seq}"),
                Err(err) => format!("NOT journaled: {err}"),
            }
        )),
    ])];
    let mut checks: Vec<_> = report.checks.iter().collect();
    checks.sort_by_key(|c| c.passed);
    for check in checks {
        let (word, style) = if check.passed {
            ("pass", theme.good())
        } else {
            ("FAIL", theme.bad())
        };
        let region = check
            .region
            .as_deref()
            .map_or_else(String::new, |r| format!(" [{r}]"));
        lines.push(Line::from(vec![
            Span::styled(format!("{word} {:<10} ", check.kind), style),
            Span::raw(format!(
                "{}{region}: {} ({} ms)",
                check.subject, check.reason, check.duration_ms
            )),
        ]));
    }
    render_text(lines, title, Some(app.overview_scroll), theme, area, frame)
}
