//! The audit journal: every plan run or cancelled, newest first, and the chain's verdict.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, Table};

use super::{block, table_rows};
use crate::audit::Verification;
use crate::plural::count;
use crate::tui::app::App;
use crate::tui::keytable::scroll_offset;
use crate::tui::theme::Theme;

pub fn render(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let Some(journal) = &app.journal.data else {
        let lines = match &app.journal.error {
            Some(err) => vec![format!("The journal cannot be read: {}", err.message)],
            None => vec!["Reading the journal…".into()],
        };
        super::message(lines, "Audit journal".into(), theme, area, frame);
        return;
    };
    let [verdict, table] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let line = match &journal.verification {
        None => Line::styled(
            format!("{}  (v verifies the chain)", journal.path),
            theme.dim(),
        ),
        Some(Verification::Intact { entries, head }) => Line::from(vec![
            Span::styled("chain INTACT ", theme.good()),
            Span::raw(format!(
                "{}, head {}",
                count(*entries, "entry", "entries"),
                &head[..head.len().min(16)]
            )),
        ]),
        Some(Verification::Broken { line, seq, reason }) => Line::from(vec![
            Span::styled("chain BROKEN ", theme.bad()),
            Span::raw(format!(
                "at line {line}{}: {reason}",
                seq.map_or_else(String::new, |s| format!(" (entry {s})"))
            )),
        ]),
    };
    frame.render_widget(line, verdict);

    let title = format!(
        "Audit journal: {}, newest first",
        count(journal.entries.len(), "entry", "entries")
    );
    if journal.entries.is_empty() {
        super::message(
            vec!["Nothing has been journaled yet: no plan was run or cancelled.".into()],
            title,
            theme,
            table,
            frame,
        );
        return;
    }
    let height = table_rows(table);
    let offset = scroll_offset(app.audit_selected, height, journal.entries.len());
    let rows = journal
        .entries
        .iter()
        .rev()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(position, entry)| {
            let style = if position == app.audit_selected {
                theme.selected()
            } else {
                Style::new()
            };
            let failed = entry.summary.contains("FAILED");
            Row::new(vec![
                Span::raw(entry.seq.to_string()),
                Span::raw(entry.time.format("%Y-%m-%d %H:%M:%S").to_string()),
                Span::raw(entry.operator.user.clone()),
                Span::styled(
                    entry.summary.clone(),
                    if failed { theme.bad() } else { Style::new() },
                ),
            ])
            .style(style)
        });
    let widths = [
        Constraint::Length(5),
        Constraint::Length(19),
        Constraint::Length(10),
        Constraint::Fill(1),
    ];
    let header = Row::new(["SEQ", "TIME (UTC)", "OPERATOR", "WHAT"]).style(theme.title());
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block(title, theme)),
        table,
    );
}
