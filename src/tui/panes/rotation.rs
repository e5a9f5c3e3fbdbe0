//! Rotation countdowns, most urgent first, with a bar of the period used; and the approval
//! queue: due keys marked with Space are approved as one plan with `A`.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Row, Table};

use super::{block, table_rows};
use crate::tui::app::App;
use crate::tui::keytable::{key_of, scroll_offset};
use crate::tui::theme::Theme;
use crate::tui::view::date;

/// Cells in the bar of the period used.
const BAR_CELLS: usize = 10;

pub fn render(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let queue = app.rotation_queue();
    let title = if app.read_only {
        format!(
            "Rotation: {} with a countdown, most urgent first",
            crate::plural::count(queue.len(), "key", "keys")
        )
    } else {
        format!(
            "Rotation: {} with a countdown; {} marked (Space marks a due key, A approves)",
            queue.len(),
            app.marked.len()
        )
    };
    if queue.is_empty() {
        super::message(
            vec!["No key has a rotation countdown yet.".into()],
            title,
            theme,
            area,
            frame,
        );
        return;
    }
    let wide = area.width >= 110;
    let height = table_rows(area);
    let offset = scroll_offset(app.rotation_selected, height, queue.len());
    let rows = queue
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .filter_map(|(position, row)| {
            let key = key_of(&app.estate, row)?;
            let view = &row.view;
            let mark = if app.marked.contains(&key.arn) {
                "[x]"
            } else {
                "[ ]"
            };
            let style = if position == app.rotation_selected {
                theme.selected()
            } else {
                Style::new()
            };
            let mut cells = vec![
                Span::raw(if app.read_only { "" } else { mark }),
                Span::raw(key.region.clone()),
                Span::raw(key.display_name().to_owned()),
                Span::styled(view.status.label(), theme.rotation(view.status)),
                Span::styled(view.countdown(), theme.rotation(view.status)),
                Span::styled(
                    bar(view.days_left, view.period_days),
                    theme.rotation(view.status),
                ),
            ];
            if wide {
                cells.insert(4, Span::raw(date(view.last_rotated.or(key.created))));
                cells.insert(5, Span::raw(date(view.next_rotation)));
            }
            Some(Row::new(cells).style(style))
        });
    let mut widths = vec![
        Constraint::Length(3),
        Constraint::Length(14),
        Constraint::Fill(1),
        Constraint::Length(8),
        Constraint::Length(12),
        Constraint::Length(BAR_CELLS as u16),
    ];
    let mut header = vec!["", "REGION", "KEY", "STATUS", "COUNTDOWN", "PERIOD"];
    if wide {
        widths.splice(4..4, [Constraint::Length(10), Constraint::Length(10)]);
        header.splice(4..4, ["LAST", "NEXT"]);
    }
    let header = Row::new(header).style(theme.title());
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block(title, theme)),
        area,
    );
}

/// How much of the period has passed, as a bar of block characters; full when overdue.
fn bar(days_left: Option<i64>, period: Option<u32>) -> String {
    let (Some(left), Some(period)) = (days_left, period) else {
        return String::new();
    };
    let period = i64::from(period.max(1));
    let used = (period - left).clamp(0, period);
    let filled = (used * BAR_CELLS as i64 / period) as usize;
    format!("{}{}", "█".repeat(filled), "·".repeat(BAR_CELLS - filled))
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn the_bar_fills_as_the_period_passes() {
        assert_eq!(bar(Some(90), Some(90)), "··········");
        assert_eq!(bar(Some(45), Some(90)), "█████·····");
        assert_eq!(bar(Some(-3), Some(90)), "██████████");
        assert_eq!(bar(None, Some(90)), "");
    }
}
