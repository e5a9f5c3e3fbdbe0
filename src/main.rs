use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use keyward::audit::{self, Journal};
use keyward::aws::Clients;
use keyward::cli::{AuditCommand, Cli, Command, InventoryArgs, InventoryFormat};
use keyward::config::{self, Settings};
use keyward::inventory::Inventory;

/// Exit code when part of the estate could not be read.
const EXIT_PARTIAL: u8 = 2;
/// Exit code when keyward could not do what was asked at all (bad configuration, unreadable
/// files, an unknown key). 1 is kept for verdicts: a violation, a broken journal, a failed
/// step, so cron can tell "the estate is wrong" from "keyward could not look".
const EXIT_ERROR: u8 = 2;

/// How long background work may take to wind down once keyward is done.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The sandbox sets SOFTHSM2_CONF, which is only sound while this is the only thread.
    let sandbox = match &cli.command {
        // SAFETY: no runtime or other thread exists yet.
        Some(Command::Sandbox(args)) => match unsafe { keyward::sandbox::prepare(args) } {
            Ok(prepared) => Some(prepared),
            Err(err) => {
                complain(format_args!("{err}"));
                return ExitCode::from(EXIT_ERROR);
            }
        },
        _ => None,
    };
    // A rehearsal sets SOFTHSM2_CONF too, under the same single-thread rule.
    let rehearsal = match &cli.command {
        // SAFETY: no runtime or other thread exists yet.
        Some(Command::Hsm(command)) => match unsafe { keyward::hsm::command::prepare(command) } {
            Ok(rehearsal) => rehearsal,
            Err(err) => {
                complain(format_args!("{err:#}"));
                return ExitCode::from(EXIT_ERROR);
            }
        },
        _ => None,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            complain(format_args!("cannot start the async runtime: {err}"));
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let code = match runtime.block_on(run(cli, sandbox, rehearsal)) {
        Ok(code) => code,
        Err(err) => {
            complain(format_args!("{err:#}"));
            ExitCode::from(EXIT_ERROR)
        }
    };
    // A PKCS#11 call or a request still in flight must not keep the process alive: every
    // plan and journal entry has been finished by now.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    code
}

async fn run(
    cli: Cli,
    sandbox: Option<keyward::sandbox::Prepared>,
    rehearsal: Option<keyward::hsm::command::Rehearsal>,
) -> anyhow::Result<ExitCode> {
    let settings = config::load(cli.global.config.as_deref(), &cli.global.overrides())?;
    match cli.command {
        None => {
            let journal = journal(cli.global.audit_log)?;
            keyward::tui::run(settings, journal, keyward::cache::default_path()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Sandbox(_)) => {
            let prepared = sandbox.context("the sandbox was not prepared before the runtime")?;
            keyward::sandbox::run(settings, prepared).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Inventory(args)) => inventory(settings, &args).await,
        Some(Command::Key(args)) => {
            keyward::logging::init_stderr();
            let journal = journal(cli.global.audit_log)?;
            keyward::action::command::run(&settings, args, &journal).await
        }
        Some(Command::Drill(args)) => {
            keyward::logging::init_stderr();
            let journal = journal(cli.global.audit_log)?;
            keyward::drill::command(&settings, &args, &journal).await
        }
        Some(Command::Check(args)) => {
            keyward::logging::init_stderr();
            keyward::policy::command::check(&settings, args.format, args.as_of).await
        }
        Some(Command::Report(args)) => {
            keyward::logging::init_stderr();
            let output = args.output.as_deref();
            keyward::policy::command::report(&settings, args.format, output, args.as_of).await
        }
        Some(Command::Metrics(keyward::cli::MetricsCommand::Publish)) => {
            keyward::logging::init_stderr();
            keyward::policy::command::metrics_publish(&settings).await
        }
        Some(Command::Rotate(args)) => {
            keyward::logging::init_stderr();
            let journal = journal(cli.global.audit_log)?;
            keyward::policy::command::rotate_due(&settings, args.dry_run, args.yes, &journal).await
        }
        Some(Command::Hsm(command)) => {
            keyward::logging::init_stderr();
            let journal = journal(cli.global.audit_log)?;
            keyward::hsm::command::run(settings, command, journal, rehearsal).await
        }
        Some(Command::Audit(command)) => {
            let journal = journal(cli.global.audit_log)?;
            let mut out = std::io::stdout().lock();
            match command {
                AuditCommand::Show { format } => {
                    audit::command::show(&journal, format, &mut out)?;
                    Ok(ExitCode::SUCCESS)
                }
                AuditCommand::Verify => Ok(if audit::command::verify(&journal, &mut out)? {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }),
            }
        }
    }
}

fn journal(explicit: Option<std::path::PathBuf>) -> anyhow::Result<Journal> {
    Ok(match explicit {
        Some(path) => Journal::at(path),
        None => Journal::default_location()?,
    })
}

async fn inventory(settings: Settings, args: &InventoryArgs) -> anyhow::Result<ExitCode> {
    keyward::logging::init_stderr();
    let clients = Clients::new(&settings.aws, &settings.regions).await;
    let snapshots = keyward::aws::fetch_all(&clients).await;
    let inventory = Inventory::build(&snapshots, &settings.rotation, chrono::Utc::now());

    let mut out = std::io::stdout().lock();
    match args.format {
        InventoryFormat::Json => inventory.write_json(&mut out),
        InventoryFormat::Table => inventory.write_table(&mut out),
    }
    .context("writing the inventory to standard output")?;
    Ok(if inventory.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PARTIAL)
    })
}

/// Says what went wrong on standard error; a closed standard error (a pipe whose reader is
/// gone) is no reason to panic on the way out.
fn complain(message: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "keyward: {message}");
}
