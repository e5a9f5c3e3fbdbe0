//! Disaster-recovery drills: can the estate lose a region without losing the ability to
//! decrypt?
//!
//! For each multi-region key the drill checks that replicas exist where they must and agree with
//! the primary, and proves it cryptographically: a data key generated under the primary must
//! decrypt under every replica, and the reverse. The plaintexts are compared in memory, held in
//! zeroizing buffers, and never shown. With `--lose REGION` it also says what that loss would
//! take away: keys with no copy elsewhere, aliases that exist only there (AWS does not replicate
//! aliases), and CloudHSM clusters with no recent backup copied out.

mod command;
pub mod crypto;
pub mod report;

pub use command::{command, record};

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::aws::Clients;
use crate::estate::{Key, KeyManager, MultiRegionRole, RegionSnapshot};

/// How old a backup copied out of a lost region may be, unless the operator says otherwise
/// (`keyward drill --backup-max-age-days`).
pub const BACKUP_MAX_AGE_DAYS: u32 = 7;

/// What the drill covers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The region to imagine lost.
    pub lose: Option<String>,
    /// Aliases or key ids of the multi-region keys to drill; empty means all of them.
    pub keys: Vec<String>,
    /// Regions every multi-region key must have a copy in (primary or replica).
    pub required_regions: Vec<String>,
    /// A backup copied out of a lost region must be at most this old.
    pub backup_max_age_days: u32,
}

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What kind of check: `key` (a key asked for and not found), `replica`, `round_trip`,
    /// `loss`, `region`.
    pub kind: &'static str,
    /// The key, alias, cluster or region checked.
    pub subject: String,
    pub region: Option<String>,
    pub passed: bool,
    pub reason: String,
    pub duration_ms: u64,
}

/// The drill's report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub started_at: DateTime<Utc>,
    pub lost_region: Option<String>,
    pub regions: Vec<String>,
    pub keys_drilled: Vec<String>,
    pub checks: Vec<Check>,
    /// Milliseconds from start to the full verdict.
    pub verdict_after_ms: u64,
    pub passed: bool,
}

/// Runs the drill against the live estate.
pub async fn run(clients: &Clients, options: &Options) -> Report {
    let started_at = Utc::now();
    let clock = Instant::now();
    let snapshots = crate::aws::fetch_all(clients).await;
    let mut checks = Vec::new();

    for snap in &snapshots {
        if let Err(err) = &snap.keys {
            checks.push(Check {
                kind: "region",
                subject: snap.region.clone(),
                region: Some(snap.region.clone()),
                passed: false,
                reason: format!("the region's keys could not be read: {err}"),
                duration_ms: 0,
            });
        }
    }
    let keys: Vec<&Key> = snapshots
        .iter()
        .flat_map(|s| s.keys.iter().flatten())
        .collect();
    let primaries: Vec<&Key> = keys
        .iter()
        .copied()
        .filter(|k| {
            k.multi_region
                .as_ref()
                .is_some_and(|m| m.role == MultiRegionRole::Primary)
        })
        .filter(|k| {
            options.keys.is_empty()
                || options
                    .keys
                    .iter()
                    .any(|s| *s == k.key_id || k.aliases.contains(s))
        })
        .collect();
    let mut keys_drilled = Vec::new();
    // A key asked for by name that is no multi-region primary here fails the drill: a drill
    // of nothing must not pass.
    for wanted in &options.keys {
        if !primaries
            .iter()
            .any(|k| *wanted == k.key_id || k.aliases.contains(wanted))
        {
            checks.push(Check {
                kind: "key",
                subject: wanted.clone(),
                region: None,
                passed: false,
                reason: format!(
                    "no multi-region primary key named {wanted} in the watched regions ({})",
                    options.required_regions.join(", ")
                ),
                duration_ms: 0,
            });
        }
    }

    for primary in &primaries {
        keys_drilled.push(primary.display_name().to_owned());
        let required: Vec<&String> = options
            .required_regions
            .iter()
            .filter(|r| **r != primary.region)
            .collect();
        for region in required {
            let started = Instant::now();
            let replica = keys
                .iter()
                .find(|k| k.region == *region && k.key_id == primary.key_id);
            let verdict = replica_agrees(primary, replica.copied());
            checks.push(Check {
                kind: "replica",
                subject: primary.display_name().to_owned(),
                region: Some(region.clone()),
                passed: verdict.is_ok(),
                reason: verdict.unwrap_or_else(|e| e),
                duration_ms: elapsed_ms(started),
            });
        }
        for replica in keys.iter().filter(|k| {
            k.key_id == primary.key_id
                && k.region != primary.region
                && k.multi_region
                    .as_ref()
                    .is_some_and(|m| m.role == MultiRegionRole::Replica)
        }) {
            checks.push(crypto::round_trip(clients, primary, replica).await);
            checks.push(crypto::round_trip(clients, replica, primary).await);
        }
    }

    if let Some(lost) = &options.lose {
        checks.extend(loss_checks(lost, &keys, &snapshots));
        checks.extend(crypto::backup_checks(clients, lost, options.backup_max_age_days).await);
    }

    let passed = checks.iter().all(|c| c.passed);
    Report {
        started_at,
        lost_region: options.lose.clone(),
        regions: snapshots.iter().map(|s| s.region.clone()).collect(),
        keys_drilled,
        checks,
        verdict_after_ms: elapsed_ms(clock),
        passed,
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Whether a replica exists, is enabled and agrees with its primary.
fn replica_agrees(primary: &Key, replica: Option<&Key>) -> Result<String, String> {
    let Some(replica) = replica else {
        return Err(format!("no replica of {} in this region", primary.key_id));
    };
    let mut problems = Vec::new();
    if replica.state != "Enabled" {
        problems.push(format!("the replica is {}", replica.state));
    }
    for (what, p, r) in [
        ("spec", &primary.key_spec, &replica.key_spec),
        ("usage", &primary.key_usage, &replica.key_usage),
        ("origin", &primary.origin, &replica.origin),
    ] {
        if p != r {
            problems.push(format!("{what} differs: primary {p}, replica {r}"));
        }
    }
    match replica.multi_region.as_ref() {
        Some(mr) if mr.primary_region != primary.region => problems.push(format!(
            "the replica names its primary in {}, not {}",
            mr.primary_region, primary.region
        )),
        None => problems.push("the key in this region is not a multi-region replica".into()),
        _ => {}
    }
    if let (Some(p), Some(r)) = (primary.rotation.enabled, replica.rotation.enabled)
        && p != r
    {
        problems.push(format!(
            "rotation differs: primary {}, replica {}",
            on_off(p),
            on_off(r)
        ));
    }
    if problems.is_empty() {
        Ok(format!(
            "replica {} is enabled and agrees with the primary",
            replica.arn
        ))
    } else {
        Err(problems.join("; "))
    }
}

fn on_off(enabled: bool) -> &'static str {
    if enabled { "on" } else { "off" }
}

/// What losing `lost` takes away: keys without a copy elsewhere, aliases found only there.
fn loss_checks(lost: &str, keys: &[&Key], snapshots: &[RegionSnapshot]) -> Vec<Check> {
    let mut checks = Vec::new();
    if !snapshots.iter().any(|s| s.region == lost) {
        checks.push(Check {
            kind: "loss",
            subject: lost.to_owned(),
            region: Some(lost.to_owned()),
            passed: false,
            reason: format!("{lost} is not among the drilled regions; add it with --region"),
            duration_ms: 0,
        });
        return checks;
    }
    let surviving_aliases: BTreeSet<&str> = keys
        .iter()
        .filter(|k| k.region != lost)
        .flat_map(|k| k.aliases.iter().map(String::as_str))
        .collect();

    for key in keys
        .iter()
        .filter(|k| k.region == lost && k.manager == KeyManager::Customer)
    {
        if key.state != "Enabled" {
            continue;
        }
        let copies: Vec<&str> = keys
            .iter()
            .filter(|k| k.region != lost && k.key_id == key.key_id && k.state == "Enabled")
            .map(|k| k.region.as_str())
            .collect();
        let (passed, reason) = if copies.is_empty() {
            (
                false,
                "no usable copy in another region: its ciphertexts die with the region".into(),
            )
        } else if key
            .multi_region
            .as_ref()
            .is_some_and(|m| m.role == MultiRegionRole::Primary)
        {
            (
                true,
                format!(
                    "copies in {}; promote one with UpdatePrimaryRegion",
                    copies.join(", ")
                ),
            )
        } else {
            (true, format!("copies in {}", copies.join(", ")))
        };
        checks.push(Check {
            kind: "loss",
            subject: key.display_name().to_owned(),
            region: Some(lost.to_owned()),
            passed,
            reason,
            duration_ms: 0,
        });
        for alias in key
            .aliases
            .iter()
            .filter(|a| !surviving_aliases.contains(a.as_str()))
        {
            checks.push(Check {
                kind: "loss",
                subject: alias.clone(),
                region: Some(lost.to_owned()),
                passed: false,
                reason: "the alias exists only in this region; applications resolving it \
                         elsewhere will fail (AWS does not replicate aliases)"
                    .into(),
                duration_ms: 0,
            });
        }
    }
    checks
}

/// The oldest a copied backup may be.
fn backup_deadline(max_age_days: u32) -> DateTime<Utc> {
    Utc::now() - Duration::days(i64::from(max_age_days))
}
