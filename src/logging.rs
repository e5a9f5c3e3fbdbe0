//! Logging setup. Headless commands log to standard error; the TUI logs into its log pane.
//! The filter comes from `KEYWARD_LOG` (tracing's env-filter syntax), `warn` by default.

use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter.
pub const LOG_ENV: &str = "KEYWARD_LOG";

/// Sends logs to standard error, for headless commands.
pub fn init_stderr() {
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("warn"));
    // A second initialisation (tests calling twice) is harmless and ignored.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
