//! moto server as a child process on a free loopback port, optionally with a movable clock.
//!
//! The sandbox and the integration tests both start moto through [`MotoServer`]. The child
//! runs `assets/moto_launcher.py` (embedded here), which binds 127.0.0.1 on port 0, prints the
//! port, and exits when its standard input closes, so it dies with keyward even when keyward
//! is killed. Under libfaketime the child reads its clock offset from a file on every time
//! call, so [`MotoServer::set_clock_offset`] moves moto's "now" between API calls.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, Command};
use tokio::time::{Instant, timeout_at};

use super::scratch::ScratchDir;

/// Names the Python interpreter that has `moto[server]` installed.
pub const PYTHON_ENV: &str = "KEYWARD_MOTO_PYTHON";
/// Names libfaketime's preload library, where the usual directories do not hold it.
pub const LIBFAKETIME_ENV: &str = "KEYWARD_LIBFAKETIME";

const LAUNCHER: &str = include_str!("../../assets/moto_launcher.py");
const LAUNCHER_FILE: &str = "moto_launcher.py";
const CLOCK_FILE: &str = "moto-clock";
/// How long moto may take from spawn to answering `GET /moto-api/` (about 2 s normally).
const START_DEADLINE: Duration = Duration::from_secs(60);
/// Pause between readiness probes while moto starts.
const READY_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How far back the start-up check moves moto's clock.
const CLOCK_CHECK_DAYS: i64 = 400;
/// Lines of moto's standard error kept for error messages.
const OUTPUT_TAIL_LINES: usize = 30;

/// moto could not be started, controlled or stopped.
#[derive(Debug, Error)]
pub enum MotoError {
    #[error("cannot write {path}: {error}")]
    Write { path: PathBuf, error: io::Error },
    #[error(
        "cannot run {python}: {error}; run scripts/install-deps (it makes .venv with \
         moto[server]) or set {PYTHON_ENV} to a Python that has moto[server]"
    )]
    Spawn { python: PathBuf, error: io::Error },
    #[error(
        "{message}; run scripts/install-deps (it installs moto[server] into .venv) or set \
         {PYTHON_ENV}"
    )]
    MotoMissing { message: String },
    #[error("moto server exited before it was ready ({status}); its last output:\n{output}")]
    Exited { status: String, output: String },
    #[error(
        "moto server did not {stage} within {} s; its last output:\n{output}",
        START_DEADLINE.as_secs()
    )]
    NotReady { stage: &'static str, output: String },
    #[error(
        "libfaketime was not found (looked for {}); run scripts/install-deps (it installs \
         Debian's faketime) or set {LIBFAKETIME_ENV} to libfaketime.so.1",
        .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NoFaketime { searched: Vec<PathBuf> },
    #[error(
        "moto's clock did not move under libfaketime (it reported {}); check \
         {LIBFAKETIME_ENV} or reinstall faketime with scripts/install-deps; moto's last \
         output:\n{output}",
        .reported.map_or_else(|| "no date".to_owned(), |d| d.to_rfc3339())
    )]
    ClockNotMoving {
        reported: Option<DateTime<Utc>>,
        output: String,
    },
    #[error("moto's clock cannot be moved: this server was started without libfaketime")]
    ClockFixed,
    #[error("stopping moto server (pid {pid}): {error}")]
    Stop { pid: u32, error: io::Error },
}

/// How to start moto.
#[derive(Debug, Clone, Default)]
pub struct MotoOptions {
    /// Where the launcher and the clock file go; a private temporary directory (removed when
    /// the server is dropped) when `None`.
    pub dir: Option<PathBuf>,
    /// Run moto under libfaketime so [`MotoServer::set_clock_offset`] works. Fails to start
    /// when libfaketime is not installed.
    pub movable_clock: bool,
}

/// A running moto server; killed when dropped.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    /// Held open: the launcher exits when it closes.
    stdin: Option<ChildStdin>,
    endpoint_url: String,
    clock_file: Option<PathBuf>,
    output: OutputTail,
    /// Declared last, so the directory goes after the child is killed.
    _scratch: Option<ScratchDir>,
}

impl MotoServer {
    /// Starts moto and waits until it answers; bounded by a deadline, never a fixed sleep.
    pub async fn start(options: MotoOptions) -> Result<MotoServer, MotoError> {
        let (scratch, dir) = match &options.dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let scratch = ScratchDir::new("moto").map_err(|error| MotoError::Write {
                    path: std::env::temp_dir(),
                    error,
                })?;
                let dir = scratch.path().to_path_buf();
                (Some(scratch), dir)
            }
        };
        let launcher = dir.join(LAUNCHER_FILE);
        write_file(&launcher, LAUNCHER)?;

        // Step 1: the command, with libfaketime preloaded when the clock must move.
        let python = python();
        let mut command = Command::new(&python);
        command
            .arg(&launcher)
            .env("PYTHONUNBUFFERED", "1")
            // moto's account must come from each request's header, never the environment.
            .env_remove("MOTO_ACCOUNT_ID")
            .env_remove("MOTO_PORT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C meant for keyward reaches keyward, which then
            // stops moto in order.
            .process_group(0)
            .kill_on_drop(true);
        let clock_file = if options.movable_clock {
            let library = find_libfaketime()?;
            let clock_file = dir.join(CLOCK_FILE);
            write_clock(&clock_file, TimeDelta::zero())?;
            command
                .env("LD_PRELOAD", library)
                .env("FAKETIME_TIMESTAMP_FILE", &clock_file)
                .env("FAKETIME_NO_CACHE", "1")
                // Timeouts inside the server run on the real monotonic clock.
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
            Some(clock_file)
        } else {
            None
        };

        // Step 2: spawn, and keep draining its standard error so it never blocks on a pipe.
        let mut child = command.spawn().map_err(|error| MotoError::Spawn {
            python: python.clone(),
            error,
        })?;
        let stdin = child.stdin.take();
        let output = OutputTail::default();
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(output.clone().collect(stderr));
        }
        let deadline = Instant::now() + START_DEADLINE;
        let stdout = child.stdout.take().expect("stdout is piped");
        let port = read_port(&mut child, stdout, &output, deadline).await?;

        // Step 3: wait until moto answers its own API.
        let mut server = MotoServer {
            child,
            stdin,
            endpoint_url: format!("http://127.0.0.1:{port}"),
            clock_file,
            output,
            _scratch: scratch,
        };
        server.wait_ready(port, deadline).await?;
        if server.clock_file.is_some() {
            server.check_clock_moves(port, deadline).await?;
        }
        tracing::debug!(endpoint = %server.endpoint_url, pid = ?server.pid(), "moto server ready");
        Ok(server)
    }

    /// The URL every AWS client of this server uses, such as `http://127.0.0.1:40123`.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// The child's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether [`set_clock_offset`](Self::set_clock_offset) can move this server's clock.
    pub fn has_movable_clock(&self) -> bool {
        self.clock_file.is_some()
    }

    /// Sets moto's clock to the real time plus `offset` (negative: the past), effective from
    /// moto's next time call. `TimeDelta::zero()` returns it to real time.
    pub fn set_clock_offset(&self, offset: TimeDelta) -> Result<(), MotoError> {
        let file = self.clock_file.as_ref().ok_or(MotoError::ClockFixed)?;
        write_clock(file, offset)
    }

    /// Stops the server and waits until the process is gone.
    pub async fn stop(mut self) -> Result<(), MotoError> {
        let pid = self.child.id().unwrap_or_default();
        self.stdin.take();
        // An error here means it has already exited; the wait below reaps it either way.
        let _ = self.child.start_kill();
        self.child
            .wait()
            .await
            .map(|_| ())
            .map_err(|error| MotoError::Stop { pid, error })
    }

    /// Moves the clock back and reads it from moto's `Date` header: a preload library that
    /// did not load would otherwise leave every seeded date silently at today.
    async fn check_clock_moves(&self, port: u16, deadline: Instant) -> Result<(), MotoError> {
        let offset = TimeDelta::days(-CLOCK_CHECK_DAYS);
        self.set_clock_offset(offset)?;
        let reported = moto_api(port, deadline).await;
        self.set_clock_offset(TimeDelta::zero())?;
        let expected = Utc::now() + offset;
        match reported.flatten() {
            Some(date) if (date - expected).abs() < TimeDelta::hours(1) => Ok(()),
            reported => Err(MotoError::ClockNotMoving {
                reported,
                output: self.output.text(),
            }),
        }
    }

    async fn wait_ready(&mut self, port: u16, deadline: Instant) -> Result<(), MotoError> {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(MotoError::Exited {
                    status: status.to_string(),
                    output: self.output.text(),
                });
            }
            if moto_api(port, deadline).await.is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(MotoError::NotReady {
                    stage: "answer GET /moto-api/",
                    output: self.output.text(),
                });
            }
            tokio::time::sleep(READY_POLL_INTERVAL).await;
        }
    }
}

/// The Python to run moto with: `KEYWARD_MOTO_PYTHON`, else the `.venv` of the source tree
/// keyward was built from, else `./.venv`, else `python3` from `PATH`.
pub fn python() -> PathBuf {
    if let Some(explicit) = std::env::var_os(PYTHON_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(explicit);
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let here = Path::new(".venv/bin/python");
    [built_from, here.to_path_buf()]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// libfaketime's preload library: `KEYWARD_LIBFAKETIME`, else the first found among the
/// distributions' usual directories (multiarch ones included).
pub fn find_libfaketime() -> Result<PathBuf, MotoError> {
    if let Some(explicit) = std::env::var_os(LIBFAKETIME_ENV).filter(|v| !v.is_empty()) {
        let explicit = PathBuf::from(explicit);
        return match explicit.is_file() {
            true => Ok(explicit),
            false => Err(MotoError::NoFaketime {
                searched: vec![explicit],
            }),
        };
    }
    let mut searched = Vec::new();
    for base in ["/usr/lib", "/usr/lib64", "/usr/local/lib", "/lib"] {
        let base = Path::new(base);
        let mut dirs = vec![base.to_path_buf()];
        if let Ok(entries) = std::fs::read_dir(base) {
            let mut arch: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with("-linux-gnu"))
                .collect();
            arch.sort();
            dirs.extend(arch);
        }
        for dir in dirs {
            let candidate = dir.join("faketime/libfaketime.so.1");
            if candidate.is_file() {
                return Ok(candidate);
            }
            searched.push(candidate);
        }
    }
    Err(MotoError::NoFaketime { searched })
}

/// Writes the offset the way libfaketime reads it ("+0", "-10368000" seconds), replacing the
/// file in one step so moto never reads half a value.
fn write_clock(file: &Path, offset: TimeDelta) -> Result<(), MotoError> {
    let staging = file.with_extension("new");
    write_file(&staging, &format!("{:+}\n", offset.num_seconds()))?;
    std::fs::rename(&staging, file).map_err(|error| MotoError::Write {
        path: file.to_owned(),
        error,
    })
}

fn write_file(path: &Path, text: &str) -> Result<(), MotoError> {
    std::fs::write(path, text).map_err(|error| MotoError::Write {
        path: path.to_owned(),
        error,
    })
}

/// Reads the launcher's standard output until it names the port, reports that moto is
/// missing, or ends.
async fn read_port(
    child: &mut Child,
    stdout: impl AsyncRead + Unpin + Send + 'static,
    output: &OutputTail,
    deadline: Instant,
) -> Result<u16, MotoError> {
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = match timeout_at(deadline, lines.next_line()).await {
            Err(_) => {
                return Err(MotoError::NotReady {
                    stage: "print its port",
                    output: output.text(),
                });
            }
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None) | Err(_)) => {
                let status = timeout_at(deadline, child.wait()).await;
                let status = match status {
                    Ok(Ok(status)) => status.to_string(),
                    _ => "its output closed".to_owned(),
                };
                return Err(MotoError::Exited {
                    status,
                    output: output.text(),
                });
            }
        };
        if let Some(message) = line.strip_prefix("keyward-moto-error ") {
            return Err(MotoError::MotoMissing {
                message: message.to_owned(),
            });
        }
        let port = line
            .strip_prefix("keyward-moto-port ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|port| port.parse::<u16>().ok());
        if let Some(port) = port {
            // Nothing else is expected on stdout; drain it anyway so a print never blocks.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(port);
        }
        output.push(line);
    }
}

/// `GET /moto-api/` on the port: `Some(Date header)` when it answers 200 (the date is `None`
/// when the header is missing or unreadable), `None` when it does not answer yet.
async fn moto_api(port: u16, deadline: Instant) -> Option<Option<DateTime<Utc>>> {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream
            .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .ok()?;
        // HTTP/1.0: the server closes the connection after the response.
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        let text = String::from_utf8_lossy(&response);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let ok = head.starts_with("HTTP/1.") && head.get(9..12) == Some("200");
        ok.then(|| {
            head.lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("date"))
                .and_then(|(_, value)| DateTime::parse_from_rfc2822(value.trim()).ok())
                .map(|date| date.with_timezone(&Utc))
        })
    };
    let one_probe = Instant::now() + Duration::from_secs(5);
    timeout_at(one_probe.min(deadline), attempt)
        .await
        .ok()
        .flatten()
}

/// The last lines moto wrote, for error messages; also logged at debug level.
#[derive(Debug, Clone, Default)]
struct OutputTail(Arc<Mutex<VecDeque<String>>>);

impl OutputTail {
    fn push(&self, line: String) {
        tracing::debug!(target: "keyward::sandbox::moto", "{line}");
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == OUTPUT_TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    fn text(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.is_empty() {
            "(nothing)".to_owned()
        } else {
            lines.iter().cloned().collect::<Vec<_>>().join("\n")
        }
    }

    async fn collect(self, stream: impl AsyncRead + Unpin) {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            self.push(line);
        }
    }
}
