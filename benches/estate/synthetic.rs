//! A synthetic estate of any size, for the frame and memory figures that moto cannot reach
//! (100,000 keys would take it hours to serve).

use chrono::{DateTime, TimeDelta, Utc};
use keyward::estate::{
    Key, KeyManager, RegionFetch, RegionSnapshot, RotationFacts, RotationKind, RotationRecord, Tags,
};

/// Ten regions; keys are spread evenly over them.
pub const REGIONS: [&str; 10] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
];

fn key(region: &str, i: usize, now: DateTime<Utc>) -> Key {
    let id = format!("{:08x}-0000-4000-8000-{:012x}", i, i * 7919);
    let created = now - TimeDelta::days((i % 900) as i64 + 30);
    let rotations = i % 4;
    Key {
        arn: format!("arn:aws:kms:{region}:111122223333:key/{id}"),
        region: region.to_owned(),
        aliases: vec![format!("alias/svc-{:03}/key-{i:06}", i % 500)],
        description: format!("synthetic key {i} of team {}", i % 40),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        key_usage: "ENCRYPT_DECRYPT".into(),
        origin: "AWS_KMS".into(),
        manager: KeyManager::Customer,
        state: if i.is_multiple_of(50) {
            "Disabled"
        } else {
            "Enabled"
        }
        .into(),
        created: Some(created),
        deletion_date: None,
        custom_key_store_id: None,
        multi_region: None,
        tags: Tags::from([
            ("team".to_owned(), format!("team-{}", i % 40)),
            ("env".to_owned(), "prod".to_owned()),
        ]),
        rotation: RotationFacts {
            enabled: Some(!i.is_multiple_of(7)),
            period_days: Some(365),
            next_rotation: None,
            history: (0..rotations)
                .map(|r| RotationRecord {
                    date: created + TimeDelta::days(200 * (r as i64 + 1)),
                    kind: RotationKind::Automatic,
                })
                .collect(),
        },
        errors: Vec::new(),
        key_id: id,
    }
}

/// `total` keys over [`REGIONS`], one fetch per region, as the console receives them: each
/// region is made only when it is asked for, so no more than one exists beyond what the
/// console holds, as with live fetches.
pub fn fetches(total: usize, now: DateTime<Utc>) -> impl Iterator<Item = RegionFetch> {
    let per_region = total.div_ceil(REGIONS.len());
    REGIONS.iter().enumerate().map(move |(r, region)| {
        let keys = (r * per_region..((r + 1) * per_region).min(total))
            .map(|i| key(region, i, now))
            .collect();
        RegionFetch::from(RegionSnapshot {
            region: (*region).to_owned(),
            fetched_at: now,
            keys: Ok(keys),
            clusters: Ok(Vec::new()),
            alarms: Ok(Vec::new()),
        })
    })
}
