//! Failures the data layer survives, driven by a fault-injecting loopback proxy in front of a
//! moto server: one region (eu-west-1) talks to moto through the proxy, the other two directly.
//! A region whose endpoint refuses, hangs or drops its answers fails alone, with its own
//! classified error, within its deadline, keeps its last good data and recovers on the next
//! fetch; throttling is retried with backoff inside the region's request budget, is counted,
//! and costs no key; missing credentials say which profile and source failed.
//!
//! Waits are on conditions: every fetch must finish within `FETCH_DEADLINE`, far beyond the
//! short deadlines configured here, and the budget is checked by counting requests at the
//! proxy, not by timing them.
//!
//! moto cannot exercise: credentials that AWS rejects or that expire (moto accepts any
//! credentials, so only the classification of those error codes is unit-tested); AWS's own
//! throttling, its quotas and any `Retry-After` hints (the proxy stands in for throttling); the
//! SDK's default credential chain (the tests name a profile or give fixed credentials).

mod support;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use keyward::aws::{Clients, ErrorClass, fetch_all, fetch_all_counted};
use keyward::config::{AwsSettings, Settings};
use keyward::estate::{Estate, RegionFetch, RegionSnapshot};
use keyward::inventory::Inventory;
use keyward::sandbox::moto::MotoServer;
use support::estate;
use support::proxy::{Fault, FaultProxy};

const PROXIED: &str = "eu-west-1";
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
/// Longer than any deadline configured here, so a fetch that outlives it waited without one.
const FETCH_DEADLINE: Duration = Duration::from_secs(120);

/// moto, the proxy in front of eu-west-1, and clients that reach moto directly for the other
/// regions, with keys seeded in each region.
struct Stand {
    _moto: MotoServer,
    proxy: FaultProxy,
    settings: Settings,
    clients: Clients,
    /// Seeded key ids per region, in `REGIONS` order.
    seeded: Vec<BTreeSet<String>>,
}

impl Stand {
    /// Seeds `proxied_keys` keys in eu-west-1 and two in each other region, directly, then
    /// builds clients with short deadlines (adjusted by `tune`) and eu-west-1 behind the proxy.
    async fn new(proxied_keys: usize, tune: impl FnOnce(&mut AwsSettings)) -> Stand {
        let moto = estate::moto(false).await;
        let mut settings = estate::settings(&moto, &REGIONS);

        let direct = estate::clients(&settings).await;
        let mut seeded = Vec::new();
        for region in REGIONS {
            let kms = &direct.region(region).unwrap().kms;
            let count = if region == PROXIED { proxied_keys } else { 2 };
            let created = futures::future::join_all(
                (0..count).map(|_| kms.create_key().description("resilience").send()),
            )
            .await;
            seeded.push(
                created
                    .into_iter()
                    .map(|out| out.unwrap().key_metadata.unwrap().key_id)
                    .collect(),
            );
        }

        let proxy = FaultProxy::start(moto.endpoint_url()).await;
        settings
            .aws
            .region_endpoints
            .insert(PROXIED.into(), proxy.url());
        settings.aws.connect_timeout = Duration::from_secs(1);
        settings.aws.operation_timeout = Duration::from_secs(2);
        settings.aws.max_attempts = 2;
        tune(&mut settings.aws);
        let clients = estate::clients(&settings).await;
        Stand {
            _moto: moto,
            proxy,
            settings,
            clients,
            seeded,
        }
    }

    /// One fetch of every region; fails the test if it outlives `FETCH_DEADLINE`.
    async fn fetch(&self) -> Vec<RegionSnapshot> {
        within_deadline("fetching every region", fetch_all(&self.clients)).await
    }

    /// Like [`fetch`](Self::fetch), with each region's throttled attempts.
    async fn fetch_counted(&self) -> Vec<RegionFetch> {
        within_deadline("fetching every region", fetch_all_counted(&self.clients)).await
    }

    fn seeded(&self, region: &str) -> &BTreeSet<String> {
        &self.seeded[REGIONS.iter().position(|r| *r == region).unwrap()]
    }

    /// Asserts that every region but eu-west-1 was read in full.
    fn assert_direct_regions_complete(&self, snapshots: &[RegionSnapshot]) {
        for snapshot in snapshots.iter().filter(|s| s.region != PROXIED) {
            let keys = snapshot.keys.as_ref().unwrap_or_else(|e| {
                panic!(
                    "{} should be read while eu-west-1 fails: {e}",
                    snapshot.region
                )
            });
            assert_eq!(&key_ids(snapshot), self.seeded(&snapshot.region));
            assert!(keys.iter().all(|k| k.errors.is_empty()), "{keys:?}");
            assert!(snapshot.clusters.is_ok(), "{:?}", snapshot.clusters);
            assert!(snapshot.alarms.is_ok(), "{:?}", snapshot.alarms);
        }
    }
}

async fn within_deadline<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(FETCH_DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("{what} waited past every deadline"))
}

fn region<'a>(snapshots: &'a [RegionSnapshot], name: &str) -> &'a RegionSnapshot {
    snapshots.iter().find(|s| s.region == name).unwrap()
}

fn key_ids(snapshot: &RegionSnapshot) -> BTreeSet<String> {
    snapshot
        .keys
        .as_ref()
        .unwrap()
        .iter()
        .map(|k| k.key_id.clone())
        .collect()
}

/// Asserts that every source of the proxied region failed with `code`, ListKeys first among
/// the key calls, and returns the keys' error class.
fn assert_proxied_failed(snapshots: &[RegionSnapshot], code: &str) -> ErrorClass {
    let eu = region(snapshots, PROXIED);
    let keys = eu.keys.as_ref().expect_err("eu-west-1 must fail");
    assert_eq!(keys.operation, "ListKeys");
    assert_eq!(keys.code, code, "{keys}");
    for other in [eu.clusters.as_ref().err(), eu.alarms.as_ref().err()] {
        let other = other.expect("clusters and alarms fail with the keys");
        assert_eq!(other.code, code, "{other}");
    }
    ErrorClass::of(keys)
}

#[tokio::test]
async fn a_refusing_region_fails_alone_keeps_its_last_data_and_recovers() {
    let stand = Stand::new(2, |_| {}).await;
    let mut estate_state = Estate::new(&stand.settings.regions);

    // A healthy first refresh.
    let first = stand.fetch().await;
    assert_eq!(&key_ids(region(&first, PROXIED)), stand.seeded(PROXIED));
    let first_at = region(&first, PROXIED).fetched_at;
    for snapshot in first {
        estate_state
            .regions
            .get_mut(&snapshot.region)
            .unwrap()
            .absorb(snapshot);
    }

    // The endpoint refuses: eu-west-1 fails alone, with its own error.
    stand.proxy.set(Fault::Refuse);
    let refused = stand.fetch().await;
    let class = assert_proxied_failed(&refused, "ConnectionFailed");
    assert_eq!(class, ErrorClass::ConnectionFailed);
    assert!(class.is_transient());
    stand.assert_direct_regions_complete(&refused);
    let refused_at = region(&refused, PROXIED).fetched_at;
    for snapshot in refused {
        estate_state
            .regions
            .get_mut(&snapshot.region)
            .unwrap()
            .absorb(snapshot);
    }

    // The console keeps the last good data, its age, and the error beside it.
    let eu = &estate_state.regions[PROXIED];
    let kept: BTreeSet<String> = eu.key_list().iter().map(|k| k.key_id.clone()).collect();
    assert_eq!(&kept, stand.seeded(PROXIED));
    assert_eq!(eu.keys.fetched_at, Some(first_at));
    assert_eq!(eu.keys.age(refused_at), Some(refused_at - first_at));
    assert_eq!(
        eu.keys.error.as_ref().map(|e| e.code.as_str()),
        Some("ConnectionFailed")
    );
    assert!(eu.clusters.error.is_some() && eu.clusters.data.is_some());
    assert_eq!(eu.attempted_at, Some(refused_at));
    for direct in ["us-east-1", "ap-southeast-2"] {
        let state = &estate_state.regions[direct];
        assert!(state.keys.error.is_none());
        assert_eq!(state.keys.fetched_at, state.attempted_at);
    }

    // The endpoint comes back: the next refresh recovers without new clients.
    stand.proxy.set(Fault::PassThrough);
    let healed = stand.fetch().await;
    assert_eq!(&key_ids(region(&healed, PROXIED)), stand.seeded(PROXIED));
    let healed_at = region(&healed, PROXIED).fetched_at;
    for snapshot in healed {
        estate_state
            .regions
            .get_mut(&snapshot.region)
            .unwrap()
            .absorb(snapshot);
    }
    let eu = &estate_state.regions[PROXIED];
    assert!(eu.keys.error.is_none() && eu.clusters.error.is_none() && eu.alarms.error.is_none());
    assert_eq!(eu.keys.fetched_at, Some(healed_at));
}

#[tokio::test]
async fn a_hanging_region_times_out_alone_and_recovers() {
    let stand = Stand::new(2, |_| {}).await;

    stand.proxy.set(Fault::Hang);
    let hung = stand.fetch().await;
    let class = assert_proxied_failed(&hung, "Timeout");
    assert_eq!(class, ErrorClass::Timeout);
    stand.assert_direct_regions_complete(&hung);
    // The requests did reach the endpoint; it just never answered.
    let reached: Vec<String> = stand
        .proxy
        .arrivals()
        .into_iter()
        .map(|a| a.operation)
        .collect();
    assert!(
        reached.iter().any(|op| op == "TrentService.ListKeys"),
        "{reached:?}"
    );

    stand.proxy.set(Fault::PassThrough);
    let healed = stand.fetch().await;
    assert_eq!(&key_ids(region(&healed, PROXIED)), stand.seeded(PROXIED));
}

#[tokio::test]
async fn a_region_dropping_answers_midway_fails_alone_and_recovers() {
    let stand = Stand::new(2, |_| {}).await;

    stand.proxy.set(Fault::DropMidResponse);
    let dropped = stand.fetch().await;
    let class = assert_proxied_failed(&dropped, "ConnectionDropped");
    assert_eq!(class, ErrorClass::ConnectionDropped);
    stand.assert_direct_regions_complete(&dropped);

    stand.proxy.set(Fault::PassThrough);
    let healed = stand.fetch().await;
    assert_eq!(&key_ids(region(&healed, PROXIED)), stand.seeded(PROXIED));
}

#[tokio::test]
async fn a_slow_region_is_read_in_full_and_a_too_slow_one_times_out() {
    let stand = Stand::new(2, |_| {}).await;

    // Slower than usual, well inside the two-second attempt deadline.
    stand.proxy.set(Fault::Delay(Duration::from_millis(300)));
    let slow = stand.fetch().await;
    let eu = region(&slow, PROXIED);
    assert_eq!(&key_ids(eu), stand.seeded(PROXIED));
    assert!(
        eu.keys
            .as_ref()
            .unwrap()
            .iter()
            .all(|k| k.errors.is_empty())
    );

    // Slower than the deadline: a timeout, as with a hang.
    stand.proxy.set(Fault::Delay(Duration::from_secs(10)));
    let too_slow = stand.fetch().await;
    assert_proxied_failed(&too_slow, "Timeout");
    stand.assert_direct_regions_complete(&too_slow);
}

#[tokio::test]
async fn throttled_requests_are_retried_counted_and_no_key_goes_missing() {
    let stand = Stand::new(6, |aws| {
        // Enough attempts that a run of throttled retries of one request is improbable.
        aws.max_attempts = 10;
        aws.operation_timeout = Duration::from_secs(5);
    })
    .await;

    stand.proxy.set(Fault::Throttle { every: 4 });
    let fetches = stand.fetch_counted().await;
    let snapshots: Vec<RegionSnapshot> = fetches.iter().map(|f| f.snapshot.clone()).collect();
    let eu = region(&snapshots, PROXIED);
    let keys = eu.keys.as_ref().expect("throttling is retried, not fatal");
    assert_eq!(&key_ids(eu), stand.seeded(PROXIED));
    for key in keys {
        assert!(key.errors.is_empty(), "{}: {:?}", key.key_id, key.errors);
        assert_eq!(key.rotation.enabled, Some(false), "{}", key.key_id);
    }
    // CloudHSM answers in JSON and CloudWatch in XML; both kinds of throttling are retried.
    assert!(eu.clusters.is_ok(), "{:?}", eu.clusters);
    assert!(eu.alarms.is_ok(), "{:?}", eu.alarms);
    stand.assert_direct_regions_complete(&snapshots);
    let inventory = Inventory::build(&snapshots, &stand.settings.rotation, chrono::Utc::now());
    assert!(inventory.complete());

    // Every throttling answer the proxy sent is on record, and only in eu-west-1.
    let sent = stand.proxy.throttled_count();
    assert!(sent >= 3, "the proxy throttled only {sent} requests");
    for fetch in &fetches {
        let expected = if fetch.snapshot.region == PROXIED {
            sent
        } else {
            0
        };
        assert_eq!(fetch.throttled, expected, "{}", fetch.snapshot.region);
    }

    // The console's state keeps when the region was last throttled.
    let mut estate_state = Estate::new(&stand.settings.regions);
    let at = eu.fetched_at;
    for fetch in fetches {
        let state = estate_state
            .regions
            .get_mut(&fetch.snapshot.region)
            .unwrap();
        state.absorb_fetch(fetch);
    }
    assert_eq!(estate_state.regions[PROXIED].throttled, sent);
    assert_eq!(estate_state.regions[PROXIED].last_throttled_at, Some(at));
    assert_eq!(estate_state.regions[PROXIED].keys.fetched_at, Some(at));
    assert_eq!(estate_state.regions["us-east-1"].last_throttled_at, None);
}

#[tokio::test]
async fn the_request_budget_holds_with_retries_included() {
    const BUDGET: u32 = 10;
    // Arrivals jitter by a few milliseconds around their evenly spaced tokens.
    const TOLERANCE: usize = 2;
    let stand = Stand::new(16, |aws| {
        aws.requests_per_second = BUDGET;
        aws.max_concurrency = 16;
        aws.max_attempts = 10;
        aws.operation_timeout = Duration::from_secs(5);
    })
    .await;

    stand.proxy.set(Fault::Throttle { every: 3 });
    let snapshots = stand.fetch().await;
    assert_eq!(&key_ids(region(&snapshots, PROXIED)), stand.seeded(PROXIED));
    assert!(
        stand.proxy.throttled_count() > 0,
        "no retries were exercised"
    );

    // Enough requests that an unpaced fetch would have crowded them into a second or two.
    let requests = stand.proxy.request_count();
    assert!(requests >= 3 * BUDGET as usize, "only {requests} requests");
    let busiest = stand.proxy.busiest_second();
    assert!(
        busiest <= BUDGET as usize + TOLERANCE,
        "{busiest} requests in one second, budget {BUDGET}; per second: {:?}",
        stand.proxy.per_second()
    );
}

#[tokio::test]
async fn missing_credentials_name_the_profile_and_the_source() {
    const PROFILE: &str = "keyward-tests-no-such-profile";
    let moto = estate::moto(false).await;
    let proxy = FaultProxy::start(moto.endpoint_url()).await;
    let mut settings = estate::settings(&moto, &REGIONS);
    settings.aws.static_credentials = None;
    settings.aws.profile = Some(PROFILE.into());
    settings
        .aws
        .region_endpoints
        .insert(PROXIED.into(), proxy.url());
    let clients = estate::clients(&settings).await;
    let source = format!("profile `{PROFILE}` from the shared AWS config files (");
    assert!(
        clients.credentials_source.starts_with(&source),
        "{}",
        clients.credentials_source
    );

    let snapshots = within_deadline("fetching without credentials", fetch_all(&clients)).await;
    for snapshot in &snapshots {
        let err = snapshot.keys.as_ref().expect_err("no credentials, no keys");
        assert_eq!(err.code, "CredentialsMissing", "{err}");
        assert_eq!(ErrorClass::of(err), ErrorClass::CredentialsMissing);
        assert_eq!(
            err.message,
            format!(
                "no AWS credentials from {}: the profile is not defined there, or holds no \
                 credentials",
                clients.credentials_source
            )
        );
        assert!(!ErrorClass::of(err).is_transient());
    }
    // Nothing was sent without credentials.
    assert_eq!(proxy.request_count(), 0);
}
