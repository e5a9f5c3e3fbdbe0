//! One key's verdict, and a replica's, which is its primary's.
//!
//! The order of the questions is the order of precedence: who manages the key, whether it is in
//! use, whether a manual rotation retired it, whether an exemption excuses it, and only then
//! how old it is against its rule. Age counts from the latest rotation, or the creation when
//! the key never rotated; a key is overdue once the moment judged is past that plus the rule's
//! period, and due soon once its age in whole days exceeds the rule's warning age.

use chrono::{DateTime, Duration, Utc};

use super::rules::{exemption_for, rule_for};
use super::{Policy, Rotator, Status, Verdict};
use crate::action::preflight::SUCCESSOR_TAG;
use crate::estate::{DESCRIBING, Key, KeyManager, MultiRegionRole, UNDESCRIBED};
use crate::plural::days;
use crate::rotation::{not_rotatable_reason, whole_days};

/// States in which a key holds no material in use, so no cryptoperiod runs.
const NOT_IN_USE: [&str; 6] = [
    "Disabled",
    "PendingDeletion",
    "PendingReplicaDeletion",
    "PendingImport",
    "Creating",
    "Updating",
];

/// Judges `key` on its own facts; a replica is then handed to [`follow_primary`].
pub fn judge_key(key: &Key, policy: &Policy, as_of: DateTime<Utc>) -> Verdict {
    let last_rotated = key.rotation.last_rotated();
    let age_from = last_rotated.or(key.created);
    let mut verdict = Verdict {
        region: key.region.clone(),
        arn: key.arn.clone(),
        key_id: key.key_id.clone(),
        alias: key.aliases.first().cloned(),
        aliases: key.aliases.clone(),
        status: Status::Unknown,
        rule: None,
        rotator: None,
        automatic_rotation: key.rotation.enabled,
        reported_period_days: key.rotation.period_days,
        last_rotated,
        age_from,
        age_days: age_from.map(|from| whole_days(from, as_of)),
        deadline: None,
        days_left: None,
        days_overdue: None,
        multi_region: key.multi_region.as_ref().map(|m| m.role),
        follows_primary: None,
        exemption: None,
        successor: None,
        detail: String::new(),
    };
    let set = |verdict: &mut Verdict, status: Status, detail: String| {
        verdict.status = status;
        verdict.detail = detail;
    };

    if key.manager == KeyManager::Aws {
        set(
            &mut verdict,
            Status::AwsManaged,
            "managed and rotated by AWS; not judged".into(),
        );
        return verdict;
    }
    if key.state == DESCRIBING {
        set(
            &mut verdict,
            Status::Unknown,
            "listed, not yet described: the read is under way".into(),
        );
        return verdict;
    }
    if key.state == UNDESCRIBED {
        let why = key
            .errors
            .first()
            .map_or_else(String::new, |e| format!(": {e}"));
        set(
            &mut verdict,
            Status::Unknown,
            format!("the key could not be described{why}"),
        );
        return verdict;
    }
    if NOT_IN_USE.contains(&key.state.as_str()) {
        let detail = match (key.state.as_str(), key.deletion_date) {
            ("PendingImport", _) => "awaiting imported key material; not in use".to_owned(),
            (_, Some(date)) => format!(
                "pending deletion on {}; not in use",
                date.format("%Y-%m-%d")
            ),
            (state, None) => format!("key is {state}; not in use"),
        };
        set(&mut verdict, Status::NotApplicable, detail);
        return verdict;
    }
    if let Some(successor) = key.tags.get(SUCCESSOR_TAG) {
        verdict.successor = Some(successor.clone());
        let detail =
            format!("retired by a manual rotation to {successor}; kept enabled only to decrypt");
        set(&mut verdict, Status::Retired, detail);
        return verdict;
    }

    let rule = rule_for(policy, key);
    let manual = not_rotatable_reason(key);
    verdict.rotator = Some(if manual.is_some() {
        Rotator::Manual
    } else {
        Rotator::Aws
    });
    verdict.exemption = exemption_for(policy, key, as_of);
    let Some(from) = age_from else {
        verdict.rule = Some(rule);
        set(
            &mut verdict,
            Status::Unknown,
            "neither a creation date nor a rotation was reported".into(),
        );
        return verdict;
    };
    let deadline = from + Duration::days(rule.period_days.into());
    let age = whole_days(from, as_of);
    let days_left = whole_days(as_of, deadline);
    let past_deadline = as_of > deadline;
    let past_warning = age > i64::from(rule.warn_after_days);
    verdict.deadline = Some(deadline);
    verdict.days_left = Some(days_left);
    verdict.days_overdue = past_deadline.then_some(-days_left);
    let since = if last_rotated.is_some() {
        "rotated"
    } else {
        "created"
    };
    let period = rule.period_days;
    verdict.rule = Some(rule.clone());

    if let Some(exemption) = verdict.exemption.clone().filter(|e| e.active) {
        let detail = format!(
            "exempt until {}: {}",
            exemption.expires.format("%Y-%m-%d"),
            exemption.reason
        );
        set(&mut verdict, Status::Exempt, detail);
        return verdict;
    }

    let (status, detail) = if let Some(reason) = manual {
        let what = reason.describe();
        if past_deadline {
            (
                Status::ManualRotationNeeded,
                format!(
                    "{what}, {since} {} ago: {} past the {period}-day rule; AWS cannot rotate \
                     it, so it needs a manual rotation to a successor key",
                    days(age),
                    days(-days_left)
                ),
            )
        } else if past_warning {
            (
                Status::DueSoon,
                format!(
                    "{what}, {since} {} ago; due for manual rotation in {}",
                    days(age),
                    days(days_left)
                ),
            )
        } else {
            (
                Status::Compliant,
                format!(
                    "{what}, {since} {} ago; manual rotation due in {}",
                    days(age),
                    days(days_left)
                ),
            )
        }
    } else {
        match key.rotation.enabled {
            None => {
                let why = key
                    .errors
                    .iter()
                    .find(|e| e.operation == "GetKeyRotationStatus")
                    .map_or_else(|| "not read".to_owned(), |e| e.to_string());
                (
                    Status::Unknown,
                    format!("rotation status could not be read: {why}"),
                )
            }
            Some(false) => {
                let late = if past_deadline {
                    format!(", {} past the {period}-day rule", days(-days_left))
                } else {
                    String::new()
                };
                (
                    Status::RotationDisabled,
                    format!("automatic rotation is off; {since} {} ago{late}", days(age)),
                )
            }
            Some(true) if past_deadline => (
                Status::Overdue,
                format!(
                    "{since} {} ago: {} past the {period}-day rule",
                    days(age),
                    days(-days_left)
                ),
            ),
            Some(true) => match too_slow(key, period, deadline) {
                Some(why) => (Status::ScheduleTooSlow, why),
                None if past_warning => (
                    Status::DueSoon,
                    format!(
                        "{since} {} ago, past the {}-day warning; due in {}",
                        days(age),
                        rule.warn_after_days,
                        days(days_left)
                    ),
                ),
                None => (
                    Status::Compliant,
                    format!("{since} {} ago; due in {}", days(age), days(days_left)),
                ),
            },
        }
    };
    set(&mut verdict, status, detail);
    verdict
}

/// Why AWS's schedule rotates the key later than the rule requires, if it does.
fn too_slow(key: &Key, rule_period: u32, deadline: DateTime<Utc>) -> Option<String> {
    if let Some(reported) = key.rotation.period_days.filter(|p| *p > rule_period) {
        return Some(format!(
            "AWS rotates it every {reported} days, slower than the {rule_period}-day rule"
        ));
    }
    key.rotation
        .next_rotation
        .filter(|next| *next > deadline)
        .map(|next| {
            format!(
                "AWS's next rotation is {}, after the rule's deadline {}",
                next.format("%Y-%m-%d"),
                deadline.format("%Y-%m-%d")
            )
        })
}

/// Whether `key` is a multi-region replica, whose verdict is its primary's.
pub fn is_replica(key: &Key) -> bool {
    key.multi_region
        .as_ref()
        .is_some_and(|m| m.role == MultiRegionRole::Replica)
}

/// A replica shares its primary's verdict; other keys keep their own. A replica that is itself
/// not in use keeps its own `not_applicable`.
pub fn follow_primary<'v>(
    key: &Key,
    own: Verdict,
    primary: impl Fn(&str) -> Option<&'v Verdict>,
) -> Verdict {
    let Some(mr) = key
        .multi_region
        .as_ref()
        .filter(|m| m.role == MultiRegionRole::Replica)
    else {
        return own;
    };
    // A replica not in use, or not even described, keeps its own verdict.
    let own_only = matches!(own.status, Status::NotApplicable | Status::AwsManaged)
        || (own.status == Status::Unknown && own.rule.is_none());
    if own_only {
        return own;
    }
    let Some(primary) = primary(&mr.primary_arn) else {
        return Verdict {
            status: Status::Unknown,
            rule: None,
            deadline: None,
            days_left: None,
            days_overdue: None,
            follows_primary: Some(mr.primary_arn.clone()),
            detail: format!(
                "replica whose primary in {} was not read; it follows the primary's rotation",
                mr.primary_region
            ),
            ..own
        };
    };
    Verdict {
        status: primary.status,
        rule: primary.rule.clone(),
        rotator: primary.rotator,
        automatic_rotation: primary.automatic_rotation,
        reported_period_days: primary.reported_period_days,
        last_rotated: primary.last_rotated.or(own.last_rotated),
        age_from: primary.age_from,
        age_days: primary.age_days,
        deadline: primary.deadline,
        days_left: primary.days_left,
        days_overdue: primary.days_overdue,
        follows_primary: Some(mr.primary_arn.clone()),
        exemption: primary.exemption.clone(),
        successor: primary.successor.clone(),
        detail: format!(
            "replica; follows its primary in {}: {}",
            mr.primary_region, primary.detail
        ),
        ..own
    }
}
