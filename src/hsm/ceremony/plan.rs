//! What a ceremony will do: its participants, the token, the root keys, and the steps that
//! follow from them. Plain data, checked by [`CeremonyPlan::validate`] before anything runs.

use std::fmt;

use cryptoki::context::Function;
use serde::Serialize;

use crate::hsm::{MAX_LABEL_BYTES, Role, TokenRef, function_name, validate_label};

/// The longest key label accepted, in bytes.
pub const MAX_KEY_LABEL_BYTES: usize = 64;
/// The longest key id accepted, in bytes.
pub const MAX_KEY_ID_BYTES: usize = 32;
/// Root keys are AES-256.
pub const ROOT_KEY_BYTES: u64 = 32;

/// Everything a ceremony is asked to do, as the script or the wizard describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CeremonyPlan {
    /// The ceremony's name, as the transcript and the journal show it.
    pub name: String,
    /// The officer running the ceremony.
    pub operator: String,
    /// The people witnessing it; at least one.
    pub witnesses: Vec<String>,
    pub token: TokenChoice,
    /// The AES-256 root keys to generate, in order; at least one.
    pub keys: Vec<KeySpec>,
    /// Whose PIN to change after the keys are made, if anyone's.
    pub change_pin: Option<Role>,
    /// The reviewed script the plan came from, when it came from one.
    pub script: Option<ScriptSource>,
}

/// Which token the ceremony works on. A blank token is found again when it is initialized;
/// an existing one by label and serial; never by a slot number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "use", rename_all = "snake_case")]
pub enum TokenChoice {
    /// Initialize the first uninitialized token the module offers with this label.
    Blank { label: String },
    /// An initialized token; `set_user_pin` has the security officer (re)set its user PIN.
    Existing { token: TokenRef, set_user_pin: bool },
}

impl TokenChoice {
    /// The label the token has, or will have.
    pub fn label(&self) -> &str {
        match self {
            TokenChoice::Blank { label } => label,
            TokenChoice::Existing { token, .. } => &token.label,
        }
    }
}

/// One root key to generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySpec {
    pub label: String,
    /// `CKA_ID`, 1 to 32 bytes.
    #[serde(serialize_with = "hex_bytes")]
    pub id: Vec<u8>,
    /// What the key may be used for; without `encrypt` the KCV comes from `CKA_CHECK_VALUE`.
    pub usage: Vec<KeyUsage>,
}

/// An operation a root key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUsage {
    Encrypt,
    Decrypt,
    Wrap,
    Unwrap,
    Derive,
}

impl KeyUsage {
    /// Every usage, in the order scripts name them.
    pub const ALL: [KeyUsage; 5] = [
        KeyUsage::Encrypt,
        KeyUsage::Decrypt,
        KeyUsage::Wrap,
        KeyUsage::Unwrap,
        KeyUsage::Derive,
    ];
    /// A root key's usual powers: wrapping the keys below it, and the KCV's encryption.
    pub const DEFAULT: [KeyUsage; 4] = [
        KeyUsage::Encrypt,
        KeyUsage::Decrypt,
        KeyUsage::Wrap,
        KeyUsage::Unwrap,
    ];

    /// The name scripts use: `encrypt`, `wrap`, ...
    pub fn name(self) -> &'static str {
        match self {
            KeyUsage::Encrypt => "encrypt",
            KeyUsage::Decrypt => "decrypt",
            KeyUsage::Wrap => "wrap",
            KeyUsage::Unwrap => "unwrap",
            KeyUsage::Derive => "derive",
        }
    }
}

/// The script file a plan was read from, and the SHA-256 of its text, so a rehearsal and the
/// real ceremony can be shown to have run the same reviewed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptSource {
    pub path: String,
    pub sha256: String,
}

/// One step of a ceremony, in the order [`CeremonyPlan::steps`] gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Check the module can do every step, and find the token; changes nothing.
    Prepare,
    /// C_InitToken on a blank token, with the label and the new SO PIN.
    InitToken,
    /// C_InitPIN as security officer: the user PIN.
    InitUserPin,
    /// Log in as the user and generate root key `key` (an index into the plan's keys).
    GenerateKey { key: usize },
    /// C_SetPIN for a role.
    ChangePin { role: Role },
    /// Log in as the user and list each root key with its attributes and KCV.
    Verify,
}

impl Step {
    /// The PKCS#11 functions the step calls, checked against the module before step one.
    pub fn functions(self) -> &'static [Function] {
        match self {
            Step::Prepare => &[Function::GetSlotList, Function::GetTokenInfo],
            Step::InitToken => &[Function::InitToken],
            Step::InitUserPin => &[
                Function::OpenSession,
                Function::Login,
                Function::InitPIN,
                Function::Logout,
            ],
            Step::GenerateKey { .. } => &[
                Function::OpenSession,
                Function::Login,
                Function::GenerateKey,
                Function::FindObjectsInit,
                Function::FindObjects,
                Function::GetAttributeValue,
            ],
            Step::ChangePin { .. } => &[Function::OpenSession, Function::Login, Function::SetPIN],
            Step::Verify => &[
                Function::OpenSession,
                Function::Login,
                Function::FindObjectsInit,
                Function::FindObjects,
                Function::GetAttributeValue,
            ],
        }
    }
}

/// A field of a plan, named as the script spells it, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanField {
    Name,
    Operator,
    Witnesses,
    Witness(usize),
    TokenLabel,
    TokenSerial,
    Keys,
    KeyLabel(usize),
    KeyId(usize),
    KeyUsage(usize),
    ChangePin,
}

impl fmt::Display for PlanField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanField::Name => f.write_str("ceremony.name"),
            PlanField::Operator => f.write_str("ceremony.operator"),
            PlanField::Witnesses => f.write_str("ceremony.witnesses"),
            PlanField::Witness(i) => write!(f, "ceremony.witnesses[{i}]"),
            PlanField::TokenLabel => f.write_str("token.label"),
            PlanField::TokenSerial => f.write_str("token.serial"),
            PlanField::Keys => f.write_str("keys"),
            PlanField::KeyLabel(i) => write!(f, "keys[{i}].label"),
            PlanField::KeyId(i) => write!(f, "keys[{i}].id"),
            PlanField::KeyUsage(i) => write!(f, "keys[{i}].usage"),
            PlanField::ChangePin => f.write_str("change_pin.role"),
        }
    }
}

/// Why a plan cannot run, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanProblem {
    pub field: PlanField,
    pub message: String,
}

impl fmt::Display for PlanProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl CeremonyPlan {
    /// The steps the plan takes, in order.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = vec![Step::Prepare];
        match &self.token {
            TokenChoice::Blank { .. } => steps.extend([Step::InitToken, Step::InitUserPin]),
            TokenChoice::Existing {
                set_user_pin: true, ..
            } => steps.push(Step::InitUserPin),
            TokenChoice::Existing { .. } => {}
        }
        steps.extend((0..self.keys.len()).map(|key| Step::GenerateKey { key }));
        if let Some(role) = self.change_pin {
            steps.push(Step::ChangePin { role });
        }
        steps.push(Step::Verify);
        steps
    }

    /// The PKCS#11 functions the whole plan needs, each once.
    pub fn functions(&self) -> Vec<Function> {
        let mut needed: Vec<Function> = Vec::new();
        for step in self.steps() {
            for function in step.functions() {
                if !needed
                    .iter()
                    .any(|n| function_name(*n) == function_name(*function))
                {
                    needed.push(*function);
                }
            }
        }
        needed
    }

    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), PlanProblem> {
        let problem = |field, message: &str| {
            Err(PlanProblem {
                field,
                message: message.to_string(),
            })
        };
        if self.name.trim().is_empty() {
            return problem(PlanField::Name, "is empty: name the ceremony");
        }
        if self.operator.trim().is_empty() {
            return problem(PlanField::Operator, "is empty: name the officer running it");
        }
        if self.witnesses.is_empty() {
            return problem(PlanField::Witnesses, "is empty: name at least one witness");
        }
        for (i, witness) in self.witnesses.iter().enumerate() {
            if witness.trim().is_empty() {
                return problem(PlanField::Witness(i), "is empty");
            }
            if witness.trim() == self.operator.trim() {
                return problem(
                    PlanField::Witness(i),
                    "is the operator: a witness must be someone else",
                );
            }
            if self.witnesses[..i]
                .iter()
                .any(|w| w.trim() == witness.trim())
            {
                return problem(PlanField::Witness(i), "names the same witness twice");
            }
        }

        if let Err(err) = validate_label(self.token.label()) {
            return Err(PlanProblem {
                field: PlanField::TokenLabel,
                message: err.to_string(),
            });
        }
        if let TokenChoice::Existing { token, .. } = &self.token
            && token.serial.trim().is_empty()
        {
            return problem(
                PlanField::TokenSerial,
                "is empty: an existing token is named by its label and serial (see `keyward \
                 hsm slots`)",
            );
        }

        if self.keys.is_empty() {
            return problem(
                PlanField::Keys,
                "is empty: a ceremony generates at least one key",
            );
        }
        for (i, key) in self.keys.iter().enumerate() {
            if key.label.trim().is_empty() || key.label.trim() != key.label {
                return problem(
                    PlanField::KeyLabel(i),
                    "is empty or starts or ends with spaces",
                );
            }
            if key.label.len() > MAX_KEY_LABEL_BYTES {
                return problem(PlanField::KeyLabel(i), "is longer than 64 bytes");
            }
            if self.keys[..i].iter().any(|k| k.label == key.label) {
                return problem(PlanField::KeyLabel(i), "repeats another key's label");
            }
            if key.id.is_empty() || key.id.len() > MAX_KEY_ID_BYTES {
                return problem(PlanField::KeyId(i), "must be 1 to 32 bytes");
            }
            if self.keys[..i].iter().any(|k| k.id == key.id) {
                return problem(PlanField::KeyId(i), "repeats another key's id");
            }
            if key.usage.is_empty() {
                return problem(
                    PlanField::KeyUsage(i),
                    "is empty: a key must be usable for something",
                );
            }
        }
        Ok(())
    }
}

/// The token label limit, re-exported for the wizard's input field.
pub const MAX_TOKEN_LABEL_BYTES: usize = MAX_LABEL_BYTES;

fn hex_bytes<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(bytes))
}
