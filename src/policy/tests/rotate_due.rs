//! What `rotate --due` plans for each kind of due key.

use super::*;
use crate::action::plan::{Call, KeyRef};
use crate::action::{Context, KeyExtras, Request};
use crate::policy::rotate::{key_plan, requests};

fn ctx() -> Context {
    Context {
        read_only: false,
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        account: Some("111122223333".into()),
        assumed_period_days: 90,
    }
}

fn plan_for(key: &Key, now: DateTime<Utc>) -> (Vec<Request>, Vec<&'static str>) {
    let verdict = judge_key(key, &policy(), now);
    let requests = requests(key, &verdict);
    let operations = if requests.is_empty() {
        Vec::new()
    } else {
        let plan = key_plan(key, &verdict, &requests, &KeyExtras::default(), &ctx()).unwrap();
        plan.steps.iter().map(|s| s.call.operation()).collect()
    };
    (requests, operations)
}

#[test]
fn compliant_keys_are_left_alone_and_due_ones_rotate_on_demand() {
    let key = key("alias/payments");
    assert_eq!(plan_for(&key, at(85, 12)).0, []);
    assert_eq!(plan_for(&key, at(86, 12)).1, ["RotateKeyOnDemand"]);
    assert_eq!(plan_for(&key, at(200, 12)).1, ["RotateKeyOnDemand"]);
}

#[test]
fn rotation_off_is_enabled_with_the_rule_period_and_rotated_when_old() {
    let mut key = key("alias/payments");
    key.rotation.enabled = Some(false);
    let (requests, _) = plan_for(&key, at(10, 12));
    assert_eq!(requests, [Request::EnableRotation { period_days: 90 }]);
    let (_, operations) = plan_for(&key, at(100, 12));
    assert_eq!(operations, ["RotateKeyOnDemand", "EnableKeyRotation"]);
    let verdict = judge_key(&key, &policy(), at(100, 12));
    let needed = super::super::rotate::requests(&key, &verdict);
    let plan = key_plan(&key, &verdict, &needed, &KeyExtras::default(), &ctx()).unwrap();
    assert!(
        plan.title.contains("; then Enable automatic rotation"),
        "{}",
        plan.title
    );
    assert!(
        !plan.notes.iter().any(|n| n.contains("stays off")),
        "{:?}",
        plan.notes
    );
}

#[test]
fn a_slow_schedule_is_set_to_the_rule_period() {
    let mut key = key("alias/payments");
    key.rotation.period_days = Some(365);
    assert_eq!(
        plan_for(&key, at(10, 12)).0,
        [Request::EnableRotation { period_days: 90 }]
    );
}

#[test]
fn keys_aws_cannot_rotate_get_a_successor() {
    let mut key = key("alias/webhook-signing");
    key.key_spec = "HMAC_256".into();
    key.rotation = RotationFacts::default();
    let (requests, operations) = plan_for(&key, at(100, 12));
    assert_eq!(requests, [Request::ManualRotate]);
    assert_eq!(
        operations,
        ["CreateKey", "UpdateAlias", "TagResource", "TagResource"]
    );
}

#[test]
fn a_key_out_of_on_demand_rotations_moves_to_a_successor_that_rotates_itself() {
    let mut key = key("alias/payments");
    key.rotation.history = (0..25)
        .map(|day| RotationRecord {
            date: at(day, 0),
            kind: RotationKind::OnDemand,
        })
        .collect();
    let verdict = judge_key(&key, &policy(), at(150, 12));
    assert_eq!(verdict.status, Status::Overdue);
    let requests = requests(&key, &verdict);
    assert_eq!(requests, [Request::ManualRotate]);
    let plan = key_plan(&key, &verdict, &requests, &KeyExtras::default(), &ctx()).unwrap();
    assert_eq!(
        plan.steps.last().unwrap().call,
        Call::EnableKeyRotation {
            key: KeyRef::CreatedBy(0),
            period_days: 90
        }
    );
}

#[test]
fn replicas_exempt_and_retired_keys_are_not_acted_on() {
    let (primary, replica) = multi_region_pair();
    let snapshots = [
        snapshot("us-east-1", vec![primary.clone()]),
        snapshot("eu-west-1", vec![replica.clone()]),
    ];
    let evaluation = evaluate(&snapshots, &policy(), at(100, 12));
    let replica_verdict = verdict(&evaluation, "eu-west-1", "alias/settlements");
    assert_eq!(replica_verdict.status, Status::Overdue);
    assert!(requests(&replica, replica_verdict).is_empty());
    let primary_verdict = verdict(&evaluation, "us-east-1", "alias/settlements");
    assert_eq!(requests(&primary, primary_verdict), [Request::RotateNow]);

    let key = key("alias/legacy");
    let exempt = judge_key(&key, &exempting("alias/legacy", (2030, 1, 1)), at(100, 12));
    assert!(requests(&key, &exempt).is_empty());
}

#[test]
fn read_only_mode_refuses_the_plan_in_words() {
    let key = key("alias/payments");
    let verdict = judge_key(&key, &policy(), at(100, 12));
    let read_only = Context {
        read_only: true,
        ..ctx()
    };
    let refusal = key_plan(
        &key,
        &verdict,
        &requests(&key, &verdict),
        &KeyExtras::default(),
        &read_only,
    )
    .unwrap_err();
    assert!(refusal.0.contains("read-only"), "{refusal}");
}
