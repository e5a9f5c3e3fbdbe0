//! The root-key ceremony wizard: a form naming the ceremony, its people, the token and the
//! key; then each step of [`crate::hsm::ceremony`] shown, confirmed, given its PINs and run.
//!
//! PINs are typed into a buffer that is zeroized when dropped, never drawn (the screen shows
//! only that something was typed), and handed to the step as [`SecretString`]s that the step
//! consumes. Pasted text is ignored here as everywhere. The steps themselves run in a
//! background task; the wizard only holds the ceremony between them.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::estate::HsmSnapshot;
use crate::hsm::ceremony::{
    Ceremony, CeremonyPlan, KeySpec, KeyUsage, PinUse, Step, StepPins, TokenChoice,
};
use crate::hsm::{Role, TokenRef};

use super::dialog::MAX_PIN_BYTES;

/// The form's fields, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Operator,
    Witnesses,
    Token,
    TokenLabel,
    KeyLabel,
    KeyId,
    ChangePin,
}

impl Field {
    pub const ALL: [Field; 8] = [
        Field::Name,
        Field::Operator,
        Field::Witnesses,
        Field::Token,
        Field::TokenLabel,
        Field::KeyLabel,
        Field::KeyId,
        Field::ChangePin,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Field::Name => "Ceremony name",
            Field::Operator => "Operator",
            Field::Witnesses => "Witnesses",
            Field::Token => "Token",
            Field::TokenLabel => "New token label",
            Field::KeyLabel => "Root key label",
            Field::KeyId => "Root key id (hex)",
            Field::ChangePin => "Change a PIN after",
        }
    }
}

/// A token the ceremony can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOption {
    /// Initialize a blank token in a free slot.
    Blank,
    Existing(TokenRef),
}

/// Where the wizard stands.
#[derive(Debug)]
pub enum Stage {
    Form {
        field: usize,
    },
    /// The step is shown and waits for `y`.
    Confirm {
        step: Step,
    },
    /// The step's PINs are being typed, one by one; new ones twice.
    Pins(PinEntry),
    Running {
        step: Step,
    },
    /// Every step done, or the ceremony abandoned; the transcript is being written, then
    /// its files and journal entry are shown.
    Finished {
        recorded: Option<Result<String, String>>,
    },
}

/// The PINs of one step being collected.
pub struct PinEntry {
    pub step: Step,
    pub uses: Vec<PinUse>,
    pub index: usize,
    /// The first typing of a new PIN, waiting for its repeat.
    pub first: Option<SecretString>,
    pub buffer: Zeroizing<String>,
    pub collected: StepPins,
}

impl std::fmt::Debug for PinEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinEntry")
            .field("step", &self.step)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl PinEntry {
    fn new(step: Step, uses: Vec<PinUse>) -> PinEntry {
        PinEntry {
            step,
            uses,
            index: 0,
            first: None,
            buffer: Zeroizing::new(String::with_capacity(MAX_PIN_BYTES)),
            collected: StepPins::default(),
        }
    }

    /// What is being asked for now: "new SO PIN", "new SO PIN again".
    pub fn prompt(&self) -> String {
        let use_ = self.uses[self.index];
        if self.first.is_some() {
            format!("{use_} again")
        } else {
            use_.to_string()
        }
    }
}

/// What the app must do after a key in the wizard.
#[derive(Debug)]
pub enum WizardAction {
    None,
    Close,
    Run {
        ceremony: Box<Ceremony>,
        step: Step,
        pins: StepPins,
    },
    /// Write the transcript and journal it.
    Record(Box<Ceremony>),
}

/// The wizard's whole state.
#[derive(Debug)]
pub struct Wizard {
    pub module: std::path::PathBuf,
    pub values: [String; 8],
    pub tokens: Vec<TokenOption>,
    /// The PIN length limits each token reports, beside `tokens`.
    pub pin_limits: Vec<(u64, u64)>,
    pub token: usize,
    pub change_pin: Option<Role>,
    pub stage: Stage,
    /// The ceremony between steps; `None` before the form is done and while a step runs.
    pub ceremony: Option<Ceremony>,
    /// Why the last input was not accepted, or how the last step failed.
    pub message: Option<String>,
}

impl Wizard {
    /// A form filled with what can be known: the operator, and the tokens of the listing.
    pub fn new(
        module: std::path::PathBuf,
        listing: Option<&HsmSnapshot>,
        operator: String,
    ) -> Wizard {
        let mut tokens = Vec::new();
        let mut pin_limits = Vec::new();
        let slots = listing.map(|s| s.slots.as_slice()).unwrap_or_default();
        let views = || slots.iter().filter_map(|s| s.token.as_ref());
        if let Some(blank) = views().find(|t| !t.initialized) {
            tokens.push(TokenOption::Blank);
            pin_limits.push((blank.min_pin_len, blank.max_pin_len));
        }
        for token in views().filter(|t| t.initialized) {
            tokens.push(TokenOption::Existing(TokenRef::from(token)));
            pin_limits.push((token.min_pin_len, token.max_pin_len));
        }
        let today = chrono::Utc::now().format("%Y-%m-%d");
        Wizard {
            module,
            values: [
                format!("Root key ceremony {today}"),
                operator,
                String::new(),
                String::new(),
                format!("root-{today}"),
                format!("root-key-{today}"),
                "01".into(),
                String::new(),
            ],
            tokens,
            pin_limits,
            token: 0,
            change_pin: None,
            stage: Stage::Form { field: 2 },
            ceremony: None,
            message: None,
        }
    }

    /// The value shown for `field`.
    pub fn value(&self, field: Field) -> String {
        match field {
            Field::Token => match self.tokens.get(self.token) {
                None => "no token: the module lists none".into(),
                Some(TokenOption::Blank) => "a blank token in a free slot".into(),
                Some(TokenOption::Existing(token)) => format!("{token}"),
            },
            Field::ChangePin => match self.change_pin {
                None => "no".into(),
                Some(Role::User) => "the user PIN".into(),
                Some(Role::SecurityOfficer) => "the SO PIN".into(),
            },
            Field::TokenLabel if self.tokens.get(self.token) != Some(&TokenOption::Blank) => {
                "(the existing token keeps its label)".into()
            }
            other => self.values[Field::ALL.iter().position(|f| *f == other).unwrap_or(0)].clone(),
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> WizardAction {
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return WizardAction::None;
        }
        match std::mem::replace(
            &mut self.stage,
            Stage::Running {
                step: Step::Prepare,
            },
        ) {
            Stage::Form { field } => self.on_form_key(field, key),
            Stage::Confirm { step } => self.on_confirm_key(step, key),
            Stage::Pins(entry) => self.on_pin_key(entry, key),
            Stage::Running { step } => {
                self.stage = Stage::Running { step };
                WizardAction::None
            }
            Stage::Finished { recorded } => {
                let done = recorded.is_some();
                self.stage = Stage::Finished { recorded };
                if done && matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
                    WizardAction::Close
                } else {
                    WizardAction::None
                }
            }
        }
    }

    fn on_form_key(&mut self, mut field: usize, key: KeyEvent) -> WizardAction {
        self.message = None;
        let current = Field::ALL[field];
        match key.code {
            KeyCode::Esc => return WizardAction::Close,
            KeyCode::Up | KeyCode::BackTab => field = field.saturating_sub(1),
            KeyCode::Down | KeyCode::Tab => field = (field + 1).min(Field::ALL.len() - 1),
            KeyCode::Left | KeyCode::Right | KeyCode::Char(' ')
                if matches!(current, Field::Token | Field::ChangePin) =>
            {
                let forward = key.code != KeyCode::Left;
                self.cycle(current, forward);
            }
            KeyCode::Enter if field + 1 < Field::ALL.len() => field += 1,
            KeyCode::Enter => match self.start() {
                Ok(step) => {
                    self.stage = Stage::Confirm { step };
                    return WizardAction::None;
                }
                Err(problem) => self.message = Some(problem),
            },
            KeyCode::Backspace if !matches!(current, Field::Token | Field::ChangePin) => {
                self.values[field].pop();
            }
            KeyCode::Char(c) if !matches!(current, Field::Token | Field::ChangePin) => {
                self.values[field].push(c);
            }
            _ => {}
        }
        self.stage = Stage::Form { field };
        WizardAction::None
    }

    fn cycle(&mut self, field: Field, forward: bool) {
        match field {
            Field::Token if !self.tokens.is_empty() => {
                let len = self.tokens.len();
                self.token = if forward {
                    (self.token + 1) % len
                } else {
                    (self.token + len - 1) % len
                };
            }
            Field::ChangePin => {
                let order = [None, Some(Role::User), Some(Role::SecurityOfficer)];
                let at = order
                    .iter()
                    .position(|r| *r == self.change_pin)
                    .unwrap_or(0);
                let next = if forward {
                    at + 1
                } else {
                    at + order.len() - 1
                };
                self.change_pin = order[next % order.len()];
            }
            _ => {}
        }
    }

    /// The plan as the form describes it.
    fn plan(&self) -> Result<CeremonyPlan, String> {
        let text = |field: Field| {
            self.values[Field::ALL.iter().position(|f| *f == field).unwrap_or(0)]
                .trim()
                .to_owned()
        };
        let witnesses: Vec<String> = text(Field::Witnesses)
            .split(',')
            .map(|w| w.trim().to_owned())
            .filter(|w| !w.is_empty())
            .collect();
        let token = match self.tokens.get(self.token) {
            None => return Err("the module lists no token to use".into()),
            Some(TokenOption::Blank) => TokenChoice::Blank {
                label: text(Field::TokenLabel),
            },
            Some(TokenOption::Existing(token)) => TokenChoice::Existing {
                token: token.clone(),
                set_user_pin: false,
            },
        };
        let id = hex::decode(text(Field::KeyId))
            .map_err(|e| format!("the root key id must be hex digits, like 01 or a1b2: {e}"))?;
        Ok(CeremonyPlan {
            name: text(Field::Name),
            operator: text(Field::Operator),
            witnesses,
            token,
            keys: vec![KeySpec {
                label: text(Field::KeyLabel),
                id,
                usage: KeyUsage::DEFAULT.to_vec(),
            }],
            change_pin: self.change_pin,
            script: None,
        })
    }

    fn start(&mut self) -> Result<Step, String> {
        let plan = self.plan()?;
        let ceremony =
            Ceremony::new(self.module.clone(), plan, false).map_err(|e| e.to_string())?;
        let step = ceremony.next_step().ok_or("the ceremony has no step")?;
        self.ceremony = Some(ceremony);
        Ok(step)
    }

    fn on_confirm_key(&mut self, step: Step, key: KeyEvent) -> WizardAction {
        match key.code {
            KeyCode::Char('y') => {
                self.message = None;
                let uses = self
                    .ceremony
                    .as_ref()
                    .map(|c| c.pins_for(step))
                    .unwrap_or_default();
                if uses.is_empty() {
                    return self.run(step, StepPins::default());
                }
                self.stage = Stage::Pins(PinEntry::new(step, uses));
                WizardAction::None
            }
            KeyCode::Char('x') | KeyCode::Esc => self.abandon("abandoned by the operator"),
            _ => {
                self.stage = Stage::Confirm { step };
                WizardAction::None
            }
        }
    }

    fn on_pin_key(&mut self, mut entry: PinEntry, key: KeyEvent) -> WizardAction {
        match key.code {
            KeyCode::Esc => {
                // Back to the step; every PIN typed so far is dropped and zeroized.
                self.stage = Stage::Confirm { step: entry.step };
                return WizardAction::None;
            }
            KeyCode::Backspace => {
                entry.buffer.pop();
            }
            KeyCode::Char(c) if entry.buffer.len() + c.len_utf8() <= MAX_PIN_BYTES => {
                entry.buffer.push(c);
            }
            KeyCode::Enter if entry.buffer.is_empty() => {
                self.message = Some("a PIN cannot be empty".into());
            }
            // A new PIN the token would refuse is caught here, not as a failed attempt.
            KeyCode::Enter
                if entry.uses[entry.index].is_new() && !self.pin_fits(entry.buffer.len()) =>
            {
                let (min, max) = self.pin_limits.get(self.token).copied().unwrap_or_default();
                entry.buffer.clear();
                self.message = Some(format!(
                    "this token takes PINs of {min} to {max} characters; type it again"
                ));
            }
            KeyCode::Enter => {
                self.message = None;
                let typed = SecretString::from(entry.buffer.as_str());
                entry.buffer.clear();
                let use_ = entry.uses[entry.index];
                if use_.is_new() {
                    match entry.first.take() {
                        None => {
                            entry.first = Some(typed);
                            self.stage = Stage::Pins(entry);
                            return WizardAction::None;
                        }
                        Some(first) => {
                            use secrecy::ExposeSecret;
                            if first.expose_secret() != typed.expose_secret() {
                                self.message = Some(format!(
                                    "the two entries of the {use_} differ; type it again"
                                ));
                                self.stage = Stage::Pins(entry);
                                return WizardAction::None;
                            }
                        }
                    }
                }
                entry.collected.set(use_.slot(), typed);
                entry.index += 1;
                if entry.index == entry.uses.len() {
                    return self.run(entry.step, entry.collected);
                }
            }
            _ => {}
        }
        self.stage = Stage::Pins(entry);
        WizardAction::None
    }

    /// Whether a new PIN of `len` bytes is within the chosen token's limits.
    fn pin_fits(&self, len: usize) -> bool {
        match self.pin_limits.get(self.token) {
            Some(&(min, max)) => (min..=max.max(min)).contains(&(len as u64)),
            None => true,
        }
    }

    fn run(&mut self, step: Step, pins: StepPins) -> WizardAction {
        match self.ceremony.take() {
            Some(ceremony) => {
                self.stage = Stage::Running { step };
                WizardAction::Run {
                    ceremony: Box::new(ceremony),
                    step,
                    pins,
                }
            }
            None => WizardAction::Close,
        }
    }

    fn abandon(&mut self, reason: &str) -> WizardAction {
        let Some(mut ceremony) = self.ceremony.take() else {
            return WizardAction::Close;
        };
        if ceremony.records().is_empty() {
            // Nothing touched the token: there is nothing to record.
            return WizardAction::Close;
        }
        ceremony.abandon(reason);
        self.ceremony = Some(ceremony.clone());
        self.stage = Stage::Finished { recorded: None };
        WizardAction::Record(Box::new(ceremony))
    }

    /// A step came back: the next one is offered, a failed one may be tried again, and once
    /// every step is done the transcript is written.
    pub fn step_done(&mut self, ceremony: Ceremony, error: Option<String>) -> WizardAction {
        let next = ceremony.next_step();
        self.ceremony = Some(ceremony.clone());
        self.message = error.map(|e| format!("{e} (y tries the step again, x abandons)"));
        match next {
            Some(step) => {
                self.stage = Stage::Confirm { step };
                WizardAction::None
            }
            None => {
                self.stage = Stage::Finished { recorded: None };
                WizardAction::Record(Box::new(ceremony))
            }
        }
    }

    /// The transcript was written (its files and journal entry) or could not be.
    pub fn recorded(&mut self, outcome: Result<String, String>) {
        self.stage = Stage::Finished {
            recorded: Some(outcome),
        };
    }
}

#[cfg(test)]
mod tests;
