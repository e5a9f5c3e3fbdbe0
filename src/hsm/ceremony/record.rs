//! What each step of a ceremony did: the records the transcript and the journal are made of.
//! Built only from token views, object views and errors, none of which can hold a PIN.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::plan::Step;
use crate::estate::{ObjectView, Pkcs11Library, SourceError, TokenView};
use crate::hsm::Role;

/// One attempt at one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRecord {
    /// The step's 1-based position in the plan.
    pub number: usize,
    #[serde(flatten)]
    pub step: Step,
    /// What the step does, in words.
    pub title: String,
    /// 1 for the first try; a step retried after a wrong PIN has several records.
    pub attempt: u32,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    #[serde(flatten)]
    pub outcome: StepOutcome,
}

impl StepRecord {
    /// Whether the attempt succeeded.
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, StepOutcome::Succeeded { .. })
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepOutcome {
    Succeeded { detail: Box<StepDetail> },
    Failed { error: SourceError },
}

/// What a step that succeeded found or made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepDetail {
    /// The module can do every step; the token the ceremony will use.
    Prepared {
        library: Pkcs11Library,
        /// The blank token that will be initialized, or the existing token.
        token: TokenView,
        /// The PKCS#11 functions the module was checked for.
        functions_checked: Vec<String>,
    },
    TokenInitialized {
        token: TokenView,
    },
    UserPinSet {
        token: TokenView,
    },
    KeyGenerated {
        key: ObjectView,
    },
    PinChanged {
        role: Role,
        token: TokenView,
    },
    Verified {
        token: TokenView,
        keys: Vec<VerifiedKey>,
    },
}

/// A root key as the verification step found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedKey {
    pub key: ObjectView,
    pub checks: Vec<Check>,
}

/// One property verified, with what was expected and what the token reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub expected: String,
    pub found: String,
    pub passed: bool,
}

impl Check {
    /// A check of a boolean attribute the token may not report.
    pub fn flag(name: &str, expected: bool, found: Option<bool>) -> Check {
        Check {
            name: name.to_string(),
            expected: expected.to_string(),
            found: found.map_or_else(|| "not reported".to_string(), |b| b.to_string()),
            passed: found == Some(expected),
        }
    }

    /// A check of a value shown as text.
    pub fn value(name: &str, expected: &str, found: Option<&str>) -> Check {
        Check {
            name: name.to_string(),
            expected: expected.to_string(),
            found: found.unwrap_or("not reported").to_string(),
            passed: found == Some(expected),
        }
    }
}

/// A key the ceremony generated, as the transcript's summary lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedKey {
    pub label: String,
    pub id: String,
    pub kcv: Option<String>,
    /// How the KCV was obtained, in words.
    pub kcv_method: String,
}

impl GeneratedKey {
    /// The summary of a key from its view.
    pub fn from_view(view: &ObjectView) -> GeneratedKey {
        GeneratedKey {
            label: view.label.clone(),
            id: view.id.clone(),
            kcv: view.kcv.as_ref().and_then(|k| k.value.clone()),
            kcv_method: view
                .kcv
                .as_ref()
                .map_or_else(|| "not available".to_string(), |k| k.method.to_string()),
        }
    }
}
