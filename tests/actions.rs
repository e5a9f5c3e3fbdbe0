//! Every `keyward key` action end to end against moto, through the real binary and the library,
//! with the estate read back through the AWS SDK afterwards: on-demand and manual rotation,
//! automatic rotation on and off, multi-region creation and replication, deletion scheduled
//! and cancelled, disabling and enabling; `--dry-run` changing nothing; the pre-flight refusals
//! in words; `--read-only`; and the audit journal a session of real actions leaves behind,
//! verified, tampered with, and written by several processes at once.
//!
//! One moto server serves the whole file; each test lives in an account of its own.
//!
//! moto accepts what AWS refuses, so for these cases only keyward's pre-flight check stands
//! between the operator and the call, and the tests prove it refused by finding the estate
//! unchanged: RotateKeyOnDemand and EnableKeyRotation on asymmetric and HMAC keys, on replicas
//! and on keys pending deletion; any RotationPeriodInDays; more than 25 on-demand rotations;
//! ReplicateKey of a single-region key or into a region that already holds the key.
//!
//! moto cannot exercise: the rotation period (GetKeyRotationStatus returns only whether
//! rotation is on, so `--period-days` is checked in the plan and the journal, not the estate);
//! ReplicateKey's Description, Policy and Tags (moto ignores them and copies the primary);
//! importing key material (an imported key stays PendingImport, so the manual rotation of one
//! is unit-tested in src/action/tests.rs); and AWS refusing a step for its own reasons, so the
//! failed step here is a region whose endpoint does not answer.

mod support;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use aws_sdk_kms::operation::create_key::builders::CreateKeyFluentBuilder;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, OriginType, RotationType, Tag};
use keyward::action::plan::Tag as PlanTag;
use keyward::action::{Confirmation, Context, Request};
use keyward::audit::{Journal, Operator, RecordKind};
use keyward::aws::Clients;
use keyward::config::Settings;
use keyward::sandbox::{MotoOptions, MotoServer};
use serde_json::{Value, json};
use support::estate;

const US: &str = "us-east-1";
const EU: &str = "eu-west-1";
const AP: &str = "ap-southeast-2";

/// The file's one moto server, started on first use on a runtime that lives as long as the
/// test process (each test has its own runtime, which would otherwise take the server's
/// output reader with it). moto exits when the process does, as its standard input closes.
fn moto() -> &'static MotoServer {
    static MOTO: OnceLock<MotoServer> = OnceLock::new();
    MOTO.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for moto");
            runtime.block_on(async {
                // A fixed directory under target/, so no temporary directory is left behind.
                let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("actions-moto");
                std::fs::create_dir_all(&dir).expect("create moto's directory");
                let started = MotoServer::start(MotoOptions {
                    dir: Some(dir),
                    movable_clock: false,
                })
                .await;
                sender.send(started).expect("the test waits for moto");
                std::future::pending::<()>().await;
            });
        });
        receiver
            .recv()
            .expect("moto's thread answers")
            .expect("start moto server (run scripts/install-deps if it is missing)")
    })
}

/// One run of the binary.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// Asserts exit 0 and that stdout holds every one of `lines`.
    #[track_caller]
    fn assert_ok(&self, lines: &[&str]) {
        assert_eq!(self.code, Some(0), "{self}");
        self.assert_says(lines);
    }

    #[track_caller]
    fn assert_says(&self, lines: &[&str]) {
        for line in lines {
            assert!(self.stdout.contains(line), "expected {line:?} in:\n{self}");
        }
    }

    /// Asserts the pre-flight refused, saying `why`, before anything ran.
    #[track_caller]
    fn assert_refused(&self, why: &str) {
        assert_eq!(self.code, Some(1), "{self}");
        assert!(
            self.stderr.contains("keyward: refused: ") && self.stderr.contains(why),
            "expected the refusal {why:?} in:\n{self}"
        );
        assert!(!self.stdout.contains("Running:"), "{self}");
    }

    /// The request ids the run printed for its steps, in order.
    fn request_ids(&self) -> Vec<String> {
        self.stdout
            .lines()
            .filter_map(|l| l.split("(request ").nth(1))
            .map(|id| id.trim_end_matches(')').to_owned())
            .collect()
    }
}

/// One test's estate: its own moto account, SDK clients for its regions, and a journal.
struct Estate {
    settings: Settings,
    clients: Clients,
    dir: tempfile::TempDir,
}

impl Estate {
    async fn new(regions: &[&str]) -> Estate {
        let settings = estate::settings(moto(), regions);
        let clients = estate::clients(&settings).await;
        Estate {
            settings,
            clients,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn account(&self) -> &str {
        self.settings.aws.emulator_account_id.as_deref().unwrap()
    }

    fn journal(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    /// `keyward ARGS` against this estate, journaling to this test's journal.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
        command
            .args(args)
            .envs(estate::binary_env(&self.settings))
            .env("KEYWARD_AUDIT_LOG", self.journal())
            .env_remove("KEYWARD_LOG");
        command
    }

    fn keyward(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("run keyward").into()
    }

    fn kms(&self, region: &str) -> &aws_sdk_kms::Client {
        &self
            .clients
            .region(region)
            .expect("a configured region")
            .kms
    }

    /// Creates a key in `region` shaped by `build`, with `aliases`; returns its id.
    async fn create_key(
        &self,
        region: &str,
        aliases: &[&str],
        build: impl FnOnce(CreateKeyFluentBuilder) -> CreateKeyFluentBuilder,
    ) -> String {
        let kms = self.kms(region);
        let created = build(kms.create_key()).send().await.expect("CreateKey");
        let key_id = created.key_metadata.unwrap().key_id;
        for alias in aliases {
            kms.create_alias()
                .alias_name(*alias)
                .target_key_id(&key_id)
                .send()
                .await
                .expect("CreateAlias");
        }
        key_id
    }

    async fn metadata(&self, region: &str, key: &str) -> aws_sdk_kms::types::KeyMetadata {
        let described = self.kms(region).describe_key().key_id(key).send().await;
        described
            .unwrap_or_else(|e| panic!("DescribeKey {key} in {region}: {e:?}"))
            .key_metadata
            .unwrap()
    }

    async fn exists(&self, region: &str, key: &str) -> bool {
        self.kms(region)
            .describe_key()
            .key_id(key)
            .send()
            .await
            .is_ok()
    }

    async fn state(&self, region: &str, key: &str) -> KeyState {
        self.metadata(region, key).await.key_state.unwrap()
    }

    /// The type of every rotation ListKeyRotations reports, every page.
    async fn rotations(&self, region: &str, key: &str) -> Vec<RotationType> {
        let pages = self.kms(region).list_key_rotations().key_id(key);
        let rotations: Result<Vec<_>, _> = pages.into_paginator().items().send().collect().await;
        rotations
            .expect("ListKeyRotations")
            .into_iter()
            .map(|r| r.rotation_type.unwrap())
            .collect()
    }

    async fn rotation_enabled(&self, region: &str, key: &str) -> bool {
        let status = self.kms(region).get_key_rotation_status().key_id(key);
        status
            .send()
            .await
            .expect("GetKeyRotationStatus")
            .key_rotation_enabled
    }

    /// The key `alias` names in `region`, if any.
    async fn alias_target(&self, region: &str, alias: &str) -> Option<String> {
        let aliases: Result<Vec<_>, _> = self
            .kms(region)
            .list_aliases()
            .into_paginator()
            .items()
            .send()
            .collect()
            .await;
        aliases
            .expect("ListAliases")
            .into_iter()
            .find(|a| a.alias_name.as_deref() == Some(alias))
            .and_then(|a| a.target_key_id)
    }

    async fn key_count(&self, region: &str) -> usize {
        let keys = self.kms(region).list_keys().send().await.expect("ListKeys");
        keys.keys.unwrap_or_default().len()
    }

    async fn tags(&self, region: &str, key: &str) -> BTreeMap<String, String> {
        let tags = self.kms(region).list_resource_tags().key_id(key).send();
        let tags = tags
            .await
            .expect("ListResourceTags")
            .tags
            .unwrap_or_default();
        tags.into_iter().map(|t| (t.tag_key, t.tag_value)).collect()
    }

    async fn policy(&self, region: &str, key: &str) -> Value {
        let policy = self
            .kms(region)
            .get_key_policy()
            .key_id(key)
            .policy_name("default");
        let policy = policy.send();
        let text = policy.await.expect("GetKeyPolicy").policy.unwrap();
        serde_json::from_str(&text).expect("a key policy is JSON")
    }

    /// The journal's entries as stored, one JSON value a line; none when there is no journal.
    fn entries(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.journal()) {
            Ok(text) => text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("read the journal: {e}"),
        }
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder()
        .tag_key(key)
        .tag_value(value)
        .build()
        .unwrap()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_now_plans_with_dry_run_and_rotates_once_with_yes() {
    let estate = Estate::new(&[US]).await;
    let key = estate
        .create_key(US, &["alias/payments-data"], |c| c.description("payments"))
        .await;

    // Step 1: without --dry-run or --yes nothing is planned or run.
    let run = estate.keyward(&["key", "rotate", "alias/payments-data"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr
            .contains("say --dry-run to see the plan, or --yes to run it"),
        "{run}"
    );

    // An unknown key is an error (exit 2), not a refusal.
    let run = estate.keyward(&["key", "rotate", "alias/no-such-key", "--yes"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr
            .contains("no key \"alias/no-such-key\" in us-east-1"),
        "{run}"
    );

    // Step 2: the dry run prints the plan, with the account and the quota, and changes nothing.
    let run = estate.keyward(&["key", "rotate", "alias/payments-data", "--dry-run"]);
    run.assert_ok(&[
        "Rotate alias/payments-data now (on demand)",
        &format!("Account: {}", estate.account()),
        "(alias/payments-data) in us-east-1",
        "Risk: routine",
        &format!("1. [us-east-1] RotateKeyOnDemand KeyId={key}"),
        "on-demand rotations used: 1 of 25",
        "automatic rotation stays off",
        "Dry run: nothing was changed.",
    ]);
    assert!(estate.rotations(US, &key).await.is_empty());
    assert!(!estate.journal().exists());

    // Step 3: --yes rotates once, on demand, with the request id, journaled and re-read.
    let run = estate.keyward(&["key", "rotate", "alias/payments-data", "--yes"]);
    run.assert_ok(&[
        "Running:",
        "1. [us-east-1] RotateKeyOnDemand: succeeded (request ",
        "Journaled as entry 1 in ",
        &format!("[us-east-1] {key} (alias/payments-data): Enabled"),
    ]);
    assert_eq!(run.request_ids().len(), 1, "{run}");
    assert_eq!(estate.rotations(US, &key).await, [RotationType::OnDemand]);

    // Step 4: named by key id this time, the plan counts the rotation already made.
    let run = estate.keyward(&["key", "rotate", &key, "--yes"]);
    run.assert_ok(&["on-demand rotations used: 2 of 25"]);
    assert_eq!(estate.rotations(US, &key).await.len(), 2);

    // Step 5: with all 25 on-demand rotations used, keyward refuses. moto has no such limit (it
    // would rotate a 26th time), so the unchanged count shows the pre-flight check refused.
    for _ in 0..23 {
        let rotate = estate.kms(US).rotate_key_on_demand().key_id(&key).send();
        rotate.await.expect("RotateKeyOnDemand");
    }
    let run = estate.keyward(&["key", "rotate", "alias/payments-data", "--yes"]);
    run.assert_refused(
        "all 25 on-demand rotations AWS allows for this key are used; use manual rotation to a \
         successor key",
    );
    assert_eq!(estate.rotations(US, &key).await.len(), 25);
    assert_eq!(estate.entries().len(), 2);
}

/// A key AWS rotates that moves to a successor (its on-demand rotations used up, say) hands
/// its schedule on: the successor must not start with rotation off. moto reports no
/// rotation period, so the successor gets the policy's; against AWS it gets the key's.
#[tokio::test(flavor = "multi_thread")]
async fn a_manual_successor_of_a_rotating_key_rotates_too() {
    let estate = Estate::new(&[US]).await;
    let old = estate
        .create_key(US, &["alias/ledger-sealing"], |c| c)
        .await;
    estate
        .kms(US)
        .enable_key_rotation()
        .key_id(&old)
        .rotation_period_in_days(180)
        .send()
        .await
        .expect("enable rotation");

    let run = estate.keyward(&["key", "rotate-manual", "alias/ledger-sealing", "--dry-run"]);
    run.assert_ok(&[
        "EnableKeyRotation KeyId=<key created by step 1>",
        "the successor rotates automatically every",
    ]);
    let run = estate.keyward(&["key", "rotate-manual", "alias/ledger-sealing", "--yes"]);
    run.assert_ok(&["Journaled as entry 1"]);
    let new = estate
        .alias_target(US, "alias/ledger-sealing")
        .await
        .expect("the alias names the successor");
    assert_ne!(new, old);
    assert!(estate.rotation_enabled(US, &new).await);
    assert!(
        estate.rotation_enabled(US, &old).await,
        "the old key is left as it was"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn manual_rotation_copies_the_key_and_moves_every_alias() {
    let estate = Estate::new(&[US]).await;
    let account = estate.account().to_owned();
    let policy = json!({
        "Version": "2012-10-17",
        "Id": "document-signing",
        "Statement": [
            {
                "Sid": "Enable IAM policies",
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:aws:iam::{account}:root") },
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "Signers sign",
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:aws:iam::{account}:role/signer") },
                "Action": ["kms:Sign", "kms:GetPublicKey"],
                "Resource": "*"
            }
        ]
    });
    let old = estate
        .create_key(
            US,
            &["alias/document-signing", "alias/contract-signing"],
            |c| {
                c.key_spec(KeySpec::Rsa2048)
                    .key_usage(KeyUsageType::SignVerify)
                    .description("signs customer documents")
                    .policy(policy.to_string())
                    .tags(tag("team", "documents"))
                    .tags(tag("cost-centre", "4711"))
            },
        )
        .await;

    // Step 1: the dry run shows a destructive plan that copies everything, and changes nothing.
    let run = estate.keyward(&[
        "key",
        "rotate-manual",
        "alias/document-signing",
        "--dry-run",
    ]);
    run.assert_ok(&[
        "Rotate alias/contract-signing manually to a successor key",
        "Risk: DESTRUCTIVE",
        "1. [us-east-1] CreateKey KeySpec=RSA_2048 KeyUsage=SIGN_VERIFY Origin=AWS_KMS \
         MultiRegion=false Description=\"signs customer documents\", copied policy (",
        "Tags: team=documents, cost-centre=4711",
        "UpdateAlias alias/contract-signing -> <key created by step 1>",
        "UpdateAlias alias/document-signing -> <key created by step 1>",
        &format!("TagResource KeyId={old} keyward:successor=<key created by step 1>"),
        &format!("TagResource KeyId=<key created by step 1> keyward:predecessor={old}"),
        "the old key stays enabled so data encrypted under it still decrypts",
        "To confirm, type: alias/contract-signing",
        "Dry run: nothing was changed.",
    ]);
    assert_eq!(estate.key_count(US).await, 1);
    assert_eq!(
        estate.alias_target(US, "alias/document-signing").await,
        Some(old.clone())
    );

    // Step 2: --yes makes the successor and moves both aliases to it.
    let run = estate.keyward(&["key", "rotate-manual", "alias/document-signing", "--yes"]);
    run.assert_ok(&["Journaled as entry 1"]);
    assert_eq!(run.request_ids().len(), 5, "{run}");
    let new = estate
        .alias_target(US, "alias/document-signing")
        .await
        .expect("the alias still names a key");
    assert_ne!(new, old);
    assert_eq!(
        estate.alias_target(US, "alias/contract-signing").await,
        Some(new.clone())
    );

    // Step 3: the successor has the same spec, usage, description, policy and tags.
    let successor = estate.metadata(US, &new).await;
    assert_eq!(successor.key_spec, Some(KeySpec::Rsa2048));
    assert_eq!(successor.key_usage, Some(KeyUsageType::SignVerify));
    assert_eq!(
        successor.description.as_deref(),
        Some("signs customer documents")
    );
    assert_eq!(successor.key_state, Some(KeyState::Enabled));
    assert_ne!(successor.multi_region, Some(true));
    assert_eq!(estate.policy(US, &new).await, policy);

    // Step 4: the two keys name each other, and the old one still decrypts (stays Enabled).
    assert_eq!(
        estate.tags(US, &new).await,
        map(&[
            ("cost-centre", "4711"),
            ("team", "documents"),
            ("keyward:predecessor", &old)
        ])
    );
    assert_eq!(
        estate.tags(US, &old).await,
        map(&[
            ("cost-centre", "4711"),
            ("team", "documents"),
            ("keyward:successor", &new)
        ])
    );
    assert_eq!(estate.state(US, &old).await, KeyState::Enabled);
    run.assert_says(&[
        &format!("[us-east-1] {new} (alias/contract-signing): Enabled"),
        &format!("[us-east-1] {old} ("),
    ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn manual_rotation_through_the_library_reports_the_successor() {
    let estate = Estate::new(&[US]).await;
    let old = estate
        .create_key(US, &["alias/webhook-signing"], |c| {
            c.key_spec(KeySpec::Hmac256)
                .key_usage(KeyUsageType::GenerateVerifyMac)
                .description("webhook MACs")
                .tags(tag("team", "edge"))
        })
        .await;
    let region = estate.clients.region(US).unwrap();
    let key = keyward::aws::fetch_key(region, "alias/webhook-signing")
        .await
        .expect("fetch the key");
    let ctx = Context {
        read_only: false,
        regions: vec![US.into()],
        account: Some(estate.account().into()),
        assumed_period_days: 365,
    };

    // Step 1: what is offered for an HMAC key read from moto, each refusal in words.
    let offers = keyward::action::offers(&key, &ctx);
    let verdict = |request: &Request| {
        let found = offers.iter().find(|(r, _)| r == request);
        found
            .unwrap_or_else(|| panic!("{request:?} offered"))
            .1
            .clone()
    };
    for request in [
        Request::RotateNow,
        Request::EnableRotation { period_days: 90 },
    ] {
        let refusal = verdict(&request).unwrap_err().0;
        assert_eq!(
            refusal,
            "AWS cannot rotate this HMAC key; use manual rotation to a successor key"
        );
    }
    assert_eq!(verdict(&Request::ManualRotate), Ok(()));
    assert_eq!(verdict(&Request::Disable), Ok(()));
    assert!(
        verdict(&Request::Enable)
            .unwrap_err()
            .0
            .contains("the key is Enabled; this needs a key that is Disabled")
    );
    assert_eq!(
        verdict(&Request::CancelDeletion).unwrap_err().0,
        "the key is not pending deletion"
    );

    // Step 2: the plan copies what read_extras found, and runs step by step with request ids.
    let extras = keyward::action::read_extras(region, &key).await.unwrap();
    assert_eq!(extras.tags, [PlanTag::text("team", "edge")]);
    assert!(extras.policy.is_some());
    let plan = keyward::action::plan(&Request::ManualRotate, &key, &extras, &ctx).unwrap();
    let mut heard = Vec::new();
    let outcome =
        keyward::action::execute(&plan, &estate.clients, |step| heard.push(step.index)).await;
    assert!(outcome.succeeded(), "{outcome:#?}");
    assert_eq!(heard, (0..plan.steps.len()).collect::<Vec<_>>());
    assert!(
        outcome.steps.iter().all(|s| s.request_id.is_some()),
        "{outcome:#?}"
    );
    let new = outcome.steps[0]
        .created_key
        .clone()
        .expect("CreateKey made a key");
    assert_eq!(
        outcome.touched_keys(&plan),
        [(US.to_owned(), new.clone()), (US.to_owned(), old.clone())]
    );

    // Step 3: the estate agrees.
    let successor = estate.metadata(US, &new).await;
    assert_eq!(successor.key_spec, Some(KeySpec::Hmac256));
    assert_eq!(successor.key_usage, Some(KeyUsageType::GenerateVerifyMac));
    assert_eq!(
        estate.alias_target(US, "alias/webhook-signing").await,
        Some(new.clone())
    );
    assert_eq!(
        estate.tags(US, &new).await,
        map(&[("team", "edge"), ("keyward:predecessor", &old)])
    );
    assert_eq!(estate.state(US, &old).await, KeyState::Enabled);

    // Step 4: the run and a cancelled plan go to the journal, which the binary vouches for.
    let journal = Journal::at(estate.journal());
    let operator = Operator::local();
    let entry = keyward::action::record(
        &journal,
        &operator,
        &plan,
        Confirmation::TypedName,
        Some(&outcome),
    )
    .unwrap();
    assert_eq!(entry.seq, 1);
    assert_eq!(entry.kind, RecordKind::Action);
    assert_eq!(
        entry.summary,
        "Rotate alias/webhook-signing manually to a successor key: succeeded"
    );
    assert_eq!(entry.details["confirmation"], "typed_name");
    assert_eq!(entry.details["outcome"]["steps"][0]["created_key"], new);
    let fresh = keyward::aws::fetch_key(region, &new).await.unwrap();
    let plan = keyward::action::plan(&Request::Disable, &fresh, &Default::default(), &ctx).unwrap();
    let cancelled =
        keyward::action::record(&journal, &operator, &plan, Confirmation::Cancelled, None).unwrap();
    assert_eq!(cancelled.kind, RecordKind::Cancelled);
    assert_eq!(
        cancelled.summary,
        "Disable alias/webhook-signing: cancelled"
    );
    assert_eq!(estate.state(US, &new).await, KeyState::Enabled);

    let run = estate.keyward(&["audit", "verify"]);
    run.assert_ok(&["intact, 2 entries"]);
    let run = estate.keyward(&["audit", "show"]);
    run.assert_ok(&[
        "action     ",
        "Rotate alias/webhook-signing manually to a successor key: succeeded",
        "cancelled  ",
        "Disable alias/webhook-signing: cancelled",
    ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn automatic_rotation_is_enabled_with_a_period_and_disabled() {
    let estate = Estate::new(&[US]).await;
    let key = estate.create_key(US, &["alias/ledger"], |c| c).await;

    // Step 1: periods outside 90..=2560 are refused before any call. moto accepts any period,
    // so rotation still being off shows no call was made.
    for days in ["30", "89", "2561"] {
        let run = estate.keyward(&[
            "key",
            "enable-rotation",
            "alias/ledger",
            "--period-days",
            days,
            "--yes",
        ]);
        run.assert_refused(&format!(
            "a rotation period of {days} days is not allowed: AWS accepts 90 to 2560 days"
        ));
    }
    assert!(!estate.rotation_enabled(US, &key).await);

    // Step 2: a dry run names the period and leaves rotation off.
    let enable = [
        "key",
        "enable-rotation",
        "alias/ledger",
        "--period-days",
        "180",
    ];
    let run = estate.keyward(&[&enable[..], &["--dry-run"]].concat());
    run.assert_ok(&[
        "Enable automatic rotation of alias/ledger every 180 days",
        &format!("1. [us-east-1] EnableKeyRotation KeyId={key} RotationPeriodInDays=180"),
        "AWS rotates the key material every 180 days",
    ]);
    assert!(!estate.rotation_enabled(US, &key).await);

    // Step 3: --yes turns it on; moto does not report the period, so the journal is the witness.
    let run = estate.keyward(&[&enable[..], &["--yes"]].concat());
    run.assert_ok(&["1. [us-east-1] EnableKeyRotation: succeeded (request "]);
    assert!(estate.rotation_enabled(US, &key).await);
    let entries = estate.entries();
    assert_eq!(
        entries[0]["details"]["plan"]["steps"][0]["call"]["period_days"],
        180
    );

    // Step 4: disable turns it off; disabling again is refused, as there is nothing to do.
    let run = estate.keyward(&["key", "disable-rotation", "alias/ledger", "--yes"]);
    run.assert_ok(&[
        "Disable automatic rotation of alias/ledger",
        "1. [us-east-1] DisableKeyRotation: succeeded",
    ]);
    assert!(!estate.rotation_enabled(US, &key).await);
    let run = estate.keyward(&["key", "disable-rotation", "alias/ledger", "--yes"]);
    run.assert_refused("automatic rotation is already off");
    assert_eq!(estate.entries().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_region_keys_are_created_and_replicated_from_the_primary_only() {
    let estate = Estate::new(&[US, EU, AP]).await;
    let create = [
        "key",
        "create-multi-region",
        "--alias",
        "alias/settlements",
        "--description",
        "settlement files",
        "--replica",
        EU,
        "--period-days",
        "180",
    ];

    // Step 1: bad input is refused before any call.
    let run = estate.keyward(&[
        "key",
        "create-multi-region",
        "--alias",
        "alias/aws/mine",
        "--yes",
    ]);
    run.assert_refused("\"alias/aws/mine\" is not an alias keyward can create");
    let run = estate.keyward(&[&create[..8], &["--period-days", "60", "--yes"]].concat());
    run.assert_refused("a rotation period of 60 days is not allowed");
    let run = estate.keyward(&[&create[..6], &["--replica", US, "--yes"]].concat());
    run.assert_refused("us-east-1 is the primary's region; choose other replica regions");

    // Step 2: the dry run plans the key, its alias, rotation and replica, and makes nothing.
    let run = estate.keyward(&[&create[..], &["--dry-run"]].concat());
    run.assert_ok(&[
        "Create multi-region key alias/settlements in us-east-1",
        "1. [us-east-1] CreateKey KeySpec=SYMMETRIC_DEFAULT KeyUsage=ENCRYPT_DECRYPT \
         Origin=AWS_KMS MultiRegion=true Description=\"settlement files\"",
        "2. [us-east-1] CreateAlias alias/settlements -> <key created by step 1>",
        "3. [us-east-1] EnableKeyRotation KeyId=<key created by step 1> RotationPeriodInDays=180",
        "4. [us-east-1] ReplicateKey KeyId=<key created by step 1> ReplicaRegion=eu-west-1",
        "5. [eu-west-1] CreateAlias alias/settlements -> <key created by step 1>",
        "Dry run: nothing was changed.",
    ]);
    assert_eq!(estate.key_count(US).await, 0);

    // Step 3: --yes makes a rotating multi-region primary, its replica, and both aliases.
    let run = estate.keyward(&[&create[..], &["--yes"]].concat());
    run.assert_ok(&["5. [eu-west-1] CreateAlias: succeeded"]);
    let id = estate
        .alias_target(US, "alias/settlements")
        .await
        .expect("the alias names the new key");
    assert!(id.starts_with("mrk-"), "{id}");
    let primary = estate.metadata(US, &id).await;
    assert_eq!(primary.multi_region, Some(true));
    assert_eq!(primary.description.as_deref(), Some("settlement files"));
    assert!(estate.rotation_enabled(US, &id).await);
    let primary_arn = primary.arn.unwrap();
    assert_eq!(
        estate.alias_target(EU, "alias/settlements").await,
        Some(id.clone())
    );
    let replica_arn = estate.metadata(EU, &id).await.arn.unwrap();
    assert!(replica_arn.contains(":eu-west-1:"), "{replica_arn}");

    // Step 4: the alias now names a key in two regions, so replication asks for the ARN.
    let run = estate.keyward(&["key", "replicate", "alias/settlements", "--to", AP, "--yes"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr.contains(
            "\"alias/settlements\" exists in us-east-1, eu-west-1: name one with --region, or \
             give the key's ARN"
        ),
        "{run}"
    );

    // Step 5: from the primary, by ARN: a dry run, then the replica and its alias.
    let replicate = ["key", "replicate", &primary_arn, "--to", AP];
    let run = estate.keyward(&[&replicate[..], &["--dry-run"]].concat());
    run.assert_ok(&[
        "Replicate alias/settlements into ap-southeast-2",
        &format!("1. [us-east-1] ReplicateKey KeyId={id} ReplicaRegion=ap-southeast-2"),
        &format!("2. [ap-southeast-2] CreateAlias alias/settlements -> {id}"),
        "aliases are not replicated by AWS; the plan creates them",
    ]);
    assert!(!estate.exists(AP, &id).await);
    let run = estate.keyward(&[&replicate[..], &["--yes"]].concat());
    run.assert_ok(&["2. [ap-southeast-2] CreateAlias: succeeded"]);
    assert!(
        estate
            .metadata(AP, &id)
            .await
            .arn
            .unwrap()
            .contains(":ap-southeast-2:")
    );
    assert_eq!(
        estate.alias_target(AP, "alias/settlements").await,
        Some(id.clone())
    );
    assert_eq!(estate.entries().len(), 2);

    // Step 6: a region that already holds the key, a replica as the source, a rotation of a
    // replica, and a successor for a multi-region key are refused. moto would replicate and
    // rotate again, so the journal staying at two entries shows the pre-flight refused.
    let run = estate.keyward(&["key", "replicate", &primary_arn, "--to", EU, "--yes"]);
    run.assert_refused("eu-west-1 already holds this key");
    let run = estate.keyward(&["key", "replicate", &replica_arn, "--to", US, "--yes"]);
    run.assert_refused("replicas are made from the primary, which is in us-east-1");
    let run = estate.keyward(&["key", "rotate", &replica_arn, "--yes"]);
    run.assert_refused(
        "this is a replica; it rotates with its primary in us-east-1: act on the primary",
    );
    let run = estate.keyward(&["key", "disable-rotation", &replica_arn, "--yes"]);
    run.assert_refused("this is a replica");
    let run = estate.keyward(&["key", "rotate-manual", &primary_arn, "--yes"]);
    run.assert_refused("multi-region keys are not rotated by successor");
    assert!(estate.rotations(US, &id).await.is_empty());
    assert!(estate.rotation_enabled(US, &id).await);

    // Step 7: a primary without replicas, replicated into its own region (a configured region
    // that is not the last one searched), is refused rather than found twice.
    let fx = estate
        .create_key(US, &["alias/fx-rates"], |c| c.multi_region(true))
        .await;
    let run = estate.keyward(&["key", "replicate", "alias/fx-rates", "--to", US, "--yes"]);
    run.assert_refused("us-east-1 already holds this key");

    // Step 8: a new key's alias must be free in every region of the plan, or the plan would
    // leave behind a key its alias step could not name.
    let keys_before = (estate.key_count(US).await, estate.key_count(EU).await);
    let run = estate.keyward(&[
        "key",
        "create-multi-region",
        "--alias",
        "alias/fx-rates",
        "--yes",
    ]);
    run.assert_refused(&format!(
        "alias/fx-rates already names key {fx} in us-east-1; choose another alias"
    ));
    let eu_only = estate.create_key(EU, &["alias/eu-ledger"], |c| c).await;
    let run = estate.keyward(&[
        "key",
        "create-multi-region",
        "--alias",
        "alias/eu-ledger",
        "--replica",
        EU,
        "--dry-run",
    ]);
    run.assert_refused(&format!(
        "alias/eu-ledger already names key {eu_only} in eu-west-1; choose another alias"
    ));
    assert_eq!(
        (estate.key_count(US).await, estate.key_count(EU).await),
        (keys_before.0, keys_before.1 + 1)
    );

    // Step 9: a single-region key is refused; moto would have copied it into eu-west-1.
    let local = estate.create_key(US, &["alias/local-only"], |c| c).await;
    let run = estate.keyward(&["key", "replicate", "alias/local-only", "--to", EU, "--yes"]);
    run.assert_refused("only multi-region keys can be replicated; this is a single-region key");
    assert!(!estate.exists(EU, &local).await);
    assert!(!estate.exists(EU, &fx).await);
    assert_eq!(estate.entries().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn deletion_is_scheduled_and_cancelled_and_keys_disabled_and_enabled() {
    let estate = Estate::new(&[US]).await;
    let key = estate.create_key(US, &["alias/old-reports"], |c| c).await;
    let action = |action: &str, extra: &[&str]| {
        let args = [&["key", action, "alias/old-reports"][..], extra].concat();
        estate.keyward(&args)
    };

    // Step 1: waiting periods outside 7..=30 days are refused before any call.
    for days in ["6", "31"] {
        let run = action("schedule-deletion", &["--days", days, "--yes"]);
        run.assert_refused(&format!(
            "a waiting period of {days} days is not allowed: AWS accepts 7 to 30 days"
        ));
    }
    assert_eq!(estate.state(US, &key).await, KeyState::Enabled);

    // Step 2: the dry run shows a destructive plan and leaves the key alone.
    let run = action("schedule-deletion", &["--days", "7", "--dry-run"]);
    run.assert_ok(&[
        "Schedule deletion of alias/old-reports in 7 days",
        "Risk: DESTRUCTIVE",
        &format!("1. [us-east-1] ScheduleKeyDeletion KeyId={key} PendingWindowInDays=7"),
        "To confirm, type: alias/old-reports",
    ]);
    assert_eq!(estate.state(US, &key).await, KeyState::Enabled);

    // Step 3: --yes schedules it seven days out.
    let run = action("schedule-deletion", &["--days", "7", "--yes"]);
    run.assert_ok(&["1. [us-east-1] ScheduleKeyDeletion: succeeded"]);
    let doomed = estate.metadata(US, &key).await;
    assert_eq!(doomed.key_state, Some(KeyState::PendingDeletion));
    let waiting_days =
        (doomed.deletion_date.unwrap().secs() - chrono::Utc::now().timestamp()) as f64 / 86_400.0;
    assert!((6.0..=7.0).contains(&waiting_days), "{waiting_days}");

    // Step 4: everything but cancelling is refused while deletion is pending. moto would rotate
    // a key pending deletion, so no rotation appearing shows the pre-flight refused.
    for (name, extra) in [
        ("rotate", &[][..]),
        ("enable-rotation", &[][..]),
        ("rotate-manual", &[][..]),
        ("disable", &[][..]),
        ("enable", &[][..]),
        ("schedule-deletion", &["--days", "30"][..]),
    ] {
        let run = action(name, &[extra, &["--yes"]].concat());
        run.assert_refused("the key is pending deletion; cancel the deletion first");
    }
    assert!(estate.rotations(US, &key).await.is_empty());
    assert!(!estate.rotation_enabled(US, &key).await);
    assert_eq!(estate.key_count(US).await, 1);

    // Step 5: cancelling brings it back disabled; cancelling again has nothing to cancel.
    let run = action("cancel-deletion", &["--yes"]);
    run.assert_ok(&[
        "Cancel the deletion of alias/old-reports",
        "the key is kept, in the Disabled state",
    ]);
    assert_eq!(estate.state(US, &key).await, KeyState::Disabled);
    action("cancel-deletion", &["--yes"]).assert_refused("the key is not pending deletion");

    // Step 6: a disabled key cannot rotate, can be enabled, not enabled twice, and disabled.
    action("rotate", &["--yes"])
        .assert_refused("the key is Disabled; this needs a key that is Enabled");
    action("enable", &["--yes"]).assert_ok(&["1. [us-east-1] EnableKey: succeeded"]);
    assert_eq!(estate.state(US, &key).await, KeyState::Enabled);
    action("enable", &["--yes"])
        .assert_refused("the key is Enabled; this needs a key that is Disabled");
    action("disable", &["--dry-run"]).assert_ok(&[
        "Disable alias/old-reports",
        "Risk: DESTRUCTIVE",
        "applications can no longer encrypt or decrypt with this key",
    ]);
    assert_eq!(estate.state(US, &key).await, KeyState::Enabled);
    action("disable", &["--yes"]).assert_ok(&["1. [us-east-1] DisableKey: succeeded"]);
    assert_eq!(estate.state(US, &key).await, KeyState::Disabled);
    assert_eq!(estate.entries().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_aws_cannot_rotate_or_keyward_may_not_touch_are_refused_in_words() {
    let estate = Estate::new(&[US]).await;
    let rsa = estate
        .create_key(US, &["alias/partner-exchange"], |c| {
            c.key_spec(KeySpec::Rsa2048)
                .key_usage(KeyUsageType::EncryptDecrypt)
        })
        .await;
    let ecc = estate
        .create_key(US, &["alias/release-signing"], |c| {
            c.key_spec(KeySpec::EccNistP256)
                .key_usage(KeyUsageType::SignVerify)
        })
        .await;
    let hmac = estate
        .create_key(US, &["alias/webhook-mac"], |c| {
            c.key_spec(KeySpec::Hmac256)
                .key_usage(KeyUsageType::GenerateVerifyMac)
        })
        .await;
    let imported = estate
        .create_key(US, &["alias/partner-import"], |c| {
            c.origin(OriginType::External)
        })
        .await;
    // Referring to an AWS managed alias makes moto create the key, as AWS does on first use.
    let managed = estate.metadata(US, "alias/aws/ebs").await.key_id;

    // Step 1: on-demand and automatic rotation of keys AWS cannot rotate. moto accepts both
    // calls for these keys, so only the pre-flight check keeps them from being made.
    for (alias, key, kind) in [
        ("alias/partner-exchange", &rsa, "asymmetric key"),
        ("alias/release-signing", &ecc, "asymmetric key"),
        ("alias/webhook-mac", &hmac, "HMAC key"),
        ("alias/partner-import", &imported, "imported key material"),
    ] {
        for action in [
            &["rotate"][..],
            &["enable-rotation", "--period-days", "365"],
        ] {
            let args = [&["key", action[0], alias][..], &action[1..], &["--yes"]].concat();
            estate.keyward(&args).assert_refused(&format!(
                "AWS cannot rotate this {kind}; use manual rotation to a successor key"
            ));
        }
        assert!(estate.rotations(US, key).await.is_empty(), "{alias}");
        assert!(!estate.rotation_enabled(US, key).await, "{alias}");
    }

    // moto never imports key material, so the imported key stays PendingImport: its manual
    // rotation is refused for its state here (the plan for an enabled one is unit-tested).
    estate
        .keyward(&["key", "rotate-manual", "alias/partner-import", "--yes"])
        .assert_refused("the key is PendingImport; this needs a key that is Enabled");

    // Step 2: an AWS managed key is refused every action.
    for action in [
        &["rotate"][..],
        &["rotate-manual"],
        &["disable-rotation"],
        &["disable"],
        &["schedule-deletion", "--days", "7"],
    ] {
        let args = [
            &["key", action[0], "alias/aws/ebs"][..],
            &action[1..],
            &["--yes"],
        ]
        .concat();
        estate
            .keyward(&args)
            .assert_refused("AWS manages this key and rotates it yearly; it cannot be changed");
    }
    assert_eq!(estate.state(US, &managed).await, KeyState::Enabled);
    assert_eq!(estate.key_count(US).await, 5);
    assert!(!estate.journal().exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_mode_refuses_every_action() {
    let estate = Estate::new(&[US, EU]).await;
    let key = estate.create_key(US, &["alias/ledger"], |c| c).await;
    let refusal = "read-only mode: keyward offers no action that changes keys";

    // Step 1: the flag refuses every action, planned or run.
    let actions: [&[&str]; 10] = [
        &["rotate", "alias/ledger"],
        &["rotate-manual", "alias/ledger"],
        &["enable-rotation", "alias/ledger", "--period-days", "90"],
        &["disable-rotation", "alias/ledger"],
        &["replicate", "alias/ledger", "--to", EU],
        &["schedule-deletion", "alias/ledger", "--days", "7"],
        &["cancel-deletion", "alias/ledger"],
        &["disable", "alias/ledger"],
        &["enable", "alias/ledger"],
        &[
            "create-multi-region",
            "--alias",
            "alias/new",
            "--replica",
            EU,
        ],
    ];
    for action in actions {
        for mode in ["--yes", "--dry-run"] {
            let args = [&["--read-only", "key"][..], action, &[mode]].concat();
            estate.keyward(&args).assert_refused(refusal);
        }
    }

    // Step 2: so does `read_only = true` in the configuration file.
    let config = estate.dir.path().join("keyward.toml");
    std::fs::write(&config, "read_only = true\n").unwrap();
    let run: Run = estate
        .command(&["key", "rotate", "alias/ledger", "--yes"])
        .env("KEYWARD_CONFIG", &config)
        .output()
        .unwrap()
        .into();
    run.assert_refused(refusal);

    // Step 3: nothing changed and nothing was journaled.
    assert!(estate.rotations(US, &key).await.is_empty());
    assert!(!estate.rotation_enabled(US, &key).await);
    assert_eq!(estate.state(US, &key).await, KeyState::Enabled);
    assert_eq!(estate.key_count(US).await, 1);
    assert_eq!(estate.alias_target(US, "alias/new").await, None);
    assert!(!estate.exists(EU, &key).await);
    assert!(!estate.journal().exists());
}

/// A copy of the estate's journal and head file, edited by `edit` line by line, as verified by
/// the binary.
fn verify_tampered(estate: &Estate, name: &str, edit: impl FnOnce(&mut Vec<String>)) -> Run {
    let dir = estate.dir.path().join(name);
    std::fs::create_dir(&dir).unwrap();
    let copy = dir.join("audit.jsonl");
    let text = std::fs::read_to_string(estate.journal()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    edit(&mut lines);
    std::fs::write(&copy, lines.join("\n") + "\n").unwrap();
    let head = |journal: &Path| PathBuf::from(format!("{}.head", journal.display()));
    std::fs::copy(head(&estate.journal()), head(&copy)).unwrap();
    estate
        .command(&["audit", "verify"])
        .env("KEYWARD_AUDIT_LOG", &copy)
        .output()
        .unwrap()
        .into()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_of_actions_leaves_a_journal_that_verifies_and_names_tampering() {
    let estate = Estate::new(&[US]).await;
    estate.create_key(US, &["alias/ledger"], |c| c).await;
    // eu-west-1's endpoint does not answer, so a plan reaching it fails there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = estate.dir.path().join("keyward.toml");
    std::fs::write(
        &config,
        format!(
            "[aws]\nmax_attempts = 1\nconnect_timeout_secs = 1\n\
             endpoints = {{ \"eu-west-1\" = \"http://127.0.0.1:{closed_port}\" }}\n"
        ),
    )
    .unwrap();
    let keyward = |args: &[&str]| -> Run {
        let mut command = estate.command(args);
        // The operator came in over SSH from a documentation address.
        command
            .env("KEYWARD_CONFIG", &config)
            .env("SSH_CLIENT", "203.0.113.7 52345 22")
            .env_remove("SSH_CONNECTION");
        command.output().unwrap().into()
    };

    // Step 1: a session of four actions that succeed.
    let rotated = keyward(&["key", "rotate", "alias/ledger", "--yes"]);
    rotated.assert_ok(&["Journaled as entry 1"]);
    keyward(&[
        "key",
        "enable-rotation",
        "alias/ledger",
        "--period-days",
        "365",
        "--yes",
    ])
    .assert_ok(&["Journaled as entry 2"]);
    keyward(&["key", "disable", "alias/ledger", "--yes"]).assert_ok(&["Journaled as entry 3"]);
    keyward(&["key", "enable", "alias/ledger", "--yes"]).assert_ok(&["Journaled as entry 4"]);

    // Step 2: a plan whose fifth step fails: exit 1, the failure said, the rest skipped, and
    // still journaled.
    let run = keyward(&[
        "key",
        "create-multi-region",
        "--alias",
        "alias/ledger-dr",
        "--replica",
        "eu-west-1,ap-southeast-2",
        "--yes",
    ]);
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_says(&[
        "4. [us-east-1] ReplicateKey: succeeded",
        "5. [eu-west-1] CreateAlias: FAILED: ",
        "6. [us-east-1] ReplicateKey: skipped",
        "7. [ap-southeast-2] CreateAlias: skipped",
        "Journaled as entry 5",
    ]);

    // Step 3: the journal holds the session as it happened.
    let entries = estate.entries();
    let summaries: Vec<&str> = entries
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        summaries[..4],
        [
            "Rotate alias/ledger now (on demand): succeeded",
            "Enable automatic rotation of alias/ledger every 365 days: succeeded",
            "Disable alias/ledger: succeeded",
            "Enable alias/ledger: succeeded",
        ]
    );
    assert!(
        summaries[4].starts_with("Create multi-region key alias/ledger-dr in us-east-1: FAILED: "),
        "{}",
        summaries[4]
    );
    let first = &entries[0];
    assert_eq!(first["kind"], "action");
    assert_eq!(first["details"]["confirmation"], "yes_flag");
    assert_eq!(first["details"]["plan"]["account"], estate.account());
    assert_eq!(first["operator"]["ssh_client"], "203.0.113.7");
    assert!(
        first["operator"]["aws_identity"]
            .as_str()
            .unwrap()
            .contains(estate.account()),
        "{first}"
    );
    assert_eq!(
        first["details"]["outcome"]["steps"][0]["request_id"],
        rotated.request_ids()[0]
    );
    let statuses: Vec<&str> = entries[4]["details"]["outcome"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "succeeded",
            "succeeded",
            "succeeded",
            "succeeded",
            "failed",
            "skipped",
            "skipped"
        ]
    );

    // Step 4: the binary vouches for the chain and lists it.
    keyward(&["audit", "verify"]).assert_ok(&["intact, 5 entries"]);
    let shown = keyward(&["audit", "show"]);
    shown.assert_ok(&summaries);
    shown.assert_says(&[" via 203.0.113.7 "]);

    // Step 5: an edited entry (the period changed after the fact) is named.
    let run = verify_tampered(&estate, "edited", |lines| {
        assert!(lines[1].contains("\"period_days\":365"), "{}", lines[1]);
        lines[1] = lines[1].replace("\"period_days\":365", "\"period_days\":90");
    });
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_says(&[
        "BROKEN at line 2 (entry 2): its content does not match its hash: the entry was altered",
    ]);

    // Step 6: a deleted entry (the disabling) is named by the entry found in its place.
    let run = verify_tampered(&estate, "deleted", |lines| {
        lines.remove(2);
    });
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_says(&[
        "BROKEN at line 3 (entry 4): expected entry 3 here but found 4: entries were removed or \
         reordered",
    ]);

    // Step 7: swapped entries are named at the first one out of place.
    let run = verify_tampered(&estate, "swapped", |lines| lines.swap(1, 2));
    assert_eq!(run.code, Some(1), "{run}");
    run.assert_says(&["BROKEN at line 2 (entry 3): expected entry 2 here but found 3"]);

    // The original is untouched by all of this.
    keyward(&["audit", "verify"]).assert_ok(&["intact, 5 entries"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn keyward_processes_appending_at_once_keep_a_verified_chain() {
    let estate = Estate::new(&[US]).await;
    let keys = [
        estate.create_key(US, &["alias/orders"], |c| c).await,
        estate.create_key(US, &["alias/invoices"], |c| c).await,
    ];
    const RUNS_PER_KEY: usize = 3;

    // Step 1: six processes, three per key, started together, each journaling its rotation.
    let children: Vec<_> = ["alias/orders", "alias/invoices"]
        .iter()
        .flat_map(|alias| std::iter::repeat_n(*alias, RUNS_PER_KEY))
        .map(|alias| {
            estate
                .command(&["key", "rotate", alias, "--yes"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start keyward")
        })
        .collect();
    for child in children {
        let run: Run = child.wait_with_output().unwrap().into();
        run.assert_ok(&["Journaled as entry "]);
    }

    // Step 2: every rotation happened, and the chain holds one entry for each, in order.
    for key in &keys {
        assert_eq!(estate.rotations(US, key).await.len(), RUNS_PER_KEY);
    }
    estate
        .keyward(&["audit", "verify"])
        .assert_ok(&["intact, 6 entries"]);
    let entries = estate.entries();
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    for alias in ["alias/orders", "alias/invoices"] {
        let summary = format!("Rotate {alias} now (on demand): succeeded");
        let count = entries.iter().filter(|e| e["summary"] == summary).count();
        assert_eq!(count, RUNS_PER_KEY, "{alias}");
    }
}

/// A drill of a key the estate does not hold checks nothing, and must not pass for it.
#[tokio::test(flavor = "multi_thread")]
async fn a_drill_of_a_key_that_is_not_there_fails() {
    let estate = Estate::new(&[US]).await;
    let run = estate.keyward(&["drill", "--key", "alias/nonexistent"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout
            .contains("no multi-region primary key named alias/nonexistent"),
        "{run}"
    );
}

/// A drill imagines losing a region keyward watches; any other is refused before anything runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_drill_losing_an_unwatched_region_is_refused() {
    let estate = Estate::new(&[US]).await;
    let run = estate.keyward(&["drill", "--lose", "eu-west-1"]);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr.contains("--lose eu-west-1") && run.stderr.contains("watched are us-east-1"),
        "{run}"
    );
    assert_eq!(estate.entries().len(), 0, "nothing journaled");
}
