//! Each ceremony step against the module: what it does, in words, and the PKCS#11 calls.
//! Blocking; every step opens its own session and closes it, so no login outlives a step.

use std::path::Path;

use cryptoki::context::{Function, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass};
use cryptoki::session::Session;

use super::pins::PinSlot;
use super::plan::{KeySpec, KeyUsage, ROOT_KEY_BYTES, Step, TokenChoice};
use super::record::{Check, GeneratedKey, StepDetail, VerifiedKey};
use super::{Ceremony, CeremonyError, StepPins};
use crate::estate::{KcvMethod, Pkcs11Library};
use crate::hsm::objects::{find_secret_keys, key_check_value, object_view};
use crate::hsm::{
    HsmError, Role, TokenRef, change_pin, context, find_free_slot, find_token, init_blank_token,
    init_user_pin, login, token_view,
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
            let (detail, token) = prepare(&module, ceremony)?;
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
            let keys = verify(&session, ceremony)?;
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

/// Step 1: the module's functions, and the token the ceremony will use.
fn prepare(
    module: &Path,
    ceremony: &Ceremony,
) -> Result<(StepDetail, Option<TokenRef>), CeremonyError> {
    let pkcs11 = context(module)?;
    let info = pkcs11
        .get_library_info()
        .map_err(|err| HsmError::from_call(Function::GetInfo, err))?;
    let library = Pkcs11Library {
        path: module.display().to_string(),
        description: info.library_description().to_string(),
        manufacturer: info.manufacturer_id().to_string(),
        cryptoki_version: info.cryptoki_version().to_string(),
        library_version: info.library_version().to_string(),
    };

    let needed = ceremony.plan.functions();
    let cloudhsm = is_cloudhsm(module, &library);
    let missing = missing_functions(&needed, |f| pkcs11.is_fn_supported(f), cloudhsm);
    if !missing.is_empty() {
        return Err(CeremonyError::Unsupported {
            module: module.to_path_buf(),
            missing,
            cloudhsm,
        });
    }
    let functions_checked = needed
        .iter()
        .map(|f| crate::hsm::function_name(*f))
        .collect();

    let (token, chosen) = match &ceremony.plan.token {
        TokenChoice::Blank { label } => {
            refuse_taken_label(&pkcs11, label)?;
            let (_, blank) = find_free_slot(&pkcs11)?;
            (token_view(&blank), None)
        }
        TokenChoice::Existing {
            token,
            set_user_pin,
        } => {
            let (_, info) = find_token(&pkcs11, token)?;
            if !info.token_initialized() {
                return Err(HsmError::TokenNotInitialized {
                    token: token.clone(),
                }
                .into());
            }
            if !set_user_pin && !info.user_pin_initialized() {
                return Err(HsmError::UserPinNotInitialized {
                    function: Function::Login,
                    source: None,
                }
                .into());
            }
            (token_view(&info), Some(token.clone()))
        }
    };
    let detail = StepDetail::Prepared {
        library,
        token,
        functions_checked,
    };
    Ok((detail, chosen))
}

/// The functions of `needed` the module lacks. CloudHSM's library answers C_InitToken,
/// C_InitPIN and C_SetPIN with CKR_FUNCTION_NOT_SUPPORTED though its list has entries for
/// them, so for it they count as missing whatever the list says.
pub(super) fn missing_functions(
    needed: &[Function],
    supported: impl Fn(Function) -> bool,
    cloudhsm: bool,
) -> Vec<Function> {
    needed
        .iter()
        .copied()
        .filter(|f| {
            let administrative = matches!(
                f,
                Function::InitToken | Function::InitPIN | Function::SetPIN
            );
            !supported(*f) || (cloudhsm && administrative)
        })
        .collect()
}

/// Whether the module is AWS CloudHSM's PKCS#11 library, by its file name or its library info
/// (its HSMs were made by Cavium, later Marvell).
pub(super) fn is_cloudhsm(module: &Path, library: &Pkcs11Library) -> bool {
    let file = module
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let info = format!("{} {}", library.description, library.manufacturer).to_ascii_lowercase();
    file.contains("cloudhsm")
        || ["cloudhsm", "cavium", "marvell"]
            .iter()
            .any(|n| info.contains(n))
}

fn refuse_taken_label(pkcs11: &Pkcs11, label: &str) -> Result<(), CeremonyError> {
    let slots = pkcs11
        .get_slots_with_token()
        .map_err(|err| HsmError::from_call(Function::GetSlotList, err))?;
    for slot in slots {
        if let Ok(info) = pkcs11.get_token_info(slot)
            && info.token_initialized()
            && info.label() == label
        {
            return Err(CeremonyError::LabelTaken {
                label: label.to_string(),
                serial: info.serial_number().to_string(),
            });
        }
    }
    Ok(())
}

/// Generates one AES-256 root key and returns it as the token lists it.
fn generate(
    session: &Session,
    token: &TokenRef,
    spec: &KeySpec,
) -> Result<crate::estate::ObjectView, CeremonyError> {
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

/// Finds each planned key and checks it is what the ceremony asked for.
fn verify(session: &Session, ceremony: &Ceremony) -> Result<Vec<VerifiedKey>, CeremonyError> {
    let mut verified = Vec::new();
    for spec in &ceremony.plan.keys {
        let handles = find_secret_keys(session, &spec.label, &spec.id)?;
        let [handle] = handles[..] else {
            return Err(CeremonyError::VerificationFailed {
                failures: vec![format!(
                    "key {:?} (id {}): expected exactly one secret key with this label or id, \
                     found {}",
                    spec.label,
                    hex::encode(&spec.id),
                    handles.len()
                )],
            });
        };
        let key = object_view(session, handle)?;
        let mut checks = vec![
            Check::value("label", &spec.label, Some(&key.label)),
            Check::value("id", &hex::encode(&spec.id), Some(&key.id)),
            Check::value("key type", "AES", key.key_type.as_deref()),
            Check::value(
                "size",
                &(ROOT_KEY_BYTES * 8).to_string(),
                key.size_bits.map(|b| b.to_string()).as_deref(),
            ),
            Check::flag("token", true, key.token),
            Check::flag("private", true, key.private),
            Check::flag("sensitive", true, key.sensitive),
            Check::flag("always sensitive", true, key.always_sensitive),
            Check::flag("extractable", false, key.extractable),
            Check::flag("never extractable", true, key.never_extractable),
            Check::flag("local", true, key.local),
        ];

        // The key material itself must be unreadable.
        let value = session
            .get_attribute_info(handle, &[AttributeType::Value])
            .map_err(|err| HsmError::from_call(Function::GetAttributeValue, err))?;
        let readable = matches!(value.first(), Some(AttributeInfo::Available(_)));
        checks.push(Check {
            name: "CKA_VALUE readable".into(),
            expected: "false".into(),
            found: readable.to_string(),
            passed: !readable,
        });

        // The KCV now against the one shown when the key was generated.
        let kcv = key.kcv.as_ref().and_then(|k| k.value.clone());
        let generated = ceremony.keys.iter().find(|k| k.label == spec.label);
        if let Some(generated) = generated {
            checks.push(Check::value(
                "KCV as generated",
                generated.kcv.as_deref().unwrap_or("none"),
                Some(kcv.as_deref().unwrap_or("none")),
            ));
        }
        // Where ECB produced it, the token's own check value must agree.
        if key.kcv.as_ref().map(|k| k.method) == Some(KcvMethod::AesEcbZeroBlock) {
            let attribute = key_check_value(session, handle, None, None);
            if let Some(token_kcv) = attribute.value {
                checks.push(Check::value(
                    "CKA_CHECK_VALUE agrees",
                    kcv.as_deref().unwrap_or("none"),
                    Some(&token_kcv),
                ));
            }
        }
        verified.push(VerifiedKey { key, checks });
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(description: &str, manufacturer: &str) -> Pkcs11Library {
        Pkcs11Library {
            path: String::new(),
            description: description.into(),
            manufacturer: manufacturer.into(),
            cryptoki_version: "2.40".into(),
            library_version: "1.0".into(),
        }
    }

    #[test]
    fn cloudhsm_is_recognised_by_file_name_or_library_info() {
        let softhsm = library("Implementation of PKCS11", "SoftHSM");
        assert!(!is_cloudhsm(
            Path::new("/usr/lib/softhsm/libsofthsm2.so"),
            &softhsm
        ));
        assert!(is_cloudhsm(
            Path::new("/opt/cloudhsm/lib/libcloudhsm_pkcs11.so"),
            &softhsm
        ));
        assert!(is_cloudhsm(
            Path::new("/opt/vendor/libpkcs11.so"),
            &library("AWS CloudHSM PKCS#11", "Amazon")
        ));
    }

    #[test]
    fn cloudhsm_lacks_the_administrative_functions_whatever_its_list_says() {
        let needed = [Function::InitToken, Function::Login, Function::SetPIN];
        let names = |functions: Vec<Function>| -> Vec<String> {
            functions
                .into_iter()
                .map(crate::hsm::function_name)
                .collect()
        };
        assert!(missing_functions(&needed, |_| true, false).is_empty());
        assert_eq!(
            names(missing_functions(&needed, |_| true, true)),
            ["C_InitToken", "C_SetPIN"]
        );
        assert_eq!(
            names(missing_functions(
                &needed,
                |f| !matches!(f, Function::Login),
                false
            )),
            ["C_Login"]
        );
    }
}
