use super::*;
use crate::hsm::Role;
use secrecy::{ExposeSecret, SecretString};

fn plan(token: TokenChoice, change_pin: Option<Role>) -> CeremonyPlan {
    CeremonyPlan {
        name: "unit".into(),
        operator: "Olu".into(),
        witnesses: vec!["Wren".into()],
        token,
        keys: vec![
            KeySpec {
                label: "a".into(),
                id: vec![1],
                usage: KeyUsage::DEFAULT.to_vec(),
            },
            KeySpec {
                label: "b".into(),
                id: vec![2],
                usage: vec![KeyUsage::Wrap],
            },
        ],
        change_pin,
        script: None,
    }
}

fn existing(set_user_pin: bool) -> TokenChoice {
    TokenChoice::Existing {
        token: TokenRef {
            label: "t".into(),
            serial: "s".into(),
        },
        set_user_pin,
    }
}

#[test]
fn a_ceremony_can_move_into_a_blocking_task_and_back() {
    fn send_static<T: Send + 'static>() {}
    send_static::<Ceremony>();
    send_static::<StepPins>();
    send_static::<Result<StepRecord, CeremonyError>>();
}

#[test]
fn each_token_choice_has_its_steps_and_pins() {
    let blank = Ceremony::new(
        "/m.so",
        plan(TokenChoice::Blank { label: "t".into() }, None),
        false,
    )
    .expect("valid");
    assert_eq!(
        blank.steps(),
        [
            Step::Prepare,
            Step::InitToken,
            Step::InitUserPin,
            Step::GenerateKey { key: 0 },
            Step::GenerateKey { key: 1 },
            Step::Verify
        ]
    );
    assert_eq!(PinBook::needed(&blank), [PinUse::NewSo, PinUse::NewUser]);
    assert_eq!(
        blank.pins_for(Step::InitUserPin),
        [PinUse::So, PinUse::NewUser]
    );
    assert!(PinUse::NewSo.is_new() && !PinUse::So.is_new());

    let plain =
        Ceremony::new("/m.so", plan(existing(false), Some(Role::User)), false).expect("valid");
    assert_eq!(
        PinBook::needed(&plain),
        [PinUse::User, PinUse::Replacement(Role::User)]
    );
    let names: Vec<&str> = plain
        .plan()
        .functions()
        .iter()
        .map(|f| match f {
            cryptoki::context::Function::InitToken => "InitToken",
            cryptoki::context::Function::InitPIN => "InitPIN",
            cryptoki::context::Function::SetPIN => "SetPIN",
            _ => "",
        })
        .filter(|n| !n.is_empty())
        .collect();
    assert_eq!(
        names,
        ["SetPIN"],
        "an existing token needs no initialization"
    );
}

#[test]
fn after_a_pin_change_the_book_logs_in_with_the_new_pin() {
    let mut book = PinBook::default();
    book.insert(PinUse::User, SecretString::from("old-user"));
    book.insert(
        PinUse::Replacement(Role::User),
        SecretString::from("new-user"),
    );
    let change = Step::ChangePin { role: Role::User };
    let pins = book.for_step(change);
    assert_eq!(
        pins.user.as_ref().map(|p| p.expose_secret()),
        Some("old-user")
    );
    assert_eq!(
        pins.new_pin.as_ref().map(|p| p.expose_secret()),
        Some("new-user")
    );

    // A failed change leaves the book alone; a successful one rotates it.
    let verify = book.for_step(Step::Verify);
    assert_eq!(
        verify.user.as_ref().map(|p| p.expose_secret()),
        Some("old-user")
    );
    book.step_succeeded(change);
    let verify = book.for_step(Step::Verify);
    assert_eq!(
        verify.user.as_ref().map(|p| p.expose_secret()),
        Some("new-user")
    );
    assert!(verify.new_pin.is_none());
    assert!(
        !format!("{book:?} {verify:?}").contains("new-user"),
        "Debug shows no PIN"
    );
}

#[test]
fn an_invalid_plan_is_refused_naming_the_field() {
    let mut bad = plan(existing(false), None);
    bad.keys[1].id = vec![1];
    let err = Ceremony::new("/m.so", bad, false).expect_err("duplicate id");
    assert_eq!(
        err.to_string(),
        "the ceremony plan cannot run: keys[1].id: repeats another key's id"
    );
    assert_eq!(err.to_source_error().code, "PlanInvalid");
}

#[test]
fn cloudhsm_is_told_what_to_do_instead() {
    let err = CeremonyError::Unsupported {
        module: "/opt/cloudhsm/lib/libcloudhsm_pkcs11.so".into(),
        missing: vec![
            cryptoki::context::Function::InitToken,
            cryptoki::context::Function::InitPIN,
        ],
        cloudhsm: true,
    };
    let text = err.to_string();
    assert!(
        text.contains("does not implement C_InitToken, C_InitPIN"),
        "{text}"
    );
    assert!(text.contains("nothing was changed"), "{text}");
    assert!(text.contains("CloudHSM CLI"), "{text}");
    assert!(text.contains("`user:password`"), "{text}");
    assert!(text.contains("use = \"existing\""), "{text}");
}

#[test]
fn a_step_out_of_order_or_without_its_pin_is_refused_unrecorded() {
    let mut ceremony =
        Ceremony::new("/nonexistent/module.so", plan(existing(false), None), false).expect("valid");
    let err = ceremony
        .run_step(Step::Verify, StepPins::default())
        .expect_err("not next");
    assert!(
        err.to_string().contains("the next step is prepare"),
        "{err}"
    );

    // The module does not exist: step 1 fails and is recorded; it may be retried.
    let err = ceremony
        .run_step(Step::Prepare, StepPins::default())
        .expect_err("no module");
    assert_eq!(err.to_source_error().code, "ModuleNotFound");
    assert_eq!(ceremony.records().len(), 1);
    assert_eq!(ceremony.next_step(), Some(Step::Prepare));

    ceremony.abandon("the module is missing");
    assert_eq!(ceremony.next_step(), None);
    let transcript = ceremony.transcript();
    assert_eq!(
        transcript.summary(),
        "ceremony \"unit\" on token \"t\" (serial s): ABANDONED after step 1 failed \
         (ModuleNotFound)"
    );
}
