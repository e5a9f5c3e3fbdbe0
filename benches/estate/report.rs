//! The machine the suite ran on, and the short table of figures against the targets.

use std::process::Command;

use serde_json::{Value, json};

fn first_line_of(path: &str, prefix: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(prefix)
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_default()
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

pub fn machine() -> Value {
    json!({
        "cpu": first_line_of("/proc/cpuinfo", "model name"),
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "memory": first_line_of("/proc/meminfo", "MemTotal"),
        "kernel": output("uname", &["-sr"]),
        "rustc": output("rustc", &["--version"]),
        "moto": keyward::sandbox::MOTO_VERSION,
        "date": chrono::Utc::now().to_rfc3339(),
        "load_average_at_start": first_line_of("/proc/loadavg", ""),
    })
}

/// The number at `path` (`a.b.0.c`), if there is one.
fn num(results: &Value, path: &str) -> Option<f64> {
    let mut v = results;
    for part in path.split('.') {
        v = match part.parse::<usize>() {
            Ok(i) => v.get(i)?,
            Err(_) => v.get(part)?,
        };
    }
    v.as_f64()
}

fn boolean(results: &Value, path: &str) -> Option<bool> {
    let (head, last) = path.rsplit_once('.')?;
    let mut v = results;
    for part in head.split('.') {
        v = v.get(part)?;
    }
    v.get(last)?.as_bool()
}

fn show(value: Option<f64>, unit: &str) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v}{unit}"))
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "n/a",
    }
}

/// The README's table.
pub fn markdown(r: &Value) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut row = |figure: &str, target: &str, measured: String, met: Option<bool>| {
        rows.push([figure.into(), target.into(), measured, verdict(met).into()]);
    };

    let ratio = num(r, "inventory.keyward_vs_ceiling");
    row(
        "Inventory 3 x 1,000 keys (budget lifted)",
        ">= 0.85x moto's ceiling",
        format!(
            "{} vs ceiling {} ({}x)",
            show(num(r, "inventory.keyward.median_s"), " s"),
            show(num(r, "inventory.ceiling.median_s"), " s"),
            show(ratio, "")
        ),
        ratio.map(|x| x >= 0.85),
    );
    let cli = num(r, "inventory.speedup_vs_cli");
    row(
        "Inventory vs AWS CLI loop (50-key sample, extrapolated)",
        ">= 100x faster",
        format!(
            "CLI {} ({}x)",
            show(num(r, "inventory.aws_cli.extrapolated_s"), " s"),
            show(cli, "")
        ),
        cli.map(|x| x >= 100.0),
    );
    let speedup = num(r, "delayed.speedup_vs_concurrency_1");
    row(
        "Behind +20 ms proxy: moto's own ceiling there vs keyward at concurrency 1",
        "(the most possible)",
        format!(
            "{} ({}x)",
            show(num(r, "delayed.ceiling_behind_proxy_s"), " s"),
            show(num(r, "delayed.ceiling_speedup_vs_concurrency_1"), "")
        ),
        None,
    );
    row(
        "Behind +20 ms proxy: default concurrency vs 1 (budget lifted)",
        ">= 8x",
        format!(
            "{} vs {} ({}x)",
            show(
                num(r, "delayed.default_concurrency_budget_lifted.median_s"),
                " s"
            ),
            show(num(r, "delayed.concurrency_1.seconds"), " s"),
            show(speedup, "")
        ),
        speedup.map(|x| x >= 8.0),
    );
    let over = num(
        r,
        "delayed.default_concurrency_default_budget.busiest_second_over_budget",
    );
    row(
        "Behind +20 ms proxy at the default budget: busiest second",
        "<= 1.1x the per-region budget",
        format!(
            "{} requests/s per region, budget {} ({}x); {} for the inventory",
            show(
                r.pointer("/delayed/default_concurrency_default_budget/busiest_second_per_region")
                    .and_then(|v| v.as_array())
                    .and_then(|a| a.iter().filter_map(Value::as_f64).reduce(f64::max)),
                ""
            ),
            show(
                num(
                    r,
                    "delayed.default_concurrency_default_budget.budget_per_region"
                ),
                ""
            ),
            show(over, ""),
            show(
                num(r, "delayed.default_concurrency_default_budget.seconds"),
                " s"
            ),
        ),
        over.map(|x| x <= 1.1),
    );
    let share = num(r, "steady_state.steady_share_of_full");
    row(
        "Steady-state refresh requests",
        "<= 10% of the full inventory",
        format!(
            "{} of {} ({}%)",
            show(num(r, "steady_state.steady_requests.0"), ""),
            show(num(r, "steady_state.full_requests"), ""),
            show(share.map(|s| (s * 1000.0).round() / 10.0), "")
        ),
        share.map(|s| s <= 0.10),
    );
    let seen = boolean(r, "steady_state.created_elsewhere_appears_in_next_refresh")
        .zip(boolean(
            r,
            "steady_state.gone_elsewhere_disappears_in_next_refresh",
        ))
        .map(|(a, b)| a && b);
    row(
        "Key created / gone elsewhere",
        "shown within one refresh interval",
        format!(
            "in the next refresh ({} for the refresh)",
            show(num(r, "steady_state.refresh_with_change_s"), " s")
        ),
        seen,
    );
    for (i, keys) in ["10,000", "100,000"].iter().enumerate() {
        let p99 = num(
            r,
            &format!("frames.runs.{i}.frame_after_selection_move.p99_ms"),
        );
        row(
            &format!("Frame time, {keys} keys"),
            "p99 <= 2 ms",
            format!(
                "p50 {} / p99 {}",
                show(
                    num(
                        r,
                        &format!("frames.runs.{i}.frame_after_selection_move.p50_ms")
                    ),
                    " ms"
                ),
                show(p99, " ms")
            ),
            p99.map(|x| x <= 2.0),
        );
        let key = num(r, &format!("frames.runs.{i}.keypress_to_frame.p99_ms"));
        let filter = num(
            r,
            &format!("frames.runs.{i}.filter_keystroke_to_frame.p99_ms"),
        );
        row(
            &format!("Keypress to frame, {keys} keys"),
            "<= 16 ms",
            format!(
                "move p99 {}; filter keystroke p99 {}",
                show(key, " ms"),
                show(filter, " ms")
            ),
            key.zip(filter).map(|(k, f)| k <= 16.0 && f <= 16.0),
        );
    }
    let cpu = num(r, "console.idle_cpu_share_of_one_core");
    let bytes = num(r, "console.idle_bytes_written");
    row(
        "Idle, 10,000 keys, 60 s (real binary)",
        "< 1% of a core, 0 bytes",
        format!(
            "{}% CPU, {} bytes",
            show(cpu.map(|c| (c * 10000.0).round() / 100.0), ""),
            show(bytes, "")
        ),
        cpu.zip(bytes).map(|(c, b)| c < 0.01 && b == 0.0),
    );
    let rss10 = num(r, "console.loaded_peak_mib");
    row(
        "Peak memory, 10,000 keys (real binary)",
        "<= 50 MB",
        format!(
            "{} peak; once loaded {} heap and {} mapped code and libraries (in-process table \
             alone: {})",
            show(rss10, " MiB"),
            show(num(r, "console.loaded_rss_anonymous_mib"), " MiB"),
            show(num(r, "console.loaded_rss_file_mib"), " MiB"),
            show(num(r, "memory.runs.0.peak_mib"), " MiB")
        ),
        rss10.map(|x| x * 1.048_576 <= 50.0),
    );
    let rss100 = num(r, "memory.runs.1.peak_mib");
    row(
        "Peak memory, 100,000 keys (in process)",
        "<= 300 MB",
        show(rss100, " MiB peak"),
        rss100.map(|x| x * 1.048_576 <= 300.0),
    );
    let growth: Vec<f64> = (0..2)
        .filter_map(|i| num(r, &format!("memory.runs.{i}.growth_after_first_refresh")))
        .collect();
    row(
        "Growth from the 1st to the 30th refresh (10k; 100k: to the 10th)",
        "< 5%",
        growth
            .iter()
            .map(|g| format!("{}%", (g * 1000.0).round() / 10.0))
            .collect::<Vec<_>>()
            .join(" / "),
        (!growth.is_empty()).then(|| growth.iter().all(|g| *g < 0.05)),
    );
    let frame = num(r, "console.cold_start_to_first_frame_ms");
    let warm = num(r, "console.warm_start_to_first_frame_ms");
    row(
        "Start to first frame (cold / second start)",
        "<= 100 ms, last snapshot shown stale",
        format!("{} / {}", show(frame, " ms"), show(warm, " ms")),
        warm.map(|w| w <= 100.0),
    );
    let cached = num(r, "cache_start.synthetic_10k.load_to_first_frame_ms");
    row(
        "First frame from the snapshot cache, in process (10,000 keys / 3 x 1,000 from moto)",
        "<= 100 ms",
        format!(
            "{} / {} (load and first frame)",
            show(cached, " ms"),
            show(
                num(r, "cache_start.inventory.load_to_first_frame_ms"),
                " ms"
            )
        ),
        cached.map(|c| c <= 100.0),
    );
    let rows_s = num(r, "console.cold_start_to_first_rows_s");
    let warm_rows = num(r, "console.warm_start_to_first_rows_s");
    let warm_first_live = num(r, "console.warm_start_to_first_live_rows_s");
    let warm_live = num(r, "console.warm_start_to_all_rows_live_s");
    row(
        "Start to rows, second start (cached rows / first region listed live / every key read live)",
        "<= 1 s to live rows",
        format!(
            "{} / {} / {}",
            show(warm_rows, " s"),
            show(warm_first_live, " s"),
            show(warm_live, " s")
        ),
        warm_first_live.map(|s| s <= 1.0),
    );
    row(
        "Start to first live rows, cold (no cache; the first region listed)",
        "<= 1 s",
        format!(
            "{} (all {} described: {})",
            show(rows_s, " s"),
            show(num(r, "console.keys"), " keys"),
            show(num(r, "console.cold_start_to_all_rows_s"), " s")
        ),
        rows_s.map(|s| s <= 1.0),
    );

    let m = &r["machine"];
    let mut text = format!(
        "Measured {} on {} ({} cores, {}), {}, moto {}, load average {} at the start; {} runs \
         per fast figure.\n\n",
        m["date"].as_str().unwrap_or(""),
        m["cpu"].as_str().unwrap_or("?"),
        m["cores"],
        m["memory"].as_str().unwrap_or("?"),
        m["kernel"].as_str().unwrap_or(""),
        m["moto"].as_str().unwrap_or("?"),
        m["load_average_at_start"].as_str().unwrap_or("?"),
        r["reps"],
    );
    text.push_str("| figure | target | measured | |\n|---|---|---|---|\n");
    for [a, b, c, d] in rows {
        text.push_str(&format!("| {a} | {b} | {c} | {d} |\n"));
    }
    text
}
