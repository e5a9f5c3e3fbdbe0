//! Each ceremony step against the module: what it does, in words, and the PKCS#11 calls.
//! Blocking; every step opens its own session and closes it, so no login outlives a step.

use cryptoki::context::Function;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::Session;

use super::pins::PinSlot;
use super::plan::{KeySpec, KeyUsage, ROOT_KEY_BYTES, Step, TokenChoice};
use super::record::{GeneratedKey, StepDetail};
use super::{Ceremony, CeremonyError, StepPins, preflight, verify};
use crate::estate::ObjectView;
use crate::hsm::objects::{find_secret_keys, object_view};
use crate::hsm::{
    HsmError, Role, TokenRef, change_pin, context, find_token, init_blank_token, init_user_pin,
    login, token_view,
};

/// The step's name, as records and prompts show it.
pub(super) fn title(ceremony: &Ceremony, step: Step) -> String {
    let plan = &ceremony.plan;
    match step {
        Step::Prepare => "prepare: check the module and choose the token".into(),
        Step::InitToken => format!("initialize token {:?}", plan.token.label()),
        Step::InitUserPin => "set the user PIN as security officer".into(),
        Step::GenerateKey { key } => match plan.keys.get(key) {
            Some(spec) => format!("generate root key {:?}", spec.label),
            None => format!("generate root key #{}", key + 1),
        },
        Step::ChangePin { role } => format!("change the {role} PIN"),
        Step::Verify => "verify the root keys".into(),
    }
}

/// What the step will do, for the officer to confirm before it runs.
pub(super) fn describe(ceremony: &Ceremony, step: Step) -> String {
    let plan = &ceremony.plan;
    let token = match (&ceremony.token, &plan.token) {
        (Some(token), _) => token.to_string(),
        (None, choice) => format!("{:?}", choice.label()),
    };
    match step {
        Step::Prepare => match &plan.token {
            TokenChoice::Blank { label } => format!(
                "Check that {} implements every function this ceremony calls, and that a \
                 blank token is free to become {label:?}. Changes nothing.",
                ceremony.module.display()
            ),
            TokenChoice::Existing { token, .. } => format!(
                "Check that {} implements every function this ceremony calls, and find token \
                 {token}. Changes nothing.",
                ceremony.module.display()
            ),
        },
        Step::InitToken => format!(
            "C_InitToken: write label {:?} and the new SO PIN onto the first blank token. \
             Anything the slot held is gone.",
            plan.token.label()
        ),
        Step::InitUserPin => format!(
            "Log in to {token} as security officer and set the user PIN (C_InitPIN). The user \
             is the key-usage role, separate from the officer."
        ),
        Step::GenerateKey { key } => {
            let Some(spec) = plan.keys.get(key) else {
                return title(ceremony, step);
            };
            let usage: Vec<&str> = spec.usage.iter().map(|u| u.name()).collect();
            format!(
                "Log in to {token} as user and generate AES-256 key {:?} (id {}) on the token: \
                 private, sensitive, never extractable, for {}. Its key check value is shown.",
                spec.label,
                hex::encode(&spec.id),
                usage.join(", ")
            )
        }
        Step::ChangePin { role } => format!(
            "Log in to {token} as {role} with the current PIN and set the replacement (C_SetPIN)."
        ),
        Step::Verify => format!(
            "Log in to {token} as user, find each root key by label and id, and check its \
             attributes and key check value."
        ),
    }
}

/// Runs one step; on success the ceremony learns the token or the key it made.
pub(super) fn run(
    ceremony: &mut Ceremony,
    step: Step,
    pins: &StepPins,
) -> Result<StepDetail, CeremonyError> {
    let module = ceremony.module.clone();
    // The caller checked every PIN the step takes is there.
    let pin = |slot| pins.get(slot).expect("checked before the step ran");
    match step {
        Step::Prepare => {
            let (detail, token) = preflight::prepare(&module, ceremony)?;
            ceremony.token = token;
            Ok(detail)
        }
        Step::InitToken => {
            let label = ceremony.plan.token.label().to_string();
            let view = init_blank_token(&module, &label, pin(PinSlot::So))?;
            ceremony.token = Some(TokenRef::from(&view));
            Ok(StepDetail::TokenInitialized { token: view })
        }
        Step::InitUserPin => {
            let token = known_token(ceremony)?;
            let view = init_user_pin(&module, &token, pin(PinSlot::So), pin(PinSlot::User))?;
            Ok(StepDetail::UserPinSet { token: view })
        }
        Step::GenerateKey { key } => {
            let token = known_token(ceremony)?;
            let spec = ceremony.plan.keys[key].clone();
            let session = login(&module, &token, Role::User, pin(PinSlot::User))?;
            let view = generate(&session, &token, &spec)?;
            close(session)?;
            ceremony.keys.push(GeneratedKey::from_view(&view));
            Ok(StepDetail::KeyGenerated { key: view })
        }
        Step::ChangePin { role } => {
            let token = known_token(ceremony)?;
            let current = match role {
                Role::User => pin(PinSlot::User),
                Role::SecurityOfficer => pin(PinSlot::So),
            };
            let view = change_pin(&module, &token, role, current, pin(PinSlot::New))?;
            Ok(StepDetail::PinChanged { role, token: view })
        }
        Step::Verify => {
            let token = known_token(ceremony)?;
            let pkcs11 = context(&module)?;
            let (_, info) = find_token(&pkcs11, &token)?;
            let session = login(&module, &token, Role::User, pin(PinSlot::User))?;
            let keys = verify::verify(&session, ceremony)?;
            close(session)?;
            let failures: Vec<String> = keys
                .iter()
                .flat_map(|k| {
                    k.checks.iter().filter(|c| !c.passed).map(|c| {
                        format!(
                            "key {:?}: {} expected {}, found {}",
                            k.key.label, c.name, c.expected, c.found
                        )
                    })
                })
                .collect();
            if !failures.is_empty() {
                return Err(CeremonyError::VerificationFailed { failures });
            }
            Ok(StepDetail::Verified {
                token: token_view(&info),
                keys,
            })
        }
    }
}

fn known_token(ceremony: &Ceremony) -> Result<TokenRef, CeremonyError> {
    // Steps run in order, so Prepare (existing) or InitToken (blank) has set it.
    ceremony
        .token
        .clone()
        .ok_or_else(|| CeremonyError::OutOfOrder {
            asked: "a token step".into(),
            next: ceremony.next_step().map(|s| title(ceremony, s)),
        })
}

fn close(session: Session) -> Result<(), HsmError> {
    session
        .close()
        .map_err(|err| HsmError::from_call(Function::CloseSession, err))
}

/// Generates one AES-256 root key and returns it as the token lists it.
fn generate(
    session: &Session,
    token: &TokenRef,
    spec: &KeySpec,
) -> Result<ObjectView, CeremonyError> {
    if !find_secret_keys(session, &spec.label, &spec.id)?.is_empty() {
        return Err(CeremonyError::KeyExists {
            token: token.clone(),
            label: spec.label.clone(),
            id: hex::encode(&spec.id),
        });
    }
    let may = |usage| spec.usage.contains(&usage);
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(ROOT_KEY_BYTES.into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Label(spec.label.as_bytes().to_vec()),
        Attribute::Id(spec.id.clone()),
        Attribute::Encrypt(may(KeyUsage::Encrypt)),
        Attribute::Decrypt(may(KeyUsage::Decrypt)),
        Attribute::Wrap(may(KeyUsage::Wrap)),
        Attribute::Unwrap(may(KeyUsage::Unwrap)),
        Attribute::Derive(may(KeyUsage::Derive)),
    ];
    let handle = session
        .generate_key(&Mechanism::AesKeyGen, &template)
        .map_err(|err| HsmError::from_call(Function::GenerateKey, err))?;
    let view = object_view(session, handle)?;
    tracing::info!(
        label = %spec.label,
        id = %hex::encode(&spec.id),
        kcv = view.kcv.as_ref().and_then(|k| k.value.as_deref()).unwrap_or("none"),
        "root key generated"
    );
    Ok(view)
}
