//! One table of bindings drives the keyboard, the help overlay and the footer hints, so what
//! the help says is what the keys do, and read-only mode removes every action in one place.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::Pane;

/// What the operator asked for, independent of the key that asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Quit,
    Help,
    NextPane,
    PreviousPane,
    ShowPane(Pane),
    Refresh,
    SelectPrevious,
    SelectNext,
    PageUp,
    PageDown,
    SelectFirst,
    SelectLast,
    Open,
    Back,
    Filter,
    CycleSort,
    /// The action menu for the selected key.
    Actions,
    /// Mark or unmark the selected key for approval.
    Mark,
    /// Approve the marked keys' rotations as one plan.
    Approve,
    /// Verify the audit journal's chain.
    Verify,
    /// Start a disaster-recovery drill, or leave drill mode once it has its verdict.
    Drill,
    /// Create a new multi-region key.
    NewKey,
    /// Open the root-key ceremony wizard.
    Ceremony,
    /// Log in to a token as its user and list the objects on it.
    Login,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    Panes(&'static [Pane]),
}

/// One binding: the keys, what they do, and whether the command changes the estate.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys as the help overlay prints them.
    pub keys: &'static str,
    pub codes: &'static [KeyCode],
    pub command: Command,
    pub help: &'static str,
    pub scope: Scope,
    /// Changes keys or tokens: absent in read-only mode.
    pub changes_estate: bool,
    /// Shown in the footer.
    pub hint: bool,
}

const LISTS: &[Pane] = &[
    Pane::Keys,
    Pane::Rotation,
    Pane::Compliance,
    Pane::Hsm,
    Pane::Alarms,
    Pane::Audit,
    Pane::Log,
];

const fn bind(
    keys: &'static str,
    codes: &'static [KeyCode],
    command: Command,
    help: &'static str,
    scope: Scope,
) -> Binding {
    Binding {
        keys,
        codes,
        command,
        help,
        scope,
        changes_estate: false,
        hint: false,
    }
}

const fn hint(mut binding: Binding) -> Binding {
    binding.hint = true;
    binding
}

const fn changes(mut binding: Binding) -> Binding {
    binding.changes_estate = true;
    binding
}

/// Every binding, in the order the help overlay lists them.
pub const BINDINGS: &[Binding] = &[
    hint(bind(
        "?",
        &[KeyCode::Char('?')],
        Command::Help,
        "help: every key",
        Scope::Everywhere,
    )),
    hint(bind(
        "q",
        &[KeyCode::Char('q')],
        Command::Quit,
        "quit (Ctrl-C too)",
        Scope::Everywhere,
    )),
    bind(
        "Tab",
        &[KeyCode::Tab],
        Command::NextPane,
        "next pane",
        Scope::Everywhere,
    ),
    bind(
        "S-Tab",
        &[KeyCode::BackTab],
        Command::PreviousPane,
        "previous pane",
        Scope::Everywhere,
    ),
    bind(
        "1",
        &[KeyCode::Char('1')],
        Command::ShowPane(Pane::Overview),
        "overview",
        Scope::Everywhere,
    ),
    bind(
        "2",
        &[KeyCode::Char('2')],
        Command::ShowPane(Pane::Keys),
        "keys",
        Scope::Everywhere,
    ),
    bind(
        "3",
        &[KeyCode::Char('3')],
        Command::ShowPane(Pane::Rotation),
        "rotation",
        Scope::Everywhere,
    ),
    bind(
        "4",
        &[KeyCode::Char('4')],
        Command::ShowPane(Pane::Compliance),
        "compliance",
        Scope::Everywhere,
    ),
    bind(
        "5",
        &[KeyCode::Char('5')],
        Command::ShowPane(Pane::Hsm),
        "HSM and tokens",
        Scope::Everywhere,
    ),
    bind(
        "6",
        &[KeyCode::Char('6')],
        Command::ShowPane(Pane::Alarms),
        "alarms",
        Scope::Everywhere,
    ),
    bind(
        "7",
        &[KeyCode::Char('7')],
        Command::ShowPane(Pane::Audit),
        "audit journal",
        Scope::Everywhere,
    ),
    bind(
        "8",
        &[KeyCode::Char('8')],
        Command::ShowPane(Pane::Log),
        "log",
        Scope::Everywhere,
    ),
    hint(bind(
        "r",
        &[KeyCode::Char('r')],
        Command::Refresh,
        "refresh now",
        Scope::Everywhere,
    )),
    bind(
        "↑ k",
        &[KeyCode::Up, KeyCode::Char('k')],
        Command::SelectPrevious,
        "select previous row",
        Scope::Panes(LISTS),
    ),
    bind(
        "↓ j",
        &[KeyCode::Down, KeyCode::Char('j')],
        Command::SelectNext,
        "select next row",
        Scope::Panes(LISTS),
    ),
    bind(
        "PgUp",
        &[KeyCode::PageUp],
        Command::PageUp,
        "page up",
        Scope::Panes(LISTS),
    ),
    bind(
        "PgDn",
        &[KeyCode::PageDown],
        Command::PageDown,
        "page down",
        Scope::Panes(LISTS),
    ),
    bind(
        "g Home",
        &[KeyCode::Home, KeyCode::Char('g')],
        Command::SelectFirst,
        "first row",
        Scope::Panes(LISTS),
    ),
    bind(
        "G End",
        &[KeyCode::End, KeyCode::Char('G')],
        Command::SelectLast,
        "last row",
        Scope::Panes(LISTS),
    ),
    hint(bind(
        "Enter",
        &[KeyCode::Enter],
        Command::Open,
        "open the detail: key, journal entry, alarm",
        Scope::Panes(&[
            Pane::Keys,
            Pane::Rotation,
            Pane::Compliance,
            Pane::Alarms,
            Pane::Audit,
        ]),
    )),
    bind(
        "Esc",
        &[KeyCode::Esc],
        Command::Back,
        "back, close, cancel",
        Scope::Everywhere,
    ),
    hint(bind(
        "/",
        &[KeyCode::Char('/')],
        Command::Filter,
        "filter: alias, id, region, spec, status",
        Scope::Panes(&[Pane::Keys]),
    )),
    hint(bind(
        "s",
        &[KeyCode::Char('s')],
        Command::CycleSort,
        "sort: urgency, name, region, next",
        Scope::Panes(&[Pane::Keys]),
    )),
    hint(changes(bind(
        "a",
        &[KeyCode::Char('a')],
        Command::Actions,
        "actions: rotate, replicate, delete",
        Scope::Panes(&[Pane::Keys, Pane::Rotation]),
    ))),
    hint(changes(bind(
        "Space",
        &[KeyCode::Char(' ')],
        Command::Mark,
        "mark a due key for approval",
        Scope::Panes(&[Pane::Rotation]),
    ))),
    hint(changes(bind(
        "A",
        &[KeyCode::Char('A')],
        Command::Approve,
        "approve the marked keys as one plan",
        Scope::Panes(&[Pane::Rotation]),
    ))),
    hint(bind(
        "v",
        &[KeyCode::Char('v')],
        Command::Verify,
        "verify the hash chain",
        Scope::Panes(&[Pane::Audit]),
    )),
    hint(changes(bind(
        "n",
        &[KeyCode::Char('n')],
        Command::NewKey,
        "new multi-region key with alias",
        Scope::Panes(&[Pane::Keys]),
    ))),
    hint(bind(
        "l",
        &[KeyCode::Char('l')],
        Command::Login,
        "login: list a token's objects and KCVs",
        Scope::Panes(&[Pane::Hsm]),
    )),
    hint(changes(bind(
        "c",
        &[KeyCode::Char('c')],
        Command::Ceremony,
        "ceremony: a root key on a PKCS#11 token",
        Scope::Panes(&[Pane::Hsm]),
    ))),
    hint(bind(
        "d",
        &[KeyCode::Char('d')],
        Command::Drill,
        "drill: disaster recovery, start or end",
        Scope::Panes(&[Pane::Overview]),
    )),
];

impl Binding {
    pub fn applies(&self, pane: Pane, read_only: bool) -> bool {
        if read_only && self.changes_estate {
            return false;
        }
        match self.scope {
            Scope::Everywhere => true,
            Scope::Panes(panes) => panes.contains(&pane),
        }
    }
}

/// The command a key press means on `pane`, if any. Ctrl-C always quits.
pub fn command_for(key: KeyEvent, pane: Pane, read_only: bool) -> Option<Command> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return (key.code == KeyCode::Char('c')).then_some(Command::Quit);
    }
    if key.modifiers.contains(KeyModifiers::ALT) {
        return None;
    }
    BINDINGS
        .iter()
        .filter(|b| b.applies(pane, read_only))
        .find(|b| b.codes.contains(&key.code))
        .map(|b| b.command)
}

/// The bindings that apply on `pane`, for the help overlay and the footer.
pub fn bindings_for(pane: Pane, read_only: bool) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.applies(pane, read_only))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn read_only_mode_removes_every_action_that_changes_the_estate() {
        for pane in Pane::ALL {
            for binding in bindings_for(pane, true) {
                assert!(
                    !binding.changes_estate,
                    "{} offered read-only",
                    binding.keys
                );
            }
        }
        assert_eq!(
            command_for(press(KeyCode::Char('a')), Pane::Keys, true),
            None
        );
        assert_eq!(
            command_for(press(KeyCode::Char('a')), Pane::Keys, false),
            Some(Command::Actions)
        );
    }

    #[test]
    fn no_key_means_two_things_on_one_pane() {
        for pane in Pane::ALL {
            let mut seen = Vec::new();
            for binding in bindings_for(pane, false) {
                for code in binding.codes {
                    assert!(!seen.contains(code), "{code:?} bound twice on {pane:?}");
                    seen.push(*code);
                }
            }
        }
    }

    #[test]
    fn ctrl_c_quits_everywhere_and_other_chords_do_nothing() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let ctrl_r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL);
        for pane in Pane::ALL {
            assert_eq!(command_for(ctrl_c, pane, true), Some(Command::Quit));
            assert_eq!(command_for(ctrl_r, pane, false), None);
        }
    }
}
