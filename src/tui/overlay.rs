//! Drawing the overlays of [`super::dialog`] over the pane, each in a box as tall as its
//! text, scrolling when the pane is shorter.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Clear;

use super::app::App;
use super::dialog::{ActionMenu, Confirm, Overlay, Running};
use super::keymap::{Binding, Shows, bindings_for};
use super::scroll;
use super::theme::Theme;
use crate::action::{Risk, StepStatus};

/// Draws `overlay` centred in `area`; returns how far its text can scroll.
pub fn render(app: &App, overlay: &Overlay, theme: Theme, area: Rect, frame: &mut Frame) -> u16 {
    let (title, lines) = match overlay {
        Overlay::Help => (
            "Help: the keys of this pane (any key closes)".to_owned(),
            help(app, theme, popup_width(area)),
        ),
        Overlay::Menu(menu) => (
            format!("Actions on {}", menu.key_name),
            menu_lines(menu, theme),
        ),
        Overlay::Planning(what) => {
            let frame_char = ["|", "/", "-", "\\"][app.spinner % 4];
            (
                "Planning".to_owned(),
                vec![
                    Line::raw(format!("{frame_char} {what}")),
                    Line::styled("Nothing runs before you confirm. Esc leaves.", theme.dim()),
                ],
            )
        }
        Overlay::Confirm(confirm) => ("Confirm the plan".to_owned(), confirm_lines(confirm, theme)),
        Overlay::Running(running) => (running.plan.title.clone(), running_lines(running, theme)),
        Overlay::DrillSetup { choices, selected } => (
            "Disaster-recovery drill".to_owned(),
            drill_setup_lines(choices, *selected, theme),
        ),
        Overlay::NewKey { alias, message } => (
            "New multi-region key".to_owned(),
            new_key_lines(app, alias, message.as_deref(), theme),
        ),
        Overlay::Login(login) => ("Log in to a token".to_owned(), login_lines(login, theme)),
        Overlay::Wizard(wizard) => {
            let (title, lines) = super::panes::wizard::lines(wizard, app.spinner, theme);
            (title, lines)
        }
        Overlay::Notice { title, lines, .. } => (
            title.clone(),
            lines
                .iter()
                .map(|l| Line::raw(l.clone()))
                .chain([Line::styled("Any key closes.", theme.dim())])
                .collect(),
        ),
    };
    let width = popup_width(area);
    let rows = scroll::wrapped_rows(&lines, width.saturating_sub(2));
    let height = u16::try_from(rows + 2).map_or(area.height, |h| h.min(area.height));
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(popup);
    frame.render_widget(Clear, popup);
    let offset = overlay.scroll().copied();
    scroll::render_text(lines, title, offset, theme, popup, frame)
}

/// Width of the left column of the help overlay.
const HELP_LEFT: usize = 28;

fn popup_width(area: Rect) -> u16 {
    area.width.saturating_sub(4).min(100)
}

/// Every key: those that work everywhere on the left, this pane's own on the right.
fn help(app: &App, theme: Theme, width: u16) -> Vec<Line<'static>> {
    let right_width = usize::from(width.saturating_sub(2))
        .saturating_sub(HELP_LEFT)
        .max(16);
    let entry = |keys: &str, help: &str| (keys.to_owned(), help.to_owned());
    let (mut global, local): (Vec<&Binding>, Vec<&Binding>) =
        bindings_for(app.focus(), app.read_only).partition(|b| {
            b.scope == super::keymap::Scope::Everywhere && b.shows == Shows::Anything
        });
    global.sort_by_key(|b| b.command == super::keymap::Command::Back);
    let mut left: Vec<(String, String)> = global.iter().map(|b| entry(b.keys, b.help)).collect();
    left.push(entry("Ctrl-C", "quit"));
    let right: Vec<(String, String)> = local.iter().map(|b| entry(b.keys, b.help)).collect();
    let cell = |item: Option<&(String, String)>, width: usize| -> Vec<Span<'static>> {
        match item {
            Some((keys, help)) => vec![
                Span::styled(format!("{keys:<7} "), theme.title()),
                Span::raw(format!(
                    "{:<w$}",
                    crate::inventory::truncate(help, width - 8),
                    w = width - 8
                )),
            ],
            None => vec![Span::raw(" ".repeat(width))],
        }
    };
    let rows = left.len().max(right.len());
    let mut lines: Vec<Line> = (0..rows)
        .map(|i| {
            let mut spans = cell(left.get(i), HELP_LEFT);
            spans.extend(cell(right.get(i), right_width));
            Line::from(spans)
        })
        .collect();
    if app.read_only {
        lines.push(Line::styled(
            "Read-only mode: no action that changes keys or tokens is offered.",
            theme.warn(),
        ));
    }
    lines
}

fn menu_lines(menu: &ActionMenu, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (position, (request, verdict)) in menu.items.iter().enumerate() {
        let marker = if position == menu.selected {
            "> "
        } else {
            "  "
        };
        let label = match request {
            crate::action::Request::Replicate { to_region } if verdict.is_ok() => {
                format!("replicate to {to_region}")
            }
            crate::action::Request::Replicate { .. } => "replicate to another region".to_owned(),
            other => other.label().to_owned(),
        };
        let style = if position == menu.selected {
            theme.selected()
        } else if verdict.is_err() {
            theme.dim()
        } else {
            ratatui::style::Style::new()
        };
        let mut spans = vec![Span::styled(format!("{marker}{label}"), style)];
        if let Err(refusal) = verdict {
            spans.push(Span::styled(
                format!("  unavailable: {refusal}"),
                theme.dim(),
            ));
        }
        lines.push(Line::from(spans));
    }
    if let Some((what, range)) = menu.parameter() {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{what} ({}-{}): ", range.start(), range.end()),
                theme.dim(),
            ),
            Span::styled(format!("{}_", menu.number), theme.title()),
            Span::styled("  type digits, Backspace", theme.dim()),
        ]));
    }
    if let Some(message) = &menu.message {
        lines.push(Line::styled(message.clone(), theme.bad()));
    }
    lines.push(Line::styled(
        "↑↓ choose, Enter shows the plan (nothing runs yet), Esc closes",
        theme.dim(),
    ));
    lines
}

fn confirm_lines(confirm: &Confirm, theme: Theme) -> Vec<Line<'static>> {
    let plan = &confirm.plan;
    let mut lines: Vec<Line> = plan
        .lines()
        .into_iter()
        .enumerate()
        .map(|(n, text)| {
            if n == 0 {
                Line::styled(text, theme.title())
            } else if text.starts_with("Risk: DESTRUCTIVE") {
                Line::styled(text, theme.bad())
            } else {
                Line::raw(text)
            }
        })
        .collect();
    lines.push(Line::raw(""));
    match &plan.confirm_words()[..] {
        [] => lines.push(Line::styled(
            "Press y to run this plan; n or Esc cancels. ↑↓ scroll.",
            if plan.risk == Risk::Destructive {
                theme.bad()
            } else {
                theme.warn()
            },
        )),
        words => {
            let mut prompt = vec![
                Span::styled("Type ", theme.warn()),
                Span::styled(words[0].to_owned(), theme.title()),
            ];
            if let Some(key_id) = words.get(1) {
                prompt.push(Span::styled(" or its key id ", theme.warn()));
                prompt.push(Span::styled((*key_id).to_owned(), theme.title()));
            }
            prompt.push(Span::styled(
                " and press Enter to run it; Ctrl-U clears, Esc cancels.",
                theme.warn(),
            ));
            lines.push(Line::from(prompt));
            lines.push(Line::from(vec![
                Span::styled("> ", theme.title()),
                Span::raw(format!("{}_", confirm.typed)),
            ]));
        }
    }
    if let Some(message) = &confirm.message {
        lines.push(Line::styled(message.clone(), theme.bad()));
    }
    lines
}

fn running_lines(running: &Running, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (index, step) in running.plan.steps.iter().enumerate() {
        let outcome = running.steps.iter().find(|s| s.index == index);
        let (status, style) = match outcome.map(|o| o.status) {
            Some(StepStatus::Succeeded) => ("done   ", theme.good()),
            Some(StepStatus::Failed) => ("FAILED ", theme.bad()),
            Some(StepStatus::Skipped) => ("skipped", theme.dim()),
            None if running.steps.len() == index && running.finished.is_none() => {
                ("running", theme.accent())
            }
            None => ("waiting", theme.dim()),
        };
        let mut spans = vec![
            Span::styled(format!("{status} "), style),
            Span::raw(format!(
                "{}. [{}] {}",
                index + 1,
                step.region,
                step.call.operation()
            )),
        ];
        if let Some(outcome) = outcome {
            if let Some(id) = &outcome.request_id {
                spans.push(Span::styled(format!("  request {id}"), theme.dim()));
            }
            if let Some(err) = &outcome.error {
                spans.push(Span::styled(
                    format!("  {}: {}", err.code, err.message),
                    theme.bad(),
                ));
            }
        }
        lines.push(Line::from(spans));
    }
    match &running.finished {
        None => lines.push(Line::styled(
            "Running; the plan finishes and is journaled before keyward exits.",
            theme.dim(),
        )),
        Some((outcome, journal)) => {
            lines.push(Line::raw(""));
            lines.push(if outcome.succeeded() {
                Line::styled("Every step succeeded.", theme.good())
            } else {
                Line::styled(
                    "A step FAILED; the keys were read again to show where they stand.",
                    theme.bad(),
                )
            });
            lines.push(match journal {
                Ok(seq) => Line::raw(format!("Journaled as entry {seq}.")),
                Err(err) => Line::styled(format!("NOT journaled: {err}"), theme.bad()),
            });
            lines.push(Line::styled("Enter or Esc closes.", theme.dim()));
        }
    }
    lines
}

fn drill_setup_lines(
    choices: &[Option<String>],
    selected: usize,
    theme: Theme,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::raw(
        "Replicas are checked and data keys round-tripped between every primary and replica. \
         Choose a region to imagine lost, too:",
    )];
    for (position, choice) in choices.iter().enumerate() {
        let label = match choice {
            None => "no region lost: replicas and round trips only".to_owned(),
            Some(region) => format!("lose {region}"),
        };
        let marker = if position == selected { "> " } else { "  " };
        lines.push(if position == selected {
            Line::styled(format!("{marker}{label}"), theme.selected())
        } else {
            Line::raw(format!("{marker}{label}"))
        });
    }
    lines.push(Line::styled(
        "Nothing is changed; the verdict is journaled. Enter starts, Esc closes.",
        theme.dim(),
    ));
    lines
}

fn new_key_lines(
    app: &App,
    alias: &str,
    message: Option<&str>,
    theme: Theme,
) -> Vec<Line<'static>> {
    let primary = app.regions.first().cloned().unwrap_or_default();
    let replicas = app
        .regions
        .iter()
        .skip(1)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let mut lines = vec![
        Line::raw(format!(
            "A symmetric multi-region key with its primary in {primary}, replicas in {}, \
             rotating every {} days.",
            if replicas.is_empty() {
                "no other region".to_owned()
            } else {
                replicas
            },
            app.rotation_policy.period_days
        )),
        Line::from(vec![
            Span::styled("alias: ", theme.dim()),
            Span::styled(format!("{alias}_"), theme.title()),
        ]),
    ];
    if let Some(message) = message {
        lines.push(Line::styled(message.to_owned(), theme.bad()));
    }
    lines.push(Line::styled(
        "Enter shows the plan (nothing runs yet), Esc closes.",
        theme.dim(),
    ));
    lines
}

fn login_lines(login: &super::dialog::Login, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (position, token) in login.tokens.iter().enumerate() {
        let marker = if position == login.selected {
            "> "
        } else {
            "  "
        };
        let text = format!("{marker}{token}");
        lines.push(if position == login.selected {
            Line::styled(text, theme.selected())
        } else {
            Line::raw(text)
        });
    }
    match &login.pin {
        None => lines.push(Line::styled(
            "↑↓ choose the token, Enter asks for its user PIN, Esc closes",
            theme.dim(),
        )),
        Some(pin) => {
            lines.push(Line::from(vec![
                Span::styled("user PIN: ", theme.title()),
                Span::raw(if pin.is_empty() {
                    ""
                } else {
                    "•••••• (hidden)"
                }),
            ]));
            lines.push(Line::styled(
                "Enter logs in, lists the objects and logs out; nothing typed is shown",
                theme.dim(),
            ));
        }
    }
    lines
}
