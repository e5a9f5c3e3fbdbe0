//! Compliance at its boundary days, rule precedence, exemption expiry and the forecast, with
//! the clock fixed. Output formats and `rotate --due` planning are in the submodules.

mod outputs;
mod rotate_due;

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::config::Exemption;
use crate::estate::{
    Fetched, Key, KeyManager, MultiRegion, RegionSnapshot, RotationFacts, RotationKind,
    RotationRecord, SourceError,
};

/// Noon (or `hour`) of day `day` after 2026-01-01.
fn at(day: i64, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, hour, 0, 0).unwrap() + Duration::days(day)
}

/// A customer-managed symmetric key created on day 0 at noon, rotation enabled, never rotated.
fn key(alias: &str) -> Key {
    let id = format!("id-{}", alias.trim_start_matches("alias/"));
    Key {
        arn: format!("arn:aws:kms:us-east-1:111122223333:key/{id}"),
        region: "us-east-1".into(),
        key_id: id,
        aliases: vec![alias.into()],
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

fn in_region(mut key: Key, region: &str) -> Key {
    key.arn = key.arn.replace("us-east-1", region);
    key.region = region.into();
    key
}

fn rule(name: &str, period_days: u32, warn_after_days: u32) -> RotationRule {
    RotationRule {
        name: name.into(),
        alias_prefix: None,
        tag: None,
        region: None,
        policy: RotationPolicy {
            period_days,
            warn_after_days,
        },
    }
}

fn policy() -> Policy {
    Policy::default()
}

fn status(key: &Key, policy: &Policy, now: DateTime<Utc>) -> Status {
    judge_key(key, policy, now).status
}

fn snapshot(region: &str, keys: Vec<Key>) -> RegionSnapshot {
    RegionSnapshot {
        region: region.into(),
        fetched_at: at(0, 0),
        keys: Ok(keys),
        clusters: Ok(Vec::new()),
        alarms: Ok(Vec::new()),
    }
}

fn verdict<'a>(evaluation: &'a Evaluation, region: &str, alias: &str) -> &'a Verdict {
    evaluation
        .keys
        .iter()
        .find(|v| v.region == region && v.alias.as_deref() == Some(alias))
        .unwrap_or_else(|| panic!("no verdict for {alias} in {region}"))
}

#[test]
fn an_enabled_key_is_compliant_through_its_warning_age_then_due_soon() {
    let key = key("alias/payments");
    assert_eq!(status(&key, &policy(), at(85, 23)), Status::Compliant);
    let view = judge_key(&key, &policy(), at(86, 12));
    assert_eq!(view.status, Status::DueSoon);
    assert_eq!(view.days_left, Some(4));
    assert_eq!(view.rule.unwrap().name, "default");
}

#[test]
fn an_enabled_key_is_due_soon_at_its_deadline_and_overdue_a_moment_later() {
    let key = key("alias/payments");
    let view = judge_key(&key, &policy(), at(89, 12));
    assert_eq!(view.status, Status::DueSoon);
    assert!(
        view.detail
            .ends_with("created 89 days ago, past the 85-day warning; due in 1 day"),
        "{}",
        view.detail
    );
    let view = judge_key(&key, &policy(), at(90, 12));
    assert_eq!(view.status, Status::DueSoon);
    assert_eq!(view.days_overdue, None);

    let view = judge_key(&key, &policy(), at(90, 13));
    assert_eq!(view.status, Status::Overdue);
    assert_eq!(view.days_overdue, Some(1));
    assert_eq!(view.deadline, Some(at(90, 12)));
    assert!(
        view.detail
            .contains("created 90 days ago: 1 day past the 90-day rule"),
        "{}",
        view.detail
    );
}

#[test]
fn the_latest_rotation_of_either_kind_restarts_the_clock() {
    let mut key = key("alias/payments");
    key.rotation.history = vec![
        RotationRecord {
            date: at(30, 12),
            kind: RotationKind::Automatic,
        },
        RotationRecord {
            date: at(60, 12),
            kind: RotationKind::OnDemand,
        },
    ];
    assert_eq!(status(&key, &policy(), at(145, 12)), Status::Compliant);
    assert_eq!(status(&key, &policy(), at(146, 12)), Status::DueSoon);
    assert_eq!(status(&key, &policy(), at(150, 13)), Status::Overdue);
}

#[test]
fn rotation_off_is_a_violation_at_any_age_and_counts_days_past_the_rule() {
    let mut key = key("alias/payments");
    key.rotation.enabled = Some(false);
    let young = judge_key(&key, &policy(), at(1, 12));
    assert_eq!(young.status, Status::RotationDisabled);
    assert_eq!(young.days_overdue, None);
    let old = judge_key(&key, &policy(), at(100, 12));
    assert_eq!(old.status, Status::RotationDisabled);
    assert_eq!(old.days_overdue, Some(10));
}

#[test]
fn a_reported_period_longer_than_the_rule_is_too_slow_until_overdue_wins() {
    let mut key = key("alias/payments");
    key.rotation.period_days = Some(365);
    let view = judge_key(&key, &policy(), at(10, 12));
    assert_eq!(view.status, Status::ScheduleTooSlow);
    assert!(view.detail.contains("every 365 days"), "{}", view.detail);
    assert_eq!(status(&key, &policy(), at(90, 13)), Status::Overdue);

    key.rotation.period_days = Some(90);
    assert_eq!(status(&key, &policy(), at(10, 12)), Status::Compliant);
}

#[test]
fn a_next_rotation_date_after_the_deadline_is_too_slow() {
    let mut key = key("alias/payments");
    key.rotation.next_rotation = Some(at(90, 12));
    assert_eq!(status(&key, &policy(), at(10, 12)), Status::Compliant);
    key.rotation.next_rotation = Some(at(91, 12));
    assert_eq!(status(&key, &policy(), at(10, 12)), Status::ScheduleTooSlow);
}

#[test]
fn keys_aws_cannot_rotate_need_a_manual_rotation_once_past_their_period() {
    let mut key = key("alias/document-signing");
    key.key_spec = "ECC_NIST_P256".into();
    key.key_usage = "SIGN_VERIFY".into();
    key.rotation = RotationFacts::default();
    assert_eq!(status(&key, &policy(), at(85, 23)), Status::Compliant);
    assert_eq!(status(&key, &policy(), at(86, 12)), Status::DueSoon);
    assert_eq!(status(&key, &policy(), at(90, 12)), Status::DueSoon);
    let view = judge_key(&key, &policy(), at(90, 13));
    assert_eq!(view.status, Status::ManualRotationNeeded);
    assert_eq!(view.rotator, Some(Rotator::Manual));
    assert!(view.detail.contains("asymmetric key"), "{}", view.detail);

    key.key_spec = "HMAC_256".into();
    assert_eq!(
        status(&key, &policy(), at(200, 12)),
        Status::ManualRotationNeeded
    );
}

#[test]
fn keys_not_in_use_are_not_applicable_whatever_their_age() {
    for state in ["Disabled", "PendingDeletion", "PendingImport"] {
        let mut key = key("alias/old");
        key.state = state.into();
        key.rotation.enabled = Some(false);
        let view = judge_key(&key, &policy(), at(500, 12));
        assert_eq!(view.status, Status::NotApplicable, "{state}");
        assert!(view.rule.is_none());
    }
}

#[test]
fn aws_managed_keys_are_reported_but_not_judged() {
    let mut key = key("alias/aws/ebs");
    key.manager = KeyManager::Aws;
    let evaluation = evaluate(&[snapshot("us-east-1", vec![key])], &policy(), at(900, 12));
    assert_eq!(evaluation.keys[0].status, Status::AwsManaged);
    assert_eq!(evaluation.outcome, Outcome::Compliant);
    assert_eq!(evaluation.regions[0].judged, 0);
    assert_eq!(evaluation.regions[0].compliant_share, None);
}

#[test]
fn a_key_superseded_by_a_manual_rotation_is_retired_not_a_violation() {
    let mut key = key("alias/old-signing");
    key.key_spec = "HMAC_256".into();
    key.tags.insert(
        crate::action::preflight::SUCCESSOR_TAG.into(),
        "new-id".into(),
    );
    let evaluation = evaluate(&[snapshot("us-east-1", vec![key])], &policy(), at(400, 12));
    let view = &evaluation.keys[0];
    assert_eq!(view.status, Status::Retired);
    assert_eq!(view.successor.as_deref(), Some("new-id"));
    assert_eq!(evaluation.outcome, Outcome::Compliant);
}

#[test]
fn the_first_matching_rule_decides_and_needs_every_matcher() {
    let mut archive = key("alias/archive-2024");
    archive.tags.insert("data-class".into(), "pci".into());
    let mut by_prefix = rule("archives", 365, 350);
    by_prefix.alias_prefix = Some("alias/archive-".into());
    let mut pci_eu = rule("pci in eu", 90, 60);
    pci_eu.tag = Some(("data-class".into(), "pci".into()));
    pci_eu.region = Some("eu-west-1".into());
    let policy = Policy {
        rules: vec![pci_eu.clone(), by_prefix.clone()],
        ..Policy::default()
    };

    // pci_eu lacks the region match in us-east-1, so the archive rule applies.
    let view = judge_key(&archive, &policy, at(100, 12));
    assert_eq!(view.rule.as_ref().unwrap().name, "archives");
    assert_eq!(view.status, Status::Compliant);

    // In eu-west-1 both match; the first written wins.
    let eu = in_region(archive.clone(), "eu-west-1");
    let view = judge_key(&eu, &policy, at(70, 12));
    assert_eq!(view.rule.as_ref().unwrap().name, "pci in eu");
    assert_eq!(view.status, Status::DueSoon);

    // Reversed order: the archive rule is first and wins in eu-west-1 too.
    let reversed = Policy {
        rules: vec![by_prefix, pci_eu],
        ..Policy::default()
    };
    assert_eq!(
        judge_key(&eu, &reversed, at(70, 12)).rule.unwrap().name,
        "archives"
    );

    // A tag with another value does not match; no rule applies and the default holds.
    let mut other = key("alias/payments");
    other.tags.insert("data-class".into(), "internal".into());
    let view = judge_key(&in_region(other, "eu-west-1"), &policy, at(100, 12));
    assert_eq!(view.rule.unwrap().name, "default");
    assert_eq!(view.status, Status::Overdue);
}

fn exempting(key: &str, expires: (i32, u32, u32)) -> Policy {
    Policy {
        exemptions: vec![Exemption {
            key: key.into(),
            reason: "CHG-1: vendor cut-over".into(),
            expires: chrono::NaiveDate::from_ymd_opt(expires.0, expires.1, expires.2).unwrap(),
        }],
        ..Policy::default()
    }
}

#[test]
fn an_exemption_counts_through_its_expiry_date_and_not_a_day_longer() {
    let key = key("alias/legacy");
    // Day 120 is 2026-05-01.
    let policy = exempting("alias/legacy", (2026, 5, 1));
    let view = judge_key(&key, &policy, at(120, 23));
    assert_eq!(view.status, Status::Exempt);
    assert!(
        view.detail.contains("exempt until 2026-05-01: CHG-1"),
        "{}",
        view.detail
    );

    let view = judge_key(&key, &policy, at(121, 0));
    assert_eq!(view.status, Status::Overdue);
    let lapsed = view.exemption.unwrap();
    assert!(!lapsed.active);

    let evaluation = evaluate(&[snapshot("us-east-1", vec![key])], &policy, at(121, 0));
    assert_eq!(evaluation.exemptions.len(), 1);
    assert!(!evaluation.exemptions[0].active);
    assert_eq!(evaluation.exemptions[0].matched.len(), 1);
}

#[test]
fn exemptions_name_keys_by_alias_key_id_or_arn() {
    let key = key("alias/legacy");
    for name in [key.aliases[0].clone(), key.key_id.clone(), key.arn.clone()] {
        let policy = exempting(&name, (2030, 1, 1));
        assert_eq!(status(&key, &policy, at(300, 12)), Status::Exempt, "{name}");
    }
    let policy = exempting("alias/other", (2030, 1, 1));
    assert_eq!(status(&key, &policy, at(300, 12)), Status::Overdue);
    let evaluation = evaluate(&[snapshot("us-east-1", vec![key])], &policy, at(300, 12));
    assert!(evaluation.exemptions[0].matched.is_empty());
}

fn multi_region_pair() -> (Key, Key) {
    let mut primary = key("alias/settlements");
    primary.key_id = "mrk-1".into();
    primary.arn = "arn:aws:kms:us-east-1:111122223333:key/mrk-1".into();
    primary.multi_region = Some(MultiRegion {
        role: MultiRegionRole::Primary,
        primary_arn: primary.arn.clone(),
        primary_region: "us-east-1".into(),
        replica_regions: vec!["eu-west-1".into()],
    });
    let mut replica = in_region(primary.clone(), "eu-west-1");
    replica.rotation.enabled = None;
    replica.multi_region = Some(MultiRegion {
        role: MultiRegionRole::Replica,
        ..primary.multi_region.clone().unwrap()
    });
    (primary, replica)
}

#[test]
fn a_replica_follows_its_primary_and_is_unknown_without_it() {
    let (primary, replica) = multi_region_pair();
    let snapshots = [
        snapshot("us-east-1", vec![primary]),
        snapshot("eu-west-1", vec![replica.clone()]),
    ];
    let evaluation = evaluate(&snapshots, &policy(), at(95, 12));
    let follower = verdict(&evaluation, "eu-west-1", "alias/settlements");
    assert_eq!(follower.status, Status::Overdue);
    assert_eq!(follower.days_overdue, Some(5));
    assert_eq!(
        follower.follows_primary.as_deref(),
        Some("arn:aws:kms:us-east-1:111122223333:key/mrk-1")
    );
    assert_eq!(evaluation.regions[1].violations, 1);

    let evaluation = evaluate(
        &[snapshot("eu-west-1", vec![replica])],
        &policy(),
        at(95, 12),
    );
    assert_eq!(evaluation.keys[0].status, Status::Unknown);
    assert_eq!(evaluation.outcome, Outcome::Incomplete);
}

#[test]
fn the_outcome_prefers_violations_then_incompleteness() {
    let mut unread = key("alias/unread");
    unread.rotation.enabled = None;
    let failed = RegionSnapshot {
        keys: Fetched::Err(SourceError {
            operation: "ListKeys".into(),
            code: "ConnectionFailed".into(),
            message: "refused".into(),
            request_id: None,
        }),
        ..snapshot("eu-west-1", Vec::new())
    };
    let compliant = evaluate(
        &[snapshot("us-east-1", vec![key("alias/a")])],
        &policy(),
        at(10, 12),
    );
    assert_eq!(compliant.outcome, Outcome::Compliant);
    assert_eq!(compliant.outcome.exit_code(), 0);

    let partial = evaluate(
        &[snapshot("us-east-1", vec![key("alias/a")]), failed.clone()],
        &policy(),
        at(10, 12),
    );
    assert_eq!(partial.outcome, Outcome::Incomplete);
    assert_eq!(partial.outcome.exit_code(), 2);

    let unknown = evaluate(
        &[snapshot("us-east-1", vec![unread])],
        &policy(),
        at(10, 12),
    );
    assert_eq!(unknown.outcome, Outcome::Incomplete);

    let violating = evaluate(
        &[snapshot("us-east-1", vec![key("alias/a")]), failed],
        &policy(),
        at(100, 12),
    );
    assert_eq!(violating.outcome, Outcome::Violations);
    assert_eq!(violating.outcome.exit_code(), 1);
}

#[test]
fn region_counts_and_shares_cover_every_key_of_the_region() {
    let mut off = key("alias/off");
    off.rotation.enabled = Some(false);
    let mut disabled = key("alias/disabled");
    disabled.state = "Disabled".into();
    let keys = vec![
        key("alias/a"),
        key("alias/b"),
        key("alias/c"),
        off,
        disabled,
    ];
    let evaluation = evaluate(&[snapshot("us-east-1", keys)], &policy(), at(10, 12));
    let region = &evaluation.regions[0];
    assert_eq!(region.counts[&Status::Compliant], 3);
    assert_eq!(region.counts[&Status::RotationDisabled], 1);
    assert_eq!(region.counts[&Status::NotApplicable], 1);
    assert_eq!((region.judged, region.violations), (4, 1));
    assert_eq!(region.compliant_share, Some(0.75));
    // Most urgent first.
    assert_eq!(evaluation.keys[0].status, Status::RotationDisabled);
}

#[test]
fn the_forecast_buckets_deadlines_by_7_30_and_90_days() {
    // Keys created on day 0 at noon reach the 90-day deadline on day 90 at noon; judging at
    // noon of day 90 - d puts each deadline exactly d days ahead.
    let as_of = at(0, 12);
    let created = |alias: &str, days_ahead: i64| {
        let mut key = key(alias);
        key.created = Some(as_of + Duration::days(days_ahead - 90));
        key
    };
    let (primary, replica) = multi_region_pair();
    let keys = vec![
        created("alias/d3", 3),
        created("alias/d7", 7),
        created("alias/d8", 8),
        created("alias/d30", 30),
        created("alias/d31", 31),
        created("alias/d90", 90),
        created("alias/d91", 91),
        created("alias/late", -1),
        primary,
    ];
    let mut replica = replica;
    replica.created = Some(as_of);
    let snapshots = [
        snapshot("us-east-1", keys),
        snapshot("eu-west-1", vec![replica]),
    ];
    let evaluation = evaluate(&snapshots, &policy(), as_of);
    let names = |bucket: &[forecast::Upcoming]| -> Vec<String> {
        bucket.iter().map(|u| u.alias.clone().unwrap()).collect()
    };
    let forecast = &evaluation.forecast;
    assert_eq!(names(&forecast.within_7_days), ["alias/d3", "alias/d7"]);
    assert_eq!(names(&forecast.within_30_days), ["alias/d8", "alias/d30"]);
    // The multi-region primary (created at noon on day 0) is due in 90 days; its replica is
    // not listed a second time.
    assert_eq!(
        names(&forecast.within_90_days),
        ["alias/d31", "alias/d90", "alias/settlements"]
    );
    assert_eq!(forecast.within_7_days[0].days_left, 3);
}

#[test]
fn multi_region_coverage_names_the_watched_regions_without_a_copy() {
    let (primary, replica) = multi_region_pair();
    let snapshots = [
        snapshot("us-east-1", vec![primary]),
        snapshot("eu-west-1", vec![replica]),
        snapshot("ap-southeast-2", Vec::new()),
    ];
    let evaluation = evaluate(&snapshots, &policy(), at(10, 12));
    assert_eq!(evaluation.coverage.len(), 1);
    let coverage = &evaluation.coverage[0];
    assert_eq!(coverage.replica_regions, ["eu-west-1"]);
    assert_eq!(coverage.missing_regions, ["ap-southeast-2"]);
    assert!(!coverage.complete());
}

#[test]
fn keys_that_could_not_be_described_are_unknown_each_on_its_own() {
    let undescribed = |id: &str| Key {
        arn: String::new(),
        key_id: id.into(),
        aliases: Vec::new(),
        state: crate::estate::UNDESCRIBED.into(),
        errors: vec![SourceError {
            operation: "DescribeKey".into(),
            code: "AccessDeniedException".into(),
            message: "denied".into(),
            request_id: None,
        }],
        ..key("alias/x")
    };
    let keys = vec![undescribed("k1"), undescribed("k2")];
    let evaluation = evaluate(&[snapshot("us-east-1", keys)], &policy(), at(10, 12));
    let ids: Vec<&str> = evaluation.keys.iter().map(|v| v.key_id.as_str()).collect();
    assert_eq!(ids, ["k1", "k2"]);
    assert!(evaluation.keys.iter().all(|v| v.status == Status::Unknown));
    assert!(
        evaluation.keys[0].detail.contains("AccessDeniedException"),
        "{}",
        evaluation.keys[0].detail
    );
    assert_eq!(evaluation.outcome, Outcome::Incomplete);
}
