//! Every rotation status at its boundary days, with the clock fixed.

use chrono::{TimeZone, Utc};

use super::*;
use crate::estate::{MultiRegion, RotationFacts, RotationKind, RotationRecord, SourceError};

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, hour, 0, 0).unwrap() + Duration::days(i64::from(day))
}

/// A customer-managed symmetric key created on day 0 with rotation enabled and no history.
fn key() -> Key {
    Key {
        arn: "arn:aws:kms:us-east-1:111122223333:key/k1".into(),
        region: "us-east-1".into(),
        key_id: "k1".into(),
        aliases: vec!["alias/payments-data".into()],
        description: String::new(),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        key_usage: "ENCRYPT_DECRYPT".into(),
        origin: "AWS_KMS".into(),
        manager: KeyManager::Customer,
        state: "Enabled".into(),
        created: Some(at(0, 12)),
        deletion_date: None,
        custom_key_store_id: None,
        multi_region: None,
        tags: Default::default(),
        rotation: RotationFacts {
            enabled: Some(true),
            ..RotationFacts::default()
        },
        errors: Vec::new(),
    }
}

fn policy() -> RotationPolicy {
    RotationPolicy {
        period_days: 90,
        warn_after_days: 85,
    }
}

fn status(key: &Key, now: DateTime<Utc>) -> RotationStatus {
    evaluate(key, &policy(), now).status
}

#[test]
fn enabled_key_is_ok_through_day_85_and_due_soon_after() {
    let key = key();
    assert_eq!(status(&key, at(85, 12)), RotationStatus::Ok);
    assert_eq!(status(&key, at(85, 23)), RotationStatus::Ok);
    assert_eq!(status(&key, at(86, 12)), RotationStatus::DueSoon);
}

#[test]
fn enabled_key_is_due_soon_until_the_deadline_and_overdue_after() {
    let key = key();
    let view = evaluate(&key, &policy(), at(90, 12));
    assert_eq!(view.status, RotationStatus::DueSoon);
    assert_eq!(view.days_left, Some(0));
    assert_eq!(view.countdown(), "today");

    let view = evaluate(&key, &policy(), at(90, 13));
    assert_eq!(view.status, RotationStatus::Overdue);
    assert_eq!(view.days_left, Some(-1));
    assert_eq!(view.countdown(), "1d overdue");
}

#[test]
fn the_latest_rotation_restarts_the_clock() {
    let mut key = key();
    key.rotation.history = vec![
        RotationRecord {
            date: at(100, 12),
            kind: RotationKind::OnDemand,
        },
        RotationRecord {
            date: at(30, 12),
            kind: RotationKind::Automatic,
        },
    ];
    let view = evaluate(&key, &policy(), at(110, 12));
    assert_eq!(view.status, RotationStatus::Ok);
    assert_eq!(view.last_rotated, Some(at(100, 12)));
    assert_eq!(view.next_rotation, Some(at(190, 12)));
    assert_eq!(view.days_left, Some(80));
}

#[test]
fn a_reported_next_rotation_date_is_used() {
    let mut key = key();
    key.rotation.period_days = Some(90);
    key.rotation.next_rotation = Some(at(60, 0));
    let view = evaluate(&key, &policy(), at(61, 0));
    assert_eq!(view.status, RotationStatus::Overdue);
    assert_eq!(view.period_source, Some(PeriodSource::Reported));
}

#[test]
fn a_slow_aws_schedule_does_not_excuse_the_policy() {
    let mut key = key();
    key.rotation.period_days = Some(365);
    let view = evaluate(&key, &policy(), at(100, 12));
    assert_eq!(view.status, RotationStatus::Overdue);
    assert_eq!(view.next_rotation, Some(at(365, 12)));
    assert!(
        view.detail.contains("slower than the 90-day rule"),
        "{}",
        view.detail
    );
}

#[test]
fn a_missing_period_is_assumed_from_policy_and_said_so() {
    let view = evaluate(&key(), &policy(), at(10, 12));
    assert_eq!(view.period_days, Some(90));
    assert_eq!(view.period_source, Some(PeriodSource::Policy));
    assert!(view.detail.contains("assumed"));
}

#[test]
fn rotation_off_is_disabled() {
    let mut key = key();
    key.rotation.enabled = Some(false);
    let view = evaluate(&key, &policy(), at(400, 12));
    assert_eq!(view.status, RotationStatus::Disabled);
    assert_eq!(view.days_left, None);
    assert!(view.detail.contains("400 days"));
}

#[test]
fn a_failed_rotation_read_is_unknown_with_the_error() {
    let mut key = key();
    key.rotation.enabled = None;
    key.errors.push(SourceError {
        operation: "GetKeyRotationStatus".into(),
        code: "AccessDeniedException".into(),
        message: "not allowed".into(),
        request_id: Some("r-1".into()),
    });
    let view = evaluate(&key, &policy(), at(1, 0));
    assert_eq!(view.status, RotationStatus::Unknown);
    assert!(view.detail.contains("AccessDeniedException"));
}

#[test]
fn key_types_aws_cannot_rotate_need_manual_rotation() {
    let cases = [
        (
            "ECC_NIST_P256",
            "AWS_KMS",
            None,
            NotRotatableReason::Asymmetric,
        ),
        ("RSA_2048", "AWS_KMS", None, NotRotatableReason::Asymmetric),
        ("HMAC_256", "AWS_KMS", None, NotRotatableReason::Hmac),
        (
            "SYMMETRIC_DEFAULT",
            "EXTERNAL",
            None,
            NotRotatableReason::ImportedMaterial,
        ),
        (
            "SYMMETRIC_DEFAULT",
            "AWS_CLOUDHSM",
            Some("cks-1"),
            NotRotatableReason::CustomKeyStore,
        ),
    ];
    for (spec, origin, store, reason) in cases {
        let mut key = key();
        key.key_spec = spec.into();
        key.origin = origin.into();
        key.custom_key_store_id = store.map(Into::into);
        let view = evaluate(&key, &policy(), at(500, 0));
        assert_eq!(view.status, RotationStatus::NotRotatable, "{spec} {origin}");
        assert_eq!(view.not_rotatable, Some(reason), "{spec} {origin}");
        assert!(view.detail.contains("manual rotation"));
    }
}

#[test]
fn awaiting_import_is_said() {
    let mut key = key();
    key.origin = "EXTERNAL".into();
    key.state = "PendingImport".into();
    let view = evaluate(&key, &policy(), at(5, 0));
    assert_eq!(view.status, RotationStatus::NotRotatable);
    assert!(view.detail.contains("not yet imported"));
}

#[test]
fn replicas_rotate_with_their_primary() {
    let mut key = key();
    key.multi_region = Some(MultiRegion {
        role: MultiRegionRole::Replica,
        primary_arn: "arn:aws:kms:us-east-1:111122223333:key/mrk-1".into(),
        primary_region: "us-east-1".into(),
        replica_regions: vec!["eu-west-1".into()],
    });
    let view = evaluate(&key, &policy(), at(400, 0));
    assert_eq!(view.status, RotationStatus::Replica);
    assert!(view.detail.contains("us-east-1"));
}

#[test]
fn aws_managed_keys_are_not_judged() {
    let mut key = key();
    key.manager = KeyManager::Aws;
    let view = evaluate(&key, &policy(), at(400, 0));
    assert_eq!(view.status, RotationStatus::AwsManaged);
    assert_eq!(view.period_days, Some(365));
}

#[test]
fn disabled_and_deleting_keys_are_not_applicable() {
    let mut key = key();
    key.state = "Disabled".into();
    assert_eq!(status(&key, at(400, 0)), RotationStatus::NotApplicable);

    key.state = "PendingDeletion".into();
    key.deletion_date = Some(at(30, 0));
    let view = evaluate(&key, &policy(), at(2, 0));
    assert_eq!(view.status, RotationStatus::NotApplicable);
    assert!(view.detail.contains("2026-01-31"), "{}", view.detail);
}

#[test]
fn state_takes_precedence_over_key_type() {
    let mut key = key();
    key.key_spec = "ECC_NIST_P256".into();
    key.state = "Disabled".into();
    assert_eq!(status(&key, at(1, 0)), RotationStatus::NotApplicable);
}

#[test]
fn whole_days_round_down() {
    assert_eq!(whole_days(at(0, 12), at(1, 11)), 0);
    assert_eq!(whole_days(at(0, 12), at(1, 12)), 1);
    assert_eq!(whole_days(at(1, 12), at(0, 13)), -1);
}

#[test]
fn a_key_superseded_by_a_manual_rotation_is_retired_not_due() {
    let mut retired = key();
    retired
        .tags
        .insert(crate::action::preflight::SUCCESSOR_TAG.into(), "k2".into());
    let view = evaluate(&retired, &policy(), at(400, 12));
    assert_eq!(view.status, RotationStatus::NotApplicable);
    assert!(
        view.detail.contains("retired by a manual rotation to k2"),
        "{}",
        view.detail
    );
}

#[test]
fn one_day_is_worded_in_the_singular() {
    let key = key();
    let due = evaluate(&key, &policy(), at(89, 12));
    assert!(
        due.detail
            .starts_with("created 89 days ago, past the 85-day warning; due in 1 day ("),
        "{}",
        due.detail
    );
    let over = evaluate(&key, &policy(), at(91, 12));
    assert!(
        over.detail
            .starts_with("created 91 days ago: 1 day past the 90-day rule"),
        "{}",
        over.detail
    );
    let fresh = evaluate(&key, &policy(), at(1, 12));
    assert!(
        fresh
            .detail
            .starts_with("created 1 day ago; next rotation in 89 days"),
        "{}",
        fresh.detail
    );
}
