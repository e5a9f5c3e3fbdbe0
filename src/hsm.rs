//! PKCS#11 through cryptoki: the configured module's slots, tokens and objects, the token
//! administration, and the root-key [`ceremony`] built on it.
//!
//! One initialized context per module path lives for the whole process ([`context`]); every
//! PKCS#11 call is blocking and runs on tokio's blocking pool, never on the async workers or
//! the render loop. Tokens are identified by label and serial ([`TokenRef`]), never by a
//! remembered slot id. Errors are [`HsmError`]s that name the PKCS#11 function and say what
//! to do; [`HsmError::to_source_error`] turns one into the estate's [`SourceError`].
//!
//! Known debt: a module that hangs inside a call holds a blocking-pool thread until it
//! returns; there is no per-call timeout, since PKCS#11 calls cannot be cancelled.

pub mod ceremony;
pub mod command;
mod context;
mod error;
mod listing;
pub mod objects;
pub mod softhsm;
mod token;

use std::fmt;
use std::path::Path;

use cryptoki::slot::TokenInfo;
use serde::Serialize;

pub use context::{context, require_functions};
pub use error::{HsmError, PinTries, Role, ckr_name, function_name};
pub use listing::{find_free_slot, find_token, list, token_view};
pub use objects::{list_objects, list_token_objects};
pub use token::{
    MAX_LABEL_BYTES, change_pin, init_blank_token, init_token, init_user_pin, login, validate_label,
};

use crate::estate::{Fetched, HsmSnapshot, SourceError, TokenView};

/// A token's identity: its label (which may repeat across tokens) and its serial.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TokenRef {
    pub label: String,
    pub serial: String,
}

impl TokenRef {
    /// Whether `info` describes this token.
    pub fn matches(&self, info: &TokenInfo) -> bool {
        info.label() == self.label && info.serial_number() == self.serial
    }
}

impl From<&TokenView> for TokenRef {
    fn from(view: &TokenView) -> Self {
        TokenRef {
            label: view.label.clone(),
            serial: view.serial.clone(),
        }
    }
}

impl fmt::Display for TokenRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (serial {})", self.label, self.serial)
    }
}

/// Lists the module's library info, slots and tokens. Runs the blocking PKCS#11 calls off the
/// async runtime's worker threads.
pub async fn snapshot(module: &Path) -> Fetched<HsmSnapshot> {
    let module = module.to_path_buf();
    let listed = tokio::task::spawn_blocking(move || list(&module)).await;
    match listed {
        Ok(Ok(snapshot)) => Ok(snapshot),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "PKCS#11 listing failed");
            Err(err.to_source_error())
        }
        Err(join) => Err(SourceError {
            operation: "C_GetSlotList".into(),
            code: "Panicked".into(),
            message: format!("the PKCS#11 listing task failed: {join}"),
            request_id: None,
        }),
    }
}
