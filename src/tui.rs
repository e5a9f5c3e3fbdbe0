//! The interactive console.
//!
//! An owned [`app::App`] is the whole state; [`app::App::update`] is the only place it
//! changes, and [`view::render`] draws it without side effects. Terminal input, the refresh
//! timer, signals and background results all arrive as [`app::Message`]s on one loop, which
//! draws only when a message changed something, so an idle console costs nothing.
//! [`runtime::Runtime`] does the I/O the app asks for, in tasks that report back.

pub mod app;
pub mod dialog;
#[cfg(test)]
mod fixture;
pub mod keymap;
pub mod keytable;
mod overlay;
pub mod panes;
pub mod runtime;
mod scroll;
mod terminal;
pub mod theme;
pub mod view;
pub mod wizard;

use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use crossterm::event::EventStream;
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval, interval_at};

use crate::audit::Journal;
use crate::aws::Clients;
use crate::config::Settings;
use app::{App, Message, Pane};
use runtime::Runtime;
use terminal::TerminalGuard;
use theme::Theme;

/// How often the spinner moves while something loads.
const SPINNER_INTERVAL: Duration = Duration::from_millis(250);

/// Runs the console until the operator quits, the terminal hangs up or a signal ends it.
/// A plan that is running when that happens finishes and is journaled first.
///
/// `cache` is the snapshot cache: the first frame shows what it holds for this estate, marked
/// stale, and it is rewritten once every region has been read live.
pub async fn run(
    settings: Settings,
    journal: Journal,
    cache: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let logged = crate::logging::init_tui();
    let scope = cache_scope(&settings);
    let cached = cache
        .as_deref()
        .and_then(|path| crate::cache::load(path, &scope));
    let mut app = App::new(&settings, Utc::now());
    let theme = Theme::from_env();

    let listen = |kind| signal(kind).context("listening for signals");
    let mut hangup = listen(SignalKind::hangup())?;
    let mut terminate = listen(SignalKind::terminate())?;
    let mut interrupt = listen(SignalKind::interrupt())?;

    let mut guard = TerminalGuard::enter().context("taking over the terminal")?;
    tracing::info!(regions = ?settings.regions, "console started");
    // The cache first, so the first refresh is already incremental from what it holds.
    if let Some(cached) = cached {
        app.update(Message::Cached(cached.regions));
    }
    let first = app.start();
    // The first frame before the AWS clients are built: finding credentials and loading the
    // trusted certificates takes longer than the operator should wait for a screen.
    let mut scroll_limit = 0;
    guard
        .terminal
        .draw(|frame| scroll_limit = view::render(&app, theme, frame))
        .context("drawing the console")?;
    app.dirty = false;
    app.update(Message::Drawn { scroll_limit });

    let clients = Clients::new(&settings.aws, &settings.regions).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cache = cache.map(|path| (path, scope));
    let mut runtime = Runtime::new(clients, settings.pkcs11_module.clone(), journal, cache, tx);
    runtime.identify();
    for effect in first {
        runtime.apply(effect);
    }

    let mut events = EventStream::new();
    let mut refresh = interval_at(
        Instant::now() + settings.refresh_interval,
        settings.refresh_interval,
    );
    refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut spinner = interval(SPINNER_INTERVAL);
    spinner.set_missed_tick_behavior(MissedTickBehavior::Skip);

    let mut failure = None;
    while !app.quit {
        if app.dirty {
            if app.pane == Pane::Log {
                tui_logger::move_events();
            }
            let mut scroll_limit = 0;
            if let Err(err) = guard
                .terminal
                .draw(|frame| scroll_limit = view::render(&app, theme, frame))
            {
                // The terminal is gone (a hangup): nothing more can be shown.
                failure = Some(anyhow::Error::new(err).context("drawing the console"));
                break;
            }
            app.dirty = false;
            app.update(Message::Drawn { scroll_limit });
        }
        let message = tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => Message::Input(event),
                Some(Err(err)) => {
                    failure = Some(anyhow::Error::new(err).context("reading the terminal"));
                    Message::Shutdown
                }
                None => Message::Shutdown,
            },
            Some(message) = rx.recv() => message,
            _ = refresh.tick() => Message::RefreshDue,
            _ = spinner.tick(), if app.animating() => Message::Tick,
            () = logged.notified() => {
                tui_logger::move_events();
                Message::Logged
            }
            _ = hangup.recv() => Message::Shutdown,
            _ = terminate.recv() => Message::Shutdown,
            _ = interrupt.recv() => Message::Shutdown,
        };
        app.now = Utc::now();
        let reading = app.reading();
        for effect in app.update(message) {
            runtime.apply(effect);
        }
        if reading && !app.reading() {
            release_free_memory();
        }
    }

    drop(guard);
    runtime.finish().await;
    tracing::info!("console stopped");
    failure.map_or(Ok(()), Err)
}

/// Hands the heap's free pages back to the system. glibc keeps in its arenas what a large read
/// freed (responses, the copies a rebuild replaced); without this an idle console would stay
/// as large as its busiest moment.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases pages no allocation uses; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Names the estate a snapshot cache belongs to, so another estate's cache is never shown.
fn cache_scope(settings: &Settings) -> String {
    format!(
        "endpoint={} profile={} account={} regions={}",
        settings.aws.endpoint_url.as_deref().unwrap_or("aws"),
        settings.aws.profile.as_deref().unwrap_or("-"),
        settings.aws.emulator_account_id.as_deref().unwrap_or("-"),
        settings.regions.join(",")
    )
}
