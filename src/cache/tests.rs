//! The cache's file modes, atomic replacement, scope and schema checks, and round trip.

use super::*;

const SCOPE: &str = "endpoint http://127.0.0.1:1 profile - account 111122223333";

fn error(request_id: Option<&str>) -> SourceError {
    SourceError {
        operation: "ListResourceTags".into(),
        code: "AccessDeniedException".into(),
        message: "not allowed".into(),
        request_id: request_id.map(str::to_owned),
    }
}

fn key(id: &str) -> Key {
    let at = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0);
    Key {
        arn: format!("arn:aws:kms:eu-west-1:111122223333:key/{id}"),
        region: "eu-west-1".into(),
        key_id: id.into(),
        aliases: vec!["alias/payments".into()],
        description: "payments".into(),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        key_usage: "ENCRYPT_DECRYPT".into(),
        origin: "AWS_KMS".into(),
        manager: KeyManager::Customer,
        state: "PendingDeletion".into(),
        created: at(0),
        deletion_date: at(86_400),
        custom_key_store_id: Some("cks-1".into()),
        multi_region: Some(MultiRegion {
            role: MultiRegionRole::Replica,
            primary_arn: "arn:aws:kms:us-east-1:111122223333:key/mrk-1".into(),
            primary_region: "us-east-1".into(),
            replica_regions: vec!["eu-west-1".into()],
        }),
        tags: [("team".into(), "payments".into())].into(),
        rotation: RotationFacts {
            enabled: Some(true),
            period_days: Some(90),
            next_rotation: at(3_600),
            history: vec![
                RotationRecord {
                    date: at(10).unwrap(),
                    kind: RotationKind::Automatic,
                },
                RotationRecord {
                    date: at(20).unwrap(),
                    kind: RotationKind::OnDemand,
                },
            ],
        },
        errors: vec![error(Some("req-1")), error(None)],
    }
}

fn snapshots() -> Vec<RegionSnapshot> {
    let cluster = Cluster {
        id: "cluster-1".into(),
        region: "eu-west-1".into(),
        state: "ACTIVE".into(),
        state_message: None,
        hsm_type: "hsm1.medium".into(),
        hsms: vec![Hsm {
            id: "hsm-1".into(),
            state: "ACTIVE".into(),
            availability_zone: "eu-west-1a".into(),
            ip_address: Some("10.0.0.1".into()),
        }],
        backup_retention_days: Some(90),
        latest_backup: Some(Backup {
            id: "backup-1".into(),
            state: "READY".into(),
            created: DateTime::from_timestamp(1_700_000_000, 0),
            source_region: Some("us-east-1".into()),
        }),
        created: None,
    };
    let alarm = Alarm {
        name: "kms-errors".into(),
        region: "eu-west-1".into(),
        state: AlarmState::InsufficientData,
        reason: "new".into(),
        since: None,
        namespace: Some("AWS/KMS".into()),
        metric: Some("Errors".into()),
        threshold: Some(1.5),
        comparison: Some("GreaterThanThreshold".into()),
    };
    vec![
        RegionSnapshot {
            region: "eu-west-1".into(),
            fetched_at: DateTime::from_timestamp(1_700_000_500, 0).unwrap(),
            keys: Ok(vec![key("k-1"), key("k-2")]),
            clusters: Ok(vec![cluster]),
            alarms: Ok(vec![alarm]),
        },
        RegionSnapshot {
            region: "us-east-1".into(),
            fetched_at: DateTime::from_timestamp(1_700_000_600, 0).unwrap(),
            keys: Err(error(Some("req-2"))),
            clusters: Err(error(None)),
            alarms: Ok(Vec::new()),
        },
    ]
}

fn assert_same(a: &[RegionSnapshot], b: &[RegionSnapshot]) {
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(b) {
        assert_eq!(a.region, b.region);
        assert_eq!(a.fetched_at, b.fetched_at);
        assert_eq!(a.keys, b.keys);
        assert_eq!(a.clusters, b.clusters);
        assert_eq!(a.alarms, b.alarms);
    }
}

#[test]
fn snapshots_come_back_as_they_were_saved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache/keyward").join(FILE_NAME);
    let saved = snapshots();
    save(&path, SCOPE, &saved).unwrap();

    let cached = load(&path, SCOPE).expect("the cache loads");
    assert_same(&saved, &cached.regions);
    assert!(cached.written_at <= Utc::now());
}

#[test]
fn only_the_user_can_read_the_file_or_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("keyward");
    fs::create_dir(&cache_dir).unwrap();
    fs::set_permissions(&cache_dir, fs::Permissions::from_mode(0o755)).unwrap();
    let path = cache_dir.join(FILE_NAME);
    save(&path, SCOPE, &snapshots()).unwrap();
    // A second save replaces the first in one step and leaves no staging file behind.
    save(&path, SCOPE, &snapshots()[1..]).unwrap();

    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&cache_dir), 0o700);
    let names: Vec<_> = fs::read_dir(&cache_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [FILE_NAME]);
    assert_eq!(load(&path, SCOPE).unwrap().regions.len(), 1);
}

#[test]
fn unusable_files_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    assert!(load(&path, SCOPE).is_none(), "missing");

    save(&path, SCOPE, &snapshots()).unwrap();
    assert!(load(&path, "another estate").is_none(), "other scope");

    let text = fs::read_to_string(&path).unwrap();
    let other_version = text.replacen(&format!("\"schema\":{SCHEMA_VERSION}"), "\"schema\":999", 1);
    assert_ne!(other_version, text);
    fs::write(&path, other_version).unwrap();
    assert!(load(&path, SCOPE).is_none(), "other schema version");

    fs::write(&path, &text[..text.len() / 2]).unwrap();
    assert!(load(&path, SCOPE).is_none(), "truncated");

    fs::write(&path, &text).unwrap();
    assert!(load(&path, SCOPE).is_some(), "whole again");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    assert!(load(&path, SCOPE).is_none(), "readable by others");
}
