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
    runtime: tokio::runtime::Runtime,
    moto: Option<MotoServer>,
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
        runtime,
        moto: Some(moto),
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

/// No region is being read: none loading (the region line), listing (the overview) or with
/// keys left to describe (both).
fn settled(screen: &str) -> bool {
    !screen.contains("loading") && !screen.contains("listing") && !screen.contains(" left")
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
        s.contains("Regions") && plan::REGIONS.iter().all(|r| s.contains(r)) && settled(s)
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
    // Every key described first: a key still being read offers no action.
    term.wait_for("every region read", |s| {
        plan::REGIONS.iter().all(|r| s.contains(r)) && s.contains("Regions") && settled(s)
    });
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
    term.wait_for("the refresh", settled);
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
        plan::REGIONS.iter().all(|r| s.contains(r)) && settled(s)
    });
    term.send(b"d");
    term.wait_for_text("lose eu-west-1");
    // The choices are: no region, then the regions in order.
    term.send(b"jj\r");
    let screen = term.wait_for("the verdict", |s| {
        s.contains("verdict FAILED") || s.contains("verdict PASSED")
    });
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

/// Every file named `name` below `dir`.
fn find(dir: &std::path::Path, name: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(find(&path, name));
        } else if path.file_name().is_some_and(|n| n == name) {
            found.push(path);
        }
    }
    found
}

#[test]
fn the_last_snapshot_is_shown_marked_cached_when_the_endpoint_is_gone() {
    let mut estate = seeded();
    let cache = tempfile::tempdir().unwrap();
    estate
        .env
        .push(("XDG_CACHE_HOME", cache.path().display().to_string()));

    // Step 1: a first run reads the estate live and leaves the snapshot cache behind.
    let mut term = console(&estate);
    term.wait_for("every region read", |s| {
        plan::REGIONS.iter().all(|r| s.contains(r)) && settled(s)
    });
    let deadline = std::time::Instant::now() + support::pty::SCREEN_DEADLINE;
    while find(cache.path(), "snapshot.json").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no snapshot cache was written"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    term.send(b"q");
    assert_eq!(term.wait_exit(), 0);
    let file = &find(cache.path(), "snapshot.json")[0];
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the cache is readable by the user alone");

    // Step 2: moto is gone; the next run shows the cached keys, says so, and shows the errors.
    let moto = estate.moto.take().unwrap();
    estate.runtime.block_on(moto.stop()).expect("stop moto");
    let mut term = console(&estate);
    term.send(b"2");
    term.wait_for("the cached keys and the live errors", |s| {
        s.contains("alias/payments-data") && s.contains("us-east-1 cached, ERROR")
    });
    // The overview names each region's failure with the age of the cached data.
    term.send(b"1");
    term.wait_for("every region's failure", |s| {
        plan::REGIONS
            .iter()
            .all(|r| s.contains(&format!("{r} NOT READ ConnectionFailed")))
    });
    term.send(b"q");
    assert_eq!(term.wait_exit(), 0);
}

#[test]
fn a_region_behind_a_refusing_proxy_fails_alone_and_recovers_on_the_next_refresh() {
    let mut estate = seeded();
    let upstream = estate.moto.as_ref().unwrap().endpoint_url().to_owned();
    let proxy = estate
        .runtime
        .block_on(support::proxy::FaultProxy::start(&upstream));
    proxy.set(support::proxy::Fault::Refuse);
    let config = estate.journal.path().join("keyward.toml");
    std::fs::write(
        &config,
        format!(
            "[aws]\nmax_attempts = 1\nendpoints.\"eu-west-1\" = \"{}\"\n",
            proxy.url()
        ),
    )
    .unwrap();
    for (name, value) in &mut estate.env {
        if *name == "KEYWARD_CONFIG" {
            *value = config.display().to_string();
        }
    }

    let mut term = console(&estate);
    let broken = term.wait_for("eu-west-1 failing alone", |s| {
        row(s, "eu-west-1", "ERROR").is_some()
            && row(s, "us-east-1", "8").is_some()
            && row(s, "ap-southeast-2", "8").is_some()
            && settled(s)
    });
    assert!(broken.contains("ConnectionFailed"), "{broken}");

    proxy.set(support::proxy::Fault::PassThrough);
    term.send(b"r");
    term.wait_for("eu-west-1 read again", |s| {
        !s.contains("ERROR") && settled(s) && row(s, "eu-west-1", "8").is_some()
    });
    term.send(b"q");
    assert_eq!(term.wait_exit(), 0);
}
