//! The real keyward binary in a pseudo-terminal, its screen kept by a VT100 parser, so tests
//! type keys and read what an operator would see. Waits are on conditions, with deadlines.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// How long a test waits for the screen to show something before it fails.
pub const SCREEN_DEADLINE: Duration = Duration::from_secs(30);

pub struct Terminal {
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    parser: Arc<Mutex<vt100::Parser>>,
    /// A cache directory of this terminal's own, unless the test named one, so no test reads
    /// or writes the user's snapshot cache.
    _cache: Option<tempfile::TempDir>,
}

impl Terminal {
    /// Starts `keyward` with `args` and `env` in a `cols` x `rows` terminal.
    pub fn spawn(args: &[&str], env: &[(&str, &str)], cols: u16, rows: u16) -> Terminal {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pseudo-terminal");
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_keyward"));
        command.args(args);
        command.env("TERM", "xterm-256color");
        let cache = if env.iter().any(|(name, _)| *name == "XDG_CACHE_HOME") {
            None
        } else {
            let dir = tempfile::tempdir().expect("a cache directory");
            command.env("XDG_CACHE_HOME", dir.path());
            Some(dir)
        };
        for (name, value) in env {
            command.env(name, value);
        }
        let child = pty
            .slave
            .spawn_command(command)
            .expect("start keyward in the terminal");
        drop(pty.slave);

        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let mut reader = pty.master.try_clone_reader().expect("terminal reader");
        let sink = parser.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().process(&buf[..n]);
            }
        });
        let writer = pty.master.take_writer().expect("terminal writer");
        Terminal {
            master: pty.master,
            writer,
            child,
            parser,
            _cache: cache,
        }
    }

    /// The visible screen as text, one line per row.
    pub fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until the screen satisfies `condition`; panics with the screen after the deadline.
    pub fn wait_for(&self, what: &str, condition: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SCREEN_DEADLINE;
        loop {
            let screen = self.screen();
            if condition(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen contains `text`.
    pub fn wait_for_text(&self, text: &str) -> String {
        self.wait_for(&format!("{text:?}"), |s| s.contains(text))
    }

    /// Types bytes as a keyboard would.
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the terminal");
        self.writer.flush().expect("flush the terminal");
    }

    /// Pastes text the way a terminal does with bracketed paste on.
    pub fn paste(&mut self, text: &str) {
        let mut bytes = b"\x1b[200~".to_vec();
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend_from_slice(b"\x1b[201~");
        self.send(&bytes);
    }

    /// Waits for the program to exit and returns its exit code.
    pub fn wait_exit(&mut self) -> u32 {
        let deadline = Instant::now() + SCREEN_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return status.exit_code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("keyward did not exit; the screen shows:\n{}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn process_id(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// True when the terminal is back in cooked mode with echo, as keyward found it.
    pub fn is_cooked(&self) -> bool {
        use nix::sys::termios::LocalFlags;
        let termios = self.master.get_termios().expect("read the terminal's mode");
        termios
            .local_flags
            .contains(LocalFlags::ICANON | LocalFlags::ECHO)
    }

    /// True when the program left the alternate screen and showed the cursor again. The
    /// program may have exited before the reader thread took in its last bytes, so the
    /// screen is given until the deadline to show it.
    pub fn screen_restored(&self) -> bool {
        let deadline = Instant::now() + SCREEN_DEADLINE;
        loop {
            let restored = {
                let parser = self.parser.lock().unwrap();
                !parser.screen().alternate_screen() && !parser.screen().hide_cursor()
            };
            if restored || Instant::now() > deadline {
                return restored;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize the terminal");
        self.parser
            .lock()
            .unwrap()
            .screen_mut()
            .set_size(rows, cols);
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}
