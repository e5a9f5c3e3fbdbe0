//! The sandbox against a real moto server: the seeded estate read back through keyward's own
//! inventory, and `keyward sandbox --no-tui` as a second shell uses it.
//!
//! Needs scripts/install-deps (moto in .venv, libfaketime, SoftHSM2). Every test waits on
//! conditions with deadlines; none asserts on how long anything took.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use keyward::aws::Clients;
use keyward::estate::{AlarmState, KeyManager, MultiRegionRole};
use keyward::inventory::{Inventory, KeyRecord};
use keyward::rotation::{NotRotatableReason, RotationStatus};
use keyward::sandbox::{self, MotoError, MotoOptions, MotoServer, plan};

/// Starting moto and seeding take seconds; a slow CI machine gets ample room.
const SANDBOX_DEADLINE: Duration = Duration::from_secs(240);

fn key<'a>(inventory: &'a Inventory, region: &str, alias: &str) -> &'a KeyRecord {
    inventory
        .keys
        .iter()
        .find(|k| k.region == region && k.aliases.iter().any(|a| a == alias))
        .unwrap_or_else(|| panic!("no key {alias} in {region}"))
}

fn days_ago(date: Option<DateTime<Utc>>, now: DateTime<Utc>) -> i64 {
    (now - date.expect("a date")).num_days()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seeded_estate_comes_back_with_every_kind_and_real_past_dates() {
    // Step 1: moto with a movable clock, and an account of this test's own.
    let moto = MotoServer::start(MotoOptions {
        movable_clock: true,
        ..MotoOptions::default()
    })
    .await
    .expect("start moto (run scripts/install-deps first)");
    let account = sandbox::random_account_id().expect("account id");
    let seeded = sandbox::seed(&moto, Some(&account)).await.expect("seed");
    assert_eq!((seeded.clusters, seeded.alarms), (3, 3));

    // Step 2: read it back as `keyward inventory` does.
    let regions: Vec<String> = plan::REGIONS.iter().map(|r| r.to_string()).collect();
    let settings = sandbox::aws_settings(moto.endpoint_url(), Some(&account));
    let clients = Clients::new(&settings, &regions).await;
    let snapshots = keyward::aws::fetch_all(&clients).await;
    let now = Utc::now();
    let policy = keyward::config::RotationPolicy::default();
    let inventory = Inventory::build(&snapshots, &policy, now);
    for region in &inventory.regions {
        assert!(
            region.error.is_none(),
            "{}: {:?}",
            region.region,
            region.error
        );
        assert!(
            region.clusters_error.is_none(),
            "{:?}",
            region.clusters_error
        );
        assert!(region.alarms_error.is_none(), "{:?}", region.alarms_error);
    }
    for record in &inventory.keys {
        assert!(
            record.errors.is_empty(),
            "{} {:?}",
            record.key_id,
            record.errors
        );
    }

    // Step 3: the domain keys carry the API's own past dates and every verdict occurs.
    let payments = key(&inventory, "us-east-1", "alias/payments-data");
    assert_eq!(days_ago(payments.created, now), 512, "created months ago");
    assert_eq!(days_ago(payments.rotation.view.last_rotated, now), 62);
    assert_eq!(payments.rotation.view.status, RotationStatus::Ok);
    assert_eq!(payments.rotation.history.len(), 3);
    let ledger = key(&inventory, "eu-west-1", "alias/ledger-data");
    assert_eq!(ledger.rotation.view.status, RotationStatus::DueSoon);
    assert_eq!(days_ago(ledger.rotation.view.last_rotated, now), 88);
    let pii = key(&inventory, "eu-west-1", "alias/customer-pii");
    assert_eq!(pii.rotation.view.status, RotationStatus::Overdue);
    assert!(pii.rotation.view.days_left.expect("countdown") < -10);
    let legacy = key(&inventory, "eu-west-1", "alias/legacy-reporting");
    assert_eq!(legacy.rotation.view.status, RotationStatus::Disabled);
    assert_eq!(legacy.rotation.enabled, Some(false));

    // Step 4: the keys AWS cannot rotate, and those rotation does not apply to.
    let signing = key(&inventory, "us-east-1", "alias/document-signing");
    assert_eq!(
        (signing.key_spec.as_str(), signing.key_usage.as_str()),
        ("ECC_NIST_P256", "SIGN_VERIFY")
    );
    assert_eq!(
        signing.rotation.view.not_rotatable,
        Some(NotRotatableReason::Asymmetric)
    );
    let hmac = key(&inventory, "eu-west-1", "alias/webhook-signing");
    assert_eq!(
        (hmac.key_spec.as_str(), hmac.key_usage.as_str()),
        ("HMAC_256", "GENERATE_VERIFY_MAC")
    );
    assert_eq!(
        hmac.rotation.view.not_rotatable,
        Some(NotRotatableReason::Hmac)
    );
    let import = key(&inventory, "ap-southeast-2", "alias/partner-import");
    assert_eq!(
        (import.origin.as_str(), import.state.as_str()),
        ("EXTERNAL", "PendingImport")
    );
    assert_eq!(import.rotation.view.status, RotationStatus::NotRotatable);
    let archive = key(&inventory, "ap-southeast-2", "alias/archive-2023");
    assert_eq!(archive.state, "Disabled");
    assert_eq!(archive.rotation.view.status, RotationStatus::NotApplicable);
    let retired = key(&inventory, "us-east-1", "alias/batch-exports-2023");
    assert_eq!(retired.state, "PendingDeletion");
    let deletion_in = retired.deletion_date.expect("deletion date") - now;
    assert!(
        deletion_in > TimeDelta::days(19) && deletion_in < TimeDelta::days(22),
        "{deletion_in}"
    );
    for region in plan::REGIONS {
        let ebs = key(&inventory, region, plan::AWS_MANAGED_ALIAS);
        assert_eq!(ebs.manager, KeyManager::Aws);
        assert_eq!(ebs.rotation.view.status, RotationStatus::AwsManaged);
    }

    // Step 5: the multi-region key, its replicas and its alias in every region.
    let primary = key(&inventory, "us-east-1", "alias/settlements-data");
    assert!(primary.key_id.starts_with("mrk-"));
    assert_eq!(primary.multi_region, Some(MultiRegionRole::Primary));
    assert_eq!(primary.replica_regions, ["ap-southeast-2", "eu-west-1"]);
    assert_eq!(primary.rotation.view.status, RotationStatus::Ok);
    for region in ["eu-west-1", "ap-southeast-2"] {
        let replica = key(&inventory, region, "alias/settlements-data");
        assert_eq!(replica.key_id, primary.key_id);
        assert_eq!(replica.multi_region, Some(MultiRegionRole::Replica));
        assert_eq!(replica.primary_region.as_deref(), Some("us-east-1"));
        assert_eq!(replica.rotation.view.status, RotationStatus::Replica);
    }

    // Step 6: one cluster per region with a fresh backup; the alarms, one firing.
    assert_eq!(inventory.clusters.len(), 3);
    for cluster in &inventory.clusters {
        assert_eq!(
            (cluster.state.as_str(), cluster.hsm_type.as_str()),
            ("ACTIVE", "hsm1.medium")
        );
        assert_eq!(cluster.backup_retention_days, Some(90));
        let backup = cluster.latest_backup.as_ref().expect("a backup");
        assert_eq!(backup.state, "READY");
        assert!(days_ago(backup.created, now) < 2);
    }
    assert_eq!(inventory.alarms.len(), 3);
    for alarm in &inventory.alarms {
        assert_eq!(alarm.name, plan::ROTATION_ALARM);
        assert_eq!(alarm.metric.as_deref(), Some(plan::METRIC_NAME));
        assert_eq!(alarm.threshold, Some(85.0));
        if alarm.region == plan::ALARM_REGION {
            assert_eq!(alarm.state, AlarmState::Alarm);
            assert!(alarm.reason.contains(&pii.key_id), "{}", alarm.reason);
            assert!(days_ago(alarm.since, now) > 10, "ALARM since a past day");
        } else {
            assert_eq!(alarm.state, AlarmState::Ok, "{}", alarm.region);
        }
    }

    moto.stop().await.expect("stop moto");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fixed_clock_refuses_to_move_and_a_stopped_server_is_gone() {
    let moto = MotoServer::start(MotoOptions::default())
        .await
        .expect("start moto");
    assert!(matches!(
        moto.set_clock_offset(TimeDelta::days(-1)),
        Err(MotoError::ClockFixed)
    ));
    assert!(matches!(
        sandbox::seed(&moto, None).await,
        Err(sandbox::SeedError::Clock(MotoError::ClockFixed))
    ));
    let pid = moto.pid().expect("running");
    moto.stop().await.expect("stop");
    assert!(!process_exists(pid), "moto {pid} still runs after stop");
}

#[test]
fn no_tui_prints_exports_and_ready_and_a_second_shell_reaches_the_estate() {
    let config = tempfile::NamedTempFile::new().expect("empty config");
    let mut sandbox = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args([
            "--config",
            config.path().to_str().unwrap(),
            "sandbox",
            "--no-tui",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keyward sandbox");
    let stderr = drain(sandbox.stderr.take().unwrap());

    // Step 1: export lines, then `ready`.
    let lines = lines_of(sandbox.stdout.take().unwrap());
    let deadline = Instant::now() + SANDBOX_DEADLINE;
    let mut exports = BTreeMap::new();
    loop {
        let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        else {
            let _ = sandbox.kill();
            let printed = stderr.recv_timeout(SANDBOX_DEADLINE).unwrap_or_default();
            panic!("no `ready` line; keyward's stderr:\n{printed}");
        };
        if line == "ready" {
            break;
        }
        let (name, value) = line
            .strip_prefix("export ")
            .and_then(|l| l.split_once('='))
            .unwrap_or_else(|| panic!("not an export line: {line}"));
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .expect("quoted");
        exports.insert(name.to_owned(), value.to_owned());
    }
    for name in [
        "KEYWARD_ENDPOINT_URL",
        "KEYWARD_REGIONS",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "SOFTHSM2_CONF",
        "KEYWARD_PKCS11_MODULE",
    ] {
        assert!(
            exports.contains_key(name),
            "{name} not exported: {exports:?}"
        );
    }
    assert!(exports["KEYWARD_ENDPOINT_URL"].starts_with("http://127.0.0.1:"));
    assert_eq!(
        exports["KEYWARD_REGIONS"],
        "us-east-1,eu-west-1,ap-southeast-2"
    );
    let dir = Path::new(&exports["SOFTHSM2_CONF"])
        .parent()
        .expect("sandbox dir")
        .to_path_buf();

    // Step 2: the PINs are in a private file, and nowhere in what keyward printed.
    let pins_file = dir.join(sandbox::PINS_FILE);
    let mode = std::fs::metadata(&pins_file)
        .expect("pins file")
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let pins = std::fs::read_to_string(&pins_file).expect("read pins");
    let pin_values: Vec<String> = pins
        .lines()
        .filter_map(|l| l.split_once('=').map(|(_, v)| v.to_owned()))
        .collect();
    assert_eq!(
        pin_values.len(),
        2,
        "{pins_file:?} holds the SO and user PINs"
    );

    // Step 3: a second shell with the exports sees the seeded estate.
    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["inventory", "--format", "json"])
        .envs(&exports)
        .output()
        .expect("run keyward inventory");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("inventory JSON");
    let statuses: Vec<&str> = json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["rotation"]["status"].as_str())
        .collect();
    for status in [
        "ok",
        "due_soon",
        "overdue",
        "disabled",
        "not_rotatable",
        "replica",
        "aws_managed",
        "not_applicable",
    ] {
        assert!(
            statuses.contains(&status),
            "no key is {status}: {statuses:?}"
        );
    }

    // Step 4: SIGTERM stops keyward, its moto server, and removes the temporary directory.
    let moto_pids = children_of(sandbox.id());
    assert_eq!(moto_pids.len(), 1, "one moto child: {moto_pids:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sandbox.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("send SIGTERM");
    let status = wait_exit(&mut sandbox, SANDBOX_DEADLINE);
    assert!(status.success(), "{status}");
    let moto_pid = moto_pids[0];
    wait_until("the moto child to be gone", || !process_exists(moto_pid));
    assert!(!dir.exists(), "{} left behind", dir.display());

    let printed = stderr
        .recv_timeout(SANDBOX_DEADLINE)
        .expect("stderr closes");
    for pin in &pin_values {
        assert!(!printed.contains(pin.as_str()), "a PIN was printed");
    }
    assert!(
        printed.contains(pins_file.to_str().unwrap()),
        "the pins file is named: {printed}"
    );
}

/// Lines of `stream`, as they come, on a channel.
fn lines_of(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// The whole of `stream`, once it closes.
fn drain(mut stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        let _ = send.send(text);
    });
    receive
}

fn process_exists(pid: u32) -> bool {
    // A zombie has exited; only its parent's wait is missing.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

fn children_of(parent: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
    {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat: PathBuf = entry.path().join("stat");
        let Ok(stat) = std::fs::read_to_string(stat) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok());
        if ppid == Some(parent) {
            children.push(pid);
        }
    }
    children
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "keyward sandbox did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
