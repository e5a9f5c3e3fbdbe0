//! The real keyward binary's console in a pseudo-terminal, against moto seeded with the
//! sandbox estate (real API dates months in the past): the key table appears, `/` filters,
//! `?` helps, a rotation is planned, cancelled, confirmed and seen in the detail view, the
//! audit journal vouches for it, and `q` leaves the terminal as it was.
//!
//! Needs scripts/install-deps (moto in .venv, libfaketime). Waits are on what the screen
//! shows, with deadlines; nothing asserts how long anything took.

mod support;

use std::process::Command;

use keyward::sandbox::{self, MotoServer, plan};
use support::estate;
use support::pty::Terminal;

/// moto with the sandbox estate in an account of this test's own.
struct Estate {
    _runtime: tokio::runtime::Runtime,
    _moto: MotoServer,
    env: Vec<(&'static str, String)>,
    journal: tempfile::TempDir,
}

fn seeded() -> Estate {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (moto, settings) = runtime.block_on(async {
        let moto = estate::moto(true).await;
        let settings = estate::settings(&moto, &plan::REGIONS);
        let account = settings.aws.emulator_account_id.clone();
        sandbox::seed(&moto, account.as_deref())
            .await
            .expect("seed the sandbox estate");
        (moto, settings)
    });
    let journal = tempfile::tempdir().unwrap();
    let mut env = estate::binary_env(&settings);
    env.push(("KEYWARD_PKCS11_MODULE", "/nonexistent/libpkcs11.so".into()));
    env.push((
        "KEYWARD_AUDIT_LOG",
        journal.path().join("audit.jsonl").display().to_string(),
    ));
    env.push(("NO_COLOR", "1".into()));
    Estate {
        _runtime: runtime,
        _moto: moto,
        env,
        journal,
    }
}

fn console(estate: &Estate) -> Terminal {
    let env: Vec<(&str, &str)> = estate.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Terminal::spawn(&[], &env, 80, 24)
}

/// The text of the row naming `alias` in `region`, as the screen shows it.
fn row<'s>(screen: &'s str, region: &str, alias: &str) -> Option<&'s str> {
    screen
        .lines()
        .find(|l| l.contains(region) && l.contains(alias))
}

/// The "on-demand N of 25 used" count in a detail view.
fn on_demand_used(screen: &str) -> u32 {
    let at = screen
        .find("on-demand ")
        .expect("the detail shows on-demand rotations");
    screen[at + "on-demand ".len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

#[test]
fn the_key_table_filters_helps_and_quits_leaving_the_terminal_as_it_was() {
    let estate = seeded();
    let mut term = console(&estate);
    term.wait_for("the overview with every region read", |s| {
        s.contains("Regions")
            && plan::REGIONS.iter().all(|r| s.contains(r))
            && !s.contains("loading")
    });

    term.send(b"2");
    let screen = term.wait_for_text("alias/payments-data");
    let overdue = row(&screen, "eu-west-1", "alias/customer-pii").expect("the overdue key's row");
    assert!(overdue.contains("OVERDUE"), "{overdue}");
    let signing = row(&screen, "us-east-1", "alias/document-signing").expect("the ECC key");
    assert!(signing.contains("manual"), "{signing}");

    term.send(b"/ledger");
    term.wait_for("the filtered table", |s| {
        s.contains("alias/ledger-data") && !s.contains("alias/payments-data")
    });
    term.send(b"\x1b");
    term.wait_for_text("alias/payments-data");

    term.send(b"?");
    term.wait_for("the help overlay", |s| s.contains("quit (Ctrl-C too)"));
    term.send(b"\x1b");
    term.wait_for("the help closed", |s| !s.contains("quit (Ctrl-C too)"));

    term.send(b"q");
    assert_eq!(term.wait_exit(), 0);
    assert!(
        term.screen_restored(),
        "alternate screen or hidden cursor left behind"
    );
    assert!(term.is_cooked(), "raw mode left behind");
}

#[test]
fn a_rotation_is_cancelled_then_confirmed_and_seen_in_the_detail_and_the_journal() {
    let estate = seeded();
    let mut term = console(&estate);
    term.send(b"2");
    term.wait_for_text("alias/legacy-reporting");
    term.send(b"/legacy-reporting\r");
    term.wait_for("one key", |s| s.contains("Keys: 1 of"));
    term.send(b"\r");
    let before = on_demand_used(&term.wait_for_text("on-demand "));

    // Plan it and walk away: nothing changes, and the cancellation is journaled.
    term.send(b"a");
    term.wait_for_text("> rotate now");
    term.send(b"\r");
    term.wait_for_text("Press y to run this plan");
    term.send(b"\x1b");
    term.wait_for("the dialog closed", |s| !s.contains("Press y"));
    term.send(b"r");
    term.wait_for("the refresh", |s| !s.contains("loading"));
    assert_eq!(
        on_demand_used(&term.screen()),
        before,
        "a cancelled plan changed the key"
    );

    // Now confirm it.
    term.send(b"a");
    term.wait_for_text("> rotate now");
    term.send(b"\r");
    term.wait_for_text("Press y to run this plan");
    term.send(b"y");
    let done = term.wait_for("the run to finish", |s| s.contains("Journaled as entry"));
    assert!(done.contains("Every step succeeded"), "{done}");
    assert!(
        done.contains("request "),
        "each step shows its request id:\n{done}"
    );
    term.send(b"\r");
    term.wait_for("the detail showing the new rotation", |s| {
        s.contains("on-demand ") && on_demand_used(s) == before + 1
    });
    term.send(b"q");
    assert_eq!(term.wait_exit(), 0);

    let journal = estate.journal.path().join("audit.jsonl");
    let text = std::fs::read_to_string(&journal).expect("the journal");
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines().next().unwrap().contains("\"cancelled\""),
        "{text}"
    );
    assert!(
        text.lines().nth(1).unwrap().contains("\"key_press\""),
        "{text}"
    );
    let verify = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["audit", "verify", "--audit-log"])
        .arg(&journal)
        .output()
        .expect("run keyward audit verify");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[test]
fn a_drill_losing_a_region_shows_on_one_screen_what_survives() {
    let estate = seeded();
    let mut term = console(&estate);
    term.wait_for("every region read", |s| {
        plan::REGIONS.iter().all(|r| s.contains(r)) && !s.contains("loading")
    });
    term.send(b"d");
    term.wait_for_text("lose eu-west-1");
    // The choices are: no region, then the regions in order.
    term.send(b"jj\r");
    let screen = term.wait_for("the verdict", |s| s.contains("verdict "));
    assert!(screen.contains("DR DRILL  losing eu-west-1"), "{screen}");
    assert!(
        screen.contains("Drill: what losing eu-west-1 would mean"),
        "{screen}"
    );
    // moto truncates the key id inside multi-region ciphertexts, so no replica can decrypt a
    // data key made under its primary: against moto the drill must fail exactly there.
    assert!(screen.contains("verdict FAILED"), "{screen}");
    assert!(
        screen.contains("FAIL round_trip alias/settlements-data"),
        "the multi-region round trip is what fails:\n{screen}"
    );
    term.send(b"d");
    term.wait_for("drill mode ended", |s| !s.contains("DR DRILL"));
    term.send(b"q");
    assert_eq!(term.wait_exit(), 0);

    let journal = std::fs::read_to_string(estate.journal.path().join("audit.jsonl")).unwrap();
    assert!(
        journal.contains("DR drill losing eu-west-1: FAILED"),
        "{journal}"
    );
}
