//! Root-key ceremonies against a real SoftHSM2: the `keyward hsm ceremony` binary headless,
//! the engine one step at a time as the wizard drives it, and the failures an officer meets.
//!
//! Each scenario has a throwaway token directory and runs its PKCS#11 work in processes of
//! its own (the keyward binary, or a child of this test binary; see `support/softhsm.rs`).
//! Every test waits for processes to exit; none looks at the clock.

#[allow(dead_code)]
#[path = "support/pty.rs"]
mod pty;
#[allow(dead_code)]
#[path = "support/softhsm.rs"]
mod softhsm;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cryptoki::object::{Attribute, AttributeInfo, AttributeType, ObjectClass};
use keyward::audit::{Journal, RecordKind, Verification};
use keyward::hsm::ceremony::{
    Ceremony, CeremonyError, CeremonyPlan, CeremonyState, KeySpec, KeyUsage, PinBook, PinUse, Step,
    StepOutcome, StepPins, TokenChoice,
};
use keyward::hsm::{self, HsmError, Role, TokenRef};
use serde_json::Value;
use sha2::{Digest, Sha256};
use softhsm::{child_directory, child_phase, module, pin, run_child, token_directory};

const SO_PIN: &str = "cer-so-pin-5521";
const USER_PIN: &str = "cer-user-pin-8817";
const NEW_USER_PIN: &str = "cer-new-user-3306";
const WRONG_PIN: &str = "cer-wrong-pin-0042";
const ALL_PINS: [&str; 4] = [SO_PIN, USER_PIN, NEW_USER_PIN, WRONG_PIN];

/// A ceremony script for a blank token, with the given extra TOML appended.
fn blank_script(label: &str, extra: &str) -> String {
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
fn existing_script(token: &TokenRef, set_user_pin: bool) -> String {
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
fn keyward(dir: &Path, conf: &Path, args: &[&str], stdin: &str) -> Output {
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
fn ceremony_args<'a>(script: &'a Path, out: &'a Path) -> [&'a str; 8] {
    let script = script.to_str().expect("UTF-8 path");
    let out = out.to_str().expect("UTF-8 path");
    [
        "hsm", "ceremony", "--pin-fd", "0", "--script", script, "--output", out,
    ]
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The transcript files in `out`: (Markdown text, JSON value).
fn transcript(out: &Path) -> (String, Value) {
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
fn assert_no_pins(what: &str, haystack: &str) {
    for secret in ALL_PINS {
        assert!(!haystack.contains(secret), "{what} contains a PIN");
    }
}

/// Every file under `dir` that is not a SoftHSM2 token file, as text.
fn everything_written(dir: &Path) -> Vec<(PathBuf, String)> {
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

#[test]
fn a_headless_ceremony_makes_verified_keys_and_a_transcript_free_of_pins() {
    const TEST: &str = "a_headless_ceremony_makes_verified_keys_and_a_transcript_free_of_pins";
    let Some(phase) = child_phase(TEST) else {
        let (dir, conf) = token_directory();
        let script = dir.path().join("ceremony.toml");
        std::fs::write(
            &script,
            blank_script("ceremony-root", "[change_pin]\nrole = \"user\"\n"),
        )
        .expect("write script");
        let out = dir.path().join("out");

        // Step 1: the whole ceremony, the PINs one per line on standard input.
        let pins = format!("{SO_PIN}\n{USER_PIN}\n{NEW_USER_PIN}\n");
        let (script_arg, out_arg) = (script.to_str().unwrap(), out.to_str().unwrap());
        let args = [
            "hsm", "ceremony", "--script", script_arg, "--pin-fd", "0", "--output", out_arg,
        ];
        let output = keyward(dir.path(), &conf, &args, &pins);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert!(
            output.status.success(),
            "keyward failed:\n{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("PINs, in this order: new SO PIN, new user PIN, replacement user PIN"),
            "{stdout}"
        );
        assert!(
            stdout.contains(": completed; keys test-root-aes KCV "),
            "{stdout}"
        );
        assert!(
            stderr.contains("ceremony step succeeded"),
            "debug logs were written: {stderr}"
        );

        // Step 2: the transcript names everyone, the token, each key and every step.
        let (md, json) = transcript(&out);
        assert_eq!(json["format"], "keyward-ceremony-transcript/1");
        assert_eq!(json["outcome"], "completed");
        assert_eq!(json["rehearsal"], false);
        assert_eq!(json["operator"], "Olu Officer");
        assert_eq!(
            json["witnesses"],
            serde_json::json!(["Wren Witness", "Ada Auditor"])
        );
        let serial = json["token"]["serial"]
            .as_str()
            .expect("serial")
            .to_string();
        assert!(!serial.is_empty());
        assert_eq!(json["token"]["label"], "ceremony-root");
        let script_hash = hex::encode(Sha256::digest(std::fs::read(&script).expect("script")));
        assert_eq!(json["script"]["sha256"], script_hash.as_str());
        let steps = json["steps"].as_array().expect("steps");
        let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "prepare",
                "init_token",
                "init_user_pin",
                "generate_key",
                "generate_key",
                "change_pin",
                "verify"
            ]
        );
        for step in steps {
            assert_eq!(step["outcome"], "succeeded", "{step}");
            assert!(step["started"].is_string() && step["finished"].is_string());
        }
        let keys = json["keys"].as_array().expect("keys");
        assert_eq!(keys.len(), 2);
        let kcv = |i: usize| keys[i]["kcv"].as_str().expect("a KCV").to_string();
        for i in 0..2 {
            assert_eq!(kcv(i).len(), 6);
            assert!(kcv(i).bytes().all(|b| b.is_ascii_hexdigit()), "{}", kcv(i));
        }
        assert_eq!(keys[0]["kcv_method"], "AES-ECB encryption of a zero block");
        // The wrap-only key may not encrypt: its KCV is the token's CKA_CHECK_VALUE.
        assert_eq!(keys[1]["kcv_method"], "CKA_CHECK_VALUE read from the token");
        for needle in [
            "Olu Officer",
            "Wren Witness",
            "Ada Auditor",
            &serial,
            &kcv(0),
            &kcv(1),
        ] {
            assert!(
                md.contains(needle),
                "the Markdown transcript lacks {needle}:\n{md}"
            );
        }
        assert!(
            md.contains("| CKA_VALUE readable | false | false | pass |"),
            "{md}"
        );

        // Step 3: one journal entry, chained, naming the ceremony and the keys.
        let journal = Journal::at(dir.path().join("audit.jsonl"));
        let entries = journal.entries().expect("journal");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].kind, RecordKind::Ceremony);
        assert!(
            entries[0].summary.contains(&kcv(0)),
            "{}",
            entries[0].summary
        );
        assert_eq!(
            entries[0].details["transcript"]["token"]["serial"],
            serial.as_str()
        );
        assert!(matches!(
            journal.verify().expect("verify"),
            Verification::Intact { entries: 1, .. }
        ));

        // Step 4: no PIN anywhere keyward wrote or printed.
        assert_no_pins("standard output", &stdout);
        assert_no_pins("the logs", &stderr);
        for (path, contents) in everything_written(dir.path()) {
            assert_no_pins(&path.display().to_string(), &contents);
        }

        // Step 5: a new process finds the keys by label on the token and checks them.
        let expected = format!("{serial}\n{}\n{}\n", kcv(0), kcv(1));
        std::fs::write(dir.path().join("expected.txt"), expected).expect("expected");
        run_child(TEST, "inspect", &conf);
        return;
    };
    assert_eq!(phase, "inspect");
    let module = module();
    let expected = std::fs::read_to_string(child_directory().join("expected.txt")).expect("read");
    let mut lines = expected.lines();
    let token = TokenRef {
        label: "ceremony-root".into(),
        serial: lines.next().expect("serial").into(),
    };
    let kcvs = [lines.next().expect("kcv 0"), lines.next().expect("kcv 1")];

    // The user PIN was changed: the old one is refused, the new one works.
    let err = hsm::login(&module, &token, Role::User, &pin(USER_PIN)).expect_err("old PIN");
    assert!(matches!(err, HsmError::WrongPin { .. }), "{err:?}");
    let session = hsm::login(&module, &token, Role::User, &pin(NEW_USER_PIN)).expect("new PIN");

    // The key material cannot be read: CKA_VALUE is sensitive.
    for (label, kcv) in [("test-root-aes", kcvs[0]), ("test-wrap-only", kcvs[1])] {
        let handles = session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .expect("find the key");
        assert_eq!(handles.len(), 1, "{label}");
        let info = session
            .get_attribute_info(handles[0], &[AttributeType::Value])
            .expect("attribute info");
        assert!(
            matches!(info[..], [AttributeInfo::Sensitive]),
            "{label}: CKA_VALUE must be sensitive, found {info:?}"
        );
        let read = session
            .get_attributes(handles[0], &[AttributeType::Value])
            .expect("C_GetAttributeValue answers");
        assert!(read.is_empty(), "{label}: CKA_VALUE was returned");

        let view = hsm::objects::object_view(&session, handles[0]).expect("view");
        assert_eq!(
            (
                view.sensitive,
                view.extractable,
                view.never_extractable,
                view.local
            ),
            (Some(true), Some(false), Some(true), Some(true)),
            "{view:#?}"
        );
        assert_eq!(view.size_bits, Some(256));
        assert_eq!(
            view.kcv.and_then(|k| k.value).as_deref(),
            Some(kcv),
            "{label}"
        );
    }
    drop(session);
    let listed = hsm::list_token_objects(&module, &token, &pin(NEW_USER_PIN)).expect("list");
    assert_eq!(listed.len(), 2, "{listed:#?}");
}

#[test]
fn the_wizard_drives_the_engine_one_step_at_a_time_and_retries_a_wrong_pin() {
    const TEST: &str = "the_wizard_drives_the_engine_one_step_at_a_time_and_retries_a_wrong_pin";
    if child_phase(TEST).is_none() {
        let (dir, conf) = token_directory();
        run_child(TEST, "", &conf);
        drop(dir);
        return;
    }
    let plan = CeremonyPlan {
        name: "Wizard ceremony".into(),
        operator: "Olu Officer".into(),
        witnesses: vec!["Wren Witness".into()],
        token: TokenChoice::Blank {
            label: "wizard-root".into(),
        },
        keys: vec![KeySpec {
            label: "wizard-aes".into(),
            id: vec![0x10],
            usage: KeyUsage::DEFAULT.to_vec(),
        }],
        change_pin: None,
        script: None,
    };
    let mut ceremony = Ceremony::new(module(), plan, false).expect("a valid plan");
    assert_eq!(ceremony.next_step(), Some(Step::Prepare));
    assert_eq!(
        PinBook::needed(&ceremony),
        [PinUse::NewSo, PinUse::NewUser],
        "the PINs of the whole ceremony, in the order first needed"
    );

    // A step out of order is refused and not recorded.
    let err = ceremony
        .run_step(Step::InitToken, StepPins::default())
        .expect_err("out of order");
    assert!(matches!(err, CeremonyError::OutOfOrder { .. }), "{err}");
    assert!(ceremony.records().is_empty());

    let step = |ceremony: &mut Ceremony, step: Step, so: Option<&str>, user: Option<&str>| {
        assert_eq!(ceremony.next_step(), Some(step));
        let pins = StepPins {
            so: so.map(pin),
            user: user.map(pin),
            new_pin: None,
        };
        ceremony.run_step(step, pins)
    };
    step(&mut ceremony, Step::Prepare, None, None).expect("prepare");
    assert_eq!(ceremony.pins_for(Step::InitToken), [PinUse::NewSo]);
    let err = ceremony
        .run_step(Step::InitToken, StepPins::default())
        .expect_err("no SO PIN given");
    assert!(
        matches!(
            err,
            CeremonyError::PinMissing {
                pin: PinUse::NewSo,
                ..
            }
        ),
        "{err}"
    );
    step(&mut ceremony, Step::InitToken, Some(SO_PIN), None).expect("init token");
    let token = ceremony.token().expect("the token is known").clone();
    assert_eq!(token.label, "wizard-root");
    step(
        &mut ceremony,
        Step::InitUserPin,
        Some(SO_PIN),
        Some(USER_PIN),
    )
    .expect("user PIN");

    // A wrong user PIN fails the step with the tries flags; the step is still next.
    let generate = Step::GenerateKey { key: 0 };
    let err = step(&mut ceremony, generate, None, Some(WRONG_PIN)).expect_err("wrong PIN");
    let CeremonyError::Hsm(HsmError::WrongPin { role, tries, .. }) = &err else {
        panic!("expected a wrong PIN, got {err:?}");
    };
    assert_eq!(*role, Role::User);
    assert!(tries.known && tries.count_low, "{tries:?}");
    assert_eq!(ceremony.next_step(), Some(generate));
    let record = step(&mut ceremony, generate, None, Some(USER_PIN)).expect("retried");
    assert_eq!(record.attempt, 2);
    step(&mut ceremony, Step::Verify, None, Some(USER_PIN)).expect("verify");
    assert_eq!(*ceremony.state(), CeremonyState::Completed);
    assert_eq!(ceremony.next_step(), None);

    // Both attempts are in the transcript; the failed one with its PKCS#11 code.
    let transcript = ceremony.transcript();
    let failed: Vec<_> = transcript
        .steps
        .iter()
        .filter_map(|r| match &r.outcome {
            StepOutcome::Failed { error } => Some((r.step, r.attempt, error.code.clone())),
            StepOutcome::Succeeded { .. } => None,
        })
        .collect();
    assert_eq!(failed, [(generate, 1, "CKR_PIN_INCORRECT".to_string())]);
    let md = transcript.to_markdown();
    assert!(md.contains("(attempt 1): FAILED"), "{md}");
    assert!(md.contains("wrong user PIN"), "{md}");
    let json = serde_json::to_string(&transcript).expect("JSON");
    assert_no_pins(
        "the transcript",
        &format!("{md}{json}{:?}", ceremony.records()),
    );

    // A second ceremony with the same label is refused before it changes anything.
    let mut again = Ceremony::new(module(), ceremony.plan().clone(), false).expect("plan");
    let err = again
        .run_step(Step::Prepare, StepPins::default())
        .expect_err("label taken");
    assert!(matches!(err, CeremonyError::LabelTaken { .. }), "{err}");
    assert!(err.to_string().contains(&token.serial), "{err}");
}

#[test]
fn an_officer_meets_clear_errors_and_the_transcript_records_them() {
    const TEST: &str = "an_officer_meets_clear_errors_and_the_transcript_records_them";
    if child_phase(TEST).is_none() {
        // A token initialized by its SO only, as another tool might leave it.
        let (dir, conf) = token_directory();
        run_child(TEST, "setup", &conf);
        let serial = std::fs::read_to_string(dir.path().join("serial.txt")).expect("serial");
        let token = TokenRef {
            label: "half-done".into(),
            serial,
        };

        // Case 1: the user PIN was never set, and the script does not set it.
        let script = dir.path().join("no-user.toml");
        std::fs::write(&script, existing_script(&token, false)).expect("script");
        let out1 = dir.path().join("out1");
        let output = keyward(
            dir.path(),
            &conf,
            &ceremony_args(&script, &out1),
            &format!("{USER_PIN}\n"),
        );
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.contains("the user PIN is not initialized"),
            "{stdout}"
        );
        assert!(
            !stdout.contains("PINs, in this order"),
            "no PIN is asked for: {stdout}"
        );
        let (md, json) = transcript(&out1);
        assert_eq!(json["outcome"], "abandoned");
        assert_eq!(
            json["steps"][0]["error"]["code"],
            "CKR_USER_PIN_NOT_INITIALIZED"
        );
        assert!(md.contains("security officer must set it first"), "{md}");

        // Case 2: the SO sets the user PIN, but the SO PIN is wrong.
        let script = dir.path().join("wrong-so.toml");
        std::fs::write(&script, existing_script(&token, true)).expect("script");
        let out2 = dir.path().join("out2");
        let output = keyward(
            dir.path(),
            &conf,
            &ceremony_args(&script, &out2),
            &format!("{WRONG_PIN}\n{USER_PIN}\n"),
        );
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("PINs, in this order: SO PIN, new user PIN"),
            "{stdout}"
        );
        assert!(
            stdout.contains("wrong security officer (SO) PIN"),
            "{stdout}"
        );
        assert!(
            stdout.contains("PIN count low"),
            "the tries flags were re-read: {stdout}"
        );
        let (md, json) = transcript(&out2);
        assert_eq!(json["steps"][1]["error"]["code"], "CKR_PIN_INCORRECT");
        assert!(md.contains("ABANDONED") || md.contains("abandoned"), "{md}");
        assert_no_pins("standard output", &stdout);
        assert_no_pins("the logs", &stderr);

        // Case 3: a blank-token script whose label an initialized token already has.
        let script = dir.path().join("taken.toml");
        std::fs::write(&script, blank_script("half-done", "")).expect("script");
        let out3 = dir.path().join("out3");
        let output = keyward(dir.path(), &conf, &ceremony_args(&script, &out3), "");
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("already exists"), "{stdout}");

        // Both failures are journaled, and nothing anywhere holds a PIN.
        let entries = Journal::at(dir.path().join("audit.jsonl"))
            .entries()
            .expect("journal");
        assert_eq!(entries.len(), 3);
        assert!(
            entries.iter().all(|e| e.summary.contains("ABANDONED")),
            "{entries:#?}"
        );
        for (path, contents) in everything_written(dir.path()) {
            assert_no_pins(&path.display().to_string(), &contents);
        }
        return;
    };

    let module = module();
    let pkcs11 = hsm::context(&module).expect("context");
    let (slot, _) = hsm::find_free_slot(&pkcs11).expect("a free slot");
    pkcs11
        .init_token(slot, &pin(SO_PIN), "half-done")
        .expect("C_InitToken");
    let serial = pkcs11
        .get_token_info(slot)
        .expect("info")
        .serial_number()
        .to_string();
    std::fs::write(child_directory().join("serial.txt"), serial).expect("record the serial");
}

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
