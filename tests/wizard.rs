//! The root-key ceremony through the console's wizard, in a pseudo-terminal, against a real
//! SoftHSM2 token directory of this test's own: every step confirmed from the keyboard, PINs
//! typed and never shown, the key check value on screen, and a transcript and journal entry
//! that name the people, the token and the KCV but hold no PIN.

#[allow(dead_code)]
#[path = "support/pty.rs"]
mod pty;
#[allow(dead_code)]
#[path = "support/softhsm.rs"]
mod softhsm;

use std::process::Command;

use pty::Terminal;

const SO_PIN: &str = "wizard-so-4711";
const USER_PIN: &str = "wizard-user-0815";

/// A loopback port nothing listens on: AWS is not part of this test.
fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}")
}

fn type_pin(term: &mut Terminal, pin: &str) {
    term.send(pin.as_bytes());
    let screen = term.wait_for("the PIN typed", |s| s.contains("(hidden)"));
    assert!(!screen.contains(pin), "a PIN is on screen:\n{screen}");
    term.send(b"\r");
}

fn step(term: &mut Terminal, number: usize) {
    term.wait_for(&format!("step {number} waiting for y"), |s| {
        s.contains(&format!("Step {number}:")) && s.contains("y runs this step")
    });
    term.send(b"y");
}

#[test]
fn an_officer_runs_a_whole_ceremony_from_the_keyboard() {
    let (dir, conf) = softhsm::token_directory();
    let journal = dir.path().join("audit.jsonl");
    let endpoint = closed_endpoint();
    let module = softhsm::module();
    let env = [
        ("SOFTHSM2_CONF", conf.to_str().unwrap()),
        ("KEYWARD_PKCS11_MODULE", module.to_str().unwrap()),
        ("KEYWARD_AUDIT_LOG", journal.to_str().unwrap()),
        ("KEYWARD_CONFIG", "/dev/null"),
        ("KEYWARD_ENDPOINT_URL", endpoint.as_str()),
        ("KEYWARD_REGIONS", "us-east-1"),
        ("KEYWARD_LOG", "warn,keyward=debug"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("NO_COLOR", "1"),
    ];
    let mut term = Terminal::spawn(&[], &env, 100, 40);

    // Step 1: the HSM pane lists the blank token; the wizard opens on it.
    term.send(b"5");
    term.wait_for("the free slot", |s| {
        s.contains("free: no initialized token")
    });
    term.send(b"c");
    term.wait_for_text("Ceremony name");
    term.send(b"Alice Auditor, Bob Builder");
    for _ in 0..6 {
        term.send(b"\r");
    }
    term.wait_for("the steps laid out", |s| s.contains("Step 1:"));

    // Step 2: prepare, initialize (new SO PIN twice), set the user PIN, generate, verify.
    step(&mut term, 1);
    step(&mut term, 2);
    type_pin(&mut term, SO_PIN);
    type_pin(&mut term, SO_PIN);
    step(&mut term, 3);
    type_pin(&mut term, SO_PIN);
    type_pin(&mut term, USER_PIN);
    type_pin(&mut term, USER_PIN);
    step(&mut term, 4);
    type_pin(&mut term, USER_PIN);
    step(&mut term, 5);
    type_pin(&mut term, USER_PIN);
    let done = term.wait_for("the transcript written", |s| {
        s.contains("Enter or Esc closes.")
    });
    assert!(done.contains("Ceremony completed."), "{done}");
    assert!(done.contains("KCV "), "{done}");
    assert!(!done.contains(SO_PIN) && !done.contains(USER_PIN), "{done}");

    // Step 3: the HSM pane lists the token again, now initialized under its label.
    term.send(b"\r");
    term.wait_for("the new token listed", |s| {
        s.contains("\"root-") && s.contains("user PIN set")
    });
    // Logged in as the user, the pane lists the root key: sensitive, never extractable, made
    // on the token, with the KCV the ceremony showed.
    let kcv = done
        .split("KCV ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the ceremony's KCV")
        .to_owned();
    term.send(b"l");
    term.wait_for_text("Enter asks for its user PIN");
    term.send(b"\r");
    type_pin(&mut term, USER_PIN);
    let objects = term.wait_for("the token's objects", |s| s.contains("Objects on"));
    for needed in [
        "sensitive",
        "not extractable",
        "never extractable",
        "generated on the token",
    ] {
        assert!(objects.contains(needed), "{needed}:\n{objects}");
    }
    assert!(
        objects.contains(&format!("KCV {kcv}")),
        "KCV {kcv}:\n{objects}"
    );
    assert!(!objects.contains(USER_PIN));

    // The log pane, at debug level, holds no PIN either.
    term.send(b"8");
    let log = term.wait_for("the log pane", |s| s.contains("ceremony step succeeded"));
    assert!(!log.contains(SO_PIN) && !log.contains(USER_PIN), "{log}");
    term.send(b"q");
    assert_eq!(term.wait_exit(), 0);
    assert!(term.screen_restored() && term.is_cooked());

    // Step 4: the transcript beside the journal, complete and free of PINs.
    let transcripts: Vec<_> = std::fs::read_dir(dir.path().join("ceremonies"))
        .expect("a ceremonies folder beside the journal")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(transcripts.len(), 2, "{transcripts:?}");
    for path in &transcripts {
        let text = std::fs::read_to_string(path).unwrap();
        for needed in ["Alice Auditor", "Bob Builder", "root-key-"] {
            assert!(text.contains(needed), "{} lacks {needed}", path.display());
        }
        assert!(
            !text.contains(SO_PIN) && !text.contains(USER_PIN),
            "{}",
            path.display()
        );
    }
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    assert!(journal_text.contains("\"ceremony\""), "{journal_text}");
    assert!(!journal_text.contains(SO_PIN) && !journal_text.contains(USER_PIN));
    let verify = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["audit", "verify", "--audit-log"])
        .arg(&journal)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
