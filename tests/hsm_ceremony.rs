//! Root-key ceremonies through the `keyward hsm ceremony` binary against a real SoftHSM2:
//! the whole ceremony headless, and the failures an officer meets, with their transcripts.
//!
//! Each scenario has a throwaway token directory and runs its PKCS#11 work in processes of
//! its own (the keyward binary, or a child of this test binary; see `support/softhsm.rs`).
//! Every test waits for processes to exit; none looks at the clock.

#[allow(dead_code)]
#[path = "support/ceremony.rs"]
mod ceremony;
#[allow(dead_code)]
#[path = "support/softhsm.rs"]
mod softhsm;

use cryptoki::object::{Attribute, AttributeInfo, AttributeType, ObjectClass};
use keyward::audit::{Journal, RecordKind, Verification};
use keyward::hsm::{self, HsmError, Role, TokenRef};
use sha2::{Digest, Sha256};

use ceremony::*;
use softhsm::{child_directory, child_phase, module, pin, run_child, token_directory};

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
