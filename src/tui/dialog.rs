//! The overlays: help, the action menu, the plan confirmation and the running plan.
//!
//! A plan is confirmed only by keys typed one by one: routine plans with `y`, destructive ones
//! by typing the alias the plan names or, for a plan about one key, its key id (Ctrl-U clears
//! the line). Pasted text never reaches these dialogs, and Esc always cancels.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::action::preflight::{DELETION_WINDOW_DAYS, ROTATION_PERIOD_DAYS};
use crate::action::{Confirmation, Context, Outcome, Plan, Refusal, Request, StepOutcome, offers};
use crate::estate::Key;

/// What is drawn over the pane.
#[derive(Debug)]
pub enum Overlay {
    Help,
    Menu(ActionMenu),
    /// A plan is being built (reading the key's policy and tags, the caller identity).
    Planning(String),
    Confirm(Confirm),
    Running(Running),
    /// Something the operator should read, closed by any key but those that scroll it.
    Notice {
        title: String,
        lines: Vec<String>,
        scroll: u16,
    },
    /// Which region a drill imagines lost (`None`: none, only replicas and round trips).
    DrillSetup {
        choices: Vec<Option<String>>,
        selected: usize,
    },
    /// A token chosen and its user PIN typed, to list the objects on it.
    Login(Login),
    /// The root-key ceremony wizard.
    Wizard(Box<super::wizard::Wizard>),
    /// The alias of a new multi-region key, being typed.
    NewKey {
        alias: String,
        message: Option<String>,
    },
}

impl Overlay {
    /// A notice titled `title`, from its top.
    pub fn notice(title: impl Into<String>, lines: Vec<String>) -> Overlay {
        Overlay::Notice {
            title: title.into(),
            lines,
            scroll: 0,
        }
    }

    /// How far the overlay's text is scrolled, for those that scroll.
    pub fn scroll(&self) -> Option<&u16> {
        match self {
            Overlay::Notice { scroll, .. } => Some(scroll),
            Overlay::Confirm(confirm) => Some(&confirm.scroll),
            Overlay::Running(running) => Some(&running.scroll),
            _ => None,
        }
    }

    /// The same offset, to scroll it.
    pub fn scroll_mut(&mut self) -> Option<&mut u16> {
        match self {
            Overlay::Notice { scroll, .. } => Some(scroll),
            Overlay::Confirm(confirm) => Some(&mut confirm.scroll),
            Overlay::Running(running) => Some(&mut running.scroll),
            _ => None,
        }
    }
}

/// The actions offered for one key, each available or refused with the reason.
#[derive(Debug)]
pub struct ActionMenu {
    pub arn: String,
    /// Where the key is and its id: a key still being described has no ARN yet.
    pub region: String,
    pub key_id: String,
    pub key_name: String,
    pub items: Vec<(Request, Result<(), Refusal>)>,
    pub selected: usize,
    /// The number being typed for the selected item's parameter (days), if it takes one.
    pub number: String,
    /// Why the last choice was not accepted.
    pub message: Option<String>,
}

impl ActionMenu {
    pub fn new(key: &Key, ctx: &Context, period_days: u32) -> ActionMenu {
        let mut items = offers(key, ctx);
        for (request, _) in &mut items {
            if let Request::EnableRotation { period_days: p } = request {
                *p = period_days;
            }
        }
        // One line says why a key cannot be replicated anywhere, not one per region.
        let replicable = items
            .iter()
            .any(|(r, v)| matches!(r, Request::Replicate { .. }) && v.is_ok());
        let mut refused_replication = false;
        items.retain(|(request, verdict)| {
            if !matches!(request, Request::Replicate { .. }) || replicable || verdict.is_ok() {
                return true;
            }
            !std::mem::replace(&mut refused_replication, true)
        });
        // Available actions first, refused ones after with their reasons.
        items.sort_by_key(|(_, verdict)| verdict.is_err());
        let mut menu = ActionMenu {
            arn: key.arn.clone(),
            region: key.region.clone(),
            key_id: key.key_id.clone(),
            key_name: key.display_name().to_owned(),
            items,
            selected: 0,
            number: String::new(),
            message: None,
        };
        menu.load_number();
        menu
    }

    /// The menu again for `key` as it is now read (described since, say), keeping the
    /// operator's place when the same action is still there.
    pub fn refreshed(&self, key: &Key, ctx: &Context, period_days: u32) -> ActionMenu {
        let mut menu = ActionMenu::new(key, ctx, period_days);
        if let Some((request, _)) = self.items.get(self.selected)
            && let Some(at) = menu
                .items
                .iter()
                .position(|(r, _)| std::mem::discriminant(r) == std::mem::discriminant(request))
        {
            menu.selected = at;
            menu.number = self.number.clone();
        }
        menu
    }

    /// The parameter of the selected item, with its valid range.
    pub fn parameter(&self) -> Option<(&'static str, std::ops::RangeInclusive<u32>)> {
        match self.items.get(self.selected)?.0 {
            Request::EnableRotation { .. } => Some(("rotation period, days", ROTATION_PERIOD_DAYS)),
            Request::ScheduleDeletion { .. } => {
                Some(("waiting period, days", DELETION_WINDOW_DAYS))
            }
            _ => None,
        }
    }

    fn load_number(&mut self) {
        self.number = match self.items.get(self.selected).map(|(r, _)| r) {
            Some(Request::EnableRotation { period_days }) => period_days.to_string(),
            Some(Request::ScheduleDeletion { days }) => days.to_string(),
            _ => String::new(),
        };
    }

    /// Handles a key: `Ok(Some(request))` when the operator chose an available action,
    /// `Err(reason)` when the choice is refused or its number out of range.
    pub fn on_key(&mut self, key: KeyEvent) -> Result<Option<Request>, String> {
        self.message = None;
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                self.load_number();
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.items.len().saturating_sub(1));
                self.load_number();
            }
            KeyCode::Char(c)
                if c.is_ascii_digit() && self.parameter().is_some() && self.number.len() < 4 =>
            {
                self.number.push(c);
            }
            KeyCode::Backspace => {
                self.number.pop();
            }
            KeyCode::Enter => return self.choose().map(Some),
            _ => {}
        }
        Ok(None)
    }

    fn choose(&mut self) -> Result<Request, String> {
        let Some((request, verdict)) = self.items.get(self.selected) else {
            return Err("there is nothing to choose".into());
        };
        if let Err(refusal) = verdict {
            return Err(format!("not available: {refusal}"));
        }
        let mut request = request.clone();
        if let Some((what, range)) = self.parameter() {
            let valid = self
                .number
                .parse::<u32>()
                .ok()
                .filter(|n| range.contains(n));
            let Some(n) = valid else {
                return Err(format!(
                    "the {what} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ));
            };
            match &mut request {
                Request::EnableRotation { period_days } => *period_days = n,
                Request::ScheduleDeletion { days } => *days = n,
                _ => {}
            }
        }
        Ok(request)
    }
}

/// A plan waiting for the operator's word.
#[derive(Debug)]
pub struct Confirm {
    pub plan: Plan,
    /// What the operator has typed of the confirm phrase.
    pub typed: String,
    pub scroll: u16,
    /// Why the last Enter did not confirm.
    pub message: Option<String>,
}

impl Confirm {
    pub fn new(plan: Plan) -> Confirm {
        Confirm {
            plan,
            typed: String::new(),
            scroll: 0,
            message: None,
        }
    }

    /// Handles a key: `Some(Some(how))` confirms, `Some(None)` declines, `None` waits on.
    /// A destructive plan is confirmed by its phrase or, for one key, that key's id; Ctrl-U
    /// clears what was typed.
    /// Keys that scroll the plan never reach this (see the app's input handling).
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Option<Confirmation>> {
        self.message = None;
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('u') {
            self.typed.clear();
            return None;
        }
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return None;
        }
        match self.plan.confirm_prompt() {
            Some(prompt) => match key.code {
                KeyCode::Enter if self.plan.confirm_words().contains(&self.typed.as_str()) => {
                    return Some(Some(Confirmation::TypedName));
                }
                KeyCode::Enter => {
                    self.message = Some(format!("type {prompt} exactly to run this plan"));
                }
                KeyCode::Backspace => {
                    self.typed.pop();
                }
                KeyCode::Char(c) => self.typed.push(c),
                _ => {}
            },
            None => match key.code {
                KeyCode::Char('y') => return Some(Some(Confirmation::KeyPress)),
                KeyCode::Char('n') => return Some(None),
                _ => {}
            },
        }
        None
    }
}

/// A plan being carried out.
#[derive(Debug)]
pub struct Running {
    pub plan: Plan,
    pub steps: Vec<StepOutcome>,
    /// The outcome and the journal entry (or why it could not be written).
    pub finished: Option<(Outcome, Result<u64, String>)>,
    pub scroll: u16,
}

impl Running {
    pub fn new(plan: Plan) -> Running {
        Running {
            plan,
            steps: Vec::new(),
            finished: None,
            scroll: 0,
        }
    }
}

/// Logging in to a token to list its objects: the token chosen, then the user PIN typed into
/// a buffer that is zeroized when dropped and never drawn.
pub struct Login {
    pub tokens: Vec<crate::hsm::TokenRef>,
    pub selected: usize,
    /// The PIN being typed, once a token is chosen.
    pub pin: Option<zeroize::Zeroizing<String>>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("tokens", &self.tokens)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

/// The longest PIN PKCS#11 tokens accept; a buffer this size never moves while it grows.
pub const MAX_PIN_BYTES: usize = 255;

impl Login {
    pub fn new(tokens: Vec<crate::hsm::TokenRef>) -> Login {
        Login {
            tokens,
            selected: 0,
            pin: None,
        }
    }

    /// Handles a key: `Some((token, pin))` once a PIN was typed for the chosen token.
    pub fn on_key(
        &mut self,
        key: KeyEvent,
    ) -> Option<(crate::hsm::TokenRef, secrecy::SecretString)> {
        match &mut self.pin {
            None => match key.code {
                KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => {
                    self.selected = (self.selected + 1).min(self.tokens.len().saturating_sub(1));
                }
                KeyCode::Enter if !self.tokens.is_empty() => {
                    self.pin = Some(zeroize::Zeroizing::new(String::with_capacity(
                        MAX_PIN_BYTES,
                    )));
                }
                _ => {}
            },
            Some(pin) => match key.code {
                KeyCode::Backspace => {
                    pin.pop();
                }
                KeyCode::Enter if !pin.is_empty() => {
                    let secret = secrecy::SecretString::from(pin.as_str());
                    pin.clear();
                    return Some((self.tokens[self.selected].clone(), secret));
                }
                KeyCode::Char(c) if pin.len() + c.len_utf8() <= MAX_PIN_BYTES => pin.push(c),
                _ => {}
            },
        }
        None
    }
}
