//! Pre-flight refusals and plan shapes, without AWS.

use super::plan::{Call, KeyRef, Risk, TagValue};
use super::preflight::*;
use crate::estate::{
    Key, KeyManager, MultiRegion, MultiRegionRole, RotationFacts, RotationKind, RotationRecord,
};

fn key() -> Key {
    Key {
        arn: "arn:aws:kms:us-east-1:111122223333:key/k1".into(),
        region: "us-east-1".into(),
        key_id: "k1".into(),
        aliases: vec!["alias/payments-data".into()],
        description: "payments".into(),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        key_usage: "ENCRYPT_DECRYPT".into(),
        origin: "AWS_KMS".into(),
        manager: KeyManager::Customer,
        state: "Enabled".into(),
        created: None,
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

fn ctx() -> Context {
    Context {
        read_only: false,
        regions: vec![
            "us-east-1".into(),
            "eu-west-1".into(),
            "ap-southeast-2".into(),
        ],
        account: Some("111122223333".into()),
        assumed_period_days: 90,
    }
}

fn refusal(request: Request, key: &Key) -> String {
    check(&request, key, &ctx()).unwrap_err().0
}

fn primary() -> Key {
    let mut key = key();
    key.key_id = "mrk-1".into();
    key.multi_region = Some(MultiRegion {
        role: MultiRegionRole::Primary,
        primary_arn: key.arn.clone(),
        primary_region: "us-east-1".into(),
        replica_regions: vec!["eu-west-1".into()],
    });
    key
}

#[test]
fn read_only_refuses_everything() {
    let ctx = Context {
        read_only: true,
        ..ctx()
    };
    for (request, verdict) in offers(&key(), &ctx) {
        let reason = verdict.unwrap_err().0;
        assert!(
            reason.starts_with("read-only mode"),
            "{request:?}: {reason}"
        );
    }
}

#[test]
fn rotate_now_refusals_say_why() {
    let mut asym = key();
    asym.key_spec = "ECC_NIST_P256".into();
    assert!(refusal(Request::RotateNow, &asym).contains("manual rotation"));

    let mut used_up = key();
    used_up.rotation.history = (0..25)
        .map(|_| RotationRecord {
            date: chrono::Utc::now(),
            kind: RotationKind::OnDemand,
        })
        .collect();
    assert!(refusal(Request::RotateNow, &used_up).contains("all 25 on-demand rotations"));

    let mut replica = primary();
    replica.multi_region.as_mut().unwrap().role = MultiRegionRole::Replica;
    replica.region = "eu-west-1".into();
    assert!(refusal(Request::RotateNow, &replica).contains("primary in us-east-1"));

    let mut aws = key();
    aws.manager = KeyManager::Aws;
    assert!(refusal(Request::RotateNow, &aws).contains("AWS manages this key"));

    let mut deleting = key();
    deleting.state = "PendingDeletion".into();
    assert!(refusal(Request::RotateNow, &deleting).contains("cancel the deletion first"));
    assert!(check(&Request::CancelDeletion, &deleting, &ctx()).is_ok());
}

#[test]
fn rotation_period_is_validated_before_any_call() {
    let reason = refusal(Request::EnableRotation { period_days: 30 }, &key());
    assert!(reason.contains("90 to 2560"), "{reason}");
    assert!(
        check(
            &Request::EnableRotation { period_days: 2560 },
            &key(),
            &ctx()
        )
        .is_ok()
    );
}

#[test]
fn replication_is_offered_only_from_the_primary_to_new_regions() {
    assert!(
        refusal(
            Request::Replicate {
                to_region: "eu-west-1".into()
            },
            &primary()
        )
        .contains("already holds")
    );
    assert!(
        check(
            &Request::Replicate {
                to_region: "ap-southeast-2".into()
            },
            &primary(),
            &ctx()
        )
        .is_ok()
    );
    assert!(
        refusal(
            Request::Replicate {
                to_region: "eu-west-1".into()
            },
            &key()
        )
        .contains("single-region")
    );
    assert!(
        refusal(
            Request::Replicate {
                to_region: "sa-east-1".into()
            },
            &primary()
        )
        .contains("not a region keyward watches")
    );
}

#[test]
fn deletion_window_is_validated() {
    assert!(refusal(Request::ScheduleDeletion { days: 3 }, &key()).contains("7 to 30"));
    let plan = plan(
        &Request::ScheduleDeletion { days: 7 },
        &key(),
        &KeyExtras::default(),
        &ctx(),
    )
    .unwrap();
    assert_eq!(plan.risk, Risk::Destructive);
    assert_eq!(plan.confirm_phrase.as_deref(), Some("alias/payments-data"));
    assert_eq!(plan.confirm_words(), ["alias/payments-data", &key().key_id]);
    let prompt = format!(
        "To confirm, type: alias/payments-data or its key id {}",
        key().key_id
    );
    assert!(plan.lines().contains(&prompt), "{:?}", plan.lines());

    // A batch about this one key is confirmed as its own plan is.
    let batch = super::plan::Plan::batch("Approve 1 rotation".into(), vec![plan.clone()]);
    assert_eq!(batch.confirm_words(), plan.confirm_words());
}

#[test]
fn manual_rotation_copies_the_key_and_moves_every_alias() {
    let mut key = key();
    key.aliases.push("alias/payments-legacy".into());
    let extras = KeyExtras {
        policy: Some("{\"Version\":\"2012-10-17\"}".into()),
        tags: vec![super::plan::Tag::text("domain", "payments")],
    };
    let plan = plan(&Request::ManualRotate, &key, &extras, &ctx()).unwrap();
    assert_eq!(plan.risk, Risk::Destructive);
    let ops: Vec<_> = plan.steps.iter().map(|s| s.call.operation()).collect();
    assert_eq!(
        ops,
        [
            "CreateKey",
            "UpdateAlias",
            "UpdateAlias",
            "TagResource",
            "TagResource",
            "EnableKeyRotation"
        ]
    );
    // The key rotated automatically, at a period the endpoint did not report: the successor
    // rotates at the policy's, as the console assumes it.
    assert!(matches!(
        &plan.steps[5].call,
        Call::EnableKeyRotation {
            key: KeyRef::CreatedBy(0),
            period_days: 90
        }
    ));
    match &plan.steps[0].call {
        Call::CreateKey {
            policy,
            tags,
            description,
            key_spec,
            ..
        } => {
            assert_eq!(policy, &extras.policy);
            assert_eq!(tags, &extras.tags);
            assert_eq!(description, "payments");
            assert_eq!(key_spec, "SYMMETRIC_DEFAULT");
        }
        other => panic!("{other:?}"),
    }
    match &plan.steps[3].call {
        Call::TagResource { key, tags } => {
            assert_eq!(key, &KeyRef::Existing("k1".into()));
            assert_eq!(tags[0].value, TagValue::KeyIdOf(KeyRef::CreatedBy(0)));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        plan.lines()
            .iter()
            .any(|l| l.contains("old key stays enabled"))
    );
}

#[test]
fn a_successor_keeps_the_reported_period_and_stays_off_where_the_key_was_off() {
    let mut key = key();
    key.rotation.period_days = Some(90);
    let plan = plan(&Request::ManualRotate, &key, &KeyExtras::default(), &ctx()).unwrap();
    assert!(plan.steps.iter().any(|s| matches!(
        s.call,
        Call::EnableKeyRotation {
            key: KeyRef::CreatedBy(0),
            period_days: 90
        }
    )));

    key.rotation.enabled = Some(false);
    let plan = plan_off(&key);
    assert!(
        !plan
            .steps
            .iter()
            .any(|s| s.call.operation() == "EnableKeyRotation")
    );
    assert!(
        plan.lines()
            .iter()
            .any(|l| l.contains("stays off on the successor")),
        "{:?}",
        plan.lines()
    );

    // An asymmetric key cannot rotate automatically at all: nothing to hand on or note.
    key.key_spec = "ECC_NIST_P256".into();
    key.key_usage = "SIGN_VERIFY".into();
    key.rotation.enabled = None;
    let plan = plan_off(&key);
    assert!(
        !plan.lines().iter().any(|l| l.contains("automatic")),
        "{:?}",
        plan.lines()
    );
}

#[test]
fn an_external_key_store_key_is_refused_a_successor_keyward_cannot_make() {
    let mut key = key();
    key.origin = "EXTERNAL_KEY_STORE".into();
    key.custom_key_store_id = Some("cks-1234567890abcdef0".into());
    let refusal = check(&Request::ManualRotate, &key, &ctx()).unwrap_err();
    assert!(refusal.0.contains("XksKeyId"), "{}", refusal.0);
    // A CloudHSM key store makes its own key material: its successor is possible.
    key.origin = "AWS_CLOUDHSM".into();
    assert_eq!(check(&Request::ManualRotate, &key, &ctx()), Ok(()));
}

fn plan_off(key: &Key) -> super::Plan {
    plan(&Request::ManualRotate, key, &KeyExtras::default(), &ctx()).unwrap()
}

#[test]
fn manual_rotation_of_imported_material_leaves_the_aliases_until_it_is_imported() {
    // The successor is PendingImport until its own material is imported; aliases moved to it
    // at once would stop every application using them.
    let mut key = key();
    key.origin = "EXTERNAL".into();
    let plan = plan(&Request::ManualRotate, &key, &KeyExtras::default(), &ctx()).unwrap();
    let ops: Vec<_> = plan.steps.iter().map(|s| s.call.operation()).collect();
    assert_eq!(ops, ["CreateKey", "TagResource", "TagResource"]);
    assert!(matches!(&plan.steps[0].call, Call::CreateKey { origin, .. } if origin == "EXTERNAL"));
    let lines = plan.lines().join("\n");
    assert!(
        lines.contains("alias/payments-data stay on the old key: import the successor's key"),
        "{lines}"
    );
    assert!(
        lines.contains("awaits its own imported key material"),
        "{lines}"
    );
}

#[test]
fn new_multi_region_key_plan_aliases_every_region() {
    let plan = plan_new_multi_region_key(
        "us-east-1",
        "alias/settlements",
        "settlements",
        90,
        &["eu-west-1".into(), "ap-southeast-2".into()],
        &ctx(),
    )
    .unwrap();
    let calls: Vec<_> = plan
        .steps
        .iter()
        .map(|s| format!("{} {}", s.region, s.call.operation()))
        .collect();
    assert_eq!(
        calls,
        [
            "us-east-1 CreateKey",
            "us-east-1 CreateAlias",
            "us-east-1 EnableKeyRotation",
            "us-east-1 ReplicateKey",
            "eu-west-1 CreateAlias",
            "us-east-1 ReplicateKey",
            "ap-southeast-2 CreateAlias",
        ]
    );
    let bad = plan_new_multi_region_key("us-east-1", "alias/aws/x", "", 90, &[], &ctx());
    assert!(bad.unwrap_err().0.contains("reserved for AWS managed keys"));
}

#[test]
fn a_batch_keeps_each_plans_created_key_references() {
    let ctx = ctx();
    let mut second = key();
    second.key_id = "k2".into();
    second.aliases = vec!["alias/ledger-data".into()];
    let rotate = plan(&Request::RotateNow, &key(), &KeyExtras::default(), &ctx).unwrap();
    let manual = plan(&Request::ManualRotate, &second, &KeyExtras::default(), &ctx).unwrap();
    let batch = super::plan::Plan::batch("Approve 2 rotations".into(), vec![rotate, manual]);
    assert_eq!(batch.targets.len(), 2);
    assert_eq!(batch.risk, Risk::Destructive);
    assert_eq!(batch.confirm_phrase.as_deref(), Some("2 keys"));
    assert_eq!(
        batch.confirm_words(),
        ["2 keys"],
        "two keys: no key id confirms"
    );
    match &batch.steps[2].call {
        Call::UpdateAlias { key, .. } => assert_eq!(key, &KeyRef::CreatedBy(1)),
        other => panic!("{other:?}"),
    }
    match &batch.steps[3].call {
        Call::TagResource { tags, .. } => {
            assert_eq!(tags[0].value, TagValue::KeyIdOf(KeyRef::CreatedBy(1)))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn aliases_are_checked_against_the_rules_aws_applies() {
    use super::preflight::check_alias;
    assert!(check_alias("alias/payments-data").is_ok());
    assert!(check_alias("alias/team:fx/rates_2026").is_ok());
    assert!(
        check_alias("payments")
            .unwrap_err()
            .contains("starts with alias/")
    );
    assert!(check_alias("alias/").is_err());
    assert!(
        check_alias("alias/aws/ebs")
            .unwrap_err()
            .contains("reserved")
    );
    assert!(check_alias("alias/has space").unwrap_err().contains("' '"));
    assert!(check_alias("alias/bad!name").unwrap_err().contains("'!'"));
    assert!(check_alias(&format!("alias/{}", "a".repeat(251))).is_err());
    assert!(check_alias(&format!("alias/{}", "a".repeat(250))).is_ok());
}
