//! Shared pieces of the ceremony tests: scripts, the keyward binary on a scenario directory,
//! reading transcripts back, and the search for leaked PINs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use keyward::hsm::TokenRef;
use serde_json::Value;

use super::softhsm::module;

pub const SO_PIN: &str = "cer-so-pin-5521";
pub const USER_PIN: &str = "cer-user-pin-8817";
pub const NEW_USER_PIN: &str = "cer-new-user-3306";
pub const WRONG_PIN: &str = "cer-wrong-pin-0042";
pub const ALL_PINS: [&str; 4] = [SO_PIN, USER_PIN, NEW_USER_PIN, WRONG_PIN];

/// A ceremony script for a blank token, with the given extra TOML appended.
pub fn blank_script(label: &str, extra: &str) -> String {
    format!(
        r#"
[ceremony]
name = "Test root key ceremony"
operator = "Olu Officer"
witnesses = ["Wren Witness", "Ada Auditor"]

[token]
use = "blank"
label = "{label}"

[[keys]]
label = "test-root-aes"
id = "a1"

[[keys]]
label = "test-wrap-only"
id = "a2"
usage = ["wrap", "unwrap"]
{extra}"#
    )
}

/// A script for an existing token.
pub fn existing_script(token: &TokenRef, set_user_pin: bool) -> String {
    format!(
        r#"
[ceremony]
name = "Existing token ceremony"
operator = "Olu Officer"
witnesses = ["Wren Witness"]

[token]
use = "existing"
label = "{}"
serial = "{}"
set_user_pin = {set_user_pin}

[[keys]]
label = "existing-root"
id = "01"
"#,
        token.label, token.serial
    )
}

/// Runs the keyward binary on the scenario directory `dir`, with `stdin` as its input.
pub fn keyward(dir: &Path, conf: &Path, args: &[&str], stdin: &str) -> Output {
    let config = dir.join("keyward.toml");
    std::fs::write(&config, "").expect("empty config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .arg("--config")
        .arg(&config)
        .arg("--audit-log")
        .arg(dir.join("audit.jsonl"))
        .arg("--pkcs11-module")
        .arg(module())
        .args(args)
        .env("SOFTHSM2_CONF", conf)
        .env("KEYWARD_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start keyward");
    {
        use std::io::Write;
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(stdin.as_bytes()).expect("write the PINs");
    }
    child.wait_with_output().expect("wait for keyward")
}

/// `hsm ceremony` with PINs on standard input.
pub fn ceremony_args<'a>(script: &'a Path, out: &'a Path) -> [&'a str; 8] {
    let script = script.to_str().expect("UTF-8 path");
    let out = out.to_str().expect("UTF-8 path");
    [
        "hsm", "ceremony", "--pin-fd", "0", "--script", script, "--output", out,
    ]
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The transcript files in `out`: (Markdown text, JSON value).
pub fn transcript(out: &Path) -> (String, Value) {
    let mut md = None;
    let mut json = None;
    for entry in std::fs::read_dir(out).expect("transcript directory") {
        let path = entry.expect("entry").path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("md") => md = Some(std::fs::read_to_string(&path).expect("read md")),
            Some("json") => {
                let text = std::fs::read_to_string(&path).expect("read json");
                json = Some(serde_json::from_str(&text).expect("transcript JSON parses"));
            }
            _ => panic!(
                "unexpected file in the transcript directory: {}",
                path.display()
            ),
        }
    }
    (
        md.expect("a Markdown transcript"),
        json.expect("a JSON transcript"),
    )
}

/// Fails if any PIN used in these tests occurs in `haystack`.
pub fn assert_no_pins(what: &str, haystack: &str) {
    for secret in ALL_PINS {
        assert!(!haystack.contains(secret), "{what} contains a PIN");
    }
}

/// Every file under `dir` that is not a SoftHSM2 token file, as text.
pub fn everything_written(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.ends_with("tokens") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                found.push((path, text(&bytes)));
            }
        }
    }
    found
}
