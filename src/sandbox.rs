//! The local estate: moto server and a SoftHSM2 token directory, seeded through the real APIs.
//!
//! `keyward sandbox` runs in two phases. [`prepare`] runs before the async runtime exists: it
//! makes the sandbox directory, the SoftHSM2 configuration and PINs, and sets `SOFTHSM2_CONF`
//! in the process environment (sound only while the process has one thread, and needed
//! before the first C_Initialize). [`run`] then starts moto under libfaketime ([`moto`]),
//! seeds the estate with real past dates ([`seed`], [`plan`]), initializes the token, and
//! either opens the console or prints `export` lines and waits for a signal. Everything it
//! started is stopped on the way out; a temporary directory is removed.
//!
//! [`MotoServer`] is also the integration tests' harness: each test starts one (or shares
//! one) and isolates itself in an account of its own ([`random_account_id`]).

pub mod moto;
pub mod plan;
mod scratch;
pub mod seed;
mod token;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use thiserror::Error;
use tokio::signal::unix::{Signal, SignalKind, signal};

pub use moto::{MotoError, MotoOptions, MotoServer};
pub use scratch::{ScratchDir, random_account_id};
pub use seed::{SeedError, Seeded, seed};
pub use token::{PINS_FILE, TOKEN_LABEL};

use crate::cli::SandboxArgs;
use crate::config::{AwsSettings, Settings};
use crate::hsm::HsmError;
use crate::plural;
use token::SandboxToken;

/// The moto release the sandbox is built and tested against (scripts/install-deps pins it).
pub const MOTO_VERSION: &str = "5.2.5";
/// The emulator's credentials: moto accepts any, AWS none of these.
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";
/// How long the console may take to finish after a signal before the sandbox stops anyway.
const CONSOLE_GRACE: Duration = Duration::from_secs(3);

/// The sandbox could not be set up or run.
#[derive(Debug, Error)]
pub enum SandboxError {
    #[error("sandbox directory {path}: {error}")]
    Dir { path: PathBuf, error: io::Error },
    #[error(
        "{path} already holds SoftHSM2 tokens the sandbox did not make; give --dir an empty \
         or earlier sandbox directory"
    )]
    DirInUse { path: PathBuf },
    #[error("writing the token PINs to {path}: {error}")]
    Pins { path: PathBuf, error: io::Error },
    #[error("reading random bytes for the token PINs: {0}")]
    Random(io::Error),
    #[error(
        "SoftHSM2 is not installed (no libsofthsm2.so under /usr/lib or /usr/local/lib); run \
         scripts/install-deps"
    )]
    SoftHsmMissing,
    #[error("{step}: {error}")]
    Hsm {
        step: &'static str,
        error: Box<HsmError>,
    },
    #[error("the token initialization task stopped: {0}")]
    TokenTask(tokio::task::JoinError),
    #[error(transparent)]
    Moto(#[from] MotoError),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("cannot listen for interrupt, terminate or hangup signals: {0}")]
    Signals(io::Error),
    #[error("writing the exports to standard output: {0}")]
    Output(io::Error),
    #[error("the console on the sandbox failed: {0:#}")]
    Console(anyhow::Error),
}

/// What [`prepare`] made, for [`run`].
#[derive(Debug)]
pub struct Prepared {
    dir: ScratchDir,
    token: Arc<SandboxToken>,
    no_tui: bool,
}

impl Prepared {
    /// The sandbox directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Makes the sandbox directory (`--dir`, or a new temporary one), its SoftHSM2 configuration
/// and token PINs, and points `SOFTHSM2_CONF` at the configuration.
///
/// # Safety
///
/// Sets a process environment variable, so no other thread may be running: call it from
/// `main` before the async runtime (or anything else that starts threads) exists.
pub unsafe fn prepare(args: &SandboxArgs) -> Result<Prepared, SandboxError> {
    let dir = match &args.dir {
        Some(path) => ScratchDir::existing(path),
        None => ScratchDir::new("sandbox"),
    }
    .map_err(|error| SandboxError::Dir {
        path: args.dir.clone().unwrap_or_else(std::env::temp_dir),
        error,
    })?;
    let token = SandboxToken::prepare(dir.path())?;
    // SAFETY: the caller guarantees this process has a single thread.
    unsafe { std::env::set_var(crate::hsm::softhsm::CONF_ENV, &token.conf) };
    Ok(Prepared {
        dir,
        token: Arc::new(token),
        no_tui: args.no_tui,
    })
}

/// Starts and seeds the estate, then opens the console on it (or, with `--no-tui`, prints the
/// exports and `ready` and waits for SIGINT, SIGTERM or SIGHUP); stops it all afterwards.
pub async fn run(settings: Settings, prepared: Prepared) -> Result<(), SandboxError> {
    let mut signals = Signals::new()?;
    let dir = prepared.dir.path().to_path_buf();

    let moto = tokio::select! {
        moto = start_estate(&prepared) => moto?,
        () = signals.recv() => {
            progress("interrupted during setup; stopping");
            return Ok(());
        }
    };

    let exports = Exports::new(&moto, &prepared.token, &dir);
    exports.write_config().map_err(|error| SandboxError::Dir {
        path: exports.config.clone(),
        error,
    })?;
    let outcome = if prepared.no_tui {
        exports.print().map_err(SandboxError::Output)?;
        signals.recv().await;
        progress("signal received; stopping");
        Ok(())
    } else {
        let settings = sandbox_settings(settings, &moto, &prepared.token);
        let journal = crate::audit::Journal::at(dir.join("audit.jsonl"));
        let console = crate::tui::run(settings, journal, Some(dir.join("snapshot.json")));
        tokio::pin!(console);
        tokio::select! {
            outcome = &mut console => outcome.map_err(SandboxError::Console),
            () = signals.recv() => {
                // The console ends on these signals itself where it can; give it a moment to
                // restore the terminal before everything under it stops.
                match tokio::time::timeout(CONSOLE_GRACE, &mut console).await {
                    Ok(outcome) => outcome.map_err(SandboxError::Console),
                    Err(_) => Ok(()),
                }
            }
        }
    };

    moto.stop().await?;
    if prepared.dir.is_temporary() {
        progress(&format!("removing {}", dir.display()));
    }
    drop(prepared);
    outcome
}

/// Starts moto (under libfaketime) while the token is initialized, then seeds the estate.
async fn start_estate(prepared: &Prepared) -> Result<MotoServer, SandboxError> {
    progress("starting moto server and the SoftHSM2 token");
    let token = Arc::clone(&prepared.token);
    let initialize = async {
        tokio::task::spawn_blocking(move || token.initialize())
            .await
            .map_err(SandboxError::TokenTask)?
            .map_err(|error| SandboxError::Hsm {
                step: "initializing the sandbox token",
                error: Box::new(error),
            })
    };
    let options = MotoOptions {
        dir: Some(prepared.dir().to_path_buf()),
        movable_clock: true,
    };
    let start_moto = async { Ok::<_, SandboxError>(MotoServer::start(options).await?) };
    let (moto, view) = tokio::try_join!(start_moto, initialize)?;
    progress(&format!(
        "token \"{}\" (serial {}) initialized; its PINs are in {}",
        view.label,
        view.serial,
        prepared.token.pins_file.display()
    ));

    progress(&format!("seeding the estate at {}", moto.endpoint_url()));
    let seeded = seed(&moto, None).await?;
    progress(&format!(
        "seeded {}, {} and {} in {}",
        plural::count(seeded.keys.len(), "key", "keys"),
        plural::count(seeded.clusters, "cluster", "clusters"),
        plural::count(seeded.alarms, "alarm", "alarms"),
        plan::REGIONS.join(", ")
    ));
    Ok(moto)
}

/// AWS settings for an emulator at `endpoint`: its credentials, and `account` sent as
/// `x-moto-account-id` when given. Seeding and the tests build their clients from these.
pub fn aws_settings(endpoint: &str, account: Option<&str>) -> AwsSettings {
    AwsSettings {
        endpoint_url: Some(endpoint.to_owned()),
        emulator_account_id: account.map(str::to_owned),
        static_credentials: Some(emulator_credentials()),
        // moto is the bottleneck, not a production quota: no need to pace requests.
        requests_per_second: 10_000,
        max_concurrency: 32,
        ..AwsSettings::default()
    }
}

/// The credentials every client of the emulator uses.
pub fn emulator_credentials() -> Credentials {
    Credentials::from_keys(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None)
}

/// The operator's settings, pointed at the sandbox.
fn sandbox_settings(mut settings: Settings, moto: &MotoServer, token: &SandboxToken) -> Settings {
    let requests_per_second = settings.aws.requests_per_second;
    settings.regions = plan::REGIONS.iter().map(|r| r.to_string()).collect();
    settings.aws = AwsSettings {
        requests_per_second,
        ..aws_settings(moto.endpoint_url(), None)
    };
    settings.pkcs11_module = token.module.clone();
    settings.source = None;
    settings
}

fn progress(message: &str) {
    eprintln!("keyward sandbox: {message}");
}

/// What a second shell needs to reach the sandbox.
struct Exports {
    vars: Vec<(&'static str, String)>,
    /// A config file naming the sandbox, so the operator's own file (which may name real
    /// regions' endpoints) does not apply in the second shell.
    config: PathBuf,
    config_text: String,
}

impl Exports {
    fn new(moto: &MotoServer, token: &SandboxToken, dir: &Path) -> Exports {
        let config = dir.join("keyward.toml");
        let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let regions: Vec<String> = plan::REGIONS.iter().map(|r| quoted(r)).collect();
        let config_text = format!(
            "# Written by `keyward sandbox`: the local estate.\n\
             regions = [{}]\nendpoint_url = {}\n\n[pkcs11]\nmodule = {}\n",
            regions.join(", "),
            quoted(moto.endpoint_url()),
            quoted(&token.module.to_string_lossy()),
        );
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let vars = vec![
            ("KEYWARD_CONFIG", path(&config)),
            ("KEYWARD_ENDPOINT_URL", moto.endpoint_url().to_owned()),
            ("KEYWARD_REGIONS", plan::REGIONS.join(",")),
            ("KEYWARD_PKCS11_MODULE", path(&token.module)),
            ("KEYWARD_AUDIT_LOG", path(&dir.join("audit.jsonl"))),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
            ("AWS_REGION", plan::REGIONS[0].to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("SOFTHSM2_CONF", path(&token.conf)),
        ];
        Exports {
            vars,
            config,
            config_text,
        }
    }

    fn write_config(&self) -> io::Result<()> {
        std::fs::write(&self.config, &self.config_text)
    }

    /// `export NAME='value'` lines, then `ready`, flushed.
    fn print(&self) -> io::Result<()> {
        let mut out = io::stdout().lock();
        for (name, value) in &self.vars {
            writeln!(out, "export {name}={}", shell_quote(value))?;
        }
        writeln!(out, "ready")?;
        out.flush()
    }
}

/// `value` in single quotes for a POSIX shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// SIGINT, SIGTERM and SIGHUP, listened for from the start so none is lost during setup.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    fn new() -> Result<Signals, SandboxError> {
        let listen = |kind| signal(kind).map_err(SandboxError::Signals);
        Ok(Signals {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
            hangup: listen(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
            _ = self.hangup.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote("it's a dir"), r"'it'\''s a dir'");
    }
}
