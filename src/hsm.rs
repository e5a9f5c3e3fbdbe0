//! PKCS#11 through cryptoki: listing the configured module's slots and tokens.
//!
//! TODO: placeholder until the cryptoki listing lands; it reports that it cannot list yet.

use std::path::Path;

use crate::estate::{Fetched, HsmSnapshot, SourceError};

/// Lists the module's library info, slots and tokens. Runs the blocking PKCS#11 calls off the
/// async runtime's worker threads.
pub async fn snapshot(module: &Path) -> Fetched<HsmSnapshot> {
    Err(SourceError {
        operation: "C_GetSlotList".into(),
        code: "NotImplemented".into(),
        message: format!("listing {} is not wired yet", module.display()),
        request_id: None,
    })
}
