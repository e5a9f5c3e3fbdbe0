//! What a start from the snapshot cache costs, in process: saving the estate, loading it,
//! folding it into a fresh app as the console does (`Message::Cached`) and drawing the first
//! frame. The console's own start adds building its AWS clients and taking over the terminal;
//! the console figures measure that.

use std::time::Instant;

use chrono::Utc;
use keyward::cache;
use keyward::config::Settings;
use keyward::estate::RegionSnapshot;
use keyward::tui::app::{App, Message};
use keyward::tui::theme::Theme;
use keyward::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

use crate::stats::{median, millis, round};
use crate::synthetic;

const SCOPE: &str = "keyward-bench";
const RUNS: usize = 5;

/// Save, load and first-frame times for `snapshots`, median of a few runs.
pub fn measure(label: &str, snapshots: &[RegionSnapshot], dir: &std::path::Path) -> Value {
    let path = dir.join(format!("{label}.json"));
    let regions: Vec<String> = snapshots.iter().map(|s| s.region.clone()).collect();
    let keys: usize = snapshots
        .iter()
        .map(|s| s.keys.as_ref().map_or(0, Vec::len))
        .sum();
    let (mut save_ms, mut load_ms, mut frame_ms) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let started = Instant::now();
        cache::save(&path, SCOPE, snapshots).expect("save the cache");
        save_ms.push(millis(started.elapsed()));

        let started = Instant::now();
        let cached = cache::load(&path, SCOPE).expect("load the cache");
        load_ms.push(millis(started.elapsed()));

        let started = Instant::now();
        let settings = Settings {
            regions: regions.clone(),
            ..Settings::default()
        };
        let mut app = App::new(&settings, Utc::now());
        app.update(Message::Cached(cached.regions));
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test terminal");
        let theme = Theme::from_env();
        terminal
            .draw(|frame| {
                view::render(&app, theme, frame);
            })
            .expect("draw");
        frame_ms.push(millis(started.elapsed()));
    }
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    json!({
        "keys": keys,
        "file_bytes": bytes,
        "save_ms": round(median(&save_ms)),
        "load_ms": round(median(&load_ms)),
        "fold_and_first_frame_ms": round(median(&frame_ms)),
        "load_to_first_frame_ms": round(median(&load_ms) + median(&frame_ms)),
    })
}

/// The figures for the moto inventory's snapshots and for 10,000 synthetic keys.
pub fn measure_all(inventory: &[RegionSnapshot], dir: &std::path::Path) -> Value {
    let synthetic: Vec<RegionSnapshot> = synthetic::fetches(10_000, Utc::now())
        .map(|f| f.snapshot)
        .collect();
    json!({
        "inventory": measure("inventory", inventory, dir),
        "synthetic_10k": measure("synthetic", &synthetic, dir),
    })
}
