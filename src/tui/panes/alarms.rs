//! CloudWatch alarms per region: state in words (OK, ALARM, NO DATA), reason and since when.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Row, Table};

use super::{block, table_rows};
use crate::tui::app::App;
use crate::tui::keytable::scroll_offset;
use crate::tui::theme::Theme;
use crate::tui::view::{age, error_lines};

pub fn render(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let alarms: Vec<_> = app.estate.alarms().collect();
    let failed: Vec<_> = app
        .estate
        .iter()
        .filter_map(|(region, state)| {
            Some((
                region,
                state.alarms.error.as_ref()?,
                state.alarms.fetched_at,
            ))
        })
        .collect();
    let title = format!("CloudWatch alarms: {}", alarms.len());
    if alarms.is_empty() {
        let mut lines: Vec<String> = failed
            .iter()
            .flat_map(|(region, err, at)| error_lines(region, err, *at, app.now))
            .collect();
        if lines.is_empty() {
            lines.push("No alarms in the watched regions.".into());
        }
        super::message(lines, title, theme, area, frame);
        return;
    }
    let errors: Vec<_> = failed
        .iter()
        .map(|(region, err, at)| super::error_row(region, err, *at, app.now, 5, theme))
        .collect();
    let height = table_rows(area).saturating_sub(errors.len());
    let offset = scroll_offset(app.alarms_selected, height, alarms.len());
    let rows = alarms
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(position, alarm)| {
            let style = if position == app.alarms_selected {
                theme.selected()
            } else {
                Style::new()
            };
            Row::new(vec![
                Span::raw(alarm.region.clone()),
                Span::raw(alarm.name.clone()),
                Span::styled(alarm.state.label(), theme.alarm(alarm.state)),
                Span::raw(
                    alarm
                        .since
                        .map_or_else(|| "-".into(), |at| age(at, app.now)),
                ),
                Span::raw(alarm.reason.clone()),
            ])
            .style(style)
        })
        .chain(errors);
    let widths = [
        Constraint::Length(14),
        Constraint::Length(22),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Fill(1),
    ];
    let header = Row::new(["REGION", "ALARM", "STATE", "SINCE", "REASON"]).style(theme.title());
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block(title, theme)),
        area,
    );
}
