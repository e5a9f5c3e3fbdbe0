//! keyward's own log, from tracing through tui-logger. Secrets are never logged, so nothing
//! here needs masking.

use ratatui::Frame;
use ratatui::layout::Rect;
use tui_logger::{TuiLoggerLevelOutput, TuiLoggerWidget};

use super::block;
use crate::tui::theme::Theme;

pub fn render(theme: Theme, area: Rect, frame: &mut Frame) {
    let widget = TuiLoggerWidget::default()
        .block(block("Log".into(), theme))
        .output_level(Some(TuiLoggerLevelOutput::Abbreviated))
        .output_target(false)
        .output_file(false)
        .output_line(false)
        .output_timestamp(Some("%H:%M:%S".into()))
        .style_error(theme.bad())
        .style_warn(theme.warn())
        .style_info(ratatui::style::Style::new())
        .style_debug(theme.dim())
        .style_trace(theme.dim());
    frame.render_widget(widget, area);
}
