//! The headless policy commands: `check`, `report`, `metrics publish` and `rotate --due`.
//!
//! Each reads the whole estate once, judges it with [`super::evaluate`], and writes to standard
//! output (or `--output`). Exit codes are meant for cron and CI and are listed on each command.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::report::{self, CheckFormat, ReportFormat};
use super::rotate::{self, DueKey};
use super::{Evaluation, Policy, evaluate};
use crate::action::{Confirmation, Context, KeyExtras, Request};
use crate::audit::{Journal, Operator};
use crate::aws::Clients;
use crate::config::Settings;
use crate::estate::{Key, RegionSnapshot};

/// The moment `--as-of DATE` judges: the last second of that day (UTC), so anything due on
/// that day counts. Dates before today are refused: past rotations cannot be undone in the
/// facts AWS reports, so the past cannot be judged.
pub fn as_of_moment(date: Option<NaiveDate>, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let Some(date) = date else {
        return Ok(now);
    };
    if date < now.date_naive() {
        return Err(format!(
            "--as-of {date} is in the past: keyward judges today or a later date, since the \
             rotations made since then would distort an earlier one"
        ));
    }
    let end_of_day = NaiveTime::from_hms_opt(23, 59, 59).expect("a valid time of day");
    Ok(date.and_time(end_of_day).and_utc())
}

/// Parses `--as-of`: a calendar date such as 2027-03-01.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date: expected YYYY-MM-DD, such as 2027-03-01"))
}

/// Reads every configured region.
async fn read_estate(settings: &Settings) -> (Clients, Vec<RegionSnapshot>) {
    let clients = Clients::new(&settings.aws, &settings.regions).await;
    let snapshots = crate::aws::fetch_all(&clients).await;
    (clients, snapshots)
}

/// `keyward check`: exit 0 compliant, 1 when any key violates, 2 when nothing violates but a
/// region or key could not be read.
pub async fn check(
    settings: &Settings,
    format: CheckFormat,
    as_of: Option<NaiveDate>,
) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    // Exit 1 means "a key violates" to cron and CI, so a refused date exits 2 as usage errors do.
    let moment = match as_of_moment(as_of, now) {
        Ok(moment) => moment,
        Err(message) => {
            eprintln!("keyward: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    let (_, snapshots) = read_estate(settings).await;
    let evaluation = evaluate(&snapshots, &Policy::from_settings(settings), moment);
    let mut out = std::io::stdout().lock();
    match format {
        CheckFormat::Table => report::write_table(&evaluation, &mut out),
        CheckFormat::Json => report::write_json(&evaluation, now, &mut out),
    }
    .context("writing the check to standard output")?;
    Ok(ExitCode::from(evaluation.outcome.exit_code()))
}

/// `keyward report`: exit 0 when written from the whole estate, 2 when a region or key could
/// not be read (the report says which). Violations do not change the exit code: that is
/// `check`'s job.
pub async fn report(
    settings: &Settings,
    format: ReportFormat,
    output: Option<&std::path::Path>,
    as_of: Option<NaiveDate>,
) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let moment = as_of_moment(as_of, now).map_err(anyhow::Error::msg)?;
    let (_, snapshots) = read_estate(settings).await;
    let evaluation = evaluate(&snapshots, &Policy::from_settings(settings), moment);
    let mut text = Vec::new();
    match format {
        ReportFormat::Markdown => report::write_markdown(&evaluation, now, &mut text),
        ReportFormat::Json => report::write_json(&evaluation, now, &mut text),
        ReportFormat::Csv => report::write_csv(&evaluation, now, &mut text),
    }
    .context("rendering the report")?;
    match output {
        Some(path) => std::fs::write(path, &text)
            .with_context(|| format!("writing the report to {}", path.display()))?,
        None => std::io::stdout()
            .lock()
            .write_all(&text)
            .context("writing the report to standard output")?,
    }
    Ok(ExitCode::from(incomplete_code(&evaluation)))
}

fn incomplete_code(evaluation: &Evaluation) -> u8 {
    let unknown = evaluation
        .keys
        .iter()
        .any(|v| v.status == super::Status::Unknown);
    if evaluation.complete() && !unknown {
        0
    } else {
        2
    }
}

/// `keyward metrics publish`: exit 0 when every region published and has its alarm, 1 when a
/// CloudWatch call failed, 2 when a region's keys could not be read (nothing is published
/// there, so the alarm is not fed a false zero).
pub async fn metrics_publish(settings: &Settings) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let (clients, snapshots) = read_estate(settings).await;
    let evaluation = evaluate(&snapshots, &Policy::from_settings(settings), now);
    let warn = settings.rotation.warn_after_days;
    let results = super::metrics::publish(&clients, &evaluation, warn, now).await;
    let mut out = std::io::stdout().lock();
    super::metrics::write_summary(&results, &mut out)?;
    for region in evaluation.regions.iter().filter(|r| r.error.is_some()) {
        if let Some(err) = &region.error {
            writeln!(out, "{}: NOT READ, nothing published: {err}", region.region)?;
        }
    }
    Ok(if results.iter().any(|r| !r.errors.is_empty()) {
        ExitCode::FAILURE
    } else {
        ExitCode::from(if evaluation.complete() { 0 } else { 2 })
    })
}

/// `keyward rotate --due --dry-run|--yes`: exit 0 when every due key was fixed (or, with
/// `--dry-run`, planned), 1 when a key failed or cannot be fixed by keyward, 2 when nothing
/// failed but a region could not be read.
pub async fn rotate_due(
    settings: &Settings,
    dry_run: bool,
    yes: bool,
    journal: &Journal,
) -> anyhow::Result<ExitCode> {
    if !dry_run && !yes {
        bail!("say --dry-run to see the plan, or --yes to run it");
    }
    let now = Utc::now();
    let (clients, snapshots) = read_estate(settings).await;
    let evaluation = evaluate(&snapshots, &Policy::from_settings(settings), now);
    let keys: Vec<&Key> = snapshots
        .iter()
        .flat_map(|s| s.keys.iter().flatten())
        .collect();

    let mut operator = Operator::local();
    let mut ctx = Context {
        read_only: settings.read_only,
        regions: settings.regions.clone(),
        account: None,
        assumed_period_days: settings.rotation.period_days,
    };
    if let Some(first) = clients.regions().next() {
        match crate::action::caller_identity(first).await {
            Ok((account, arn)) => {
                ctx.account = Some(account);
                operator.aws_identity = Some(arn);
            }
            Err(err) => tracing::warn!(error = %err, "caller identity unknown"),
        }
    }

    // Plan every due key; reading what a manual rotation copies is the only I/O here.
    let mut due = Vec::new();
    for verdict in evaluation.keys.iter().filter(|v| v.status.is_due()) {
        let Some(key) = keys.iter().find(|k| k.arn == verdict.arn) else {
            continue;
        };
        let requests = rotate::requests(key, verdict);
        if requests.is_empty() {
            continue;
        }
        let plan = plan_key(&clients, key, verdict, &requests, &ctx).await;
        due.push(DueKey {
            verdict: verdict.clone(),
            plan,
        });
    }

    let mut out = std::io::stdout().lock();
    if due.is_empty() {
        writeln!(out, "Nothing is due: {}", report::headline(&evaluation))?;
        return Ok(ExitCode::from(incomplete_code(&evaluation)));
    }
    rotate::write_job(&due, &mut out)?;
    let refused = due.iter().filter(|d| d.plan.is_err()).count();
    if dry_run {
        writeln!(out, "\nDry run: nothing was changed.")?;
        return Ok(ExitCode::from(if refused > 0 {
            1
        } else {
            incomplete_code(&evaluation)
        }));
    }

    writeln!(out, "\nRunning:")?;
    out.flush()?;
    let mut failed: Vec<String> = due
        .iter()
        .filter(|d| d.plan.is_err())
        .map(|d| d.verdict.name().to_owned())
        .collect();
    let mut fixed = 0;
    for item in &due {
        let Ok(plan) = &item.plan else { continue };
        writeln!(out, "{} in {}:", item.verdict.name(), item.verdict.region)?;
        out.flush()?;
        // A closed standard output must not stop a key before it is journaled.
        let outcome = crate::action::execute(plan, &clients, |step| {
            let _ = crate::action::command::write_step(&mut std::io::stdout(), step);
        })
        .await;
        let entry = crate::action::record(
            journal,
            &operator,
            plan,
            Confirmation::YesFlag,
            Some(&outcome),
        )
        .context(
            "a key was changed but the change could not be written to the audit journal; stopping",
        )?;
        writeln!(out, "  journaled as entry {}", entry.seq)?;
        if outcome.succeeded() {
            fixed += 1;
        } else {
            failed.push(item.verdict.name().to_owned());
        }
    }
    writeln!(
        out,
        "\n{fixed} of {} due keys fixed; journal {}{}",
        due.len(),
        journal.path().display(),
        if failed.is_empty() {
            String::new()
        } else {
            format!("; NOT fixed: {}", failed.join(", "))
        }
    )?;
    Ok(ExitCode::from(if !failed.is_empty() {
        1
    } else {
        incomplete_code(&evaluation)
    }))
}

/// One key's plan, reading the policy and tags a manual rotation copies.
pub async fn plan_key(
    clients: &Clients,
    key: &Key,
    verdict: &super::Verdict,
    requests: &[Request],
    ctx: &Context,
) -> Result<crate::action::Plan, String> {
    let extras = if requests.contains(&Request::ManualRotate) {
        let rc = clients
            .region(&key.region)
            .ok_or_else(|| format!("{} is not a configured region", key.region))?;
        crate::action::read_extras(rc, key)
            .await
            .map_err(|e| format!("reading the key policy and tags to copy: {e}"))?
    } else {
        KeyExtras::default()
    };
    rotate::key_plan(key, verdict, requests, &extras, ctx).map_err(|r| r.0)
}
