//! The wizard's form, PIN entry and abandoning, driven key by key.

use super::*;
use crate::tui::fixture;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn typed(wizard: &mut Wizard, text: &str) {
    for c in text.chars() {
        wizard.on_key(key(KeyCode::Char(c)));
    }
}

fn wizard() -> Wizard {
    Wizard::new(
        "/usr/lib/softhsm/libsofthsm2.so".into(),
        Some(&fixture::hsm()),
        "oncall".into(),
    )
}

/// A wizard whose form is done and whose PINs for `step` are being asked.
fn asking(step: Step) -> Wizard {
    let mut wizard = wizard();
    wizard.values[2] = "Alice".into();
    let uses = vec![PinUse::NewSo];
    wizard.ceremony =
        Some(Ceremony::new(wizard.module.clone(), wizard.plan().unwrap(), false).unwrap());
    wizard.stage = Stage::Pins(PinEntry::new(step, uses));
    wizard
}

#[test]
fn the_form_offers_the_blank_slot_first_and_each_initialized_token() {
    let wizard = wizard();
    assert_eq!(wizard.tokens[0], TokenOption::Blank);
    assert!(matches!(&wizard.tokens[1], TokenOption::Existing(t) if t.label == "root-ca-2026"));
    assert_eq!(wizard.value(Field::Operator), "oncall");
}

#[test]
fn the_plan_needs_witnesses_and_a_hex_key_id() {
    let mut wizard = wizard();
    for _ in 0..Field::ALL.len() {
        wizard.on_key(key(KeyCode::Enter));
    }
    assert!(
        wizard.message.is_some(),
        "a ceremony without witnesses started"
    );
    assert!(matches!(wizard.stage, Stage::Form { .. }));

    let mut wizard = self::wizard();
    typed(&mut wizard, "Alice");
    wizard.values[6] = "zz".into();
    for _ in 0..Field::ALL.len() {
        wizard.on_key(key(KeyCode::Enter));
    }
    assert!(wizard.message.as_deref().unwrap().contains("hex"));
}

#[test]
fn a_new_pin_is_asked_twice_and_a_mismatch_asks_again() {
    let mut wizard = asking(Step::InitToken);
    typed(&mut wizard, "first-pin");
    assert!(matches!(
        wizard.on_key(key(KeyCode::Enter)),
        WizardAction::None
    ));
    typed(&mut wizard, "other-pin");
    assert!(matches!(
        wizard.on_key(key(KeyCode::Enter)),
        WizardAction::None
    ));
    assert!(wizard.message.as_deref().unwrap().contains("differ"));
    let Stage::Pins(entry) = &wizard.stage else {
        panic!("left the PIN entry");
    };
    assert_eq!(
        entry.prompt(),
        "new SO PIN",
        "the mismatch starts that PIN over"
    );
    typed(&mut wizard, "first-pin");
    wizard.on_key(key(KeyCode::Enter));
    typed(&mut wizard, "first-pin");
    match wizard.on_key(key(KeyCode::Enter)) {
        WizardAction::Run { step, pins, .. } => {
            assert_eq!(step, Step::InitToken);
            assert!(pins.so.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert!(wizard.ceremony.is_none(), "the ceremony went with the step");
}

#[test]
fn esc_while_typing_a_pin_goes_back_to_the_step_and_the_debug_form_shows_no_pin() {
    let mut wizard = asking(Step::InitToken);
    typed(&mut wizard, "secret-4711");
    assert!(!format!("{wizard:?}").contains("secret-4711"));
    wizard.on_key(key(KeyCode::Esc));
    assert!(matches!(
        wizard.stage,
        Stage::Confirm {
            step: Step::InitToken
        }
    ));
}

#[test]
fn abandoning_before_any_step_ran_just_closes() {
    let mut wizard = asking(Step::Prepare);
    wizard.stage = Stage::Confirm {
        step: Step::Prepare,
    };
    assert!(matches!(
        wizard.on_key(key(KeyCode::Char('x'))),
        WizardAction::Close
    ));
}

#[test]
fn a_new_pin_shorter_than_the_token_takes_is_refused_before_any_call() {
    let mut wizard = asking(Step::InitToken);
    typed(&mut wizard, "abc");
    assert!(matches!(
        wizard.on_key(key(KeyCode::Enter)),
        WizardAction::None
    ));
    assert!(
        wizard
            .message
            .as_deref()
            .unwrap()
            .contains("4 to 255 characters")
    );
    let Stage::Pins(entry) = &wizard.stage else {
        panic!("left the PIN entry");
    };
    assert!(entry.first.is_none() && entry.buffer.is_empty());
}
