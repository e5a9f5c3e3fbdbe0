//! Text that may be longer than its box: drawn from a scroll offset, with a scrollbar on the
//! right border and, on the bottom border, how much is hidden and how to see it.
//!
//! Drawing cannot change the state, so the offset is clamped here and the furthest offset the
//! text allows is returned for the app to clamp its own (see `Message::Drawn`).

use ratatui::Frame;
use ratatui::layout::{Margin, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState, Wrap};

use super::panes::block;
use super::theme::Theme;

/// Rows `lines` take when wrapped into `width` columns, as a paragraph draws them.
pub fn wrapped_rows(lines: &[Line<'static>], width: u16) -> usize {
    Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: false })
        .line_count(width)
}

/// Draws `lines` wrapped inside a block titled `title`, `offset` rows down, and returns the
/// largest offset that still fills the box (0 when everything fits). Text that cannot scroll
/// (`offset` is `None`) is drawn from the top, without a scrollbar or a hint to scroll.
pub fn render_text(
    lines: Vec<Line<'static>>,
    title: String,
    offset: Option<u16>,
    theme: Theme,
    area: Rect,
    frame: &mut Frame,
) -> u16 {
    let mut outer = block(title, theme);
    let inner = outer.inner(area);
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    let rows = paragraph.line_count(inner.width);
    let height = usize::from(inner.height);
    let limit = match offset {
        Some(_) => rows.saturating_sub(height),
        None => 0,
    };
    let offset = usize::from(offset.unwrap_or(0)).min(limit);

    if limit > 0 {
        let below = limit - offset;
        let hint = match (offset, below) {
            (0, _) => format!(" ↓ {below} more below: ↑↓ PgUp PgDn scroll "),
            (_, 0) => format!(" end  ↑ {offset} above "),
            _ => format!(" ↑ {offset} above  ↓ {below} more below "),
        };
        outer = outer.title_bottom(Line::styled(hint, theme.dim()).right_aligned());
    }
    let offset_rows = u16::try_from(offset).unwrap_or(u16::MAX);
    frame.render_widget(paragraph.scroll((offset_rows, 0)).block(outer), area);

    if limit > 0 {
        let mut state = ScrollbarState::new(limit + 1)
            .position(offset)
            .viewport_content_length(height);
        frame.render_stateful_widget(
            Scrollbar::new(ScrollbarOrientation::VerticalRight),
            area.inner(Margin {
                vertical: 1,
                horizontal: 0,
            }),
            &mut state,
        );
    }
    u16::try_from(limit).unwrap_or(u16::MAX)
}
