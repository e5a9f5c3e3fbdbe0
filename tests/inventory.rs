//! The inventory against a real moto server started by the test: every kind of key classified
//! as a careful operator would, multi-region roles from where the primary lives, pagination
//! followed to the end, and a region on a closed port failing alone.
//!
//! moto cannot exercise: RotationPeriodInDays and NextRotationDate (it reports neither, so the
//! policy's period is assumed and said so), and automatic rotations (it records only on-demand
//! ones).

mod support;

use std::process::Command;

use aws_sdk_kms::types::{KeySpec, KeyUsageType, OriginType};
use keyward::aws::fetch_all;
use keyward::inventory::Inventory;
use serde_json::Value;
use support::estate;

/// Creates one key of each kind in us-east-1 (and a replica in eu-west-1); returns nothing but
/// aliases the assertions use.
async fn seed_kinds(clients: &keyward::aws::Clients) {
    let kms = &clients.region("us-east-1").unwrap().kms;
    let eu = &clients.region("eu-west-1").unwrap().kms;
    let alias = |name: &'static str, key: String| async move {
        kms.create_alias()
            .alias_name(name)
            .target_key_id(key)
            .send()
            .await
            .unwrap();
    };
    let create = || kms.create_key().description("test key");

    let rotating = create().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.enable_key_rotation()
        .key_id(&rotating)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    kms.rotate_key_on_demand()
        .key_id(&rotating)
        .send()
        .await
        .unwrap();
    alias("alias/rotating", rotating).await;

    let off = create().send().await.unwrap().key_metadata.unwrap().key_id;
    alias("alias/rotation-off", off).await;

    let ecc = create()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap();
    alias("alias/signing", ecc.key_metadata.unwrap().key_id).await;

    let hmac = create()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap();
    alias("alias/webhook-hmac", hmac.key_metadata.unwrap().key_id).await;

    let imported = create().origin(OriginType::External).send().await.unwrap();
    alias("alias/imported", imported.key_metadata.unwrap().key_id).await;

    let disabled = create().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.disable_key().key_id(&disabled).send().await.unwrap();
    alias("alias/disabled", disabled).await;

    let doomed = create().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.schedule_key_deletion()
        .key_id(&doomed)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    alias("alias/doomed", doomed).await;

    let mrk = create()
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    kms.enable_key_rotation().key_id(&mrk).send().await.unwrap();
    kms.replicate_key()
        .key_id(&mrk)
        .replica_region("eu-west-1")
        .send()
        .await
        .unwrap();
    alias("alias/dr-master", mrk.clone()).await;
    // AWS does not replicate aliases; some emulators copy them. Either way the replica needs one.
    let _ = eu
        .create_alias()
        .alias_name("alias/dr-master")
        .target_key_id(&mrk)
        .send()
        .await;

    // Referring to an AWS managed alias makes the emulator create that key, as AWS does on
    // first use by a service.
    kms.describe_key()
        .key_id("alias/aws/ebs")
        .send()
        .await
        .unwrap();
}

fn key<'a>(doc: &'a Value, region: &str, alias: &str) -> &'a Value {
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| {
            k["region"] == region && k["aliases"].as_array().unwrap().iter().any(|a| a == alias)
        })
        .unwrap_or_else(|| panic!("no key {alias} in {region}"))
}

#[tokio::test]
async fn every_key_kind_is_classified_through_the_binary() {
    let moto = estate::moto(false).await;
    let settings = estate::settings(&moto, &["us-east-1", "eu-west-1"]);
    seed_kinds(&estate::clients(&settings).await).await;

    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["inventory", "--format", "json"])
        .envs(estate::binary_env(&settings))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();

    let status = |region: &str, alias: &str| key(&doc, region, alias)["rotation"]["status"].clone();
    assert_eq!(status("us-east-1", "alias/rotating"), "ok");
    assert_eq!(status("us-east-1", "alias/rotation-off"), "disabled");
    assert_eq!(status("us-east-1", "alias/signing"), "not_rotatable");
    assert_eq!(status("us-east-1", "alias/webhook-hmac"), "not_rotatable");
    assert_eq!(status("us-east-1", "alias/imported"), "not_rotatable");
    assert_eq!(status("us-east-1", "alias/disabled"), "not_applicable");
    assert_eq!(status("us-east-1", "alias/doomed"), "not_applicable");
    assert_eq!(status("us-east-1", "alias/dr-master"), "ok");
    assert_eq!(status("eu-west-1", "alias/dr-master"), "replica");
    assert_eq!(status("us-east-1", "alias/aws/ebs"), "aws_managed");

    let reason = |alias: &str| key(&doc, "us-east-1", alias)["rotation"]["not_rotatable"].clone();
    assert_eq!(reason("alias/signing"), "asymmetric");
    assert_eq!(reason("alias/webhook-hmac"), "hmac");
    assert_eq!(reason("alias/imported"), "imported_material");

    let rotating = key(&doc, "us-east-1", "alias/rotating");
    assert_eq!(rotating["rotation"]["on_demand_used"], 1);
    assert_eq!(rotating["rotation"]["days_left"], 89);
    assert_eq!(rotating["rotation"]["period_source"], "policy");
    assert!(rotating["rotation"]["next_rotation"].is_string());
    assert_eq!(rotating["manager"], "CUSTOMER");
    assert_eq!(rotating["multi_region"], Value::Null);

    let doomed = key(&doc, "us-east-1", "alias/doomed");
    assert!(doomed["deletion_date"].is_string());
    assert!(
        doomed["rotation"]["detail"]
            .as_str()
            .unwrap()
            .contains("pending deletion")
    );

    let primary = key(&doc, "us-east-1", "alias/dr-master");
    let replica = key(&doc, "eu-west-1", "alias/dr-master");
    assert_eq!(primary["multi_region"], "primary");
    assert_eq!(replica["multi_region"], "replica");
    assert_eq!(replica["primary_region"], "us-east-1");
    assert_eq!(primary["replica_regions"], serde_json::json!(["eu-west-1"]));
    assert_eq!(primary["key_id"], replica["key_id"]);

    for region in doc["regions"].as_array().unwrap() {
        assert_eq!(region["error"], Value::Null, "{region}");
    }
}

#[tokio::test]
async fn rotation_history_is_followed_across_pages() {
    let moto = estate::moto(false).await;
    let mut settings = estate::settings(&moto, &["us-east-1"]);
    settings.aws.page_size = 2;
    let clients = estate::clients(&settings).await;
    let kms = &clients.region("us-east-1").unwrap().kms;
    let key = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    for _ in 0..5 {
        kms.rotate_key_on_demand()
            .key_id(&key)
            .send()
            .await
            .unwrap();
    }

    let snapshots = fetch_all(&clients).await;
    let keys = snapshots[0].keys.as_ref().unwrap();
    let found = keys.iter().find(|k| k.key_id == key).unwrap();
    assert_eq!(found.rotation.history.len(), 5, "{:?}", found.errors);
    assert!(
        found
            .rotation
            .history
            .windows(2)
            .all(|w| w[0].date <= w[1].date)
    );
    assert_eq!(found.rotation.on_demand_used(), 5);
}

#[tokio::test]
async fn a_region_on_a_closed_port_fails_alone() {
    let moto = estate::moto(false).await;
    let mut settings = estate::settings(&moto, &["us-east-1", "eu-west-1"]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    settings
        .aws
        .region_endpoints
        .insert("eu-west-1".into(), closed_url.clone());
    settings.aws.max_attempts = 1;
    let clients = estate::clients(&settings).await;
    clients
        .region("us-east-1")
        .unwrap()
        .kms
        .create_key()
        .send()
        .await
        .unwrap();

    let snapshots = fetch_all(&clients).await;
    let inventory = Inventory::build(&snapshots, &settings.rotation, chrono::Utc::now());
    assert!(!inventory.complete());
    let us = inventory
        .regions
        .iter()
        .find(|r| r.region == "us-east-1")
        .unwrap();
    let eu = inventory
        .regions
        .iter()
        .find(|r| r.region == "eu-west-1")
        .unwrap();
    assert!(us.error.is_none());
    assert_eq!(us.key_count, 1);
    let err = eu.error.as_ref().expect("eu-west-1 must fail");
    assert_eq!(err.operation, "ListKeys");
    assert_eq!(err.code, "ConnectionFailed", "{err}");
    assert_eq!(inventory.keys.len(), 1);

    // The binary says the same with exit code 2, keeping the region it could read.
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!("[aws]\nmax_attempts = 1\n[aws.endpoints]\n\"eu-west-1\" = \"{closed_url}\"\n"),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["inventory", "--format", "json"])
        .envs(estate::binary_env(&settings))
        .env("KEYWARD_CONFIG", config.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["keys"].as_array().unwrap().len(), 1);
    let regions = doc["regions"].as_array().unwrap();
    assert!(
        regions
            .iter()
            .any(|r| r["region"] == "eu-west-1" && r["error"]["code"] == "ConnectionFailed")
    );
}
