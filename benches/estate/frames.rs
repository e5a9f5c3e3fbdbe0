//! Frame time of the key table, and keypress-to-frame latency, in process: the app is filled
//! through `App::update(Message::Region(..))` and drawn by the real `view::render` into a
//! ratatui terminal whose crossterm backend writes to a counting sink, so every frame pays
//! for rendering, the diff against the previous frame and the escape sequences.

use std::io::{self, Write};
use std::time::Instant;

use chrono::Utc;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use keyward::config::Settings;
use keyward::tui::app::{App, Message, Pane};
use keyward::tui::theme::Theme;
use keyward::tui::view;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use serde_json::{Value, json};

use crate::stats::{median, millis, quantile, round};
use crate::synthetic;

const COLUMNS: u16 = 160;
const ROWS: u16 = 48;
/// Frames measured per scenario.
const FRAMES: usize = 400;
/// Filter keystrokes measured (each refilters the whole table).
const FILTER_KEYS: usize = 40;

/// Counts bytes and throws them away.
#[derive(Default)]
struct Sink(u64);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn press(code: KeyCode) -> Message {
    Message::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn summary(samples_ms: &[f64]) -> Value {
    json!({
        "p50_ms": round(quantile(samples_ms, 0.5)),
        "p99_ms": round(quantile(samples_ms, 0.99)),
        "max_ms": round(quantile(samples_ms, 1.0)),
        "samples": samples_ms.len(),
    })
}

/// All frame figures at `total` keys.
pub fn measure(total: usize) -> Value {
    let now = Utc::now();
    let settings = Settings {
        regions: synthetic::REGIONS.iter().map(|r| r.to_string()).collect(),
        ..Settings::default()
    };
    let mut app = App::new(&settings, now);
    let fetches: Vec<_> = synthetic::fetches(total, now).collect();

    // Loading: each region's fetch folded in (the key table re-sorts every time).
    let mut absorb_ms = Vec::new();
    for fetch in fetches.iter().cloned() {
        let started = Instant::now();
        app.update(Message::Region(fetch));
        absorb_ms.push(millis(started.elapsed()));
    }
    app.update(press(KeyCode::Char('2')));
    assert_eq!(app.pane, Pane::Keys, "key 2 opens the key table");

    let backend = CrosstermBackend::new(Sink::default());
    let mut terminal = Terminal::with_options(
        backend,
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, COLUMNS, ROWS)),
        },
    )
    .expect("a terminal on the sink");
    let theme = Theme::from_env();
    let mut draw = |app: &App| {
        let started = Instant::now();
        terminal
            .draw(|frame| {
                view::render(app, theme, frame);
            })
            .expect("draw");
        millis(started.elapsed())
    };
    draw(&app);

    // Frames after the selection moved (the usual frame), and frames with nothing changed.
    let mut frame_ms = Vec::new();
    let mut keypress_ms = Vec::new();
    for i in 0..FRAMES {
        let code = if (i / 100) % 2 == 0 {
            KeyCode::Down
        } else {
            KeyCode::Up
        };
        let started = Instant::now();
        app.update(press(code));
        let update_ms = millis(started.elapsed());
        let frame = draw(&app);
        frame_ms.push(frame);
        keypress_ms.push(update_ms + frame);
    }
    let unchanged_ms: Vec<f64> = (0..FRAMES).map(|_| draw(&app)).collect();

    // Typing a filter: one character, then Backspace, so every keystroke searches the whole
    // table (none narrows the rows an earlier keystroke left).
    app.update(press(KeyCode::Char('/')));
    let mut filter_ms = Vec::new();
    for i in 0..FILTER_KEYS {
        let code = if i % 2 == 0 {
            KeyCode::Char('1')
        } else {
            KeyCode::Backspace
        };
        let started = Instant::now();
        app.update(press(code));
        let update = millis(started.elapsed());
        filter_ms.push(update + draw(&app));
    }
    app.update(press(KeyCode::Esc));

    // A refresh of one region arriving while the table is open.
    let mut refresh_ms = Vec::new();
    for fetch in fetches.iter().take(3).cloned() {
        let started = Instant::now();
        app.update(Message::Region(fetch));
        let update = millis(started.elapsed());
        refresh_ms.push(update + draw(&app));
    }

    json!({
        "keys": total,
        "terminal": format!("{COLUMNS}x{ROWS}"),
        "frame_after_selection_move": summary(&frame_ms),
        "frame_unchanged": summary(&unchanged_ms),
        "keypress_to_frame": summary(&keypress_ms),
        "filter_keystroke_to_frame": summary(&filter_ms),
        "region_refresh_absorbed_and_drawn_ms": round(median(&refresh_ms)),
        "region_absorb_while_loading_ms": round(median(&absorb_ms)),
    })
}
