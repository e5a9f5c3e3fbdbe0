//! The interactive console.
//!
//! TODO: the console is being built; until it lands `keyward` without a subcommand says so.

use crate::config::Settings;

/// Runs the console until the operator quits.
pub async fn run(_settings: Settings) -> anyhow::Result<()> {
    anyhow::bail!("the interactive console is not built yet; use `keyward inventory`")
}
