//! Step 1 of every ceremony: can the module do it, and which token will it use. Nothing on
//! the token changes here, so a module that cannot do the ceremony is refused before it starts.

use std::path::Path;

use cryptoki::context::{Function, Pkcs11};

use super::plan::TokenChoice;
use super::record::StepDetail;
use super::{Ceremony, CeremonyError};
use crate::estate::Pkcs11Library;
use crate::hsm::{
    HsmError, TokenRef, context, find_free_slot, find_token, function_name, token_view,
};

/// The module's functions, and the token the ceremony will use.
pub(super) fn prepare(
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
    let functions_checked = needed.iter().map(|f| function_name(*f)).collect();

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
fn missing_functions(
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
fn is_cloudhsm(module: &Path, library: &Pkcs11Library) -> bool {
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
