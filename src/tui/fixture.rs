//! A small estate for the console's own tests: every rotation status, a multi-region key
//! with its replica, a key whose rotation call was denied, clusters, alarms in each state
//! and a PKCS#11 token, all at a fixed moment.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::app::{App, Message};
use crate::config::Settings;
use crate::estate::{
    Alarm, AlarmState, Backup, Cluster, HsmSnapshot, Key, KeyManager, MultiRegion, MultiRegionRole,
    Pkcs11Library, RegionSnapshot, RotationFacts, RotationKind, RotationRecord, SlotView,
    SourceError, TokenView,
};

pub const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

/// The moment every fixture is judged at.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap()
}

fn days_ago(days: i64) -> DateTime<Utc> {
    now() - Duration::days(days)
}

/// A customer-managed symmetric key rotated on demand `rotated` days ago (or never).
pub fn key(region: &str, id: &str, alias: &str, rotated: Option<i64>) -> Key {
    Key {
        arn: format!("arn:aws:kms:{region}:111122223333:key/{id}"),
        region: region.into(),
        key_id: id.into(),
        aliases: vec![alias.into()],
        description: format!("{alias} in {region}"),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        key_usage: "ENCRYPT_DECRYPT".into(),
        origin: "AWS_KMS".into(),
        manager: KeyManager::Customer,
        state: "Enabled".into(),
        created: Some(days_ago(400)),
        deletion_date: None,
        custom_key_store_id: None,
        multi_region: None,
        tags: [("domain".to_owned(), "payments".to_owned())].into(),
        rotation: RotationFacts {
            enabled: Some(true),
            period_days: None,
            next_rotation: None,
            history: rotated
                .map(|d| RotationRecord {
                    date: days_ago(d),
                    kind: RotationKind::OnDemand,
                })
                .into_iter()
                .collect(),
        },
        errors: Vec::new(),
    }
}

fn keys(region: &str) -> Vec<Key> {
    let n = REGIONS.iter().position(|r| *r == region).unwrap_or(0);
    let id = |name: &str| format!("{name}-{n}");
    let mut keys = vec![
        key(
            region,
            &id("k-ok"),
            "alias/payments-data",
            Some(10 + n as i64),
        ),
        key(region, &id("k-due"), "alias/ledger-data", Some(87)),
    ];
    if region == "eu-west-1" {
        keys.push(key(region, &id("k-over"), "alias/customer-pii", Some(105)));
        let mut off = key(region, &id("k-off"), "alias/legacy-reporting", Some(200));
        off.rotation.enabled = Some(false);
        keys.push(off);
    }
    if region == "us-east-1" {
        let mut ecc = key(region, &id("k-ecc"), "alias/document-signing", None);
        ecc.key_spec = "ECC_NIST_P256".into();
        ecc.key_usage = "SIGN_VERIFY".into();
        ecc.rotation = RotationFacts::default();
        keys.push(ecc);
        let mut gone = key(region, &id("k-del"), "alias/batch-exports-2023", None);
        gone.state = "PendingDeletion".into();
        gone.deletion_date = Some(now() + Duration::days(6));
        keys.push(gone);
        let mut denied = key(region, &id("k-denied"), "alias/settlements-audit", None);
        denied.rotation.enabled = None;
        denied.errors.push(SourceError {
            operation: "GetKeyRotationStatus".into(),
            code: "AccessDeniedException".into(),
            message: "not authorized".into(),
            request_id: Some("req-1".into()),
        });
        keys.push(denied);
    }
    let mut managed = key(region, &id("k-aws"), "alias/aws/ebs", None);
    managed.manager = KeyManager::Aws;
    keys.push(managed);

    // One multi-region key: primary in us-east-1, replicas elsewhere.
    let mut mrk = key(region, "mrk-1234", "alias/settlements-data", Some(30));
    mrk.arn = format!("arn:aws:kms:{region}:111122223333:key/mrk-1234");
    mrk.multi_region = Some(MultiRegion {
        role: if region == "us-east-1" {
            MultiRegionRole::Primary
        } else {
            MultiRegionRole::Replica
        },
        primary_arn: "arn:aws:kms:us-east-1:111122223333:key/mrk-1234".into(),
        primary_region: "us-east-1".into(),
        replica_regions: vec!["eu-west-1".into(), "ap-southeast-2".into()],
    });
    keys.push(mrk);
    keys
}

pub fn snapshot(region: &str) -> RegionSnapshot {
    let cluster = Cluster {
        id: format!("cluster-{region}"),
        region: region.into(),
        state: "ACTIVE".into(),
        state_message: None,
        hsm_type: "hsm1.medium".into(),
        hsms: Vec::new(),
        backup_retention_days: Some(90),
        latest_backup: Some(Backup {
            id: format!("backup-{region}"),
            state: "READY".into(),
            created: Some(days_ago(1)),
            source_region: None,
        }),
        created: Some(days_ago(300)),
    };
    let state = match region {
        "eu-west-1" => AlarmState::Alarm,
        "ap-southeast-2" => AlarmState::InsufficientData,
        _ => AlarmState::Ok,
    };
    let alarm = Alarm {
        name: "KeyRotationDelay".into(),
        region: region.into(),
        state,
        reason: format!("{} for the fixture", state.label()),
        since: Some(days_ago(3)),
        namespace: Some("Custom/KMS".into()),
        metric: Some("DaysSinceLastRotation".into()),
        threshold: Some(85.0),
        comparison: Some("GreaterThanThreshold".into()),
    };
    RegionSnapshot {
        region: region.into(),
        fetched_at: now(),
        keys: Ok(keys(region)),
        clusters: Ok(vec![cluster]),
        alarms: Ok(vec![alarm]),
    }
}

pub fn hsm() -> HsmSnapshot {
    let token = TokenView {
        label: "root-ca-2026".into(),
        manufacturer: "SoftHSM project".into(),
        model: "SoftHSM v2".into(),
        serial: "0a1b2c3d4e5f6071".into(),
        initialized: true,
        user_pin_initialized: true,
        login_required: true,
        user_pin_count_low: false,
        user_pin_final_try: false,
        user_pin_locked: false,
        user_pin_to_be_changed: false,
        so_pin_count_low: false,
        so_pin_final_try: false,
        so_pin_locked: false,
        so_pin_to_be_changed: false,
        min_pin_len: 4,
        max_pin_len: 255,
        free_public_memory: None,
        total_public_memory: None,
        free_private_memory: None,
        total_private_memory: None,
    };
    let mut free = token.clone();
    free.initialized = false;
    free.label = String::new();
    HsmSnapshot {
        library: Pkcs11Library {
            path: "/usr/lib/softhsm/libsofthsm2.so".into(),
            description: "Implementation of PKCS11".into(),
            manufacturer: "SoftHSM".into(),
            cryptoki_version: "2.40".into(),
            library_version: "2.6".into(),
        },
        slots: vec![
            SlotView {
                slot_id: 1_790_520_477,
                description: "SoftHSM slot ID 0x6ab92c9d".into(),
                manufacturer: "SoftHSM project".into(),
                token: Some(token),
            },
            SlotView {
                slot_id: 1,
                description: "SoftHSM slot ID 0x1".into(),
                manufacturer: "SoftHSM project".into(),
                token: Some(free),
            },
        ],
    }
}

pub fn settings() -> Settings {
    Settings {
        regions: REGIONS.iter().map(|r| r.to_string()).collect(),
        ..Settings::default()
    }
}

/// An app holding the whole fixture estate, as after the first refresh.
pub fn app() -> App {
    let mut app = App::new(&settings(), now());
    app.start();
    for region in REGIONS {
        app.update(Message::Region(snapshot(region).into()));
    }
    app.update(Message::Hsm(Ok(hsm()), now()));
    app.update(Message::Identity(Ok((
        "111122223333".into(),
        "arn:aws:iam::111122223333:user/oncall".into(),
    ))));
    app.update(Message::Journal(Ok(super::app::JournalView {
        path: "/home/oncall/.local/share/keyward/audit.jsonl".into(),
        entries: Vec::new(),
        verification: None,
    })));
    app
}
