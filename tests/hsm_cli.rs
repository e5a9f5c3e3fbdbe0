//! The `keyward hsm` commands around the ceremony: slot listing, rehearsals, bad invocations
//! and PINs typed at a terminal, against a real SoftHSM2 with a throwaway token directory.

#[allow(dead_code)]
#[path = "support/ceremony.rs"]
mod ceremony;
#[allow(dead_code)]
#[path = "support/pty.rs"]
mod pty;
#[allow(dead_code)]
#[path = "support/softhsm.rs"]
mod softhsm;

use std::path::Path;

use serde_json::Value;

use ceremony::*;
use softhsm::{module, token_directory};

#[test]
fn slots_are_listed_as_a_table_and_as_json() {
    let (dir, conf) = token_directory();
    let output = keyward(dir.path(), &conf, &["hsm", "slots", "--format", "json"], "");
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let listed: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(listed["library"]["manufacturer"], "SoftHSM");
    let slots = listed["slots"].as_array().expect("slots");
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0]["token"]["initialized"], false);

    let output = keyward(dir.path(), &conf, &["hsm", "slots"], "");
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("(blank)") && stdout.contains("free to initialize"),
        "{stdout}"
    );
    assert!(
        stdout.contains("name a token by its label and serial"),
        "{stdout}"
    );

    // A missing token directory is explained, with exit 2.
    std::fs::remove_dir(dir.path().join("tokens")).expect("remove tokens");
    let output = keyward(dir.path(), &conf, &["hsm", "slots"], "");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SoftHsm2TokenDirMissing"), "{stderr}");
}

#[test]
fn a_rehearsal_runs_the_example_script_on_a_throwaway_token() {
    let (dir, conf) = token_directory();
    let out = dir.path().join("out");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ceremony.toml");
    let output = keyward(
        dir.path(),
        &conf,
        &[
            "hsm",
            "ceremony",
            "--rehearse",
            "--pin-fd",
            "0",
            "--script",
            example.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
        &format!("{SO_PIN}\n{USER_PIN}\n"),
    );
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let (md, json) = transcript(&out);
    assert_eq!(json["rehearsal"], true);
    assert_eq!(json["outcome"], "completed");
    assert!(md.contains("**REHEARSAL**"), "{md}");

    // The rehearsal's token directory is gone, and the configured one was never touched.
    let rehearsal_dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("REHEARSAL on a throwaway SoftHSM2 token directory ("))
        .and_then(|rest| rest.split(')').next())
        .expect("the rehearsal directory is named");
    assert!(
        !Path::new(rehearsal_dir).exists(),
        "{rehearsal_dir} was left behind"
    );
    let tokens = std::fs::read_dir(dir.path().join("tokens"))
        .expect("tokens")
        .count();
    assert_eq!(tokens, 0, "the configured token directory was written to");
    assert_no_pins("the rehearsal output", &stdout);
}

#[test]
fn bad_invocations_exit_2_saying_what_to_fix() {
    let (dir, conf) = token_directory();
    let script = dir.path().join("bad.toml");
    std::fs::write(
        &script,
        blank_script("ok-label", "").replace("id = \"a2\"", "id = \"zz\""),
    )
    .expect("script");
    let bad = script.to_str().unwrap();
    let output = keyward(dir.path(), &conf, &["hsm", "ceremony", "--script", bad], "");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("ceremony script {bad}, line 17")),
        "{stderr}"
    );
    assert!(stderr.contains("keys[1].id"), "{stderr}");

    let good = dir.path().join("good.toml");
    std::fs::write(&good, blank_script("ok-label", "")).expect("script");
    let good = good.to_str().unwrap();
    let output = keyward(
        dir.path(),
        &conf,
        &["hsm", "ceremony", "--script", good, "--pin-fd", "57"],
        "",
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read PINs from file descriptor 57"),
        "{stderr}"
    );

    let output = keyward(
        dir.path(),
        &conf,
        &[
            "--read-only",
            "hsm",
            "ceremony",
            "--script",
            good,
            "--pin-fd",
            "0",
        ],
        "",
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("read-only mode"), "{stderr}");

    // Nothing was initialized by any of them.
    let tokens = std::fs::read_dir(dir.path().join("tokens"))
        .expect("tokens")
        .count();
    assert_eq!(tokens, 0);
}

#[test]
fn pins_typed_at_the_terminal_are_not_echoed_and_new_ones_are_asked_twice() {
    let (dir, conf) = token_directory();
    let script = dir.path().join("ceremony.toml");
    std::fs::write(&script, blank_script("typed-root", "")).expect("script");
    let config = dir.path().join("keyward.toml");
    std::fs::write(&config, "").expect("config");
    let audit = dir.path().join("audit.jsonl");
    let out = dir.path().join("out");
    let module = module();
    let mut terminal = pty::Terminal::spawn(
        &[
            "--config",
            config.to_str().unwrap(),
            "--audit-log",
            audit.to_str().unwrap(),
            "--pkcs11-module",
            module.to_str().unwrap(),
            "hsm",
            "ceremony",
            "--script",
            script.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
        &[("SOFTHSM2_CONF", conf.to_str().unwrap())],
        160,
        60,
    );

    // The plan is shown and confirmed before any PIN is asked for.
    terminal.wait_for_text("Run the remaining 5 steps? Type yes to go on:");
    terminal.send(b"yes\r");

    // A new PIN whose two entries differ is asked for again.
    terminal.wait_for_text("New SO PIN:");
    terminal.send(format!("{SO_PIN}\r").as_bytes());
    terminal.wait_for_text("New SO PIN again:");
    terminal.send(format!("{WRONG_PIN}\r").as_bytes());
    terminal.wait_for_text("The two entries differ; enter the new SO PIN again.");
    terminal.wait_for("the SO PIN asked again", |s| {
        s.matches("New SO PIN:").count() == 2
    });
    terminal.send(format!("{SO_PIN}\r").as_bytes());
    terminal.wait_for("its repetition asked again", |s| {
        s.matches("New SO PIN again:").count() == 2
    });
    terminal.send(format!("{SO_PIN}\r").as_bytes());
    terminal.wait_for_text("New user PIN:");
    terminal.send(format!("{USER_PIN}\r").as_bytes());
    terminal.wait_for_text("New user PIN again:");
    terminal.send(format!("{USER_PIN}\r").as_bytes());

    let screen = terminal.wait_for_text(": completed; keys test-root-aes KCV ");
    assert_eq!(terminal.wait_exit(), 0, "{screen}");
    assert_no_pins("the screen", &terminal.screen());
    assert!(terminal.is_cooked(), "echo was not restored");
    let (md, json) = transcript(&out);
    assert_eq!(json["outcome"], "completed");
    assert_no_pins("the transcript", &md);
}
