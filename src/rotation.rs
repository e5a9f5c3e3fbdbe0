//! Rotation verdicts: what a careful operator would say about each key's rotation today.
//!
//! Pure functions of a key's facts, the rotation policy and the clock, so every boundary can be
//! tested by choosing `now`. The policy's period is the estate's rule (90 days); the key's own
//! period, when the endpoint reports it, moves AWS's next rotation but never excuses a key from
//! the rule.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::config::RotationPolicy;
use crate::estate::{Key, KeyManager, MultiRegionRole};
use crate::plural::days;

/// Why AWS cannot rotate a key automatically, so it needs a manual (successor) rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotRotatableReason {
    Asymmetric,
    Hmac,
    ImportedMaterial,
    CustomKeyStore,
}

impl NotRotatableReason {
    pub fn describe(self) -> &'static str {
        match self {
            NotRotatableReason::Asymmetric => "asymmetric key",
            NotRotatableReason::Hmac => "HMAC key",
            NotRotatableReason::ImportedMaterial => "imported key material",
            NotRotatableReason::CustomKeyStore => "key in a custom key store",
        }
    }
}

/// The rotation status of a key, in the words the inventory's JSON uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationStatus {
    Ok,
    DueSoon,
    Overdue,
    Disabled,
    NotRotatable,
    Replica,
    AwsManaged,
    NotApplicable,
    /// The rotation status could not be read; the key's errors say why.
    Unknown,
}

impl RotationStatus {
    /// A short label for tables; never conveyed by colour alone.
    pub fn label(self) -> &'static str {
        match self {
            RotationStatus::Ok => "ok",
            RotationStatus::DueSoon => "due soon",
            RotationStatus::Overdue => "OVERDUE",
            RotationStatus::Disabled => "disabled",
            RotationStatus::NotRotatable => "manual",
            RotationStatus::Replica => "replica",
            RotationStatus::AwsManaged => "aws",
            RotationStatus::NotApplicable => "n/a",
            RotationStatus::Unknown => "unknown",
        }
    }

    /// Lower sorts first when ordering by urgency.
    pub fn urgency(self) -> u8 {
        match self {
            RotationStatus::Overdue => 0,
            RotationStatus::DueSoon => 1,
            RotationStatus::Unknown => 2,
            RotationStatus::Disabled => 3,
            RotationStatus::NotRotatable => 4,
            RotationStatus::Ok => 5,
            RotationStatus::Replica => 6,
            RotationStatus::AwsManaged => 7,
            RotationStatus::NotApplicable => 8,
        }
    }

    pub const ALL: [RotationStatus; 9] = [
        RotationStatus::Overdue,
        RotationStatus::DueSoon,
        RotationStatus::Ok,
        RotationStatus::Disabled,
        RotationStatus::NotRotatable,
        RotationStatus::Replica,
        RotationStatus::AwsManaged,
        RotationStatus::NotApplicable,
        RotationStatus::Unknown,
    ];
}

/// Where a rotation period came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodSource {
    /// `RotationPeriodInDays` as the endpoint reported it.
    Reported,
    /// The endpoint did not report a period; the policy's period was assumed.
    Policy,
    /// AWS rotates its managed keys yearly.
    AwsManaged,
}

/// The verdict on one key's rotation at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationView {
    pub status: RotationStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_rotatable: Option<NotRotatableReason>,
    pub period_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_source: Option<PeriodSource>,
    pub last_rotated: Option<DateTime<Utc>>,
    pub next_rotation: Option<DateTime<Utc>>,
    /// Whole days until the rotation deadline; negative when overdue.
    pub days_left: Option<i64>,
    /// One sentence an operator can act on.
    pub detail: String,
}

impl RotationView {
    fn bare(status: RotationStatus, detail: String) -> Self {
        RotationView {
            status,
            not_rotatable: None,
            period_days: None,
            period_source: None,
            last_rotated: None,
            next_rotation: None,
            days_left: None,
            detail,
        }
    }

    /// "in 12d", "today", "3d overdue", or "-" when there is no countdown.
    pub fn countdown(&self) -> String {
        match self.days_left {
            None => "-".into(),
            Some(0) => "today".into(),
            Some(d) if d > 0 => format!("in {d}d"),
            Some(d) => format!("{}d overdue", -d),
        }
    }
}

/// AWS rotates AWS managed keys every year.
const AWS_MANAGED_PERIOD_DAYS: u32 = 365;

/// Whole days from `from` to `to`, rounded down (so a deadline half a day ago is -1).
pub fn whole_days(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_seconds().div_euclid(86_400)
}

/// Why AWS cannot rotate this key, if it cannot.
pub fn not_rotatable_reason(key: &Key) -> Option<NotRotatableReason> {
    if key.key_spec.starts_with("HMAC_") {
        Some(NotRotatableReason::Hmac)
    } else if !key.is_symmetric_default() {
        Some(NotRotatableReason::Asymmetric)
    } else if key.origin == "EXTERNAL" {
        Some(NotRotatableReason::ImportedMaterial)
    } else if key.custom_key_store_id.is_some()
        || key.origin == "AWS_CLOUDHSM"
        || key.origin == "EXTERNAL_KEY_STORE"
    {
        Some(NotRotatableReason::CustomKeyStore)
    } else {
        None
    }
}

/// Evaluates one key's rotation against the policy at `now`.
pub fn evaluate(key: &Key, policy: &RotationPolicy, now: DateTime<Utc>) -> RotationView {
    let facts = &key.rotation;

    if key.manager == KeyManager::Aws {
        let reference = facts.last_rotated().or(key.created);
        let next = facts
            .next_rotation
            .or_else(|| reference.map(|r| r + Duration::days(AWS_MANAGED_PERIOD_DAYS.into())));
        return RotationView {
            period_days: Some(AWS_MANAGED_PERIOD_DAYS),
            period_source: Some(PeriodSource::AwsManaged),
            last_rotated: facts.last_rotated(),
            next_rotation: next,
            ..RotationView::bare(
                RotationStatus::AwsManaged,
                "managed by AWS, which rotates it every year".into(),
            )
        };
    }

    match key.state.as_str() {
        "PendingDeletion" | "PendingReplicaDeletion" => {
            let when = key.deletion_date.map_or_else(
                || "on a date AWS did not report".into(),
                |d| format!("on {}", d.format("%Y-%m-%d")),
            );
            return RotationView::bare(
                RotationStatus::NotApplicable,
                format!("pending deletion: AWS deletes it {when}"),
            );
        }
        "Disabled" => {
            return RotationView::bare(
                RotationStatus::NotApplicable,
                "key is disabled; it cannot be used or rotated".into(),
            );
        }
        crate::estate::DESCRIBING => {
            return RotationView::bare(
                RotationStatus::Unknown,
                "listed, not yet described: the read is under way".into(),
            );
        }
        crate::estate::UNDESCRIBED => {
            return RotationView::bare(
                RotationStatus::Unknown,
                "the key could not be described; its errors say why".into(),
            );
        }
        "Creating" | "Updating" => {
            return RotationView::bare(
                RotationStatus::NotApplicable,
                format!("key is {}; check again shortly", key.state.to_lowercase()),
            );
        }
        _ => {}
    }
    // Superseded by a manual rotation: the successor rotates; this one only decrypts.
    if let Some(successor) = key.tags.get(crate::action::preflight::SUCCESSOR_TAG) {
        return RotationView::bare(
            RotationStatus::NotApplicable,
            format!("retired by a manual rotation to {successor}; kept enabled only to decrypt"),
        );
    }

    if let Some(mr) = &key.multi_region
        && mr.role == MultiRegionRole::Replica
    {
        return RotationView {
            last_rotated: facts.last_rotated(),
            ..RotationView::bare(
                RotationStatus::Replica,
                format!("replica: rotates with its primary in {}", mr.primary_region),
            )
        };
    }

    if let Some(reason) = not_rotatable_reason(key) {
        let waiting = if key.state == "PendingImport" {
            " (key material not yet imported)"
        } else {
            ""
        };
        return RotationView {
            not_rotatable: Some(reason),
            last_rotated: facts.last_rotated(),
            ..RotationView::bare(
                RotationStatus::NotRotatable,
                format!(
                    "{}{waiting}: AWS cannot rotate it; it needs a manual rotation to a successor key",
                    reason.describe()
                ),
            )
        };
    }

    let reference = facts.last_rotated().or(key.created);
    match facts.enabled {
        None => {
            let why = key
                .errors
                .iter()
                .find(|e| e.operation == "GetKeyRotationStatus")
                .map_or_else(
                    || "rotation status not read".to_owned(),
                    |e| format!("{}: {}", e.code, e.message),
                );
            RotationView::bare(RotationStatus::Unknown, why)
        }
        Some(false) => {
            let age = reference.map(|r| whole_days(r, now));
            let detail = match age {
                Some(age) => {
                    format!(
                        "automatic rotation is off; last rotated or created {} ago",
                        days(age)
                    )
                }
                None => "automatic rotation is off".into(),
            };
            RotationView {
                last_rotated: facts.last_rotated(),
                ..RotationView::bare(RotationStatus::Disabled, detail)
            }
        }
        Some(true) => evaluate_enabled(key, policy, reference, now),
    }
}

fn evaluate_enabled(
    key: &Key,
    policy: &RotationPolicy,
    reference: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> RotationView {
    let facts = &key.rotation;
    let (period, source) = match facts.period_days {
        Some(days) => (days, PeriodSource::Reported),
        None => (policy.period_days, PeriodSource::Policy),
    };
    let Some(reference) = reference else {
        return RotationView {
            period_days: Some(period),
            period_source: Some(source),
            next_rotation: facts.next_rotation,
            ..RotationView::bare(
                RotationStatus::Unknown,
                "neither a creation date nor a rotation was reported".into(),
            )
        };
    };

    let aws_next = facts
        .next_rotation
        .unwrap_or(reference + Duration::days(period.into()));
    let policy_deadline = reference + Duration::days(policy.period_days.into());
    let deadline = aws_next.min(policy_deadline);
    let age = whole_days(reference, now);
    let days_left = whole_days(now, deadline);

    let status = if now > deadline {
        RotationStatus::Overdue
    } else if age > i64::from(policy.warn_after_days) {
        RotationStatus::DueSoon
    } else {
        RotationStatus::Ok
    };
    let since = if facts.last_rotated().is_some() {
        "rotated"
    } else {
        "created"
    };
    let mut detail = match status {
        RotationStatus::Overdue => format!(
            "{since} {} ago: {} past the {}-day rule",
            days(age),
            days(-days_left),
            policy.period_days
        ),
        RotationStatus::DueSoon => format!(
            "{since} {} ago, past the {}-day warning; due in {}",
            days(age),
            policy.warn_after_days,
            days(days_left)
        ),
        _ => format!(
            "{since} {} ago; next rotation in {}",
            days(age),
            days(days_left)
        ),
    };
    if source == PeriodSource::Policy {
        detail.push_str(" (the endpoint reported no period; the policy's is assumed)");
    } else if period > policy.period_days {
        detail.push_str(&format!(
            " (AWS schedule is every {period} days, slower than the {}-day rule)",
            policy.period_days
        ));
    }

    RotationView {
        status,
        not_rotatable: None,
        period_days: Some(period),
        period_source: Some(source),
        last_rotated: facts.last_rotated(),
        next_rotation: Some(aws_next),
        days_left: Some(days_left),
        detail,
    }
}

#[cfg(test)]
mod tests;
