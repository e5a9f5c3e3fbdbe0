//! `keyward hsm slots` and `keyward hsm ceremony`: the PKCS#11 layer headless.
//!
//! The ceremony command runs the same [`Ceremony`] engine as the TUI wizard: it prints the
//! plan, runs the preparation step (so a module that cannot do the ceremony is refused before
//! any PIN is asked for), collects every PIN once, runs the remaining steps in order and stops
//! at the first failure. The transcript is rewritten after every step, so even a crash leaves
//! one; the journal entry is appended at the end.

mod pin_input;
mod slots;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

pub use pin_input::{PinInput, PinInputError, confirm_on_terminal};

use super::ceremony::{
    Ceremony, PinBook, Step, StepDetail, StepOutcome, StepRecord, script, transcript,
};
use crate::audit::Journal;
use crate::cli::{CeremonyArgs, HsmCommand};
use crate::config::Settings;
use crate::sandbox::ScratchDir;

/// Where SoftHSM2's module may be installed, for rehearsals on a machine configured for
/// another module.
const SOFTHSM_MODULES: [&str; 3] = [
    crate::config::DEFAULT_PKCS11_MODULE,
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
];

/// A rehearsal's throwaway SoftHSM2 token directory, removed when dropped.
#[derive(Debug)]
pub struct Rehearsal {
    dir: ScratchDir,
    module: PathBuf,
}

impl Rehearsal {
    /// The SoftHSM2 module the rehearsal runs on.
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// The throwaway directory holding its configuration and tokens.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Prepares what `command` needs before any thread exists: for a rehearsal, a throwaway
/// SoftHSM2 token directory that `SOFTHSM2_CONF` then names.
///
/// # Safety
///
/// Sets a process environment variable, so no other thread may be running: call it from
/// `main` before the async runtime exists.
pub unsafe fn prepare(command: &HsmCommand) -> anyhow::Result<Option<Rehearsal>> {
    let HsmCommand::Ceremony(CeremonyArgs { rehearse: true, .. }) = command else {
        return Ok(None);
    };
    let module = SOFTHSM_MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .context(
            "a rehearsal runs on SoftHSM2, which is not installed: run scripts/install-deps, \
             or apt install softhsm2",
        )?;
    let dir = ScratchDir::new("rehearsal").context("creating the rehearsal's token directory")?;
    let conf = super::softhsm::write_config(dir.path())?;
    // SAFETY: the caller guarantees this process has a single thread.
    unsafe { std::env::set_var(super::softhsm::CONF_ENV, &conf) };
    Ok(Some(Rehearsal { dir, module }))
}

/// Runs an `hsm` subcommand; the PKCS#11 work runs on the blocking pool.
pub async fn run(
    settings: Settings,
    command: HsmCommand,
    journal: Journal,
    rehearsal: Option<Rehearsal>,
) -> anyhow::Result<ExitCode> {
    tokio::task::spawn_blocking(move || match command {
        HsmCommand::Slots { format } => slots::run(&settings.pkcs11_module, format),
        HsmCommand::Ceremony(args) => ceremony(&settings, &args, &journal, rehearsal.as_ref()),
    })
    .await
    .context("the hsm command's task failed")?
}

/// `keyward hsm ceremony`: exit 0 when every step succeeded, 1 when one failed.
fn ceremony(
    settings: &Settings,
    args: &CeremonyArgs,
    journal: &Journal,
    rehearsal: Option<&Rehearsal>,
) -> anyhow::Result<ExitCode> {
    let plan = script::load(&args.script)?;
    let module = match rehearsal {
        Some(rehearsal) => rehearsal.module().to_path_buf(),
        None if settings.read_only => anyhow::bail!(
            "read-only mode: a ceremony changes a token; run without --read-only (or \
             read_only = true in the config), or rehearse it with --rehearse"
        ),
        None => settings.pkcs11_module.clone(),
    };
    let output = match &args.output {
        Some(dir) => dir.clone(),
        None => default_output_dir()?,
    };
    let mut pins = match args.pin_fd {
        Some(fd) => PinInput::from_fd(fd)?,
        None => PinInput::Terminal,
    };
    let mut ceremony = Ceremony::new(module, plan, rehearsal.is_some())?;

    // The plan, as the officer and the witnesses read it before anything runs.
    let mut out = std::io::stdout().lock();
    print_plan(&mut out, &ceremony, rehearsal)?;

    // Step 1 needs no PIN and changes nothing: a module that cannot do the ceremony is
    // refused before anyone types a PIN.
    let mut book = PinBook::default();
    let prepared = run_one(&mut out, &mut ceremony, &mut book, Step::Prepare, &output)?;
    if prepared {
        let needed = PinBook::needed(&ceremony);
        let names: Vec<String> = needed.iter().map(|p| p.prompt()).collect();
        writeln!(out, "\nPINs, in this order: {}", names.join(", "))?;
        out.flush()?;
        let go_on = match &pins {
            PinInput::Terminal => confirm_on_terminal(&format!(
                "Run the remaining {}?",
                crate::plural::count(ceremony.steps().len() - 1, "step", "steps")
            ))
            .context("asking for confirmation on the terminal (use --pin-fd for automation)")?,
            PinInput::Fd { .. } => true,
        };
        if !go_on {
            ceremony.abandon("the operator declined to run the remaining steps");
        } else {
            for pin in needed {
                match pins.read(pin) {
                    Ok(value) => book.insert(pin, value),
                    Err(err) => {
                        ceremony.abandon(format!("PIN entry failed: {err}"));
                        break;
                    }
                }
            }
        }
        drop(pins);
        while let Some(step) = ceremony.next_step() {
            if !run_one(&mut out, &mut ceremony, &mut book, step, &output)? {
                break;
            }
        }
    }
    drop(book);

    // The transcript, then the journal entry naming it.
    let transcript = ceremony.transcript();
    let files = transcript
        .write(&output)
        .with_context(|| format!("writing the transcript into {}", output.display()))?;
    let entry = transcript::record(journal, &transcript, Some(&files))?;
    writeln!(out, "\n{}", transcript.summary())?;
    writeln!(out, "Transcript: {}", files.markdown.display())?;
    writeln!(out, "            {}", files.json.display())?;
    writeln!(
        out,
        "Journal:    {} entry {}",
        journal.path().display(),
        entry.seq
    )?;
    Ok(match ceremony.state() {
        super::ceremony::CeremonyState::Completed => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

/// Runs one step, prints its outcome, rewrites the transcript; `false` when it failed (the
/// ceremony is then abandoned).
fn run_one(
    out: &mut impl std::io::Write,
    ceremony: &mut Ceremony,
    book: &mut PinBook,
    step: Step,
    output: &Path,
) -> anyhow::Result<bool> {
    let total = ceremony.steps().len();
    let number = ceremony.number(step);
    let pins = book.for_step(step);
    let result = ceremony.run_step(step, pins);
    let succeeded = match &result {
        Ok(record) => {
            book.step_succeeded(step);
            writeln!(out, "[{number}/{total}] {}: done", record.title)?;
            for line in outcome_lines(record) {
                writeln!(out, "      {line}")?;
            }
            true
        }
        Err(err) => {
            writeln!(out, "[{number}/{total}] FAILED: {err}")?;
            ceremony.abandon(format!("step {number} failed"));
            false
        }
    };
    out.flush()?;
    ceremony
        .transcript()
        .write(output)
        .with_context(|| format!("writing the transcript into {}", output.display()))?;
    Ok(succeeded)
}

fn print_plan(
    out: &mut impl std::io::Write,
    ceremony: &Ceremony,
    rehearsal: Option<&Rehearsal>,
) -> std::io::Result<()> {
    let plan = ceremony.plan();
    writeln!(out, "Ceremony:  {}", plan.name)?;
    writeln!(out, "Operator:  {}", plan.operator)?;
    writeln!(out, "Witnesses: {}", plan.witnesses.join(", "))?;
    writeln!(out, "Module:    {}", ceremony.module().display())?;
    if let Some(rehearsal) = rehearsal {
        writeln!(
            out,
            "REHEARSAL on a throwaway SoftHSM2 token directory ({}), removed afterwards",
            rehearsal.dir().display()
        )?;
    }
    if let Some(script) = &plan.script {
        writeln!(
            out,
            "Script:    {} (SHA-256 {})",
            script.path, script.sha256
        )?;
    }
    writeln!(out, "\nSteps:")?;
    for step in ceremony.steps() {
        writeln!(
            out,
            "  {}. {}",
            ceremony.number(*step),
            ceremony.describe(*step)
        )?;
    }
    writeln!(out)
}

/// What a finished step found, in a line or two.
fn outcome_lines(record: &StepRecord) -> Vec<String> {
    let StepOutcome::Succeeded { detail } = &record.outcome else {
        return Vec::new();
    };
    match detail.as_ref() {
        StepDetail::Prepared { library, token, .. } => vec![
            format!(
                "module: {} {} (library {})",
                library.manufacturer, library.description, library.library_version
            ),
            if token.initialized {
                format!("token {:?} serial {}", token.label, token.serial)
            } else {
                format!("a blank token: {} {}", token.manufacturer, token.model)
            },
        ],
        StepDetail::TokenInitialized { token } | StepDetail::UserPinSet { token } => {
            vec![format!("token {:?} serial {}", token.label, token.serial)]
        }
        StepDetail::PinChanged { role, .. } => vec![format!("the {role} PIN was changed")],
        StepDetail::KeyGenerated { key } => {
            let kcv = key.kcv.as_ref();
            vec![format!(
                "key {:?} id {}: KCV {} ({})",
                key.label,
                key.id,
                kcv.and_then(|k| k.value.as_deref()).unwrap_or("none"),
                kcv.map_or_else(|| "not available".to_string(), |k| k.method.to_string())
            )]
        }
        StepDetail::Verified { keys, .. } => keys
            .iter()
            .map(|k| {
                let passed = k.checks.iter().filter(|c| c.passed).count();
                format!(
                    "key {:?}: {passed} of {} passed",
                    k.key.label,
                    crate::plural::count(k.checks.len(), "check", "checks")
                )
            })
            .collect(),
    }
}

fn default_output_dir() -> anyhow::Result<PathBuf> {
    let dirs = crate::paths::project_dirs()
        .context("no data directory for transcripts: give --output DIR")?;
    Ok(dirs.data_dir().join("ceremonies"))
}
