//! The real keyward binary in a pseudo-terminal against moto: start to first frame and to
//! first live rows, idle CPU and bytes written with 10,000 keys loaded, resident memory.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use serde_json::{Value, json};

use crate::memory::{rss_mib, rss_parts_mib};
use crate::stats::round;

const COLUMNS: u16 = 160;
const ROWS: u16 = 48;
/// How long the idle figures are measured over.
const IDLE_WINDOW: Duration = Duration::from_secs(60);
/// What the overview's READ column shows for a region whose keys are not yet listed.
const LISTING_MARK: &str = "listing";
/// The overview's region table header, which no other pane shows.
const OVERVIEW_MARK: &str = "OVERDUE OFF";

/// Whether a read is under way: a region loading, listing, or with keys left to describe.
fn under_way(screen: &str) -> bool {
    screen.contains("loading") || screen.contains(LISTING_MARK) || screen.contains(" left")
}
/// Output that stops for this long means the console has nothing more to draw.
const QUIET: Duration = Duration::from_secs(2);

struct Console {
    _master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    parser: Arc<Mutex<vt100::Parser>>,
    /// Bytes the console wrote, and when the last ones came.
    written: Arc<Mutex<(u64, Instant)>>,
    started: Instant,
}

impl Console {
    fn spawn(binary: &Path, env: &[(&str, String)]) -> Console {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLUMNS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pseudo-terminal");
        let mut command = CommandBuilder::new(binary);
        command.env_clear();
        command.env("TERM", "xterm-256color");
        command.env("PATH", std::env::var("PATH").unwrap_or_default());
        for (name, value) in env {
            command.env(name, value);
        }
        let started = Instant::now();
        let child = pty.slave.spawn_command(command).expect("start keyward");
        drop(pty.slave);
        let parser = Arc::new(Mutex::new(vt100::Parser::new(ROWS, COLUMNS, 0)));
        let written = Arc::new(Mutex::new((0u64, Instant::now())));
        let mut reader = pty.master.try_clone_reader().expect("terminal reader");
        let (sink, count) = (parser.clone(), written.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().process(&buf[..n]);
                let mut count = count.lock().unwrap();
                *count = (count.0 + n as u64, Instant::now());
            }
        });
        let writer = pty.master.take_writer().expect("terminal writer");
        Console {
            _master: pty.master,
            writer,
            child,
            parser,
            written,
            started,
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Seconds from start until the screen shows `text`, or `None` after `deadline`.
    fn wait_for(&self, text: &str, deadline: Duration) -> Option<f64> {
        self.wait_until(|screen| screen.contains(text), deadline)
    }

    /// Seconds from start until the screen satisfies `condition`, or `None` after `deadline`.
    fn wait_until(&self, condition: impl Fn(&str) -> bool, deadline: Duration) -> Option<f64> {
        let until = Instant::now() + deadline;
        while Instant::now() < until {
            if condition(&self.screen()) {
                return Some(self.started.elapsed().as_secs_f64());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    fn wait_quiet(&self, deadline: Duration) {
        let until = Instant::now() + deadline;
        while Instant::now() < until {
            if self.written.lock().unwrap().1.elapsed() >= QUIET {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn bytes(&self) -> u64 {
        self.written.lock().unwrap().0
    }

    fn send(&mut self, bytes: &[u8]) {
        let _ = self.writer.write_all(bytes);
        let _ = self.writer.flush();
    }

    fn pid(&self) -> String {
        self.child.process_id().expect("keyward runs").to_string()
    }

    /// Quits with `q`, killing the console if it does not exit within seconds.
    fn quit(mut self) {
        self.send(b"q");
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User plus system CPU seconds of process `pid`, all threads.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Two starts of the console on the estate `regions` of `endpoint` (which holds `keys` keys):
/// a cold one measured through loading and a minute of idle, then a second start (which
/// finds whatever the first left in its cache directory).
pub fn measure(
    binary: &Path,
    endpoint: &str,
    regions: &[String],
    keys: usize,
    scratch: &Path,
) -> Value {
    let config = scratch.join("keyward.toml");
    let quoted: Vec<String> = regions.iter().map(|r| format!("{r:?}")).collect();
    std::fs::write(
        &config,
        format!(
            "regions = [{}]\nrefresh_interval_secs = 900\nread_only = true\n",
            quoted.join(", ")
        ),
    )
    .expect("write the bench config");
    let env = vec![
        ("KEYWARD_CONFIG", config.display().to_string()),
        ("KEYWARD_ENDPOINT_URL", endpoint.to_owned()),
        (
            "KEYWARD_AUDIT_LOG",
            scratch.join("journal.jsonl").display().to_string(),
        ),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", regions[0].clone()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("HOME", scratch.display().to_string()),
        (
            "XDG_CACHE_HOME",
            scratch.join("cache").display().to_string(),
        ),
        (
            "XDG_CONFIG_HOME",
            scratch.join("config").display().to_string(),
        ),
        ("XDG_DATA_HOME", scratch.join("data").display().to_string()),
    ];
    let total_marker = format!("of {keys},");

    // Cold start: first frame, first rows (listed, live), every key described. Until then
    // the region line says "loading" or counts the keys left.
    let mut console = Console::spawn(binary, &env);
    let first_frame = console.wait_for("keyward", Duration::from_secs(30));
    console.send(b"2");
    let first_rows = console.wait_for("alias/bench-", Duration::from_secs(300));
    let all_rows = console.wait_until(
        |screen| screen.contains(&total_marker) && !under_way(screen),
        Duration::from_secs(300),
    );
    console.wait_quiet(Duration::from_secs(60));
    let pid = console.pid();
    let (peak_loaded, rss_loaded) = rss_mib(&pid);
    let (anon_loaded, file_loaded) = rss_parts_mib(&pid);

    // Idle: a minute with the table open and no refresh due (the interval is 15 minutes).
    let (cpu_before, bytes_before) = (cpu_seconds(&pid), console.bytes());
    std::thread::sleep(IDLE_WINDOW);
    let idle_cpu = (cpu_seconds(&pid) - cpu_before) / IDLE_WINDOW.as_secs_f64();
    let idle_bytes = console.bytes() - bytes_before;
    let (peak_idle, rss_idle) = rss_mib(&pid);
    let screen_loaded = console.screen().contains(&total_marker);
    console.quit();

    // Warm start: what the console shows first when it has been run before (the cached
    // rows), then on the overview, whose READ column says "listing" for each region not yet
    // listed live: the first region listed, and every region read live.
    let mut warm = Console::spawn(binary, &env);
    let warm_frame = warm.wait_for("keyward", Duration::from_secs(30));
    warm.send(b"2");
    let warm_rows = warm.wait_for("alias/bench-", Duration::from_secs(5));
    warm.send(b"1");
    let overview = |screen: &str| screen.contains(OVERVIEW_MARK);
    let warm_first_live = warm.wait_until(
        |screen| overview(screen) && screen.matches(LISTING_MARK).count() < regions.len(),
        Duration::from_secs(300),
    );
    let warm_live = warm.wait_until(
        |screen| overview(screen) && !under_way(screen),
        Duration::from_secs(300),
    );
    warm.quit();

    json!({
        "keys": keys,
        "regions": regions.len(),
        "terminal": format!("{COLUMNS}x{ROWS}"),
        "cold_start_to_first_frame_ms": first_frame.map(|s| round(s * 1000.0)),
        "cold_start_to_first_rows_s": first_rows.map(round),
        "cold_start_to_all_rows_s": all_rows.map(round),
        "loaded_rss_mib": round(rss_loaded),
        "loaded_peak_mib": round(peak_loaded.max(peak_idle)),
        "loaded_rss_anonymous_mib": round(anon_loaded),
        "loaded_rss_file_mib": round(file_loaded),
        "idle_rss_mib": round(rss_idle),
        "idle_window_s": IDLE_WINDOW.as_secs(),
        "idle_cpu_share_of_one_core": round(idle_cpu),
        "idle_bytes_written": idle_bytes,
        "all_keys_on_screen_after_idle": screen_loaded,
        "warm_start_to_first_frame_ms": warm_frame.map(|s| round(s * 1000.0)),
        "warm_start_to_first_rows_s": warm_rows.map(round),
        "warm_start_to_first_live_rows_s": warm_first_live.map(round),
        "warm_start_to_all_rows_live_s": warm_live.map(round),
    })
}
