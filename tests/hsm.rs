//! The PKCS#11 layer against a real SoftHSM2, each scenario with a token directory of its own,
//! in a child process of its own (see `support/softhsm.rs`).

#[allow(dead_code)]
#[path = "support/softhsm.rs"]
mod softhsm;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use keyward::estate::{Fetched, HsmSnapshot, SlotView};
use keyward::hsm::{self, HsmError, Role, TokenRef};
use softhsm::{
    MODULE, child_directory, child_phase, module, pin, run_child, run_command, token_directory,
};

const SO_PIN: &str = "so-pin-8431";
const USER_PIN: &str = "user-pin-2290";
const WRONG_PIN: &str = "not-the-pin-7";

fn snapshot(module: &Path) -> Fetched<HsmSnapshot> {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(hsm::snapshot(module))
}

fn free_slots(snapshot: &HsmSnapshot) -> Vec<&SlotView> {
    snapshot
        .slots
        .iter()
        .filter(|s| s.token.as_ref().is_some_and(|t| !t.initialized))
        .collect()
}

#[test]
fn fresh_directory_lists_one_free_slot() {
    const TEST: &str = "fresh_directory_lists_one_free_slot";
    if child_phase(TEST).is_none() {
        let (_dir, conf) = token_directory();
        run_child(TEST, "", &conf);
        return;
    }

    let listed = snapshot(&module()).expect("snapshot of a fresh directory");
    assert_eq!(listed.library.path, MODULE);
    assert!(
        listed.library.manufacturer.contains("SoftHSM"),
        "{:?}",
        listed.library
    );
    assert_eq!(listed.slots.len(), 1, "{:#?}", listed.slots);
    let token = listed.slots[0].token.as_ref().expect("a token in the slot");
    assert!(
        !token.initialized && !token.user_pin_initialized,
        "{token:#?}"
    );
    assert!(token.min_pin_len >= 4 && token.max_pin_len >= token.min_pin_len);
}

#[test]
fn init_token_then_snapshot_shows_it_and_a_new_free_slot() {
    const TEST: &str = "init_token_then_snapshot_shows_it_and_a_new_free_slot";
    let Some(phase) = child_phase(TEST) else {
        // Phase two runs in a new process: SoftHSM2 renumbers the token's slot there.
        let (dir, conf) = token_directory();
        run_child(TEST, "init", &conf);
        run_child(TEST, "reopen", &conf);
        drop(dir);
        return;
    };
    let module = module();
    let record = child_directory().join("token.txt");

    if phase == "init" {
        let view = hsm::init_token(&module, "keyward root", &pin(SO_PIN), &pin(USER_PIN))
            .expect("init_token on a fresh directory");
        assert_eq!(view.label, "keyward root");
        assert!(!view.serial.is_empty());
        assert!(view.initialized && view.user_pin_initialized, "{view:#?}");

        // The listing shows the token by label and serial, and a new blank slot.
        let listed = snapshot(&module).expect("snapshot after init");
        let ours: Vec<_> = listed
            .slots
            .iter()
            .filter_map(|s| s.token.as_ref())
            .filter(|t| t.label == view.label && t.serial == view.serial)
            .collect();
        assert_eq!(ours.len(), 1, "{:#?}", listed.slots);
        assert!(ours[0].initialized && ours[0].user_pin_initialized);
        assert_eq!(free_slots(&listed).len(), 1, "{:#?}", listed.slots);
        assert_eq!(listed.slots.len(), 2);

        // A second listing reuses the process's context.
        assert_eq!(snapshot(&module).expect("second snapshot"), listed);

        let slot = listed
            .slots
            .iter()
            .find(|s| s.token.as_ref().is_some_and(|t| t.serial == view.serial))
            .map(|s| s.slot_id)
            .expect("our slot");
        std::fs::write(
            &record,
            format!("{}\n{}\n{slot}\n", view.label, view.serial),
        )
        .expect("record the token");
        return;
    }

    // A new process: the slot id may have changed, the label and serial find the token.
    let text = std::fs::read_to_string(&record).expect("the init phase's record");
    let mut lines = text.lines();
    let token = TokenRef {
        label: lines.next().expect("label").to_string(),
        serial: lines.next().expect("serial").to_string(),
    };
    let listed = snapshot(&module).expect("snapshot in a new process");
    assert_eq!(free_slots(&listed).len(), 1, "{:#?}", listed.slots);
    let session = hsm::login(&module, &token, Role::User, &pin(USER_PIN))
        .expect("user login by label and serial");
    drop(session);
    println!(
        "slot of {token} was {}, now listed as {:?}",
        lines.next().expect("old slot"),
        listed
            .slots
            .iter()
            .find(|s| s.token.as_ref().is_some_and(|t| t.serial == token.serial))
            .map(|s| s.slot_id)
    );
}

#[test]
fn wrong_user_pin_is_named_with_the_tries_flags() {
    const TEST: &str = "wrong_user_pin_is_named_with_the_tries_flags";
    if child_phase(TEST).is_none() {
        let (_dir, conf) = token_directory();
        run_child(TEST, "", &conf);
        return;
    }
    let module = module();
    let view = hsm::init_token(&module, "pin test", &pin(SO_PIN), &pin(USER_PIN)).expect("init");
    let token = TokenRef::from(&view);

    let err = hsm::login(&module, &token, Role::User, &pin(WRONG_PIN)).expect_err("wrong PIN");
    let HsmError::WrongPin { role, tries, .. } = &err else {
        panic!("expected WrongPin, got {err:?}");
    };
    assert_eq!(*role, Role::User);
    assert!(tries.known && tries.count_low, "{tries:?}");
    let shown = err.to_source_error();
    assert_eq!(shown.operation, "C_Login");
    assert_eq!(shown.code, "CKR_PIN_INCORRECT");
    assert!(
        shown.message.contains("wrong user PIN"),
        "{}",
        shown.message
    );
    for secret in [SO_PIN, USER_PIN, WRONG_PIN] {
        assert!(!format!("{err} {err:?} {shown:?}").contains(secret));
    }

    println!("{shown}");

    // The right PIN still works, and clears the count-low flag.
    drop(hsm::login(&module, &token, Role::User, &pin(USER_PIN)).expect("right PIN"));
    let listed = snapshot(&module).expect("snapshot");
    let after = listed
        .slots
        .iter()
        .filter_map(|s| s.token.as_ref())
        .find(|t| t.serial == token.serial)
        .expect("our token");
    assert!(!after.user_pin_count_low, "{after:#?}");
}

#[test]
fn login_before_the_user_pin_is_set_says_so() {
    const TEST: &str = "login_before_the_user_pin_is_set_says_so";
    if child_phase(TEST).is_none() {
        let (_dir, conf) = token_directory();
        run_child(TEST, "", &conf);
        return;
    }
    let module = module();

    // A token initialized by the SO only, as another tool might leave it.
    let pkcs11 = hsm::context(&module).expect("context");
    let (slot, _) = hsm::find_free_slot(&pkcs11).expect("a free slot");
    pkcs11
        .init_token(slot, &pin(SO_PIN), "half done")
        .expect("C_InitToken");
    let serial = pkcs11
        .get_token_info(slot)
        .expect("token info")
        .serial_number()
        .to_string();
    let token = TokenRef {
        label: "half done".into(),
        serial,
    };

    let err = hsm::login(&module, &token, Role::User, &pin(USER_PIN)).expect_err("no user PIN");
    assert!(
        matches!(err, HsmError::UserPinNotInitialized { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("security officer must set it"),
        "{err}"
    );

    let missing = TokenRef {
        label: "half done".into(),
        serial: "0000000000000000".into(),
    };
    let err = hsm::login(&module, &missing, Role::User, &pin(USER_PIN)).expect_err("absent");
    assert!(matches!(err, HsmError::TokenNotFound { .. }), "{err:?}");
}

#[test]
fn a_too_short_user_pin_leaves_a_clear_partial_state() {
    const TEST: &str = "a_too_short_user_pin_leaves_a_clear_partial_state";
    if child_phase(TEST).is_none() {
        let (_dir, conf) = token_directory();
        run_child(TEST, "", &conf);
        return;
    }
    let err = hsm::init_token(&module(), "short pin", &pin(SO_PIN), &pin("12"))
        .expect_err("a 2-character user PIN");
    let HsmError::UserPinNotSet { cause, token } = &err else {
        panic!("expected UserPinNotSet, got {err:?}");
    };
    assert_eq!(token.label, "short pin");
    assert!(
        matches!(
            **cause,
            HsmError::PinLength {
                role: Role::User,
                min: 4..,
                ..
            }
        ),
        "{cause:?}"
    );
    let shown = err.to_source_error();
    assert_eq!(shown.operation, "C_InitPIN");
    assert_eq!(shown.code, "CKR_PIN_LEN_RANGE");
    assert!(
        shown
            .message
            .contains("is initialized, but setting its user PIN failed")
    );
}

#[test]
fn missing_softhsm_conf_is_explained() {
    const TEST: &str = "missing_softhsm_conf_is_explained";
    if child_phase(TEST).is_none() {
        let dir = tempfile::tempdir().expect("temp dir");
        module();
        run_child(TEST, "", &dir.path().join("absent.conf"));
        return;
    }
    let conf = std::env::var("SOFTHSM2_CONF").expect("set by the parent");
    for attempt in 1..=2 {
        // A failed initialization is not remembered: the second attempt fails the same way.
        let err = snapshot(&module()).expect_err("no configuration");
        assert_eq!(err.operation, "C_Initialize", "attempt {attempt}: {err}");
        assert_eq!(
            err.code, "SoftHsm2ConfigMissing",
            "attempt {attempt}: {err}"
        );
        println!("{err}");
        assert!(
            err.message.contains("SOFTHSM2_CONF points at") && err.message.contains(&conf),
            "attempt {attempt}: {err}"
        );
    }
}

#[test]
fn missing_token_directory_is_explained() {
    const TEST: &str = "missing_token_directory_is_explained";
    if child_phase(TEST).is_none() {
        let (dir, conf) = token_directory();
        std::fs::remove_dir(dir.path().join("tokens")).expect("remove the token directory");
        run_child(TEST, "", &conf);
        return;
    }
    let err = snapshot(&module()).expect_err("no token directory");
    assert_eq!(err.operation, "C_Initialize", "{err}");
    assert_eq!(err.code, "SoftHsm2TokenDirMissing", "{err}");
    assert!(err.message.contains("token directory"), "{err}");
    println!("{err}");
}

#[test]
fn a_read_only_token_directory_is_explained_at_init() {
    const TEST: &str = "a_read_only_token_directory_is_explained_at_init";
    if child_phase(TEST).is_none() {
        let (dir, conf) = token_directory();
        let tokens = dir.path().join("tokens");
        let running_as_root = std::fs::metadata("/proc/self").expect("/proc/self").uid() == 0;
        if running_as_root {
            // Root writes anywhere: run the child as `nobody`, from a copy of this binary in a
            // directory it can read, against a token directory it cannot write.
            let exe = dir.path().join("hsm-test");
            std::fs::copy(std::env::current_exe().expect("test binary"), &exe).expect("copy");
            for (path, mode) in [(dir.path(), 0o755), (&tokens, 0o755), (&conf, 0o644)] {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .expect("chmod");
            }
            let mut command = Command::new("runuser");
            command.args(["-u", "nobody", "--"]).arg(&exe).args([
                TEST,
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ]);
            run_command(command, TEST, "", &conf);
        } else {
            std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o500))
                .expect("chmod");
            run_child(TEST, "", &conf);
        }
        return;
    }

    // SoftHSM2 initializes and lists with a read-only directory; writing the token fails.
    let module = module();
    let listed = snapshot(&module).expect("listing needs no writes");
    assert_eq!(free_slots(&listed).len(), 1);
    let err = hsm::init_token(&module, "read only", &pin(SO_PIN), &pin(USER_PIN))
        .expect_err("a read-only token directory");
    let shown = err.to_source_error();
    println!("{}: {}: {}", shown.operation, shown.code, shown.message);
    assert_eq!(shown.operation, "C_InitToken", "{shown}");
    assert_eq!(shown.code, "SoftHsm2TokenDirNotWritable", "{shown}");
    assert!(shown.message.contains("is not writable"), "{shown}");
}

#[test]
fn an_earlier_initialization_in_the_process_is_reused() {
    const TEST: &str = "an_earlier_initialization_in_the_process_is_reused";
    if child_phase(TEST).is_none() {
        let (_dir, conf) = token_directory();
        run_child(TEST, "", &conf);
        return;
    }
    // Another component of the process initializes the module first.
    let other = Pkcs11::new(module()).expect("load the module");
    other
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("first C_Initialize");

    let listed = snapshot(&module()).expect("keyward tolerates CKR_CRYPTOKI_ALREADY_INITIALIZED");
    assert_eq!(free_slots(&listed).len(), 1, "{:#?}", listed.slots);
}

#[test]
fn a_wrong_module_path_is_explained() {
    // No module gets initialized here, so this runs in the parent process.
    let err = snapshot(Path::new("/nonexistent/libpkcs11.so")).expect_err("no such module");
    assert_eq!(err.operation, "dlopen", "{err}");
    assert_eq!(err.code, "ModuleNotFound", "{err}");
    assert!(
        err.message.contains("/nonexistent/libpkcs11.so") && err.message.contains("pkcs11.module"),
        "{err}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let not_a_library = dir.path().join("libfake.so");
    std::fs::write(&not_a_library, "not an ELF file\n").expect("write");
    let err = snapshot(&not_a_library).expect_err("not a library");
    assert_eq!(err.code, "NotAPkcs11Module", "{err}");
    assert!(
        err.message.contains("is not a loadable PKCS#11 library"),
        "{err}"
    );
}

#[test]
fn a_label_the_token_cannot_hold_is_refused_up_front() {
    let err = hsm::init_token(
        Path::new(MODULE),
        "a label far longer than thirty-two bytes",
        &pin(SO_PIN),
        &pin(USER_PIN),
    )
    .expect_err("label too long");
    assert!(matches!(err, HsmError::InvalidLabel { .. }), "{err:?}");
    assert!(err.to_string().contains("32 bytes"), "{err}");
}

#[test]
fn objects_list_with_trust_attributes_and_the_kcv_of_a_known_key() {
    const TEST: &str = "objects_list_with_trust_attributes_and_the_kcv_of_a_known_key";
    if child_phase(TEST).is_none() {
        let (_dir, conf) = token_directory();
        run_child(TEST, "", &conf);
        return;
    }
    use cryptoki::object::{Attribute, KeyType, ObjectClass};
    use keyward::estate::KcvMethod;

    // AES-256 key 00 01 .. 1f: AES-ECB of a zero block under it starts f2 90 00, a value
    // published for this test key and computed outside keyward and cryptoki.
    const KNOWN_KCV: &str = "f29000";
    let module = module();
    let view = hsm::init_token(&module, "kcv test", &pin(SO_PIN), &pin(USER_PIN)).expect("init");
    let token = TokenRef::from(&view);
    let session = hsm::login(&module, &token, Role::User, &pin(USER_PIN)).expect("login");
    let known: Vec<u8> = (0u8..32).collect();
    for (label, encrypt) in [("known-ecb", true), ("known-no-encrypt", false)] {
        session
            .create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Value(known.clone()),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(encrypt),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(vec![if encrypt { 1 } else { 2 }]),
            ])
            .expect("import the known key");
    }

    let objects = hsm::list_objects(&session).expect("list");
    assert_eq!(objects.len(), 2, "{objects:#?}");
    let object = |label: &str| {
        objects
            .iter()
            .find(|o| o.label == label)
            .unwrap_or_else(|| panic!("no object {label}: {objects:#?}"))
    };
    let ecb = object("known-ecb");
    assert_eq!(ecb.class, "secret key");
    assert_eq!(ecb.key_type.as_deref(), Some("AES"));
    assert_eq!(ecb.size_bits, Some(256));
    assert_eq!(ecb.id, "01");
    assert_eq!(
        (ecb.token, ecb.private, ecb.sensitive, ecb.extractable),
        (Some(true), Some(true), Some(true), Some(false))
    );
    // Imported, not generated: never-extractable and local are false.
    assert_eq!(
        (ecb.never_extractable, ecb.local),
        (Some(false), Some(false))
    );
    let kcv = ecb.kcv.as_ref().expect("a secret key has a KCV");
    assert_eq!(kcv.value.as_deref(), Some(KNOWN_KCV), "{kcv:?}");
    assert_eq!(kcv.method, KcvMethod::AesEcbZeroBlock);

    // A key that may not encrypt falls back to CKA_CHECK_VALUE, and says why.
    let fallback = object("known-no-encrypt").kcv.as_ref().expect("KCV");
    assert_eq!(fallback.value.as_deref(), Some(KNOWN_KCV), "{fallback:?}");
    assert_eq!(fallback.method, KcvMethod::CheckValueAttribute);
    assert!(
        fallback
            .note
            .as_deref()
            .is_some_and(|n| n.contains("CKA_ENCRYPT false")),
        "{fallback:?}"
    );
    drop(session);

    // The pane's call logs in, lists and logs out again; a wrong PIN is named.
    let listed = hsm::list_token_objects(&module, &token, &pin(USER_PIN)).expect("list");
    assert_eq!(listed, objects);
    let err = hsm::list_token_objects(&module, &token, &pin(WRONG_PIN)).expect_err("wrong");
    assert!(matches!(err, HsmError::WrongPin { .. }), "{err:?}");
}
