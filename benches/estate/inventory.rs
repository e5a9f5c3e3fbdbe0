//! The inventory figures: keyward's full read against moto's own ceiling and the AWS CLI,
//! behind the delaying proxy, and the requests of a steady-state refresh.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use futures::StreamExt;
use keyward::aws::{Clients, Known, fetch_all_counted, fetch_region_incremental};
use keyward::config::AwsSettings;
use keyward::estate::{Key, RegionFetch};
use serde_json::{Value, json};

use crate::proxy::{Fault, FaultProxy};
use crate::seed::aws_settings;
use crate::stats::{median, round};

/// A budget high enough never to bind against moto, to see what the client itself can do.
pub const LIFTED_BUDGET: u32 = 100_000;
/// The minimal client's requests in flight across all regions.
const CEILING_CONCURRENCY: usize = 64;
/// The delay the proxy adds to every request.
const PROXY_DELAY: Duration = Duration::from_millis(20);
/// The refresh interval the steady state is judged at (keyward's default).
const REFRESH_INTERVAL: TimeDelta = TimeDelta::seconds(60);

fn key_count(fetches: &[RegionFetch]) -> usize {
    fetches
        .iter()
        .map(|f| f.snapshot.keys.as_ref().map_or(0, Vec::len))
        .sum()
}

fn errors(fetches: &[RegionFetch]) -> usize {
    fetches
        .iter()
        .map(|f| {
            let keys = match &f.snapshot.keys {
                Ok(keys) => keys.iter().filter(|k| !k.errors.is_empty()).count(),
                Err(_) => 1,
            };
            keys + usize::from(f.snapshot.clusters.is_err())
                + usize::from(f.snapshot.alarms.is_err())
        })
        .sum()
}

/// One full keyward inventory of `regions` with `settings`: seconds, keys, failed items.
async fn keyward_once(settings: &AwsSettings, regions: &[String]) -> (f64, usize, usize) {
    let clients = Clients::new(settings, regions).await;
    let started = Instant::now();
    let fetches = fetch_all_counted(&clients).await;
    (
        started.elapsed().as_secs_f64(),
        key_count(&fetches),
        errors(&fetches),
    )
}

/// keyward's full inventory, `reps` times, at its default concurrency with the budget lifted.
pub async fn keyward_full(endpoint: &str, regions: &[String], reps: usize) -> Value {
    let settings = aws_settings(
        endpoint,
        LIFTED_BUDGET,
        AwsSettings::default().max_concurrency,
    );
    let mut runs = Vec::new();
    let (mut keys, mut failed) = (0, 0);
    for _ in 0..reps {
        let (secs, k, e) = keyward_once(&settings, regions).await;
        runs.push(secs);
        (keys, failed) = (k, e);
    }
    json!({
        "runs_s": runs.iter().map(|&s| round(s)).collect::<Vec<_>>(),
        "median_s": round(median(&runs)),
        "keys": keys,
        "failed_items": failed,
        "concurrency_per_region": settings.max_concurrency,
        "budget_per_region": LIFTED_BUDGET,
    })
}

/// The same calls as keyward's inventory issued by a bare SDK client at full concurrency:
/// moto's own ceiling. Returns seconds and requests.
async fn ceiling_once(settings: &AwsSettings, regions: &[String]) -> (f64, usize) {
    let clients = Clients::new(settings, regions).await;
    let started = Instant::now();
    let mut requests = 0;
    let mut work = Vec::new();
    for region in clients.regions() {
        let (keys, aliases, clusters, backups, alarms) = tokio::join!(
            region.kms.list_keys().limit(1000).send(),
            region.kms.list_aliases().limit(1000).send(),
            region.cloudhsm.describe_clusters().send(),
            region.cloudhsm.describe_backups().send(),
            region.cloudwatch.describe_alarms().send(),
        );
        let _ = (aliases, clusters, backups, alarms);
        requests += 5;
        for entry in keys.expect("ListKeys").keys.unwrap_or_default() {
            work.push((region.kms.clone(), entry.key_id.unwrap_or_default()));
        }
    }
    requests += work.len() * 4;
    futures::stream::iter(
        work.into_iter()
            .flat_map(|(kms, id)| (0..4).map(move |call| (kms.clone(), id.clone(), call))),
    )
    .map(|(kms, id, call)| async move {
        let ok = match call {
            0 => kms.describe_key().key_id(id).send().await.is_ok(),
            1 => kms
                .get_key_rotation_status()
                .key_id(id)
                .send()
                .await
                .is_ok(),
            2 => kms.list_key_rotations().key_id(id).send().await.is_ok(),
            _ => kms.list_resource_tags().key_id(id).send().await.is_ok(),
        };
        assert!(ok, "the ceiling client's call {call} failed");
    })
    .buffer_unordered(CEILING_CONCURRENCY)
    .collect::<Vec<()>>()
    .await;
    (started.elapsed().as_secs_f64(), requests)
}

pub async fn ceiling(endpoint: &str, regions: &[String], reps: usize) -> Value {
    let mut runs = Vec::new();
    let mut requests = 0;
    for _ in 0..reps {
        let settings = aws_settings(endpoint, LIFTED_BUDGET, CEILING_CONCURRENCY);
        let (secs, n) = ceiling_once(&settings, regions).await;
        runs.push(secs);
        requests = n;
    }
    let median_s = median(&runs);
    json!({
        "runs_s": runs.iter().map(|&s| round(s)).collect::<Vec<_>>(),
        "median_s": round(median_s),
        "requests": requests,
        "requests_per_s": round(requests as f64 / median_s),
        "concurrency": CEILING_CONCURRENCY,
    })
}

/// The same calls through the AWS CLI, one process per call, for `sample` keys of `region`;
/// extrapolated to `total_keys` keys in `regions` regions.
pub fn cli_loop(
    endpoint: &str,
    aws: &Path,
    region: &str,
    key_ids: &[String],
    total_keys: usize,
    regions: usize,
) -> Value {
    let run = |args: &[&str]| {
        let started = Instant::now();
        let status = Command::new(aws)
            .args([
                "--endpoint-url",
                endpoint,
                "--region",
                region,
                "--output",
                "json",
            ])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("PYTHONPATH")
            .env_remove("KEYWARD_BENCH_FAST_KEYS")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run the AWS CLI");
        assert!(status.success(), "aws {args:?} failed");
        started.elapsed().as_secs_f64()
    };
    let started = Instant::now();
    let lists = run(&["kms", "list-keys"])
        + run(&["kms", "list-aliases"])
        + run(&["cloudhsmv2", "describe-clusters"])
        + run(&["cloudhsmv2", "describe-backups"])
        + run(&["cloudwatch", "describe-alarms"]);
    let mut per_key = Vec::new();
    for id in key_ids {
        per_key.push(
            run(&["kms", "describe-key", "--key-id", id])
                + run(&["kms", "get-key-rotation-status", "--key-id", id])
                + run(&["kms", "list-key-rotations", "--key-id", id])
                + run(&["kms", "list-resource-tags", "--key-id", id]),
        );
    }
    let sample_s = started.elapsed().as_secs_f64();
    let per_key_median = median(&per_key);
    let extrapolated = per_key_median * total_keys as f64 + lists * regions as f64;
    json!({
        "sample_keys": key_ids.len(),
        "calls": 5 + 4 * key_ids.len(),
        "sample_s": round(sample_s),
        "per_call_ms": round(sample_s * 1000.0 / (5 + 4 * key_ids.len()) as f64),
        "per_key_median_s": round(per_key_median),
        "extrapolated_s": round(extrapolated),
        "extrapolated_to_keys": total_keys,
    })
}

/// One proxy per region in front of moto, and settings that send each region through its own.
pub struct Proxies {
    pub proxies: Vec<FaultProxy>,
}

impl Proxies {
    pub async fn start(endpoint: &str, regions: &[String]) -> Proxies {
        let mut proxies = Vec::new();
        for _ in regions {
            proxies.push(FaultProxy::start(endpoint).await);
        }
        Proxies { proxies }
    }

    pub fn route(&self, settings: &mut AwsSettings, regions: &[String]) {
        for (region, proxy) in regions.iter().zip(&self.proxies) {
            settings
                .region_endpoints
                .insert(region.clone(), proxy.url());
        }
    }

    pub fn set(&self, fault: Fault) {
        for proxy in &self.proxies {
            proxy.set(fault);
        }
    }

    pub fn requests(&self) -> usize {
        self.proxies.iter().map(FaultProxy::request_count).sum()
    }
}

/// The inventory behind a proxy adding 20 ms to every request, at `concurrency` per region
/// and a budget of `budget` per region: seconds and the busiest second per region.
async fn delayed_once(
    endpoint: &str,
    regions: &[String],
    concurrency: usize,
    budget: u32,
) -> Value {
    let proxies = Proxies::start(endpoint, regions).await;
    proxies.set(Fault::Delay(PROXY_DELAY));
    let mut settings = aws_settings(endpoint, budget, concurrency);
    proxies.route(&mut settings, regions);
    let (secs, keys, failed) = keyward_once(&settings, regions).await;
    let busiest: Vec<usize> = proxies
        .proxies
        .iter()
        .map(FaultProxy::busiest_second)
        .collect();
    json!({
        "concurrency_per_region": concurrency,
        "budget_per_region": budget,
        "seconds": round(secs),
        "keys": keys,
        "failed_items": failed,
        "requests": proxies.requests(),
        "busiest_second_per_region": busiest,
        "busiest_second_over_budget": round(*busiest.iter().max().unwrap_or(&0) as f64 / budget as f64),
    })
}

pub async fn delayed(endpoint: &str, regions: &[String], reps: usize) -> Value {
    let default_concurrency = AwsSettings::default().max_concurrency;
    let default_budget = AwsSettings::default().requests_per_second;
    let mut lifted = Vec::new();
    for _ in 0..reps {
        lifted.push(delayed_once(endpoint, regions, default_concurrency, LIFTED_BUDGET).await);
    }
    let single = delayed_once(endpoint, regions, 1, LIFTED_BUDGET).await;

    // moto's ceiling behind the same delay: the most any client could do here.
    let proxies = Proxies::start(endpoint, regions).await;
    proxies.set(Fault::Delay(PROXY_DELAY));
    let mut settings = aws_settings(endpoint, LIFTED_BUDGET, CEILING_CONCURRENCY);
    proxies.route(&mut settings, regions);
    let (ceiling_s, _) = ceiling_once(&settings, regions).await;
    drop(proxies);

    let budgeted = delayed_once(endpoint, regions, default_concurrency, default_budget).await;
    let lifted_s: Vec<f64> = lifted
        .iter()
        .map(|v| v["seconds"].as_f64().unwrap())
        .collect();
    let single_s = single["seconds"].as_f64().unwrap();
    json!({
        "delay_ms": PROXY_DELAY.as_millis() as u64,
        "default_concurrency_budget_lifted": {
            "runs": lifted,
            "median_s": round(median(&lifted_s)),
        },
        "concurrency_1": single,
        "ceiling_behind_proxy_s": round(ceiling_s),
        "ceiling_speedup_vs_concurrency_1": round(single_s / ceiling_s),
        "default_concurrency_default_budget": budgeted,
        "speedup_vs_concurrency_1": round(single_s / median(&lifted_s)),
        "speedup_at_default_budget": round(single_s / budgeted["seconds"].as_f64().unwrap()),
    })
}

/// Requests of a full read and of steady-state refreshes a refresh interval apart, counted at
/// pass-through proxies; then a key created elsewhere and one gone.
pub async fn steady_state(endpoint: &str, regions: &[String]) -> Value {
    let proxies = Proxies::start(endpoint, regions).await;
    let mut settings = aws_settings(
        endpoint,
        LIFTED_BUDGET,
        AwsSettings::default().max_concurrency,
    );
    proxies.route(&mut settings, regions);
    let clients = Clients::new(&settings, regions).await;
    let refresh_all = |previous: Vec<Option<(Vec<Key>, chrono::DateTime<Utc>)>>, now| {
        let clients = &clients;
        async move {
            futures::future::join_all(clients.regions().zip(previous.iter()).map(
                |(region, previous)| {
                    let known = previous.as_ref().map(|(keys, at)| Known::new(keys, *at));
                    fetch_region_incremental(region, known, now)
                },
            ))
            .await
        }
    };
    let known = |fetches: &[RegionFetch]| {
        fetches
            .iter()
            .map(|f| {
                Some((
                    f.snapshot.keys.clone().unwrap_or_default(),
                    f.snapshot.fetched_at,
                ))
            })
            .collect::<Vec<_>>()
    };

    // The full read, then three refreshes a refresh interval apart in the refreshes' clock.
    let t0 = Utc::now();
    let before = proxies.requests();
    let started = Instant::now();
    let mut fetches = refresh_all(vec![None; regions.len()], t0).await;
    let full_s = started.elapsed().as_secs_f64();
    let full_requests = proxies.requests() - before;
    let mut steady = Vec::new();
    let mut steady_s = Vec::new();
    let mut now = t0;
    for _ in 0..3 {
        now += REFRESH_INTERVAL;
        let before = proxies.requests();
        let started = Instant::now();
        fetches = refresh_all(known(&fetches), now).await;
        steady_s.push(started.elapsed().as_secs_f64());
        steady.push(proxies.requests() - before);
    }

    // Elsewhere: a key is created; a key the console knew is gone (moto cannot delete one,
    // so the previous snapshot holds a key ListKeys no longer lists).
    let kms = &clients.regions().next().unwrap().kms;
    let created = kms
        .create_key()
        .description("created elsewhere")
        .send()
        .await
        .expect("CreateKey elsewhere")
        .key_metadata
        .unwrap()
        .key_id;
    let mut previous = known(&fetches);
    if let Some(Some((keys, _))) = previous.first_mut() {
        let mut gone = keys[0].clone();
        gone.key_id = "00000000-0000-0000-0000-00000000dead".into();
        keys.push(gone);
    }
    now += REFRESH_INTERVAL;
    let started = Instant::now();
    let after = refresh_all(previous, now).await;
    let change_s = started.elapsed().as_secs_f64();
    let first = after[0].snapshot.keys.as_ref().expect("keys listed");
    let appeared = first.iter().any(|k| k.key_id == created);
    let disappeared = !first.iter().any(|k| k.key_id.ends_with("dead"));

    let steady_median = median(&steady.iter().map(|&n| n as f64).collect::<Vec<_>>());
    json!({
        "full_requests": full_requests,
        "full_s": round(full_s),
        "steady_requests": steady,
        "steady_s": steady_s.iter().map(|&s| round(s)).collect::<Vec<_>>(),
        "steady_share_of_full": round(steady_median / full_requests as f64),
        "refresh_interval_s": REFRESH_INTERVAL.num_seconds(),
        "revalidate_window_s": keyward::aws::REVALIDATE_WINDOW.num_seconds(),
        "created_elsewhere_appears_in_next_refresh": appeared,
        "gone_elsewhere_disappears_in_next_refresh": disappeared,
        "refresh_with_change_s": round(change_s),
    })
}
