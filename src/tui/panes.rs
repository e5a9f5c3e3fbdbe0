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

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::theme::Theme;

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

/// Rows of a bordered table with one header row that fit in `area`.
pub fn table_rows(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(3))
}
