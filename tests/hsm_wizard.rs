//! The ceremony engine driven one step at a time, as the TUI wizard drives it, against a real
//! SoftHSM2 in a child process of this test binary (see `support/softhsm.rs`).

#[allow(dead_code)]
#[path = "support/ceremony.rs"]
mod ceremony;
#[allow(dead_code)]
#[path = "support/softhsm.rs"]
mod softhsm;

use keyward::hsm::ceremony::{
    Ceremony, CeremonyError, CeremonyPlan, CeremonyState, KeySpec, KeyUsage, PinBook, PinUse, Step,
    StepOutcome, StepPins, TokenChoice,
};
use keyward::hsm::{HsmError, Role};

use ceremony::{SO_PIN, USER_PIN, WRONG_PIN, assert_no_pins};
use softhsm::{child_phase, module, pin, run_child, token_directory};

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
