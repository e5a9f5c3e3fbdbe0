//! Rotation compliance: the estate judged against the policy of `[rotation]`, its rules and its
//! exemptions, at a moment given as a parameter.
//!
//! [`evaluate`] is pure: it reads region snapshots and the clock it is handed, and returns one
//! [`Verdict`] per key with the [`Evaluation`]'s per-region counts, exemptions, forecast and
//! multi-region coverage. The headless commands (`check`, `report`, `metrics publish`,
//! `rotate --due`) in [`command`] are its only callers doing I/O. Unlike [`crate::rotation`],
//! which says what AWS will do next, this module says whether the estate meets its rule; both
//! read the same facts. Known debt: a replica whose primary lives in a region keyward does not
//! watch cannot be judged and reads as `unknown`.

pub mod command;
pub mod coverage;
pub mod forecast;
mod judge;
pub mod metrics;
pub mod report;
pub mod rotate;
mod rules;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::config::{Exemption, RotationPolicy, RotationRule, Settings};
use crate::estate::{Key, MultiRegionRole, RegionSnapshot, SourceError};
pub use coverage::Coverage;
pub use forecast::Forecast;
pub use judge::judge_key;

/// The rotation policy: the default rule, the rules that single out keys, and exemptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub default: RotationPolicy,
    pub rules: Vec<RotationRule>,
    pub exemptions: Vec<Exemption>,
}

impl Policy {
    /// The policy the settings describe.
    pub fn from_settings(settings: &Settings) -> Self {
        Policy {
            default: settings.rotation,
            rules: settings.rotation_rules.clone(),
            exemptions: settings.exemptions.clone(),
        }
    }
}

/// A key's compliance with the policy, in the words the JSON and CSV reports use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Past its rule's period: it should have rotated already.
    Overdue,
    /// Automatic rotation is off for a key AWS could rotate.
    RotationDisabled,
    /// AWS's schedule rotates the key later than the rule requires.
    ScheduleTooSlow,
    /// AWS cannot rotate this kind of key, and it is past its period.
    ManualRotationNeeded,
    /// Past the rule's warning age, within its period.
    DueSoon,
    /// Within the rule's warning age.
    Compliant,
    /// Excused by an exemption that has not expired.
    Exempt,
    /// Superseded by a manual rotation; kept only to decrypt.
    Retired,
    /// Disabled, pending deletion or awaiting imported material: not in use.
    NotApplicable,
    /// Managed and rotated by AWS; reported, not judged by the estate's rules.
    AwsManaged,
    /// Could not be judged: the key, its rotation status or its primary could not be read.
    Unknown,
}

impl Status {
    /// Every status, most urgent first.
    pub const ALL: [Status; 11] = [
        Status::Overdue,
        Status::RotationDisabled,
        Status::ScheduleTooSlow,
        Status::ManualRotationNeeded,
        Status::DueSoon,
        Status::Compliant,
        Status::Exempt,
        Status::Retired,
        Status::NotApplicable,
        Status::AwsManaged,
        Status::Unknown,
    ];

    /// The status as the JSON and CSV spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Overdue => "overdue",
            Status::RotationDisabled => "rotation_disabled",
            Status::ScheduleTooSlow => "schedule_too_slow",
            Status::ManualRotationNeeded => "manual_rotation_needed",
            Status::DueSoon => "due_soon",
            Status::Compliant => "compliant",
            Status::Exempt => "exempt",
            Status::Retired => "retired",
            Status::NotApplicable => "not_applicable",
            Status::AwsManaged => "aws_managed",
            Status::Unknown => "unknown",
        }
    }

    /// A violation of the policy: `keyward check` exits 1.
    pub fn is_violation(self) -> bool {
        matches!(
            self,
            Status::Overdue
                | Status::RotationDisabled
                | Status::ScheduleTooSlow
                | Status::ManualRotationNeeded
        )
    }

    /// Judged by the policy's rules (violating or not): counted in compliance shares and in
    /// the region's `DaysSinceLastRotation` maximum.
    pub fn is_judged(self) -> bool {
        self.is_violation() || matches!(self, Status::DueSoon | Status::Compliant)
    }

    /// Something `keyward rotate --due` acts on: a violation, or due soon.
    pub fn is_due(self) -> bool {
        self.is_violation() || self == Status::DueSoon
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule a key was held to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedRule {
    /// The rule's name, or `default` for `[rotation]` itself.
    pub name: String,
    pub period_days: u32,
    pub warn_after_days: u32,
}

/// A rule as reports state it, so the evidence carries the policy it was judged by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleView {
    pub name: String,
    pub alias_prefix: Option<String>,
    /// `KEY=VALUE`.
    pub tag: Option<String>,
    pub region: Option<String>,
    pub period_days: u32,
    pub warn_after_days: u32,
}

impl From<&RotationRule> for RuleView {
    fn from(rule: &RotationRule) -> Self {
        RuleView {
            name: rule.name.clone(),
            alias_prefix: rule.alias_prefix.clone(),
            tag: rule.tag.as_ref().map(|(k, v)| format!("{k}={v}")),
            region: rule.region.clone(),
            period_days: rule.policy.period_days,
            warn_after_days: rule.policy.warn_after_days,
        }
    }
}

/// Who rotates a key's material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rotator {
    /// AWS, automatically or on demand.
    Aws,
    /// Only a manual rotation to a successor key.
    Manual,
}

/// An exemption as it applies to a key at the evaluation's moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExemptionView {
    /// The key as the exemption names it.
    pub key: String,
    pub reason: String,
    pub expires: NaiveDate,
    /// False once the expiry date has passed; the key is then judged again.
    pub active: bool,
}

/// One key's compliance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub region: String,
    pub arn: String,
    pub key_id: String,
    /// The first alias, if the key has one.
    pub alias: Option<String>,
    pub aliases: Vec<String>,
    pub status: Status,
    /// The rule the key is held to; `None` for keys that are not judged.
    pub rule: Option<AppliedRule>,
    pub rotator: Option<Rotator>,
    /// Whether AWS rotates it automatically, where that was asked.
    pub automatic_rotation: Option<bool>,
    /// `RotationPeriodInDays`, where the endpoint reports it.
    pub reported_period_days: Option<u32>,
    /// The latest rotation; `None` when the key never rotated.
    pub last_rotated: Option<DateTime<Utc>>,
    /// Where the key's age counts from: the latest rotation, or the creation.
    pub age_from: Option<DateTime<Utc>>,
    pub age_days: Option<i64>,
    /// `age_from` plus the rule's period: the key must rotate by then.
    pub deadline: Option<DateTime<Utc>>,
    /// Whole days until the deadline; negative when past it.
    pub days_left: Option<i64>,
    /// Whole days past the deadline, when it has passed.
    pub days_overdue: Option<i64>,
    pub multi_region: Option<MultiRegionRole>,
    /// For a replica: the ARN of the primary whose verdict it shares.
    pub follows_primary: Option<String>,
    /// An exemption naming the key, active or expired.
    pub exemption: Option<ExemptionView>,
    /// For a retired key: the key id of its successor.
    pub successor: Option<String>,
    /// One sentence an operator or auditor can act on.
    pub detail: String,
}

impl Verdict {
    /// The alias, or the key id when the key has none.
    pub fn name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.key_id)
    }

    /// Most urgent first: violations (overdue, rotation off, too slow) before keys only due
    /// soon, and within each the fewest days left (the most overdue) first, then by name.
    pub fn cmp_urgency(&self, other: &Verdict) -> std::cmp::Ordering {
        let rank = |v: &Verdict| (!v.status.is_violation(), v.days_left.unwrap_or(i64::MAX));
        rank(self)
            .cmp(&rank(other))
            .then_with(|| self.name().cmp(other.name()))
            .then_with(|| self.region.cmp(&other.region))
    }
}

/// One region's part of the evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct RegionResult {
    pub region: String,
    pub fetched_at: DateTime<Utc>,
    /// Set when the region's keys could not be listed; its keys are then missing.
    pub error: Option<SourceError>,
    /// Keys per status; statuses with no key are left out.
    pub counts: BTreeMap<Status, usize>,
    /// Keys judged by the rules (compliant, due soon or violating).
    pub judged: usize,
    pub violations: usize,
    /// The share of judged keys that do not violate, from 0 to 1; `None` with none judged.
    pub compliant_share: Option<f64>,
}

/// How an exemption in the configuration is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExemptionUse {
    pub key: String,
    pub reason: String,
    pub expires: NaiveDate,
    pub active: bool,
    /// ARNs of the keys it names; empty when it names no key in the watched regions.
    pub matched: Vec<String>,
}

/// What the evaluation says overall, and the exit code of `keyward check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every key read, none violating: exit 0.
    Compliant,
    /// At least one key violates the policy: exit 1 (even if a region could not be read).
    Violations,
    /// Nothing violates among what was read, but a region or a key could not be read: exit 2.
    Incomplete,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Compliant => 0,
            Outcome::Violations => 1,
            Outcome::Incomplete => 2,
        }
    }
}

/// The whole estate judged at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// The moment judged: now, or the end of the `--as-of` day.
    pub as_of: DateTime<Utc>,
    pub outcome: Outcome,
    pub default_rule: AppliedRule,
    /// The rules in precedence order (the first that matches a key decides).
    pub rules: Vec<RuleView>,
    pub regions: Vec<RegionResult>,
    pub keys: Vec<Verdict>,
    pub exemptions: Vec<ExemptionUse>,
    pub forecast: Forecast,
    pub coverage: Vec<Coverage>,
}

impl Evaluation {
    /// The keys that violate the policy, most urgent first.
    pub fn violations(&self) -> impl Iterator<Item = &Verdict> {
        self.keys.iter().filter(|v| v.status.is_violation())
    }

    /// True when every region's keys were read.
    pub fn complete(&self) -> bool {
        self.regions.iter().all(|r| r.error.is_none())
    }
}

/// What the evaluation reads of one region, borrowed, so the console judges the estate it
/// holds without copying it.
#[derive(Debug, Clone, Copy)]
pub struct RegionKeys<'a> {
    pub region: &'a str,
    pub fetched_at: DateTime<Utc>,
    /// The region's keys, or why they could not be listed.
    pub keys: Result<&'a [Key], &'a SourceError>,
}

impl<'a> From<&'a RegionSnapshot> for RegionKeys<'a> {
    fn from(snapshot: &'a RegionSnapshot) -> Self {
        RegionKeys {
            region: &snapshot.region,
            fetched_at: snapshot.fetched_at,
            keys: snapshot.keys.as_deref(),
        }
    }
}

/// Judges every key of `snapshots` against `policy` at `as_of`.
pub fn evaluate(snapshots: &[RegionSnapshot], policy: &Policy, as_of: DateTime<Utc>) -> Evaluation {
    let regions: Vec<RegionKeys<'_>> = snapshots.iter().map(RegionKeys::from).collect();
    evaluate_regions(&regions, policy, as_of)
}

/// [`evaluate`] over borrowed regions.
pub fn evaluate_regions(
    snapshots: &[RegionKeys<'_>],
    policy: &Policy,
    as_of: DateTime<Utc>,
) -> Evaluation {
    let keys: Vec<&Key> = snapshots
        .iter()
        .flat_map(|s| s.keys.ok().into_iter().flatten())
        .collect();
    let mut verdicts: Vec<Verdict> = keys.iter().map(|k| judge_key(k, policy, as_of)).collect();
    // Replicas then follow their primary's verdict. Keys DescribeKey could not describe have
    // no ARN; they are never anyone's primary.
    let followed: Vec<(usize, Verdict)> = {
        let by_arn: HashMap<&str, usize> = verdicts
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.arn.is_empty())
            .map(|(i, v)| (v.arn.as_str(), i))
            .collect();
        let primary = |arn: &str| by_arn.get(arn).map(|&i| &verdicts[i]);
        keys.iter()
            .enumerate()
            .filter(|(_, key)| judge::is_replica(key))
            .map(|(i, key)| (i, judge::follow_primary(key, verdicts[i].clone(), primary)))
            .collect()
    };
    for (i, verdict) in followed {
        verdicts[i] = verdict;
    }
    verdicts.sort_by(|a, b| {
        (a.status, &a.region, a.name(), &a.key_id).cmp(&(b.status, &b.region, b.name(), &b.key_id))
    });

    let regions = snapshots
        .iter()
        .map(|snap| region_result(snap, &verdicts))
        .collect::<Vec<_>>();
    let unknown = verdicts.iter().any(|v| v.status == Status::Unknown);
    let outcome = if verdicts.iter().any(|v| v.status.is_violation()) {
        Outcome::Violations
    } else if unknown || regions.iter().any(|r| r.error.is_some()) {
        Outcome::Incomplete
    } else {
        Outcome::Compliant
    };
    let watched: Vec<String> = snapshots.iter().map(|s| s.region.to_owned()).collect();

    Evaluation {
        as_of,
        outcome,
        default_rule: AppliedRule {
            name: rules::DEFAULT_RULE.into(),
            period_days: policy.default.period_days,
            warn_after_days: policy.default.warn_after_days,
        },
        rules: policy.rules.iter().map(RuleView::from).collect(),
        exemptions: rules::exemption_uses(policy, &keys, as_of),
        forecast: forecast::build(&verdicts, as_of),
        coverage: coverage::build(&keys, &watched),
        regions,
        keys: verdicts,
    }
}

fn region_result(snap: &RegionKeys<'_>, verdicts: &[Verdict]) -> RegionResult {
    let mut counts = BTreeMap::new();
    let (mut judged, mut violations) = (0, 0);
    for verdict in verdicts.iter().filter(|v| v.region == snap.region) {
        *counts.entry(verdict.status).or_insert(0) += 1;
        judged += usize::from(verdict.status.is_judged());
        violations += usize::from(verdict.status.is_violation());
    }
    RegionResult {
        region: snap.region.to_owned(),
        fetched_at: snap.fetched_at,
        error: snap.keys.err().cloned(),
        counts,
        judged,
        violations,
        compliant_share: (judged > 0).then(|| (judged - violations) as f64 / judged as f64),
    }
}

#[cfg(test)]
mod tests;
