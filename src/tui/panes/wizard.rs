//! The ceremony wizard's screen: the form, then the steps with their outcomes and the one
//! waiting for the officer. PINs are never drawn: only whether something was typed.

use ratatui::text::{Line, Span};

use crate::hsm::ceremony::{CeremonyState, StepOutcome};
use crate::tui::theme::Theme;
use crate::tui::wizard::{Field, Stage, Wizard};

/// The wizard's title and lines, for the overlay.
pub fn lines(wizard: &Wizard, spinner: usize, theme: Theme) -> (String, Vec<Line<'static>>) {
    let mut lines = Vec::new();
    if let Stage::Form { field } = &wizard.stage {
        lines.push(Line::styled(
            "Name the ceremony and its people, choose the token and the root key. Nothing \
             touches the token before you confirm each step.",
            theme.dim(),
        ));
        for (position, f) in Field::ALL.iter().enumerate() {
            let selected = position == *field;
            let choice = matches!(f, Field::Token | Field::ChangePin);
            let value = wizard.value(*f);
            let shown = match (selected, choice) {
                (true, true) => format!("< {value} >"),
                (true, false) => format!("{value}_"),
                _ => value,
            };
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{}{:<19}", if selected { "> " } else { "  " }, f.label()),
                    if selected { theme.title() } else { theme.dim() },
                ),
                Span::raw(shown),
            ]));
        }
        push_message(wizard, &mut lines, theme);
        lines.push(Line::styled(
            "↑↓ Tab move, ←→ choose, Enter on the last field lays out the steps, Esc closes",
            theme.dim(),
        ));
        return ("Root-key ceremony".into(), lines);
    }

    let Some(ceremony) = &wizard.ceremony else {
        // Only while a step runs: the ceremony is with the step.
        let frame = ["|", "/", "-", "\\"][spinner % 4];
        lines.push(Line::raw(format!("{frame} running the step on the token…")));
        return ("Root-key ceremony".into(), lines);
    };
    let plan = ceremony.plan();
    lines.push(Line::from(vec![
        Span::styled("Operator ", theme.dim()),
        Span::raw(plan.operator.clone()),
        Span::styled("  witnesses ", theme.dim()),
        Span::raw(plan.witnesses.join(", ")),
    ]));
    let current = match &wizard.stage {
        Stage::Confirm { step } | Stage::Running { step } => Some(*step),
        Stage::Pins(entry) => Some(entry.step),
        _ => None,
    };
    for step in ceremony.steps() {
        let attempts: Vec<_> = ceremony
            .records()
            .iter()
            .filter(|r| r.step == *step)
            .collect();
        let (marker, style, detail) = match attempts.last().map(|r| &r.outcome) {
            Some(StepOutcome::Succeeded { .. }) => ("done  ", theme.good(), String::new()),
            Some(StepOutcome::Failed { error }) => (
                "FAILED",
                theme.bad(),
                format!("  attempt {}: {}", attempts.len(), error.code),
            ),
            None if Some(*step) == current => ("next  ", theme.accent(), String::new()),
            None => ("      ", theme.dim(), String::new()),
        };
        let title = ceremony.title(*step);
        lines.push(Line::from(vec![
            Span::styled(format!("{marker} {}. ", ceremony.number(*step)), style),
            Span::raw(crate::inventory::truncate(&title, 70)),
            Span::styled(detail, theme.bad()),
        ]));
    }
    lines.push(Line::raw(""));
    match &wizard.stage {
        Stage::Confirm { step } => {
            lines.push(Line::styled(
                format!(
                    "Step {}: {}",
                    ceremony.number(*step),
                    ceremony.describe(*step)
                ),
                theme.title(),
            ));
            push_message(wizard, &mut lines, theme);
            lines.push(Line::styled(
                "y runs this step (its PINs are asked next); x or Esc abandons the ceremony",
                theme.warn(),
            ));
        }
        Stage::Pins(entry) => {
            let typed = if entry.buffer.is_empty() {
                ""
            } else {
                "•••••• (hidden)"
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{}: ", entry.prompt()), theme.title()),
                Span::raw(typed),
            ]));
            push_message(wizard, &mut lines, theme);
            lines.push(Line::styled(
                "Type it and press Enter; nothing you type is shown. Esc goes back to the step.",
                theme.dim(),
            ));
        }
        Stage::Running { .. } => {}
        Stage::Finished { recorded } => {
            let verdict = match ceremony.state() {
                CeremonyState::Completed => Line::styled("Ceremony completed.", theme.good()),
                CeremonyState::Abandoned { reason } => {
                    Line::styled(format!("Ceremony abandoned: {reason}."), theme.bad())
                }
                CeremonyState::InProgress => Line::raw(""),
            };
            lines.push(verdict);
            for key in ceremony.generated_keys() {
                lines.push(Line::raw(format!(
                    "Root key {:?} id {}: KCV {} ({})",
                    key.label,
                    key.id,
                    key.kcv.as_deref().unwrap_or("none"),
                    key.kcv_method
                )));
            }
            lines.push(match recorded {
                None => Line::styled("Writing the transcript…", theme.dim()),
                Some(Ok(where_)) => Line::raw(where_.clone()),
                Some(Err(err)) => Line::styled(err.clone(), theme.bad()),
            });
            lines.push(Line::styled("Enter or Esc closes.", theme.dim()));
        }
        Stage::Form { .. } => {}
    }
    (format!("Root-key ceremony: {}", plan.name), lines)
}

fn push_message(wizard: &Wizard, lines: &mut Vec<Line<'static>>, theme: Theme) {
    if let Some(message) = &wizard.message {
        lines.push(Line::styled(message.clone(), theme.bad()));
    }
}
