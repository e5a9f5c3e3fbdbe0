//! Which PINs each step takes, and the containers that carry them to a step.
//!
//! A PIN exists only as a [`SecretString`]: it is zeroized when dropped, its `Debug` prints
//! nothing, and none of these types implements `Serialize` or `Display` for the PIN itself.

use std::fmt;

use secrecy::SecretString;
use serde::Serialize;

use super::Ceremony;
use super::plan::Step;
use crate::hsm::Role;

/// Which container field a PIN goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinSlot {
    So,
    User,
    /// The replacement PIN of a PIN change.
    New,
}

/// A PIN a step takes, and what for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinUse {
    /// The SO PIN the token is being initialized with.
    NewSo,
    /// The token's current SO PIN.
    So,
    /// The user PIN the security officer is setting.
    NewUser,
    /// The current user PIN.
    User,
    /// The PIN that replaces `role`'s current one.
    Replacement(Role),
}

impl PinUse {
    /// The field of [`StepPins`] it goes into.
    pub fn slot(self) -> PinSlot {
        match self {
            PinUse::NewSo | PinUse::So => PinSlot::So,
            PinUse::NewUser | PinUse::User => PinSlot::User,
            PinUse::Replacement(_) => PinSlot::New,
        }
    }

    /// A PIN being set: ask for it twice and compare, since nothing can check it yet.
    pub fn is_new(self) -> bool {
        matches!(
            self,
            PinUse::NewSo | PinUse::NewUser | PinUse::Replacement(_)
        )
    }

    /// The prompt for it, without punctuation: `new SO PIN`.
    pub fn prompt(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for PinUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinUse::NewSo => f.write_str("new SO PIN"),
            PinUse::So => f.write_str("SO PIN"),
            PinUse::NewUser => f.write_str("new user PIN"),
            PinUse::User => f.write_str("user PIN"),
            PinUse::Replacement(Role::User) => f.write_str("replacement user PIN"),
            PinUse::Replacement(Role::SecurityOfficer) => f.write_str("replacement SO PIN"),
        }
    }
}

/// The PINs `step` takes, in the order to ask for them.
pub(super) fn pins_for(step: Step) -> Vec<PinUse> {
    match step {
        Step::Prepare => vec![],
        Step::InitToken => vec![PinUse::NewSo],
        Step::InitUserPin => vec![PinUse::So, PinUse::NewUser],
        Step::GenerateKey { .. } | Step::Verify => vec![PinUse::User],
        Step::ChangePin {
            role: Role::SecurityOfficer,
        } => vec![PinUse::So, PinUse::Replacement(Role::SecurityOfficer)],
        Step::ChangePin { role: Role::User } => {
            vec![PinUse::User, PinUse::Replacement(Role::User)]
        }
    }
}

/// The PINs handed to one step; it takes ownership and drops them when it returns.
#[derive(Debug, Default)]
pub struct StepPins {
    pub so: Option<SecretString>,
    pub user: Option<SecretString>,
    pub new_pin: Option<SecretString>,
}

impl StepPins {
    /// The PIN for `slot`, if it was given.
    pub fn get(&self, slot: PinSlot) -> Option<&SecretString> {
        match slot {
            PinSlot::So => self.so.as_ref(),
            PinSlot::User => self.user.as_ref(),
            PinSlot::New => self.new_pin.as_ref(),
        }
    }

    /// Puts `pin` into `slot`, replacing what was there.
    pub fn set(&mut self, slot: PinSlot, pin: SecretString) {
        match slot {
            PinSlot::So => self.so = Some(pin),
            PinSlot::User => self.user = Some(pin),
            PinSlot::New => self.new_pin = Some(pin),
        }
    }
}

/// Every PIN of a whole ceremony, for drivers that collect them before the first step.
///
/// After a PIN change succeeds, the replacement becomes that role's current PIN, so the
/// steps after it (the verification) log in with it.
#[derive(Debug, Default)]
pub struct PinBook {
    pins: StepPins,
}

impl PinBook {
    /// The PINs the whole ceremony takes, each once, in the order first needed.
    pub fn needed(ceremony: &Ceremony) -> Vec<PinUse> {
        let mut needed: Vec<PinUse> = Vec::new();
        for step in ceremony.steps() {
            for pin in pins_for(*step) {
                if !needed.iter().any(|n| n.slot() == pin.slot()) {
                    needed.push(pin);
                }
            }
        }
        needed
    }

    /// Records the PIN for `pin`'s slot.
    pub fn insert(&mut self, pin: PinUse, value: SecretString) {
        self.pins.set(pin.slot(), value);
    }

    /// Copies of the PINs `step` takes; those not in the book are left out.
    pub fn for_step(&self, step: Step) -> StepPins {
        let mut pins = StepPins::default();
        for pin in pins_for(step) {
            if let Some(value) = self.pins.get(pin.slot()) {
                pins.set(pin.slot(), value.clone());
            }
        }
        pins
    }

    /// Call after `step` succeeded: a changed PIN becomes the role's current one.
    pub fn step_succeeded(&mut self, step: Step) {
        if let Step::ChangePin { role } = step
            && let Some(new) = self.pins.new_pin.take()
        {
            match role {
                Role::User => self.pins.user = Some(new),
                Role::SecurityOfficer => self.pins.so = Some(new),
            }
        }
    }
}
