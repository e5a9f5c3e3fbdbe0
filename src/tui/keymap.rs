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
    /// Scroll the text in focus: a key's detail, the overview's list, a long dialog.
    Scroll(Scroll),
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

/// How far a scroll moves text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    Panes(&'static [Pane]),
}

/// What a pane shows that a binding acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shows {
    /// Applies whatever the pane shows.
    Anything,
    /// Moves through a list of rows: not while text is open for reading.
    Rows,
    /// Scrolls text open for reading.
    Text,
}

/// Where the keys land: a pane, and whether it shows text to scroll (a key's detail, the
/// overview's list of what needs attention) rather than rows to select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Focus {
    pub pane: Pane,
    pub text: bool,
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
    pub shows: Shows,
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

// The keys that move through rows, and scroll text the same way.
const UP: &[KeyCode] = &[KeyCode::Up, KeyCode::Char('k')];
const DOWN: &[KeyCode] = &[KeyCode::Down, KeyCode::Char('j')];
const PAGE_UP: &[KeyCode] = &[KeyCode::PageUp];
const PAGE_DOWN: &[KeyCode] = &[KeyCode::PageDown];
const FIRST: &[KeyCode] = &[KeyCode::Home, KeyCode::Char('g')];
const LAST: &[KeyCode] = &[KeyCode::End, KeyCode::Char('G')];

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
        shows: Shows::Anything,
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

/// A binding for the rows of a list pane.
const fn rows(mut binding: Binding) -> Binding {
    binding.shows = Shows::Rows;
    binding
}

/// A binding for scrolling text, on any pane that shows some.
const fn text(
    keys: &'static str,
    codes: &'static [KeyCode],
    by: Scroll,
    help: &'static str,
) -> Binding {
    let mut binding = bind(keys, codes, Command::Scroll(by), help, Scope::Everywhere);
    binding.shows = Shows::Text;
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
    rows(bind(
        "↑ k",
        UP,
        Command::SelectPrevious,
        "select previous row",
        Scope::Panes(LISTS),
    )),
    rows(bind(
        "↓ j",
        DOWN,
        Command::SelectNext,
        "select next row",
        Scope::Panes(LISTS),
    )),
    rows(bind(
        "PgUp",
        PAGE_UP,
        Command::PageUp,
        "page up",
        Scope::Panes(LISTS),
    )),
    rows(bind(
        "PgDn",
        PAGE_DOWN,
        Command::PageDown,
        "page down",
        Scope::Panes(LISTS),
    )),
    rows(bind(
        "g Home",
        FIRST,
        Command::SelectFirst,
        "first row",
        Scope::Panes(LISTS),
    )),
    rows(bind(
        "G End",
        LAST,
        Command::SelectLast,
        "last row",
        Scope::Panes(LISTS),
    )),
    text("↑ k", UP, Scroll::Up, "scroll up a line"),
    hint(text("↓ j", DOWN, Scroll::Down, "scroll down a line")),
    text("PgUp", PAGE_UP, Scroll::PageUp, "scroll up a page"),
    text("PgDn", PAGE_DOWN, Scroll::PageDown, "scroll down a page"),
    text("g Home", FIRST, Scroll::Top, "scroll to the top"),
    text("G End", LAST, Scroll::Bottom, "scroll to the bottom"),
    hint(rows(bind(
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
    ))),
    bind(
        "Esc",
        &[KeyCode::Esc],
        Command::Back,
        "back, close, cancel",
        Scope::Everywhere,
    ),
    hint(rows(bind(
        "/",
        &[KeyCode::Char('/')],
        Command::Filter,
        "filter: alias, id, region, spec, status",
        Scope::Panes(&[Pane::Keys]),
    ))),
    hint(rows(bind(
        "s",
        &[KeyCode::Char('s')],
        Command::CycleSort,
        "sort: urgency, name, region, next",
        Scope::Panes(&[Pane::Keys]),
    ))),
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
    pub fn applies(&self, focus: Focus, read_only: bool) -> bool {
        if read_only && self.changes_estate {
            return false;
        }
        let shown = match self.shows {
            Shows::Anything => true,
            Shows::Rows => !focus.text,
            Shows::Text => focus.text,
        };
        shown
            && match self.scope {
                Scope::Everywhere => true,
                Scope::Panes(panes) => panes.contains(&focus.pane),
            }
    }
}

/// The command a key press means with `focus`, if any. Ctrl-C always quits.
pub fn command_for(key: KeyEvent, focus: Focus, read_only: bool) -> Option<Command> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return (key.code == KeyCode::Char('c')).then_some(Command::Quit);
    }
    if key.modifiers.contains(KeyModifiers::ALT) {
        return None;
    }
    BINDINGS
        .iter()
        .filter(|b| b.applies(focus, read_only))
        .find(|b| b.codes.contains(&key.code))
        .map(|b| b.command)
}

/// How a key scrolls a dialog's text, by the same bindings as a pane's text. While a phrase
/// is being `typing`, letters are text, so only the named keys (arrows, pages) scroll.
pub fn scroll_for(key: KeyEvent, typing: bool) -> Option<Scroll> {
    if key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        || (typing && matches!(key.code, KeyCode::Char(_)))
    {
        return None;
    }
    BINDINGS
        .iter()
        .filter(|b| b.shows == Shows::Text && b.codes.contains(&key.code))
        .find_map(|b| match b.command {
            Command::Scroll(by) => Some(by),
            _ => None,
        })
}

/// The bindings that apply with `focus`, for the help overlay and the footer.
pub fn bindings_for(focus: Focus, read_only: bool) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.applies(focus, read_only))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    /// Every focus a pane can have: its rows, and text open for reading.
    fn focuses() -> impl Iterator<Item = Focus> {
        Pane::ALL
            .into_iter()
            .flat_map(|pane| [false, true].map(|text| Focus { pane, text }))
    }

    fn rows_of(pane: Pane) -> Focus {
        Focus { pane, text: false }
    }

    #[test]
    fn read_only_mode_removes_every_action_that_changes_the_estate() {
        for focus in focuses() {
            for binding in bindings_for(focus, true) {
                assert!(
                    !binding.changes_estate,
                    "{} offered read-only",
                    binding.keys
                );
            }
        }
        assert_eq!(
            command_for(press(KeyCode::Char('a')), rows_of(Pane::Keys), true),
            None
        );
        assert_eq!(
            command_for(press(KeyCode::Char('a')), rows_of(Pane::Keys), false),
            Some(Command::Actions)
        );
    }

    #[test]
    fn no_key_means_two_things_on_one_pane() {
        for focus in focuses() {
            let mut seen = Vec::new();
            for binding in bindings_for(focus, false) {
                for code in binding.codes {
                    assert!(!seen.contains(code), "{code:?} bound twice on {focus:?}");
                    seen.push(*code);
                }
            }
        }
    }

    #[test]
    fn the_row_keys_scroll_text_open_for_reading() {
        let detail = Focus {
            pane: Pane::Keys,
            text: true,
        };
        let moves = [
            (KeyCode::Down, Command::SelectNext, Scroll::Down),
            (KeyCode::Char('k'), Command::SelectPrevious, Scroll::Up),
            (KeyCode::PageDown, Command::PageDown, Scroll::PageDown),
            (KeyCode::Home, Command::SelectFirst, Scroll::Top),
            (KeyCode::Char('G'), Command::SelectLast, Scroll::Bottom),
        ];
        for (code, row, scroll) in moves {
            assert_eq!(
                command_for(press(code), rows_of(Pane::Keys), false),
                Some(row)
            );
            assert_eq!(
                command_for(press(code), detail, false),
                Some(Command::Scroll(scroll))
            );
            assert_eq!(scroll_for(press(code), false), Some(scroll));
        }
        // The key table's own keys do not apply to the detail over it.
        assert_eq!(command_for(press(KeyCode::Char('s')), detail, false), None);
        // While a phrase is typed, letters are text and only the named keys scroll.
        assert_eq!(scroll_for(press(KeyCode::Char('j')), true), None);
        assert_eq!(scroll_for(press(KeyCode::Down), true), Some(Scroll::Down));
    }

    #[test]
    fn ctrl_c_quits_everywhere_and_other_chords_do_nothing() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let ctrl_r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL);
        for focus in focuses() {
            assert_eq!(command_for(ctrl_c, focus, true), Some(Command::Quit));
            assert_eq!(command_for(ctrl_r, focus, false), None);
        }
    }
}
