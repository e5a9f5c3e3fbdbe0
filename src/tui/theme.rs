//! Colours and emphasis. Every status is also said in words, so with `NO_COLOR` set (or a
//! monochrome terminal) the console loses nothing but colour.

use ratatui::style::{Color, Modifier, Style};

use crate::estate::AlarmState;
use crate::rotation::RotationStatus;

/// The styles the panes draw with.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to anything non-empty (<https://no-color.org>).
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// The selected row: reversed, which reads without colour too.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn bad(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn accent(self) -> Style {
        self.fg(Color::Cyan)
    }

    pub fn rotation(self, status: RotationStatus) -> Style {
        match status {
            RotationStatus::Overdue => self.bad(),
            RotationStatus::DueSoon | RotationStatus::Disabled | RotationStatus::Unknown => {
                self.warn()
            }
            RotationStatus::NotRotatable => self.accent(),
            RotationStatus::Ok => self.good(),
            RotationStatus::Replica
            | RotationStatus::AwsManaged
            | RotationStatus::NotApplicable => self.dim(),
        }
    }

    pub fn alarm(self, state: AlarmState) -> Style {
        match state {
            AlarmState::Alarm => self.bad(),
            AlarmState::Ok => self.good(),
            AlarmState::InsufficientData => self.dim(),
        }
    }

    /// The drill banner: loud with colour, reversed and bold without.
    pub fn banner(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
}
