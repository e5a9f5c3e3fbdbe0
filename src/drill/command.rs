//! `keyward drill`: run the drill, write the report, journal the verdict.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;

use super::{Options, Report, run};
use crate::audit::{AuditError, Entry, Journal, Operator, Record, RecordKind};
use crate::aws::Clients;
use crate::cli::DrillArgs;
use crate::config::Settings;

/// Runs the drill; exit 0 only when every check passed.
pub async fn command(
    settings: &Settings,
    args: &DrillArgs,
    journal: &Journal,
) -> anyhow::Result<ExitCode> {
    if let Some(lose) = &args.lose
        && !settings.regions.contains(lose)
    {
        anyhow::bail!(
            "--lose {lose}: the drill imagines losing a watched region; watched are {} (add it \
             with --region)",
            settings.regions.join(", ")
        );
    }
    let clients = Clients::new(&settings.aws, &settings.regions).await;
    let options = Options {
        lose: args.lose.clone(),
        keys: args.keys.clone(),
        required_regions: settings.regions.clone(),
        backup_max_age_days: args.backup_max_age_days,
    };
    let report = run(&clients, &options).await;

    match &args.output {
        Some(path) => {
            let mut file = std::fs::File::create(path)
                .with_context(|| format!("creating the report file {}", path.display()))?;
            report.write(args.format, &mut file)?;
            eprintln!(
                "drill {}: report written to {}",
                if report.passed { "passed" } else { "FAILED" },
                path.display()
            );
        }
        None => report.write(args.format, &mut std::io::stdout().lock())?,
    }

    match record(journal, &Operator::local(), &report) {
        Ok(entry) => eprintln!(
            "journaled as entry {} in {}",
            entry.seq,
            journal.path().display()
        ),
        Err(err) => {
            std::io::stderr().flush().ok();
            return Err(err).context("the drill ran but its verdict could not be journaled");
        }
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Writes the drill and its verdict to the journal, flushed before this returns.
pub fn record(
    journal: &Journal,
    operator: &Operator,
    report: &Report,
) -> Result<Entry, AuditError> {
    let failed = report.checks.iter().filter(|c| !c.passed).count();
    let record = Record {
        kind: RecordKind::Drill,
        summary: format!(
            "DR drill{}: {} ({}, {failed} failed)",
            report
                .lost_region
                .as_deref()
                .map_or_else(String::new, |r| format!(" losing {r}")),
            if report.passed { "passed" } else { "FAILED" },
            crate::plural::count(report.checks.len(), "check", "checks")
        ),
        operator: operator.clone(),
        details: json!({ "report": report }),
    };
    journal.append(&record, chrono::Utc::now())
}
