//! Incremental refreshes against moto: after a full read, a refresh lists keys and aliases,
//! describes only what is new, failed, invalidated or due for re-validation, and still shows a
//! key created or gone elsewhere at once.
//!
//! Requests are counted at a pass-through loopback proxy in front of moto, never timed. The
//! refreshes are given their `now`, so a refresh "a minute later" needs no waiting.
//!
//! moto cannot delete a key (ScheduleKeyDeletion keeps it listed, as AWS does until the
//! waiting period ends, and moto never ends it), so a key deleted elsewhere is one the
//! previous snapshot holds and ListKeys no longer lists.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use keyward::aws::{
    Clients, KeyProgress, Known, fetch_region, fetch_region_incremental, fetch_region_reporting,
    revalidation_due,
};
use keyward::config::Settings;
use keyward::estate::{DESCRIBING, Key, RegionFetch};
use keyward::sandbox::moto::MotoServer;
use support::estate;
use support::proxy::{Fault, FaultProxy};

const REGION: &str = "eu-central-1";
/// A few hundred keys: enough that a refresh's slice of re-validations is a small share.
const KEYS: usize = 240;
const REFRESH_INTERVAL: TimeDelta = TimeDelta::seconds(60);
/// Longer than any fetch here takes, so a stuck one fails the test instead of hanging it.
const FETCH_DEADLINE: Duration = Duration::from_secs(180);
/// Seeding requests in flight at once.
const SEED_CONCURRENCY: usize = 8;

struct Stand {
    _moto: MotoServer,
    proxy: FaultProxy,
    /// Straight to moto: the operator "elsewhere".
    direct: Clients,
    /// Through the proxy, with a budget that does not slow the test.
    watched: Clients,
    seeded: BTreeSet<String>,
}

impl Stand {
    async fn new() -> Stand {
        let moto = estate::moto(false).await;
        let mut settings: Settings = estate::settings(&moto, &[REGION]);
        settings.aws.requests_per_second = 2_000;
        settings.aws.connect_timeout = Duration::from_secs(30);
        let direct = estate::clients(&settings).await;
        let kms = &direct.region(REGION).unwrap().kms;

        // Seed: every key with rotation on for three in four and an alias on every other.
        // A few at a time: moto's server refuses connections it cannot take, and a loaded CI
        // machine would turn a flood of them into connect timeouts.
        let created: Vec<String> = futures::stream::iter((0..KEYS).map(|i| async move {
            let key_id = kms
                .create_key()
                .description(format!("refresh {i}"))
                .send()
                .await
                .expect("create a key")
                .key_metadata
                .expect("metadata")
                .key_id;
            if i % 4 != 0 {
                kms.enable_key_rotation()
                    .key_id(&key_id)
                    .send()
                    .await
                    .expect("enable rotation");
            }
            if i % 2 == 0 {
                kms.create_alias()
                    .alias_name(format!("alias/refresh-{i:03}"))
                    .target_key_id(&key_id)
                    .send()
                    .await
                    .expect("create an alias");
            }
            key_id
        }))
        .buffered(SEED_CONCURRENCY)
        .collect()
        .await;

        let proxy = FaultProxy::start(moto.endpoint_url()).await;
        settings
            .aws
            .region_endpoints
            .insert(REGION.into(), proxy.url());
        let watched = estate::clients(&settings).await;
        Stand {
            _moto: moto,
            proxy,
            direct,
            watched,
            seeded: created.into_iter().collect(),
        }
    }

    /// An incremental refresh at `now` and the requests it made.
    async fn refresh(
        &self,
        previous: Option<Known<'_>>,
        now: DateTime<Utc>,
    ) -> (RegionFetch, usize) {
        let before = self.proxy.request_count();
        let clients = self.watched.region(REGION).unwrap();
        let fetch = tokio::time::timeout(
            FETCH_DEADLINE,
            fetch_region_incremental(clients, previous, now),
        )
        .await
        .expect("the refresh finishes");
        (fetch, self.proxy.request_count() - before)
    }
}

fn keys(fetch: &RegionFetch) -> &[Key] {
    fetch.snapshot.keys.as_ref().expect("keys listed")
}

fn ids(keys: &[Key]) -> BTreeSet<String> {
    keys.iter().map(|k| k.key_id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_refresh_reads_a_small_share_and_still_sees_keys_come_and_go() {
    let stand = Stand::new().await;

    // Step 1: the first read is a full one, and it reads what fetch_region reads.
    let t0 = Utc::now();
    let (full, full_requests) = stand.refresh(None, t0).await;
    assert_eq!(ids(keys(&full)), stand.seeded);
    let reference = fetch_region(stand.watched.region(REGION).unwrap()).await;
    assert_eq!(keys(&full), reference.keys.as_ref().unwrap().as_slice());
    assert!(
        full_requests > 3 * KEYS,
        "a full read describes every key: {full_requests} requests"
    );

    // Step 2: a minute later nothing changed: the same keys, for at most a tenth of the
    // requests.
    let t1 = t0 + REFRESH_INTERVAL;
    let (steady, steady_requests) = stand.refresh(Some(Known::new(keys(&full), t0)), t1).await;
    assert_eq!(keys(&steady), keys(&full));
    assert!(
        steady_requests * 10 <= full_requests,
        "steady refresh made {steady_requests} requests, the full read {full_requests}"
    );

    // Step 3: elsewhere, a key is created with an alias; a key the console knew is gone.
    let kms = &stand.direct.region(REGION).unwrap().kms;
    let created = kms
        .create_key()
        .description("created elsewhere")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    kms.create_alias()
        .alias_name("alias/created-elsewhere")
        .target_key_id(&created)
        .send()
        .await
        .unwrap();
    let mut known = keys(&steady).to_vec();
    let mut gone = known[0].clone();
    gone.key_id = "00000000-0000-0000-0000-00000000dead".into();
    gone.arn = format!("arn:aws:kms:{REGION}:000000000000:key/{}", gone.key_id);
    known.push(gone.clone());

    // Step 4: the next refresh shows the new key, described, and drops the gone one.
    let t2 = t1 + REFRESH_INTERVAL;
    let (next, next_requests) = stand.refresh(Some(Known::new(&known, t1)), t2).await;
    let new_key = keys(&next)
        .iter()
        .find(|k| k.key_id == created)
        .expect("the key created elsewhere is listed");
    assert_eq!(new_key.description, "created elsewhere");
    assert_eq!(new_key.aliases, ["alias/created-elsewhere"]);
    assert_eq!(new_key.rotation.enabled, Some(false));
    assert!(!ids(keys(&next)).contains(&gone.key_id));
    assert_eq!(keys(&next).len(), KEYS + 1);
    assert!(
        next_requests * 10 <= full_requests,
        "{next_requests} requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidated_keys_are_read_again_and_others_wait_for_their_window() {
    let stand = Stand::new().await;
    let t0 = Utc::now();
    let (full, _) = stand.refresh(None, t0).await;
    let t1 = t0 + REFRESH_INTERVAL;

    // Two keys whose re-validation is not due in the next minute, both disabled elsewhere.
    let quiet: Vec<&Key> = keys(&full)
        .iter()
        .filter(|k| !revalidation_due(&k.key_id, t0, t1))
        .take(2)
        .collect();
    let (touched, untouched) = (quiet[0], quiet[1]);
    let kms = &stand.direct.region(REGION).unwrap().kms;
    for key in [touched, untouched] {
        kms.disable_key().key_id(&key.key_id).send().await.unwrap();
    }

    // Only the invalidated one is read again; the other keeps its facts until its moment.
    let invalidated = [touched.arn.clone()];
    let known = Known {
        invalidated: &invalidated,
        ..Known::new(keys(&full), t0)
    };
    let (next, _) = stand.refresh(Some(known), t1).await;
    let state = |id: &str| {
        keys(&next)
            .iter()
            .find(|k| k.key_id == id)
            .map(|k| k.state.clone())
            .unwrap()
    };
    assert_eq!(state(&touched.key_id), "Disabled");
    assert_eq!(state(&untouched.key_id), "Enabled");

    // A whole window later every key has been read again.
    let later = t1 + keyward::aws::REVALIDATE_WINDOW;
    let (revalidated, requests) = stand
        .refresh(Some(Known::new(keys(&next), t1)), later)
        .await;
    assert_eq!(
        revalidated
            .snapshot
            .keys
            .as_ref()
            .unwrap()
            .iter()
            .find(|k| k.key_id == untouched.key_id)
            .unwrap()
            .state,
        "Disabled"
    );
    assert!(requests > 3 * KEYS, "{requests} requests");
}

/// A cold read of a large region takes minutes within its budget; the console shows the keys
/// as soon as they are listed, then fills them in as they are described.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_read_reports_the_listed_keys_before_describing_them() {
    let stand = Stand::new().await;
    // Slow enough that describing takes several progress intervals.
    stand.proxy.set(Fault::Delay(Duration::from_millis(20)));
    let reports = std::sync::Mutex::new(Vec::new());
    let sink = |progress: KeyProgress| {
        let requests = stand.proxy.request_count();
        reports.lock().unwrap().push((requests, progress));
    };
    let before = stand.proxy.request_count();
    let clients = stand.watched.region(REGION).unwrap();
    let fetch = tokio::time::timeout(
        FETCH_DEADLINE,
        fetch_region_reporting(clients, None, Utc::now(), Some(&sink)),
    )
    .await
    .expect("the read finishes");
    let total = stand.proxy.request_count() - before;
    let reports = reports.into_inner().unwrap();
    let final_keys = keys(&fetch);

    // First: every key, listed, none described yet, after a handful of the read's requests.
    let Some((
        at,
        KeyProgress::Listed {
            keys: listed,
            describing,
        },
    )) = reports.first()
    else {
        panic!("the first report is not the listing: {:?}", reports.first());
    };
    assert_eq!(ids(listed), stand.seeded);
    assert!(listed.iter().all(|k| k.state == DESCRIBING));
    assert_eq!(
        describing.iter().cloned().collect::<BTreeSet<_>>(),
        stand.seeded
    );
    assert!(
        (at - before) * 20 < total,
        "listed after {} of {total} requests",
        at - before
    );

    // Then the described keys, each once: every key either in a report or in the finished
    // read, which holds only what no report carried.
    assert!(fetch.reported);
    let mut read: Vec<&Key> = final_keys.iter().collect();
    for (_, report) in &reports[1..] {
        let KeyProgress::Described(batch) = report else {
            panic!("a second listing");
        };
        read.extend(batch);
    }
    let read_ids: Vec<&str> = read.iter().map(|k| k.key_id.as_str()).collect();
    assert_eq!(read_ids.len(), KEYS, "each key read once");
    let read_set: BTreeSet<String> = read_ids.iter().map(|id| id.to_string()).collect();
    assert_eq!(read_set, stand.seeded);
    assert!(
        read.iter().all(|k| k.state == "Enabled"),
        "every key described"
    );
    for placeholder in listed {
        let key = read
            .iter()
            .find(|k| k.key_id == placeholder.key_id)
            .unwrap();
        assert_eq!(
            key.aliases, placeholder.aliases,
            "aliases of {}",
            key.key_id
        );
    }
    assert!(
        reports.len() >= 2,
        "{} reports over {total} delayed requests",
        reports.len()
    );
}
