//! Logging setup. Headless commands log to standard error; the console logs into its log pane.
//! The filter comes from `KEYWARD_LOG` (tracing's env-filter syntax): `warn` by default for
//! headless commands, and keyward's own `info` (every completed operator action) in the
//! console.

use std::sync::Arc;

use tokio::sync::Notify;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The environment variable holding the log filter.
pub const LOG_ENV: &str = "KEYWARD_LOG";

/// Sends logs to standard error, for headless commands.
pub fn init_stderr() {
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("warn"));
    // A second initialisation (tests calling twice) is harmless and ignored.
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        // A closed standard error (its reader gone) must not turn into a panic.
        .log_internal_errors(false)
        .try_init();
}

/// Sends logs to the console's log pane; the returned notifier wakes the console when
/// something was logged, which then moves the event into the pane's buffer (and redraws the
/// pane if it is open) without polling.
pub fn init_tui() -> Arc<Notify> {
    let notify = Arc::new(Notify::new());
    let filter =
        EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("warn,keyward=info"));
    let initialised = tracing_subscriber::registry()
        .with(filter)
        .with(tui_logger::TuiTracingSubscriberLayer)
        .with(Notifier(Arc::clone(&notify)))
        .try_init();
    if initialised.is_ok() {
        // Not `init_logger`: its thread would wake every 10 ms to move events along. The
        // console moves them itself when it is told something was logged, so an idle console
        // sleeps.
        tui_logger::set_default_level(tui_logger::LevelFilter::Trace);
    }
    notify
}

/// Wakes the console for every event that passed the filter.
struct Notifier(Arc<Notify>);

impl<S: tracing::Subscriber> Layer<S> for Notifier {
    fn on_event(&self, _event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        self.0.notify_one();
    }
}
