//! The rotation policy against a real moto server, through the keyward binary: `check`'s exit
//! codes and JSON, the report in all three formats read back, `metrics publish` creating the
//! alarm once and leaving it alone after, and `rotate --due --yes` on the sandbox estate
//! rotating exactly the due keys, once.
//!
//! Each test starts its own moto and lives in an account of its own. Keys created here are
//! new, so the tests that do not seed the sandbox judge them in the future with `--as-of`.
//!
//! moto cannot exercise: RotationPeriodInDays and NextRotationDate (it reports neither), so
//! `schedule_too_slow` and its fix are unit-tested only (src/policy/tests); automatic rotations
//! (moto records only on-demand ones); and a rotation step that AWS refuses, since moto accepts
//! what AWS would not (src/policy/tests/rotate_due.rs covers refusals in words).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chrono::{Duration, NaiveDate, Utc};
use keyward::aws::Clients;
use keyward::config::Settings;
use keyward::sandbox::{self, MotoOptions, MotoServer, plan};
use serde_json::Value;
use support::estate;

/// One run of the binary.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Runs `keyward ARGS` against the settings' estate with `config` and `journal`.
fn keyward(settings: &Settings, config: &Path, journal: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .envs(estate::binary_env(settings))
        .env("KEYWARD_CONFIG", config)
        .env("KEYWARD_AUDIT_LOG", journal)
        .output()
        .expect("run keyward");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn day(days_from_today: i64) -> NaiveDate {
    (Utc::now() + Duration::days(days_from_today)).date_naive()
}

/// The verdict of the key with `alias` in `region`, from a check or report JSON document.
fn verdict<'a>(doc: &'a Value, region: &str, alias: &str) -> &'a Value {
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["region"] == region && k["alias"] == alias)
        .unwrap_or_else(|| panic!("no verdict for {alias} in {region}"))
}

/// (region, alias, status) of every violation in a JSON document.
fn violations(doc: &Value) -> Vec<(String, String, String)> {
    let mut found: Vec<_> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| {
            [
                "overdue",
                "rotation_disabled",
                "schedule_too_slow",
                "manual_rotation_needed",
            ]
            .contains(&k["status"].as_str().unwrap())
        })
        .map(|k| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (text(&k["region"]), text(&k["alias"]), text(&k["status"]))
        })
        .collect();
    found.sort();
    found
}

fn owned(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

/// On-demand rotations used, by (region, alias), for every aliased customer key.
async fn rotations_used(clients: &Clients) -> BTreeMap<(String, String), usize> {
    let mut used = BTreeMap::new();
    for snapshot in keyward::aws::fetch_all(clients).await {
        for key in snapshot.keys.expect("keys read") {
            for alias in &key.aliases {
                used.insert(
                    (key.region.clone(), alias.clone()),
                    key.rotation.on_demand_used(),
                );
            }
        }
    }
    used
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_is_checked_rotated_and_then_compliant() {
    // Step 1: the sandbox estate, with dates months in the past, in an account of its own.
    let moto = MotoServer::start(MotoOptions {
        movable_clock: true,
        ..MotoOptions::default()
    })
    .await
    .expect("start moto under libfaketime (run scripts/install-deps first)");
    let account = sandbox::random_account_id().unwrap();
    sandbox::seed(&moto, Some(&account))
        .await
        .expect("seed the sandbox estate");
    let settings = Settings {
        regions: plan::REGIONS.iter().map(|r| r.to_string()).collect(),
        aws: sandbox::aws_settings(moto.endpoint_url(), Some(&account)),
        ..Settings::default()
    };
    let clients = Clients::new(&settings.aws, &settings.regions).await;
    let dir = tempfile::tempdir().unwrap();
    let (config, journal) = (Path::new("/dev/null"), dir.path().join("audit.jsonl"));

    // Step 2: check names every violation a careful auditor would, and exits 1.
    let run = keyward(&settings, config, &journal, &["check", "--format", "json"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let doc = run.json();
    let expected = owned(&[
        ("eu-west-1", "alias/customer-pii", "overdue"),
        ("eu-west-1", "alias/legacy-reporting", "rotation_disabled"),
        (
            "eu-west-1",
            "alias/webhook-signing",
            "manual_rotation_needed",
        ),
        (
            "us-east-1",
            "alias/document-signing",
            "manual_rotation_needed",
        ),
    ]);
    assert_eq!(violations(&doc), expected);
    assert_eq!(
        verdict(&doc, "eu-west-1", "alias/customer-pii")["days_overdue"],
        15
    );
    assert_eq!(
        verdict(&doc, "eu-west-1", "alias/ledger-data")["status"],
        "due_soon"
    );
    let replica = verdict(&doc, "ap-southeast-2", "alias/settlements-data");
    assert_eq!(replica["status"], "compliant");
    assert!(
        replica["follows_primary"]
            .as_str()
            .unwrap()
            .contains(":us-east-1:")
    );
    assert_eq!(
        verdict(&doc, "us-east-1", "alias/batch-exports-2023")["status"],
        "not_applicable"
    );
    assert_eq!(
        verdict(&doc, "ap-southeast-2", "alias/partner-import")["status"],
        "not_applicable"
    );
    assert_eq!(
        verdict(&doc, "us-east-1", "alias/aws/ebs")["status"],
        "aws_managed"
    );
    assert_eq!(doc["outcome"], "violations");

    // Step 3: the dry run plans the five due keys and changes nothing.
    let before = rotations_used(&clients).await;
    let run = keyward(
        &settings,
        config,
        &journal,
        &["rotate", "--due", "--dry-run"],
    );
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("5 due, 5 with a plan"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Dry run: nothing was changed."),
        "{}",
        run.stdout
    );
    assert_eq!(rotations_used(&clients).await, before);
    assert!(!journal.exists());

    // Step 4: --yes fixes them, each key journaled, and rotates exactly the due keys.
    let run = keyward(&settings, config, &journal, &["rotate", "--due", "--yes"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("5 of 5 due keys fixed"),
        "{}",
        run.stdout
    );
    let entries = std::fs::read_to_string(&journal).unwrap().lines().count();
    assert_eq!(entries, 5);
    let verify = keyward(&settings, config, &journal, &["audit", "verify"]);
    assert_eq!(verify.code, Some(0), "{}", verify.stdout);

    // Exactly the due keys AWS can rotate were rotated on demand, once each (the aliases of the
    // manually rotated keys now name successors, new keys that never rotated).
    let after = rotations_used(&clients).await;
    let changed: Vec<&(String, String)> = after
        .iter()
        .filter(|(k, n)| before.get(*k) != Some(n))
        .map(|(k, _)| k)
        .collect();
    let due = [
        ("eu-west-1", "alias/customer-pii"),
        ("eu-west-1", "alias/ledger-data"),
        ("eu-west-1", "alias/legacy-reporting"),
    ];
    let due: Vec<(String, String)> = due
        .iter()
        .map(|(r, a)| (r.to_string(), a.to_string()))
        .collect();
    assert_eq!(changed, due.iter().collect::<Vec<_>>());
    for key in &due {
        assert_eq!(after[key], before[key] + 1, "{key:?}");
    }

    // Step 5: the estate now passes, the superseded keys retired, kept for decryption.
    let run = keyward(&settings, config, &journal, &["check", "--format", "json"]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let doc = run.json();
    assert_eq!(violations(&doc), []);
    let retired: Vec<&Value> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["status"] == "retired")
        .collect();
    assert_eq!(retired.len(), 2, "{retired:?}");
    assert_eq!(
        verdict(&doc, "eu-west-1", "alias/legacy-reporting")["automatic_rotation"],
        true
    );
    assert_eq!(
        verdict(&doc, "us-east-1", "alias/document-signing")["status"],
        "compliant"
    );

    // Step 6: a second run finds nothing due and writes nothing.
    let run = keyward(&settings, config, &journal, &["rotate", "--due", "--yes"]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("Nothing is due"), "{}", run.stdout);
    assert_eq!(
        std::fs::read_to_string(&journal).unwrap().lines().count(),
        5
    );
    assert_eq!(rotations_used(&clients).await, after);
}

/// A small estate of new keys: us-east-1 holds a default-rule key, an archive under a 365-day
/// rule, and two exempt keys (one exemption lapsing in 50 days); eu-west-1 a key tagged for a
/// stricter rule, and one with rotation off.
async fn small_estate(settings: &Settings) -> tempfile::NamedTempFile {
    let clients = estate::clients(settings).await;
    for (region, alias, tag, rotation) in [
        ("us-east-1", "alias/payments-data", None, true),
        ("us-east-1", "alias/archive-2024", None, true),
        ("us-east-1", "alias/legacy-batch", None, true),
        ("us-east-1", "alias/vendor-feed", None, true),
        (
            "eu-west-1",
            "alias/pci-tokens",
            Some(("data-class", "pci")),
            true,
        ),
        ("eu-west-1", "alias/reporting", None, false),
    ] {
        let kms = &clients.region(region).unwrap().kms;
        let mut create = kms.create_key().description("policy test key");
        if let Some((key, value)) = tag {
            let tag = aws_sdk_kms::types::Tag::builder()
                .tag_key(key)
                .tag_value(value)
                .build();
            create = create.tags(tag.unwrap());
        }
        let id = create.send().await.unwrap().key_metadata.unwrap().key_id;
        if rotation {
            kms.enable_key_rotation().key_id(&id).send().await.unwrap();
        }
        kms.create_alias()
            .alias_name(alias)
            .target_key_id(&id)
            .send()
            .await
            .unwrap();
    }
    let config = tempfile::NamedTempFile::new().unwrap();
    let text = format!(
        r#"
[rotation]
period_days = 90
warn_after_days = 85

[[rotation.rules]]
name = "pci in eu"
tag = "data-class=pci"
region = "eu-west-1"
period_days = 90
warn_after_days = 30

[[rotation.rules]]
name = "archives"
alias_prefix = "alias/archive-"
period_days = 365

[[rotation.exemptions]]
key = "alias/legacy-batch"
reason = "CHG-12, decommissioned with the batch platform"
expires = {lapsing}

[[rotation.exemptions]]
key = "alias/vendor-feed"
reason = "vendor holds the key until contract end"
expires = {lasting}
"#,
        lapsing = day(50),
        lasting = day(200),
    );
    std::fs::write(config.path(), text).unwrap();
    config
}

#[tokio::test]
async fn check_exit_codes_and_json_follow_rules_exemptions_and_the_date() {
    let moto = estate::moto(false).await;
    let settings = estate::settings(&moto, &["us-east-1", "eu-west-1"]);
    let config = small_estate(&settings).await;
    let journal = tempfile::tempdir().unwrap().path().join("audit.jsonl");
    let check = |args: &[&str]| {
        let mut all = vec!["check", "--format", "json"];
        all.extend(args);
        keyward(&settings, config.path(), &journal, &all)
    };

    // Today only the key with rotation off violates.
    let run = check(&[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        violations(&run.json()),
        owned(&[("eu-west-1", "alias/reporting", "rotation_disabled")])
    );

    // In 40 days the pci key is past its rule's 30-day warning.
    let in_40 = day(40).to_string();
    let doc = check(&["--as-of", &in_40]).json();
    let pci = verdict(&doc, "eu-west-1", "alias/pci-tokens");
    assert_eq!(
        (pci["status"].as_str(), pci["rule"]["name"].as_str()),
        (Some("due_soon"), Some("pci in eu"))
    );
    assert_eq!(
        verdict(&doc, "us-east-1", "alias/payments-data")["status"],
        "compliant"
    );

    // In 100 days: the default-rule keys are overdue, the lapsed exemption no longer counts,
    // the archive rule and the lasting exemption still hold.
    let in_100 = day(100).to_string();
    let run = check(&["--as-of", &in_100]);
    assert_eq!(run.code, Some(1));
    let doc = run.json();
    assert_eq!(
        violations(&doc),
        owned(&[
            ("eu-west-1", "alias/pci-tokens", "overdue"),
            ("eu-west-1", "alias/reporting", "rotation_disabled"),
            ("us-east-1", "alias/legacy-batch", "overdue"),
            ("us-east-1", "alias/payments-data", "overdue"),
        ])
    );
    let lapsed = verdict(&doc, "us-east-1", "alias/legacy-batch");
    assert_eq!(lapsed["exemption"]["active"], false);
    // Judged at the end of day 100, a key created today is 10 days and some hours past its
    // 90-day deadline: a started day counts, as in the inventory.
    assert_eq!(lapsed["days_overdue"], 11);
    let archive = verdict(&doc, "us-east-1", "alias/archive-2024");
    assert_eq!(
        (
            archive["status"].as_str(),
            archive["rule"]["period_days"].as_u64()
        ),
        (Some("compliant"), Some(365))
    );
    let vendor = verdict(&doc, "us-east-1", "alias/vendor-feed");
    assert_eq!(vendor["status"], "exempt");
    assert_eq!(vendor["exemption"]["expires"], day(200).to_string());
    assert_eq!(doc["regions"][0]["counts"]["overdue"], 2);
    assert_eq!(doc["exit_code"], 1);

    // A region that cannot be read: exit 2 when nothing read violates, 1 when something does.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let broken = tempfile::NamedTempFile::new().unwrap();
    let text =
        format!("[aws]\nmax_attempts = 1\n[aws.endpoints]\n\"eu-west-1\" = \"{closed_url}\"\n");
    std::fs::write(broken.path(), text).unwrap();
    let run = keyward(
        &settings,
        broken.path(),
        &journal,
        &["check", "--format", "json"],
    );
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    let doc = run.json();
    assert_eq!(doc["outcome"], "incomplete");
    assert_eq!(doc["regions"][1]["error"]["code"], "ConnectionFailed");
    let run = keyward(
        &settings,
        broken.path(),
        &journal,
        &["check", "--as-of", &in_100],
    );
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    // That file has no rules or exemptions: all four us-east-1 keys fall to the default rule.
    assert!(
        run.stdout.starts_with("VIOLATIONS: 4 of 4 judged keys"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("eu-west-1: NOT READ"), "{}", run.stdout);

    // A date in the past is refused with the usage exit code, never 1.
    let yesterday = day(-1).to_string();
    let run = check(&["--as-of", &yesterday]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("is in the past"), "{}", run.stderr);
}

/// Reads CSV as RFC 4180 writes it: quoted fields may hold commas, quotes and line breaks.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field, mut quoted) = (Vec::new(), Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[tokio::test]
async fn the_report_reads_back_in_all_three_formats() {
    let moto = estate::moto(false).await;
    let settings = estate::settings(&moto, &["us-east-1", "eu-west-1"]);
    let config = small_estate(&settings).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("audit.jsonl");
    let in_100 = day(100).to_string();
    let report = |format: &str, output: Option<&Path>| {
        let mut args = vec!["report", "--format", format, "--as-of", &in_100];
        if let Some(path) = output {
            args.extend(["--output", path.to_str().unwrap()]);
        }
        keyward(&settings, config.path(), &journal, &args)
    };

    // JSON, written to a file.
    let json_path = dir.path().join("report.json");
    let run = report("json", Some(&json_path));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert!(doc["generated_at"].is_string());
    let regions: Vec<&str> = doc["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["region"].as_str().unwrap())
        .collect();
    assert_eq!(regions, ["us-east-1", "eu-west-1"]);
    assert_eq!(doc["regions"][1]["counts"]["overdue"], 1);
    assert_eq!(doc["regions"][1]["counts"]["rotation_disabled"], 1);
    assert_eq!(doc["rules"][0]["name"], "pci in eu");
    assert_eq!(doc["exemptions"].as_array().unwrap().len(), 2);
    assert_eq!(doc["exemptions"][0]["active"], false);
    assert_eq!(doc["exemptions"][0]["matched"].as_array().unwrap().len(), 1);
    assert_eq!(doc["coverage"], serde_json::json!([]));

    // CSV, written to a file: one row per key, the header first.
    let csv_path = dir.path().join("report.csv");
    assert_eq!(report("csv", Some(&csv_path)).code, Some(0));
    let rows = parse_csv(&std::fs::read_to_string(&csv_path).unwrap());
    assert_eq!(rows.len(), 7, "{rows:?}");
    let header = &rows[0];
    let col = |name: &str| {
        header
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let row = |alias: &str| rows.iter().find(|r| r[col("alias")] == alias).unwrap();
    assert_eq!(row("alias/payments-data")[col("status")], "overdue");
    assert_eq!(row("alias/payments-data")[col("days_overdue")], "11");
    assert_eq!(row("alias/payments-data")[col("violation")], "true");
    assert_eq!(row("alias/pci-tokens")[col("rule")], "pci in eu");
    assert_eq!(
        row("alias/legacy-batch")[col("exemption_reason")],
        "CHG-12, decommissioned with the batch platform"
    );
    assert_eq!(row("alias/vendor-feed")[col("status")], "exempt");
    assert_eq!(
        row("alias/vendor-feed")[col("exemption_expires")],
        day(200).to_string()
    );

    // Markdown, on standard output.
    let run = report("markdown", None);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let text = run.stdout;
    assert!(text.contains("- Regions: us-east-1, eu-west-1"), "{text}");
    assert!(
        text.contains("| pci in eu | tag data-class=pci, region eu-west-1 | 90 | 30 |"),
        "{text}"
    );
    for alias in [
        "alias/payments-data",
        "alias/legacy-batch",
        "alias/pci-tokens",
        "alias/reporting",
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(alias) && l.contains("never (created"))
            .unwrap();
        assert!(
            line.contains("overdue") || line.contains("rotation_disabled"),
            "{line}"
        );
    }
    assert!(
        text.contains("| alias/legacy-batch | CHG-12, decommissioned with the batch platform |"),
        "{text}"
    );
    assert!(text.contains("EXPIRED: judged again"), "{text}");
    assert!(text.contains("No multi-region keys."), "{text}");
}

#[tokio::test]
async fn metrics_and_alarms_are_created_once_and_left_alone_after() {
    let moto = estate::moto(false).await;
    let settings = estate::settings(&moto, &["us-east-1", "eu-west-1"]);
    let clients = estate::clients(&settings).await;
    let kms = &clients.region("us-east-1").unwrap().kms;
    let id = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    kms.enable_key_rotation().key_id(&id).send().await.unwrap();
    kms.create_alias()
        .alias_name("alias/payments-data")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();

    // eu-west-1 already has the alarm, with a stale threshold and an on-call action to keep.
    let on_call = "arn:aws:sns:eu-west-1:123456789012:on-call";
    let eu_watch = &clients.region("eu-west-1").unwrap().cloudwatch;
    eu_watch
        .put_metric_alarm()
        .alarm_name("KeyRotationDelay")
        .namespace("Custom/KMS")
        .metric_name("DaysSinceLastRotation")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
        .period(86_400)
        .evaluation_periods(1)
        .threshold(90.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .alarm_actions(on_call)
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("audit.jsonl");
    let run = keyward(
        &settings,
        Path::new("/dev/null"),
        &journal,
        &["metrics", "publish"],
    );
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("us-east-1: 2 datums")
            && run.stdout.contains("alarm KeyRotationDelay created"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("eu-west-1: 1 datum ") && run.stdout.contains("updated (1 change)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  Threshold: 90.0 -> 85.0"),
        "{}",
        run.stdout
    );

    // The alarms are as the policy asks, the on-call action kept.
    for region in ["us-east-1", "eu-west-1"] {
        let watch = &clients.region(region).unwrap().cloudwatch;
        let alarms = watch
            .describe_alarms()
            .alarm_names("KeyRotationDelay")
            .send()
            .await
            .unwrap();
        let alarm = &alarms.metric_alarms()[0];
        assert_eq!(alarm.namespace(), Some("Custom/KMS"));
        assert_eq!(alarm.metric_name(), Some("DaysSinceLastRotation"));
        assert_eq!(alarm.statistic().map(|s| s.as_str()), Some("Maximum"));
        assert_eq!(
            (alarm.period(), alarm.evaluation_periods()),
            (Some(86_400), Some(1))
        );
        assert_eq!(alarm.threshold(), Some(85.0));
        assert_eq!(
            alarm.comparison_operator().map(|c| c.as_str()),
            Some("GreaterThanThreshold")
        );
        assert!(alarm.dimensions().is_empty());
        if region == "eu-west-1" {
            assert_eq!(alarm.alarm_actions(), [on_call]);
        }
    }

    // The key's metric carries KeyId and Alias; the region-level one has no dimensions.
    let us_watch = &clients.region("us-east-1").unwrap().cloudwatch;
    let metrics = us_watch
        .list_metrics()
        .namespace("Custom/KMS")
        .metric_name("DaysSinceLastRotation")
        .send()
        .await
        .unwrap();
    let mut dimensions: Vec<Vec<(String, String)>> = metrics
        .metrics()
        .iter()
        .map(|m| {
            let mut d: Vec<_> = m
                .dimensions()
                .iter()
                .map(|d| {
                    (
                        d.name().unwrap_or_default().to_owned(),
                        d.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            d.sort();
            d
        })
        .collect();
    dimensions.sort();
    dimensions.dedup();
    let key_dimensions = vec![
        ("Alias".to_owned(), "alias/payments-data".to_owned()),
        ("KeyId".to_owned(), id.clone()),
    ];
    assert_eq!(dimensions, [vec![], key_dimensions]);

    // A second run changes no alarm.
    let run = keyward(
        &settings,
        Path::new("/dev/null"),
        &journal,
        &["metrics", "publish"],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.stdout.matches("already as the policy asks").count(),
        2,
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("created") && !run.stdout.contains("updated"),
        "{}",
        run.stdout
    );
}
