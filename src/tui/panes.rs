//! One file per pane; each draws from the [`super::app::App`] alone.

pub mod alarms;
pub mod audit;
pub mod compliance;
pub mod drill;
pub mod hsm;
pub mod keys;
pub mod log;
pub mod overview;
pub mod rotation;
pub mod wizard;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Wrap};

use super::theme::Theme;
use crate::estate::SourceError;

/// A bordered block titled `title`.
pub fn block(title: String, theme: Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .title(Line::styled(format!(" {title} "), theme.title()))
}

/// A message in place of a list: loading, empty, or failed.
pub fn message(lines: Vec<String>, title: String, theme: Theme, area: Rect, frame: &mut Frame) {
    let text: Vec<Line> = lines.into_iter().map(Line::from).collect();
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(block(title, theme)),
        area,
    );
}

/// A table row for a region whose source could not be read: the region, the error code, and
/// in the last of `columns` columns the message with the age of the last good data.
pub fn error_row(
    region: &str,
    err: &SourceError,
    last_good: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    columns: usize,
    theme: Theme,
) -> Row<'static> {
    let mut cells = vec![
        Span::raw(region.to_owned()),
        Span::styled(format!("NOT READ {}", err.code), theme.bad()),
    ];
    cells.resize(columns.saturating_sub(1).max(2), Span::raw(""));
    let last = last_good.map_or_else(
        || "no data yet".to_owned(),
        |at| format!("last good data {}", super::view::age(at, now)),
    );
    cells.push(Span::styled(
        format!("{}: {} ({last})", err.operation, err.message),
        theme.bad(),
    ));
    Row::new(cells)
}

/// Rows of a bordered table with one header row that fit in `area`.
pub fn table_rows(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(3))
}
