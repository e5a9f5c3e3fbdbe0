//! Resident memory with a loaded estate, measured in a child process of its own (this binary
//! run with `rss-child N`) so the benchmark's own allocations do not count.

use std::process::Command;

use chrono::Utc;
use keyward::config::Settings;
use keyward::tui::app::{App, Message};
use keyward::tui::theme::Theme;
use keyward::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

use crate::stats::round;
use crate::synthetic;

/// Refreshes folded in after the first load, for the growth figure; fewer at 100,000 keys,
/// where each takes seconds and the resident size has levelled off after a few.
fn refreshes(total: usize) -> usize {
    if total > 20_000 { 10 } else { 30 }
}

/// Two sizes from `/proc/{pid}/status` (`pid` may be `self`), in MiB; NaN where missing.
fn status_mib(pid: &str, names: [&str; 2]) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field(names[0]), field(names[1]))
}

/// `VmHWM` and `VmRSS` of process `pid`: the peak and current resident size.
pub fn rss_mib(pid: &str) -> (f64, f64) {
    status_mib(pid, ["VmHWM:", "VmRSS:"])
}

/// `RssAnon` and `RssFile` of process `pid`: the heap and stacks, and the mapped program code
/// and libraries (shared with every other process running them, and reclaimable).
pub fn rss_parts_mib(pid: &str) -> (f64, f64) {
    status_mib(pid, ["RssAnon:", "RssFile:"])
}

/// The child: loads `total` keys, draws, then takes 30 refreshes; prints one JSON line.
pub fn child(total: usize) {
    let (_, baseline) = rss_mib("self");
    let now = Utc::now();
    let settings = Settings {
        regions: synthetic::REGIONS.iter().map(|r| r.to_string()).collect(),
        ..Settings::default()
    };
    let mut app = App::new(&settings, now);
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test terminal");
    let theme = Theme::from_env();
    for fetch in synthetic::fetches(total, now) {
        app.update(Message::Region(fetch));
    }
    terminal
        .draw(|frame| {
            view::render(&app, theme, frame);
        })
        .expect("draw");
    let (peak_loaded, loaded) = rss_mib("self");

    // Each refresh brings a whole new copy of every region, as a fetch does.
    let mut after = Vec::new();
    for _ in 0..refreshes(total) {
        for fetch in synthetic::fetches(total, Utc::now()) {
            app.update(Message::Region(fetch));
        }
        terminal
            .draw(|frame| {
                view::render(&app, theme, frame);
            })
            .expect("draw");
        after.push(rss_mib("self").1);
    }
    let (peak, last) = rss_mib("self");
    println!(
        "{}",
        json!({
            "baseline_mib": baseline,
            "loaded_rss_mib": loaded,
            "loaded_peak_mib": peak_loaded,
            "after_refreshes_rss_mib": last,
            "peak_mib": peak,
            "rss_after_each_refresh_mib": after,
        })
    );
}

/// Runs the child for `total` keys and reads its answer.
pub fn measure(total: usize) -> Value {
    let out = Command::new(std::env::current_exe().expect("this binary"))
        .args(["rss-child", &total.to_string()])
        .output()
        .expect("run the memory child");
    assert!(
        out.status.success(),
        "memory child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child: Value = serde_json::from_slice(&out.stdout).expect("the child's JSON");
    let loaded = child["loaded_rss_mib"].as_f64().unwrap();
    let last = child["after_refreshes_rss_mib"].as_f64().unwrap();
    child["keys"] = json!(total);
    let first = child["rss_after_each_refresh_mib"][0]
        .as_f64()
        .unwrap_or(f64::NAN);
    child["refreshes"] = json!(refreshes(total));
    // Against the size once loaded, and against the size after the first refresh (from which
    // on a refresh replaces data of the same size, so any further rise is growth).
    child["growth_over_refreshes"] = json!(round((last - loaded) / loaded));
    child["growth_after_first_refresh"] = json!(round((last - first) / first));
    for field in [
        "baseline_mib",
        "loaded_rss_mib",
        "loaded_peak_mib",
        "after_refreshes_rss_mib",
        "peak_mib",
    ] {
        child[field] = json!(round(child[field].as_f64().unwrap()));
    }
    child["rss_after_each_refresh_mib"] = json!(
        child["rss_after_each_refresh_mib"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| round(v.as_f64().unwrap()))
            .collect::<Vec<_>>()
    );
    child
}
