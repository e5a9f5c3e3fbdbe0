//! `keyward key ACTION KEY --dry-run|--yes`: the same plans the console confirms in a dialog.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use futures::future::join_all;

use super::{Confirmation, Context, KeyExtras, Plan, Request, StepStatus};
use crate::audit::{Journal, Operator};
use crate::aws::{Clients, RegionClients, fetch_key};
use crate::cli::{KeyAction, KeyArgs};
use crate::config::Settings;
use crate::estate::Key;
use crate::rotation::evaluate;

/// Runs one `keyward key` command; exit 1 when refused or when a step failed.
pub async fn run(
    settings: &Settings,
    args: KeyArgs,
    journal: &Journal,
) -> anyhow::Result<ExitCode> {
    if !args.dry_run && !args.yes {
        bail!("say --dry-run to see the plan, or --yes to run it");
    }
    // Regions the plan reaches beyond those searched for the key need clients too.
    let mut regions = settings.regions.clone();
    match &args.action {
        KeyAction::Replicate { to, .. } => regions.push(to.clone()),
        KeyAction::CreateMultiRegion {
            replicas, primary, ..
        } => regions.extend(primary.iter().chain(replicas).cloned()),
        _ => {}
    }
    // Each region once, in order: a region listed twice would find the key twice and make
    // every lookup by alias or key id there ambiguous.
    let mut seen = std::collections::HashSet::new();
    regions.retain(|region| seen.insert(region.clone()));
    for region in &regions {
        crate::config::Region::try_from(region.clone()).map_err(|e| anyhow!(e))?;
    }
    let clients = Clients::new(&settings.aws, &regions).await;
    let first = clients
        .regions()
        .next()
        .context("no region is configured")?;
    let mut operator = Operator::local();
    let mut ctx = Context {
        read_only: settings.read_only,
        regions: regions.clone(),
        account: None,
        assumed_period_days: settings.rotation.period_days,
    };
    match super::caller_identity(first).await {
        Ok((account, arn)) => {
            ctx.account = Some(account);
            operator.aws_identity = Some(arn);
        }
        Err(err) => tracing::warn!(error = %err, "caller identity unknown"),
    }

    let plan = match &args.action {
        KeyAction::CreateMultiRegion {
            alias,
            description,
            primary,
            replicas,
            period_days,
        } => {
            let primary = primary.clone().unwrap_or_else(|| first.region.clone());
            match super::preflight::plan_new_multi_region_key(
                &primary,
                alias,
                description,
                *period_days,
                replicas,
                &ctx,
            ) {
                Ok(plan) => match alias_taken(&clients, alias, &plan).await {
                    Some(refusal) => Err(refusal),
                    None => Ok(plan),
                },
                refused => refused,
            }
        }
        action => {
            let (spec, request) = request_of(action);
            let (region_clients, key) = resolve_key(&clients, &settings.regions, spec).await?;
            let extras = if matches!(request, Request::ManualRotate | Request::Replicate { .. }) {
                super::read_extras(region_clients, &key)
                    .await
                    .map_err(|e| anyhow!("reading what the plan copies from {spec}: {e}"))?
            } else {
                KeyExtras::default()
            };
            super::plan(&request, &key, &extras, &ctx)
        }
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(refusal) => {
            eprintln!("keyward: refused: {refusal}");
            return Ok(ExitCode::FAILURE);
        }
    };

    let mut out = std::io::stdout().lock();
    for line in plan.lines() {
        writeln!(out, "{line}")?;
    }
    if args.dry_run {
        writeln!(out, "Dry run: nothing was changed.")?;
        return Ok(ExitCode::SUCCESS);
    }

    writeln!(out, "Running:")?;
    out.flush()?;
    // A closed standard output must not stop the run before it is journaled.
    let outcome = super::execute(&plan, &clients, |step| {
        let _ = write_step(&mut std::io::stdout(), step);
    })
    .await;
    let entry = super::record(
        journal,
        &operator,
        &plan,
        Confirmation::YesFlag,
        Some(&outcome),
    )
    .context("the action ran but could not be written to the audit journal")?;
    writeln!(
        out,
        "Journaled as entry {} in {}",
        entry.seq,
        journal.path().display()
    )?;

    print_touched(&mut out, &plan, &outcome, &clients, settings).await?;
    Ok(if outcome.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One finished step as the headless commands print it: number, region, call, outcome and
/// the AWS request id.
pub fn write_step(out: &mut impl Write, step: &super::StepOutcome) -> std::io::Result<()> {
    let detail = match (&step.status, &step.error) {
        (StepStatus::Failed, Some(err)) => format!("FAILED: {err}"),
        (status, _) => format!("{status:?}").to_lowercase(),
    };
    let request = step
        .request_id
        .as_deref()
        .map_or_else(String::new, |id| format!(" (request {id})"));
    writeln!(
        out,
        "  {}. [{}] {}: {detail}{request}",
        step.index + 1,
        step.region,
        step.operation
    )?;
    out.flush()
}

fn request_of(action: &KeyAction) -> (&str, Request) {
    match action {
        KeyAction::Rotate { key } => (key, Request::RotateNow),
        KeyAction::RotateManual { key } => (key, Request::ManualRotate),
        KeyAction::EnableRotation { key, period_days } => (
            key,
            Request::EnableRotation {
                period_days: *period_days,
            },
        ),
        KeyAction::DisableRotation { key } => (key, Request::DisableRotation),
        KeyAction::Replicate { key, to } => (
            key,
            Request::Replicate {
                to_region: to.clone(),
            },
        ),
        KeyAction::ScheduleDeletion { key, days } => {
            (key, Request::ScheduleDeletion { days: *days })
        }
        KeyAction::CancelDeletion { key } => (key, Request::CancelDeletion),
        KeyAction::Disable { key } => (key, Request::Disable),
        KeyAction::Enable { key } => (key, Request::Enable),
        KeyAction::CreateMultiRegion { .. } => unreachable!("handled before resolving a key"),
    }
}

/// Why a new key's `alias` cannot be made, when it already names a key in a region of `plan`:
/// the plan would create a key its alias step then fails to name, and leave it behind. A
/// region that cannot be asked is left to the plan's own alias step to report.
pub async fn alias_taken(clients: &Clients, alias: &str, plan: &Plan) -> Option<super::Refusal> {
    let mut regions: Vec<&str> = plan.steps.iter().map(|s| s.region.as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    regions.retain(|region| seen.insert(*region));
    for region in regions {
        let Some(region_clients) = clients.region(region) else {
            continue;
        };
        let described = {
            let _permit = region_clients.permit().await;
            region_clients.kms.describe_key().key_id(alias).send().await
        };
        match described.map_err(|e| crate::aws::classify("DescribeKey", e)) {
            Ok(out) => {
                let key_id = out.key_metadata.map(|m| m.key_id).unwrap_or_default();
                return Some(super::Refusal(format!(
                    "{alias} already names key {key_id} in {region}; choose another alias"
                )));
            }
            Err(err) if err.code == "NotFoundException" => {}
            Err(err) => tracing::warn!(%region, error = %err, "could not check the new alias"),
        }
    }
    None
}

/// Finds the key an alias, key id or ARN names among the `search` regions.
pub async fn resolve_key<'c>(
    clients: &'c Clients,
    search: &[String],
    spec: &str,
) -> anyhow::Result<(&'c RegionClients, Key)> {
    if let Some(rest) = spec.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let (Some(region), Some(resource)) = (parts.get(2), parts.get(4)) else {
            bail!("{spec:?} is not a KMS ARN: expected arn:aws:kms:REGION:ACCOUNT:key/ID");
        };
        let region_clients = clients.region(region).with_context(|| {
            format!("the ARN is in {region}, which is not configured: add --region {region}")
        })?;
        let id = resource.strip_prefix("key/").unwrap_or(resource);
        let key = fetch_key(region_clients, id)
            .await
            .map_err(|e| anyhow!("{spec}: {e}"))?;
        return Ok((region_clients, key));
    }

    let lookups = join_all(
        clients
            .regions()
            .filter(|rc| search.contains(&rc.region))
            .map(|rc| async move { (rc, fetch_key(rc, spec).await) }),
    )
    .await;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for (rc, result) in lookups {
        match result {
            Ok(key) => found.push((rc, key)),
            Err(err) if err.code == "NotFoundException" => {}
            Err(err) => errors.push(format!("{}: {err}", rc.region)),
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 if errors.is_empty() => bail!("no key {spec:?} in {}", search.join(", ")),
        0 => bail!("could not look up {spec:?}: {}", errors.join("; ")),
        _ => bail!(
            "{spec:?} exists in {}: name one with --region, or give the key's ARN",
            found
                .iter()
                .map(|(rc, _)| rc.region.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Re-reads the keys the run changed and prints what they look like now.
async fn print_touched(
    out: &mut impl Write,
    plan: &Plan,
    outcome: &super::Outcome,
    clients: &Clients,
    settings: &Settings,
) -> anyhow::Result<()> {
    let touched = outcome.touched_keys(plan);
    if touched.is_empty() {
        return Ok(());
    }
    writeln!(out, "Now:")?;
    let now = chrono::Utc::now();
    for (region, key_id) in touched {
        let Some(rc) = clients.region(&region) else {
            continue;
        };
        match fetch_key(rc, &key_id).await {
            Ok(key) => {
                let view = evaluate(&key, &settings.rotation, now);
                writeln!(
                    out,
                    "  [{region}] {} ({}): {}, rotation {} {}, aliases: {}",
                    key.key_id,
                    key.display_name(),
                    key.state,
                    view.status.label(),
                    view.countdown(),
                    if key.aliases.is_empty() {
                        "none".into()
                    } else {
                        key.aliases.join(", ")
                    }
                )?;
            }
            Err(err) => writeln!(out, "  [{region}] {key_id}: could not re-read: {err}")?,
        }
    }
    Ok(())
}
