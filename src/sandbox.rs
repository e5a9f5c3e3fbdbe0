//! The local estate: moto server and a SoftHSM2 token directory, seeded through the real APIs.
//!
//! TODO: being built.

use crate::cli::SandboxArgs;
use crate::config::Settings;

/// Starts and seeds the local estate, then opens the console or prints exports.
pub async fn run(_settings: Settings, _args: &SandboxArgs) -> anyhow::Result<()> {
    anyhow::bail!("the sandbox is not built yet")
}
