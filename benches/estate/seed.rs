//! Seeds the benchmark estate through moto's real API, with moto's per-key RSA generation
//! shared while the flag file exists (see `benches/moto/sitecustomize.py`).

use std::path::Path;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
use futures::StreamExt;
use keyward::aws::Clients;
use keyward::config::AwsSettings;

/// Requests the seeder keeps in flight.
const SEED_CONCURRENCY: usize = 32;

/// What one region gets.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Symmetric encryption keys, rotation on for six in seven: four reads per key.
    Symmetric,
    /// ECC signing keys, which cannot rotate: two reads per key.
    Signing,
}

/// Settings that reach moto with the emulator's credentials, a budget of `rps` per region and
/// `concurrency` requests in flight per region.
pub fn aws_settings(endpoint: &str, rps: u32, concurrency: usize) -> AwsSettings {
    AwsSettings {
        endpoint_url: Some(endpoint.to_owned()),
        static_credentials: Some(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "keyward-bench",
        )),
        requests_per_second: rps,
        max_concurrency: concurrency,
        operation_timeout: Duration::from_secs(60),
        ..AwsSettings::default()
    }
}

/// The alias of key `i` in `region`.
pub fn alias(region: &str, i: usize) -> String {
    format!("alias/bench-{region}-{i:04}")
}

/// Creates `count` keys in each region with an alias each; returns the seconds it took.
pub async fn seed(endpoint: &str, flag: &Path, regions: &[(&str, Kind)], count: usize) -> f64 {
    let names: Vec<String> = regions.iter().map(|(r, _)| r.to_string()).collect();
    let clients = Clients::new(&aws_settings(endpoint, 100_000, SEED_CONCURRENCY), &names).await;
    std::fs::write(flag, b"seeding\n").expect("write the fast-keys flag");
    let started = Instant::now();
    let jobs = regions.iter().flat_map(|&(region, kind)| {
        let kms = clients.region(region).expect("seeded region").kms.clone();
        (0..count).map(move |i| (kms.clone(), region, kind, i))
    });
    futures::stream::iter(jobs)
        .map(|(kms, region, kind, i)| async move { create(&kms, region, kind, i).await })
        .buffer_unordered(SEED_CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    let _ = std::fs::remove_file(flag);
    started.elapsed().as_secs_f64()
}

async fn create(kms: &aws_sdk_kms::Client, region: &str, kind: Kind, i: usize) {
    let team = Tag::builder()
        .tag_key("team")
        .tag_value(format!("team-{}", i % 12))
        .build()
        .expect("tag has key and value");
    let request = kms
        .create_key()
        .description(format!("bench key {i} in {region}"))
        .tags(team);
    let request = match kind {
        Kind::Symmetric => request,
        Kind::Signing => request
            .key_spec(KeySpec::EccNistP256)
            .key_usage(KeyUsageType::SignVerify),
    };
    let key_id = request
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("CreateKey metadata")
        .key_id;
    kms.create_alias()
        .alias_name(alias(region, i))
        .target_key_id(&key_id)
        .send()
        .await
        .expect("CreateAlias");
    if matches!(kind, Kind::Symmetric) && !i.is_multiple_of(7) {
        kms.enable_key_rotation()
            .key_id(&key_id)
            .send()
            .await
            .expect("EnableKeyRotation");
    }
}
