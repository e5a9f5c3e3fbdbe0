//! Root-key ceremonies: a token initialized, its user PIN set, AES-256 root keys generated and
//! verified, each step recorded for the transcript and the audit journal.
//!
//! # Driving a ceremony
//!
//! A [`CeremonyPlan`] names the ceremony, the operator and the witnesses, the token (a blank
//! one to initialize, or an existing one by label and serial) and the keys. [`Ceremony::new`]
//! checks it and lays out its [`Step`]s; nothing touches the token yet. Then, one step at a
//! time, a driver (the TUI wizard or `keyward hsm ceremony`):
//!
//! 1. asks [`Ceremony::next_step`] what comes next and [`Ceremony::describe`] what it will do,
//!    and shows that to be confirmed;
//! 2. asks [`Ceremony::pins_for`] which PINs the step takes ([`PinUse::is_new`] ones are
//!    entered twice), and collects them into a [`StepPins`];
//! 3. calls [`Ceremony::run_step`], which is blocking: run it on
//!    `tokio::task::spawn_blocking`, moving the ceremony in and back out
//!    (`move || { let result = ceremony.run_step(step, pins); (ceremony, result) }`). The PINs
//!    are consumed and dropped (zeroized) when the call returns.
//!
//! Every attempt is recorded, failed ones too; a failed step (a wrong PIN, say) may be run
//! again, and the records keep each attempt. [`Ceremony::abandon`] ends a ceremony early.
//! [`Ceremony::transcript`] renders the records at any point, and [`transcript::record`]
//! journals them. [`PinBook`] holds every PIN of a ceremony for drivers that collect them up
//! front, as the headless command does.
//!
//! The first step, [`Step::Prepare`], checks the module's function list against every
//! function the plan needs (and knows CloudHSM's library lacks C_InitToken, C_InitPIN and
//! C_SetPIN), so a module that cannot do the ceremony is refused before anything changes.
//!
//! PINs exist only in [`secrecy::SecretString`]s; no record, error or log line holds one.
//! Known debt: one process should run one ceremony at a time, since PKCS#11 logins are shared
//! by all sessions of a process; a second ceremony on the same token meets
//! CKR_USER_ALREADY_LOGGED_IN, reported as such.

mod pins;
pub mod plan;
mod preflight;
pub mod record;
pub mod script;
mod steps;
pub mod transcript;
mod verify;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use cryptoki::context::Function;
use thiserror::Error;

pub use pins::{PinBook, PinSlot, PinUse, StepPins};
pub use plan::{CeremonyPlan, KeySpec, KeyUsage, PlanProblem, ScriptSource, Step, TokenChoice};
pub use record::{Check, GeneratedKey, StepDetail, StepOutcome, StepRecord, VerifiedKey};
pub use transcript::Transcript;

use super::{HsmError, TokenRef, function_name};
use crate::estate::SourceError;

/// Why a ceremony step could not run, or failed.
#[derive(Debug, Error)]
pub enum CeremonyError {
    /// The plan has a field that cannot work.
    #[error("the ceremony plan cannot run: {0}")]
    Plan(PlanProblem),

    /// A PKCS#11 call failed.
    #[error(transparent)]
    Hsm(#[from] HsmError),

    /// The module lacks functions the plan needs.
    #[error("{}", unsupported_message(module, missing, *cloudhsm))]
    Unsupported {
        module: PathBuf,
        missing: Vec<Function>,
        /// The module is CloudHSM's PKCS#11 library.
        cloudhsm: bool,
    },

    /// A blank token would get a label an initialized token already has.
    #[error(
        "an initialized token labelled {label:?} already exists (serial {serial}): a second \
         token with the same label cannot be told apart by operators. Use another label, or \
         run the ceremony on that token with use = \"existing\" and its serial"
    )]
    LabelTaken { label: String, serial: String },

    /// The token already holds a secret key with a planned key's label or id.
    #[error(
        "token {token} already holds a secret key labelled {label:?} or with id {id}: choose \
         another label and id, or verify the existing key instead of generating a new one"
    )]
    KeyExists {
        token: TokenRef,
        label: String,
        id: String,
    },

    /// The verification step found a key that is not as planned.
    #[error("verification failed: {}", failures.join("; "))]
    VerificationFailed { failures: Vec<String> },

    /// The driver asked for a step that is not next.
    #[error("{asked} cannot run now: {}", next.as_deref().map_or_else(
        || "the ceremony is over".to_string(),
        |next| format!("the next step is {next}")
    ))]
    OutOfOrder { asked: String, next: Option<String> },

    /// The driver did not give a PIN the step takes.
    #[error("{step} needs the {pin}, which was not given")]
    PinMissing { step: String, pin: PinUse },
}

impl CeremonyError {
    /// The error as a step record, the pane and the transcript show it.
    pub fn to_source_error(&self) -> SourceError {
        let (operation, code) = match self {
            CeremonyError::Hsm(err) => return err.to_source_error(),
            CeremonyError::Plan(_) => ("ceremony plan", "PlanInvalid"),
            CeremonyError::Unsupported { .. } => ("C_GetFunctionList", "FunctionMissing"),
            CeremonyError::LabelTaken { .. } => ("C_GetTokenInfo", "TokenLabelTaken"),
            CeremonyError::KeyExists { .. } => ("C_FindObjects", "KeyExists"),
            CeremonyError::VerificationFailed { .. } => ("verify", "VerificationFailed"),
            CeremonyError::OutOfOrder { .. } => ("ceremony", "StepOutOfOrder"),
            CeremonyError::PinMissing { .. } => ("ceremony", "PinMissing"),
        };
        SourceError {
            operation: operation.to_string(),
            code: code.to_string(),
            message: self.to_string(),
            request_id: None,
        }
    }
}

/// Where a ceremony stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CeremonyState {
    /// Steps remain.
    InProgress,
    /// Every step succeeded.
    Completed,
    /// The driver stopped it, for this reason.
    Abandoned { reason: String },
}

/// A ceremony in progress: the plan, the records so far, and the token once it is known.
#[derive(Debug, Clone)]
pub struct Ceremony {
    module: PathBuf,
    plan: CeremonyPlan,
    rehearsal: bool,
    steps: Vec<Step>,
    records: Vec<StepRecord>,
    token: Option<TokenRef>,
    keys: Vec<GeneratedKey>,
    started: DateTime<Utc>,
    state: CeremonyState,
}

impl Ceremony {
    /// Checks `plan` and lays out its steps for `module`. Touches no token. A rehearsal is a
    /// ceremony on a throwaway token; the transcript says so.
    pub fn new(
        module: impl Into<PathBuf>,
        plan: CeremonyPlan,
        rehearsal: bool,
    ) -> Result<Ceremony, CeremonyError> {
        plan.validate().map_err(CeremonyError::Plan)?;
        let steps = plan.steps();
        Ok(Ceremony {
            module: module.into(),
            plan,
            rehearsal,
            steps,
            records: Vec::new(),
            token: None,
            keys: Vec::new(),
            started: Utc::now(),
            state: CeremonyState::InProgress,
        })
    }

    pub fn plan(&self) -> &CeremonyPlan {
        &self.plan
    }

    pub fn module(&self) -> &Path {
        &self.module
    }

    pub fn is_rehearsal(&self) -> bool {
        self.rehearsal
    }

    /// Every step of the plan, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Every attempt so far, oldest first.
    pub fn records(&self) -> &[StepRecord] {
        &self.records
    }

    /// The token, once [`Step::Prepare`] found it (existing) or [`Step::InitToken`] made it.
    pub fn token(&self) -> Option<&TokenRef> {
        self.token.as_ref()
    }

    /// The keys generated so far, with their KCVs.
    pub fn generated_keys(&self) -> &[GeneratedKey] {
        &self.keys
    }

    pub fn started(&self) -> DateTime<Utc> {
        self.started
    }

    pub fn state(&self) -> &CeremonyState {
        &self.state
    }

    /// The first step that has not succeeded yet; `None` once the ceremony is over.
    pub fn next_step(&self) -> Option<Step> {
        if self.state != CeremonyState::InProgress {
            return None;
        }
        self.steps.iter().copied().find(|step| {
            !self
                .records
                .iter()
                .any(|r| r.step == *step && r.succeeded())
        })
    }

    /// The step's 1-based position in the plan.
    pub fn number(&self, step: Step) -> usize {
        self.steps
            .iter()
            .position(|s| *s == step)
            .map_or(0, |i| i + 1)
    }

    /// The step's short title, as step lists and the transcript name it.
    pub fn title(&self, step: Step) -> String {
        steps::title(self, step)
    }

    /// What `step` will do, in a sentence for the confirmation screen.
    pub fn describe(&self, step: Step) -> String {
        steps::describe(self, step)
    }

    /// The PINs `step` takes, in the order to ask for them.
    pub fn pins_for(&self, step: Step) -> Vec<PinUse> {
        pins::pins_for(step)
    }

    /// Runs `step`, which must be [`next_step`](Self::next_step), with `pins`, and records the
    /// attempt. Blocking. The PINs are dropped when it returns.
    pub fn run_step(&mut self, step: Step, pins: StepPins) -> Result<StepRecord, CeremonyError> {
        let next = self.next_step();
        if next != Some(step) {
            return Err(CeremonyError::OutOfOrder {
                asked: steps::title(self, step),
                next: next.map(|n| steps::title(self, n)),
            });
        }
        if let Some(missing) = self
            .pins_for(step)
            .into_iter()
            .find(|pin| pins.get(pin.slot()).is_none())
        {
            return Err(CeremonyError::PinMissing {
                step: steps::title(self, step),
                pin: missing,
            });
        }

        let started = Utc::now();
        let result = steps::run(self, step, &pins);
        drop(pins);
        let attempt = 1 + self.records.iter().filter(|r| r.step == step).count() as u32;
        let outcome = match &result {
            Ok(detail) => StepOutcome::Succeeded {
                detail: Box::new(detail.clone()),
            },
            Err(err) => StepOutcome::Failed {
                error: err.to_source_error(),
            },
        };
        let record = StepRecord {
            number: self.number(step),
            step,
            title: steps::title(self, step),
            attempt,
            started,
            finished: Utc::now(),
            outcome,
        };
        let (ceremony, title) = (&self.plan.name, &record.title);
        match &result {
            Ok(_) => tracing::info!(%ceremony, step = %title, "ceremony step succeeded"),
            Err(err) => {
                tracing::error!(%ceremony, step = %title, error = %err, "ceremony step failed")
            }
        }
        self.records.push(record.clone());
        if result.is_ok() && self.next_step().is_none() {
            self.state = CeremonyState::Completed;
        }
        result.map(|_| record)
    }

    /// Ends the ceremony before its last step; the transcript gives `reason`.
    pub fn abandon(&mut self, reason: impl Into<String>) {
        if self.state == CeremonyState::InProgress {
            self.state = CeremonyState::Abandoned {
                reason: reason.into(),
            };
        }
    }

    /// The transcript of everything so far.
    pub fn transcript(&self) -> Transcript {
        Transcript::of(self)
    }
}

fn unsupported_message(module: &Path, missing: &[Function], cloudhsm: bool) -> String {
    let names: Vec<String> = missing.iter().map(|f| function_name(*f)).collect();
    let mut message = format!(
        "the PKCS#11 module {} does not implement {} that this ceremony needs; nothing was \
         changed",
        module.display(),
        names.join(", ")
    );
    let admin = missing.iter().any(|f| {
        matches!(
            f,
            Function::InitToken | Function::InitPIN | Function::SetPIN
        )
    });
    if cloudhsm && admin {
        message.push_str(
            ". This is CloudHSM's PKCS#11 library: its token is initialized with the cluster, \
             and its users are managed with the CloudHSM CLI (`user create --role crypto-user`, \
             `user change-password`). Create the crypto user there, then run the ceremony \
             with token use = \"existing\" (the cluster's token label and serial from `keyward \
             hsm slots`), no change_pin, and enter the user PIN as `user:password`",
        );
    } else if admin {
        message.push_str(
            ". Set the token and its users up with the vendor's tools, then run the ceremony \
             with token use = \"existing\" and no change_pin",
        );
    } else {
        message.push_str(". Use a module that implements them");
    }
    message
}

#[cfg(test)]
mod tests;
