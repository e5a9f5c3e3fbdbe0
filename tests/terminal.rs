//! The release binary in a pseudo-terminal, with every region pointed at a closed loopback
//! port: the console must come up, show each region's failure, answer the keyboard, and leave
//! the terminal as it found it on every way out.

mod support;

use support::pty::Terminal;

/// A loopback port nothing listens on: every AWS call fails fast with a refused connection.
fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn start(cols: u16, rows: u16) -> Terminal {
    let endpoint = closed_endpoint();
    Terminal::spawn(
        &[
            "--config",
            "/dev/null",
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1,eu-west-1",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("KEYWARD_PKCS11_MODULE", "/nonexistent/libpkcs11.so"),
            ("NO_COLOR", "1"),
        ],
        cols,
        rows,
    )
}

#[test]
fn failing_regions_show_their_error_and_q_restores_the_terminal() {
    let mut term = start(80, 24);
    term.wait_for_text("us-east-1");
    term.wait_for("a connection error for the regions", |s| {
        s.contains("ConnectionFailed")
    });

    term.send(b"?");
    term.wait_for("the help overlay", |s| s.to_lowercase().contains("quit"));
    term.send(b"\x1b");

    term.send(b"q");
    assert_eq!(term.wait_exit(), 0);
    assert!(
        term.screen_restored(),
        "alternate screen or hidden cursor left behind"
    );
    assert!(term.is_cooked(), "raw mode left behind");
}

#[test]
fn pasted_text_never_runs_commands() {
    let mut term = start(80, 24);
    term.wait_for_text("us-east-1");
    term.paste("q");
    term.send(b"?");
    term.wait_for("the help overlay after the paste", |s| {
        s.to_lowercase().contains("quit")
    });
    term.send(b"\x1b");
    term.send(b"\x03");
    assert_eq!(term.wait_exit(), 0);
    assert!(term.is_cooked());
}

#[test]
fn a_terminal_smaller_than_80x24_is_told_so() {
    let mut term = start(60, 20);
    term.wait_for("the too-small message", |s| s.contains("too small"));
    term.resize(80, 24);
    term.wait_for("the console after growing", |s| {
        s.contains("us-east-1") && !s.contains("too small")
    });
    term.send(b"q");
    assert_eq!(term.wait_exit(), 0);
}

#[test]
fn hangup_ends_the_process_and_restores_the_terminal() {
    let mut term = start(80, 24);
    term.wait_for_text("us-east-1");
    let pid = term.process_id().expect("keyward's pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("send SIGHUP");
    term.wait_exit();
    assert!(term.screen_restored());
}
