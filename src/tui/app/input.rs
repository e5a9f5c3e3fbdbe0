//! Keyboard and paste handling: what each key means in the state the console is in.
//!
//! An open overlay takes every key first, then the filter being typed, then the bindings
//! of [`super::super::keymap`].

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{App, Effect, PAGE_ROWS, Pane, PlanRequest};
use crate::tui::dialog::{Overlay, Running};
use crate::tui::keymap::{Command, command_for, scroll_for};

impl App {
    pub(super) fn on_input(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Key(key) if key.kind == KeyEventKind::Press => {
                self.dirty = true;
                self.on_key(key)
            }
            Event::Resize(..) => {
                self.dirty = true;
                Vec::new()
            }
            // Pasted text is text, never commands: it may only land in the filter being typed.
            Event::Paste(text) => {
                if self.overlay.is_none() && self.keys.editing_filter {
                    self.keys
                        .filter
                        .extend(text.chars().filter(|c| !c.is_control()));
                    self.keys.refilter();
                    self.dirty = true;
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if let Some(overlay) = self.overlay.take() {
            return self.on_overlay_key(overlay, key);
        }
        if self.pane == Pane::Keys && self.keys.editing_filter {
            self.on_filter_key(key);
            return Vec::new();
        }
        let Some(command) = command_for(key, self.focus(), self.read_only) else {
            return Vec::new();
        };
        self.on_command(command)
    }

    fn on_filter_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Esc => {
                self.keys.filter.clear();
                self.keys.editing_filter = false;
            }
            KeyCode::Enter => self.keys.editing_filter = false,
            KeyCode::Backspace => {
                self.keys.filter.pop();
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.keys.filter.clear();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.keys.filter.push(c)
            }
            KeyCode::Char('c') => self.quit = true,
            _ => return,
        }
        self.keys.selected = 0;
        self.keys.refilter();
    }

    fn on_command(&mut self, command: Command) -> Vec<Effect> {
        match command {
            Command::Quit => self.quit = true,
            Command::Help => self.overlay = Some(Overlay::Help),
            Command::NextPane => return self.show(self.pane.offset(1)),
            Command::PreviousPane => return self.show(self.pane.offset(-1)),
            Command::ShowPane(pane) => return self.show(pane),
            Command::Refresh => return self.refresh_all(true),
            Command::SelectPrevious => self.move_selection(-1),
            Command::SelectNext => self.move_selection(1),
            Command::PageUp => self.move_selection(-PAGE_ROWS),
            Command::PageDown => self.move_selection(PAGE_ROWS),
            Command::SelectFirst => self.move_selection(isize::MIN / 2),
            Command::SelectLast => self.move_selection(isize::MAX / 2),
            Command::Scroll(by) => self.scroll(by),
            Command::Open => self.open_detail(),
            Command::Back => self.keys.detail = false,
            Command::Filter => {
                self.keys.detail = false;
                self.keys.editing_filter = true;
            }
            Command::CycleSort => {
                self.keys.sort = self.keys.sort.next();
                self.keys.resort(&self.estate);
            }
            Command::Actions => self.open_actions(),
            Command::Mark => self.toggle_mark(),
            Command::Approve => return self.approve(),
            Command::Verify => {
                return vec![Effect::LoadJournal { verify: true }];
            }
            Command::Drill => self.toggle_drill(),
            Command::NewKey => self.open_new_key_form(),
            Command::Ceremony => self.open_wizard(),
            Command::Login => self.open_login(),
        }
        Vec::new()
    }

    fn on_overlay_key(&mut self, overlay: Overlay, key: KeyEvent) -> Vec<Effect> {
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        match overlay {
            Overlay::DrillSetup {
                choices,
                mut selected,
            } => match key.code {
                KeyCode::Esc => Vec::new(),
                _ if ctrl_c => {
                    self.quit = true;
                    Vec::new()
                }
                KeyCode::Enter => {
                    let lose = choices.get(selected).cloned().flatten();
                    self.start_drill(lose)
                }
                code => {
                    match code {
                        KeyCode::Up | KeyCode::Char('k') => selected = selected.saturating_sub(1),
                        KeyCode::Down | KeyCode::Char('j') => {
                            selected = (selected + 1).min(choices.len().saturating_sub(1));
                        }
                        _ => {}
                    }
                    self.overlay = Some(Overlay::DrillSetup { choices, selected });
                    Vec::new()
                }
            },
            Overlay::Login(mut login) => {
                if key.code == KeyCode::Esc || ctrl_c {
                    return Vec::new();
                }
                match login.on_key(key) {
                    Some((token, pin)) => vec![Effect::ListObjects { token, pin }],
                    None => {
                        self.overlay = Some(Overlay::Login(login));
                        Vec::new()
                    }
                }
            }
            Overlay::Wizard(mut wizard) => {
                if ctrl_c {
                    // Quitting is honoured after a running step (the runtime waits for it).
                    self.quit = true;
                }
                let action = wizard.on_key(key);
                self.overlay = Some(Overlay::Wizard(wizard));
                self.wizard_effects(action)
            }
            Overlay::NewKey { mut alias, .. } => {
                if key.code == KeyCode::Esc || ctrl_c {
                    return Vec::new();
                }
                match key.code {
                    KeyCode::Enter => {
                        if let Err(why) = crate::action::preflight::check_alias(&alias) {
                            self.overlay = Some(Overlay::NewKey {
                                alias,
                                message: Some(why),
                            });
                            return Vec::new();
                        }
                        let request = self.new_key_request(alias.clone());
                        self.overlay = Some(Overlay::Planning(format!(
                            "Planning a new multi-region key {alias}"
                        )));
                        return vec![Effect::BuildPlan(request, self.context())];
                    }
                    KeyCode::Backspace => {
                        alias.pop();
                    }
                    KeyCode::Char(c) if !c.is_control() => alias.push(c),
                    _ => {}
                }
                self.overlay = Some(Overlay::NewKey {
                    alias,
                    message: None,
                });
                Vec::new()
            }
            Overlay::Help => {
                if ctrl_c || key.code == KeyCode::Char('q') {
                    self.quit = true;
                }
                Vec::new()
            }
            // A notice longer than its box scrolls; any other key closes it.
            notice @ Overlay::Notice { .. } => {
                match scroll_for(key, false) {
                    Some(by) if self.scroll_limit > 0 => {
                        self.overlay = Some(notice);
                        self.scroll(by);
                    }
                    _ if ctrl_c || key.code == KeyCode::Char('q') => self.quit = true,
                    _ => {}
                }
                Vec::new()
            }
            Overlay::Menu(mut menu) => {
                if key.code == KeyCode::Esc || ctrl_c {
                    return Vec::new();
                }
                match menu.on_key(key) {
                    Ok(Some(request)) => {
                        let Some(target) = self.estate.keys().find(|k| k.arn == menu.arn) else {
                            return Vec::new();
                        };
                        let target = Box::new(target.clone());
                        self.overlay = Some(Overlay::Planning(format!(
                            "Planning: {} for {}",
                            request.label(),
                            target.display_name()
                        )));
                        vec![Effect::BuildPlan(
                            PlanRequest::Key {
                                key: target,
                                request,
                            },
                            self.context(),
                        )]
                    }
                    Ok(None) => {
                        self.overlay = Some(Overlay::Menu(menu));
                        Vec::new()
                    }
                    Err(reason) => {
                        menu.message = Some(reason);
                        self.overlay = Some(Overlay::Menu(menu));
                        Vec::new()
                    }
                }
            }
            // Planning cannot be interrupted half-way, but Esc leaves it; the plan is dropped.
            Overlay::Planning(title) => {
                if key.code != KeyCode::Esc && !ctrl_c {
                    self.overlay = Some(Overlay::Planning(title));
                }
                Vec::new()
            }
            Overlay::Confirm(mut confirm) => {
                if key.code == KeyCode::Esc || ctrl_c {
                    return vec![Effect::Cancelled(Box::new(confirm.plan))];
                }
                if let Some(by) = scroll_for(key, true) {
                    self.overlay = Some(Overlay::Confirm(confirm));
                    self.scroll(by);
                    return Vec::new();
                }
                match confirm.on_key(key) {
                    Some(Some(confirmation)) => {
                        let plan = confirm.plan.clone();
                        self.overlay = Some(Overlay::Running(Running::new(confirm.plan)));
                        vec![Effect::Run {
                            plan: Box::new(plan),
                            confirmation,
                        }]
                    }
                    Some(None) => vec![Effect::Cancelled(Box::new(confirm.plan))],
                    None => {
                        self.overlay = Some(Overlay::Confirm(confirm));
                        Vec::new()
                    }
                }
            }
            Overlay::Running(running) => {
                // A running plan cannot be abandoned half-way; once finished, any of these closes.
                // Quitting mid-run is honoured once the run is journaled (see the runtime).
                if ctrl_c {
                    self.quit = true;
                }
                let close = matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q'));
                if running.finished.is_none() || !close {
                    self.overlay = Some(Overlay::Running(running));
                    if let Some(by) = scroll_for(key, false) {
                        self.scroll(by);
                    }
                }
                Vec::new()
            }
        }
    }
}
