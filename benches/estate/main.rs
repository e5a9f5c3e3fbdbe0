//! The benchmark suite of issue 7: keyward at estate scale against moto.
//!
//! `scripts/bench` builds everything in release mode and runs this binary, which starts moto
//! through keyward's own launcher, seeds 10 regions x 1,000 keys through moto's API (the
//! first three symmetric with rotation, the other seven ECC signing keys), measures each
//! figure and writes `bench/results.json` and `bench/results.md`. Benchmarks report; nothing
//! here asserts a figure. `rss-child N` is the child the memory figures run in.

mod frames;
mod inventory;
mod memory;
#[allow(dead_code)] // the shared test proxy; the suite uses its delay mode and counts.
#[path = "../../tests/support/proxy.rs"]
mod proxy;
mod pty;
mod report;
mod seed;
mod startup;
mod stats;
mod synthetic;

use std::path::{Path, PathBuf};
use std::time::Instant;

use keyward::sandbox::moto::{MotoOptions, MotoServer};
use serde_json::{Map, Value, json};

use seed::Kind;

/// The estate whose inventory is measured: 3 regions of symmetric keys with rotation.
const INVENTORY_REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
/// Seven more regions of signing keys, so the console can be run with 10,000 keys.
const EXTRA_REGIONS: [&str; 7] = [
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-2",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
];
/// Keys per region unless `--keys` says otherwise (a smaller estate for a quick look).
const KEYS_PER_REGION: usize = 1_000;
/// Keys of the AWS CLI loop's sample.
const CLI_SAMPLE: usize = 50;

struct Options {
    reps: usize,
    keys_per_region: usize,
    out: PathBuf,
    skip_console: bool,
    /// Only these phases, when given (`--only inventory,console`).
    only: Option<Vec<String>>,
}

impl Options {
    fn wants(&self, phase: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|p| p == phase))
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("rss-child") {
        let total = args
            .get(1)
            .and_then(|n| n.parse().ok())
            .expect("rss-child N");
        memory::child(total);
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut options = Options {
        reps: 3,
        keys_per_region: KEYS_PER_REGION,
        out: root.join("bench"),
        skip_console: false,
        only: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reps" => options.reps = args.next().and_then(|n| n.parse().ok()).expect("--reps N"),
            "--keys" => {
                options.keys_per_region =
                    args.next().and_then(|n| n.parse().ok()).expect("--keys N")
            }
            "--out" => options.out = args.next().map(PathBuf::from).expect("--out DIR"),
            "--skip-console" => options.skip_console = true,
            "--only" => {
                let list = args.next().expect("--only PHASE,PHASE");
                options.only = Some(list.split(',').map(str::to_owned).collect());
            }
            other => panic!(
                "unknown argument {other}; use --reps N, --keys N, --out DIR, --skip-console, \
                 --only inventory,delayed,steady,cache,frames,memory,console"
            ),
        }
    }

    // moto's launcher inherits these: the fast-keys patch for the seed (see
    // benches/moto/sitecustomize.py). Set before any thread exists, so it is sound.
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let flag = scratch.path().join("fast-keys");
    unsafe {
        std::env::set_var("PYTHONPATH", root.join("benches/moto"));
        std::env::set_var("KEYWARD_BENCH_FAST_KEYS", &flag);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let results = runtime.block_on(run(&options, root, scratch.path(), &flag));

    std::fs::create_dir_all(&options.out).expect("create the results directory");
    let json_path = options.out.join("results.json");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&results).unwrap() + "\n",
    )
    .expect("write results.json");
    let table = report::markdown(&results);
    std::fs::write(options.out.join("results.md"), &table).expect("write results.md");
    println!("{table}");
    eprintln!("bench: wrote {}", json_path.display());
}

fn phase(name: &str) -> Instant {
    eprintln!("bench: {name}");
    Instant::now()
}

async fn run(options: &Options, root: &Path, scratch: &Path, flag: &Path) -> Value {
    let started = Instant::now();
    let mut results = Map::new();
    results.insert("machine".into(), report::machine());
    results.insert("reps".into(), json!(options.reps));

    let t = phase("starting moto and seeding the estate");
    let moto = MotoServer::start(MotoOptions::default())
        .await
        .expect("start moto (run scripts/install-deps)");
    let endpoint = moto.endpoint_url().to_owned();
    let mut estate: Vec<(&str, Kind)> = INVENTORY_REGIONS
        .iter()
        .map(|&r| (r, Kind::Symmetric))
        .collect();
    estate.extend(EXTRA_REGIONS.iter().map(|&r| (r, Kind::Signing)));
    let seed_s = seed::seed(&endpoint, flag, &estate, options.keys_per_region).await;
    results.insert(
        "seed".into(),
        json!({"keys": estate.len() * options.keys_per_region, "seconds": stats::round(seed_s), "phase_s": stats::round(t.elapsed().as_secs_f64())}),
    );
    let inventory_regions: Vec<String> = INVENTORY_REGIONS.iter().map(|r| r.to_string()).collect();
    let inventory_keys = INVENTORY_REGIONS.len() * options.keys_per_region;

    if options.wants("inventory") {
        let t = phase("1. full inventory: keyward, moto's ceiling, the AWS CLI loop");
        let keyward_full =
            inventory::keyward_full(&endpoint, &inventory_regions, options.reps).await;
        let ceiling = inventory::ceiling(&endpoint, &inventory_regions, options.reps).await;
        let sample = sample_ids(&endpoint, INVENTORY_REGIONS[0], CLI_SAMPLE).await;
        let aws = root.join(".venv/bin/aws");
        let cli = if aws.exists() {
            let endpoint = endpoint.clone();
            tokio::task::spawn_blocking(move || {
                inventory::cli_loop(
                    &endpoint,
                    &aws,
                    INVENTORY_REGIONS[0],
                    &sample,
                    inventory_keys,
                    INVENTORY_REGIONS.len(),
                )
            })
            .await
            .expect("the CLI loop")
        } else {
            json!({"skipped": "no .venv/bin/aws; scripts/bench installs awscli"})
        };
        let keyward_s = keyward_full["median_s"].as_f64().unwrap_or(f64::NAN);
        results.insert(
        "inventory".into(),
        json!({
            "keys": inventory_keys,
            "keyward": keyward_full,
            "ceiling": ceiling,
            "aws_cli": cli,
            "keyward_vs_ceiling": stats::round(ceiling["median_s"].as_f64().unwrap_or(f64::NAN) / keyward_s),
            "speedup_vs_cli": stats::round(cli["extrapolated_s"].as_f64().unwrap_or(f64::NAN) / keyward_s),
            "phase_s": stats::round(t.elapsed().as_secs_f64()),
        }),
    );
    }

    if options.wants("delayed") {
        let t = phase("2. inventory behind the 20 ms proxy");
        let mut delayed = inventory::delayed(&endpoint, &inventory_regions, options.reps).await;
        delayed["phase_s"] = json!(stats::round(t.elapsed().as_secs_f64()));
        results.insert("delayed".into(), delayed);
    }

    if options.wants("steady") {
        let t = phase("3. steady-state refresh");
        let mut steady = inventory::steady_state(&endpoint, &inventory_regions).await;
        steady["phase_s"] = json!(stats::round(t.elapsed().as_secs_f64()));
        results.insert("steady_state".into(), steady);
    }

    if options.wants("cache") {
        let t = phase("7. start from the snapshot cache, in process");
        let clients = keyward::aws::Clients::new(
            &seed::aws_settings(&endpoint, inventory::LIFTED_BUDGET, 16),
            &inventory_regions,
        )
        .await;
        let snapshots = keyward::aws::fetch_all(&clients).await;
        let mut startup = startup::measure_all(&snapshots, scratch);
        startup["phase_s"] = json!(stats::round(t.elapsed().as_secs_f64()));
        results.insert("cache_start".into(), startup);
    }

    if options.wants("frames") {
        let t = phase("4. frame time at 10,000 and 100,000 keys");
        let frames: Vec<Value> = [10_000, 100_000].into_iter().map(frames::measure).collect();
        results.insert(
            "frames".into(),
            json!({"runs": frames, "phase_s": stats::round(t.elapsed().as_secs_f64())}),
        );
    }

    if options.wants("memory") {
        let t = phase("6. memory at 10,000 and 100,000 keys");
        let memory: Vec<Value> = [10_000, 100_000].into_iter().map(memory::measure).collect();
        results.insert(
            "memory".into(),
            json!({"runs": memory, "phase_s": stats::round(t.elapsed().as_secs_f64())}),
        );
    }

    if !options.skip_console && options.wants("console") {
        let t = phase("5, 7. the console in a pseudo-terminal with 10,000 keys");
        let mut all: Vec<String> = INVENTORY_REGIONS.iter().map(|r| r.to_string()).collect();
        all.extend(EXTRA_REGIONS.iter().map(|r| r.to_string()));
        let binary = PathBuf::from(env!("CARGO_BIN_EXE_keyward"));
        // Counted, not assumed: the steady-state phase creates a key of its own.
        let keys = count_keys(&endpoint, &all).await;
        let (endpoint, scratch) = (endpoint.clone(), scratch.to_path_buf());
        let mut console = tokio::task::spawn_blocking(move || {
            pty::measure(&binary, &endpoint, &all, keys, &scratch)
        })
        .await
        .expect("the console run");
        console["phase_s"] = json!(stats::round(t.elapsed().as_secs_f64()));
        results.insert("console".into(), console);
    }

    moto.stop().await.expect("stop moto");
    results.insert(
        "total_s".into(),
        json!(stats::round(started.elapsed().as_secs_f64())),
    );
    Value::Object(results)
}

/// How many keys moto holds in `regions`.
async fn count_keys(endpoint: &str, regions: &[String]) -> usize {
    let clients =
        keyward::aws::Clients::new(&seed::aws_settings(endpoint, 1_000, 4), regions).await;
    let mut total = 0;
    for region in clients.regions() {
        let listed = region
            .kms
            .list_keys()
            .limit(1000)
            .send()
            .await
            .expect("ListKeys");
        total += listed.keys.map_or(0, |k| k.len());
    }
    total
}

/// The first `n` key ids of `region`.
async fn sample_ids(endpoint: &str, region: &str, n: usize) -> Vec<String> {
    let clients = keyward::aws::Clients::new(
        &seed::aws_settings(endpoint, 1_000, 4),
        &[region.to_owned()],
    )
    .await;
    let listed = clients
        .region(region)
        .unwrap()
        .kms
        .list_keys()
        .limit(1000)
        .send()
        .await
        .expect("ListKeys");
    listed
        .keys
        .unwrap_or_default()
        .into_iter()
        .filter_map(|k| k.key_id)
        .take(n)
        .collect()
}
