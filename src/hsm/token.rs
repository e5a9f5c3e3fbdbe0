//! Token administration: initializing a blank token with its SO and user PINs, and logging a
//! role in. The building blocks of a ceremony; blocking, so callers run them off the async
//! workers.
//!
//! PINs arrive as [`SecretString`] and are exposed only inside cryptoki's call; no log line or
//! error carries one.

use std::path::Path;

use cryptoki::context::{Function, Pkcs11};
use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use secrecy::SecretString;

use super::context::{context, explain_softhsm, require_functions};
use super::listing::{find_free_slot, find_token, token_view};
use super::{HsmError, PinTries, Role, TokenRef};
use crate::estate::TokenView;

/// PKCS#11 allows token labels of up to 32 bytes of UTF-8.
pub const MAX_LABEL_BYTES: usize = 32;

/// Initializes the first blank token of `module` with `label` and the SO PIN, sets the user
/// PIN as security officer, and returns the token as a fresh listing shows it.
///
/// The two halves are [`init_blank_token`] and [`init_user_pin`]; a ceremony runs them as
/// separate steps.
pub fn init_token(
    module: &Path,
    label: &str,
    so_pin: &SecretString,
    user_pin: &SecretString,
) -> Result<TokenView, HsmError> {
    let pkcs11 = context(module)?;
    require_functions(&pkcs11, &USER_PIN_FUNCTIONS)?;
    let view = init_blank_token(module, label, so_pin)?;
    let token = TokenRef::from(&view);
    init_user_pin(module, &token, so_pin, user_pin).map_err(|cause| HsmError::UserPinNotSet {
        token,
        cause: Box::new(cause),
    })
}

/// Initializes the first blank token of `module` with `label` and the SO PIN, and returns
/// the token as a fresh listing shows it.
///
/// The token is found again by label and serial, not by slot: SoftHSM2 renumbers the slot of
/// an initialized token at the next C_Initialize, and offers a new blank slot at once.
pub fn init_blank_token(
    module: &Path,
    label: &str,
    so_pin: &SecretString,
) -> Result<TokenView, HsmError> {
    validate_label(label)?;
    let pkcs11 = context(module)?;
    require_functions(&pkcs11, &[Function::InitToken])?;

    // Step 1: the SO PIN and label go onto a blank token.
    let (slot, blank) = find_free_slot(&pkcs11)?;
    pkcs11
        .init_token(slot, so_pin, label)
        .map_err(|err| match err {
            // SoftHSM2 writes the token's files now: a read-only directory shows up here.
            CryptokiError::Pkcs11(
                RvError::GeneralError | RvError::DeviceError | RvError::FunctionFailed,
                _,
            ) => explain_softhsm(module, Function::InitToken, err),
            err => pin_error(&pkcs11, slot, Role::SecurityOfficer, err),
        })?;

    // Step 2: its serial, read while the slot id still points at it.
    let fresh = pkcs11
        .get_token_info(slot)
        .map_err(|err| HsmError::from_call(Function::GetTokenInfo, err))?;
    let token = TokenRef {
        label: fresh.label().to_string(),
        serial: fresh.serial_number().to_string(),
    };
    tracing::info!(
        label = %token.label,
        serial = %token.serial,
        manufacturer = %blank.manufacturer_id(),
        "PKCS#11 token initialized"
    );

    // Step 3: list again and find the token by label and serial.
    let (_, info) = find_token(&pkcs11, &token)?;
    Ok(token_view(&info))
}

/// The functions setting the user PIN takes.
const USER_PIN_FUNCTIONS: [Function; 4] = [
    Function::OpenSession,
    Function::Login,
    Function::InitPIN,
    Function::Logout,
];

/// Logs the security officer in on `token` and sets (or resets) the user PIN; returns the
/// token as a fresh listing shows it.
pub fn init_user_pin(
    module: &Path,
    token: &TokenRef,
    so_pin: &SecretString,
    user_pin: &SecretString,
) -> Result<TokenView, HsmError> {
    let pkcs11 = context(module)?;
    require_functions(&pkcs11, &USER_PIN_FUNCTIONS)?;
    let (slot, info) = find_token(&pkcs11, token)?;
    if !info.token_initialized() {
        return Err(HsmError::TokenNotInitialized {
            token: token.clone(),
        });
    }
    set_user_pin(&pkcs11, slot, so_pin, user_pin)?;
    tracing::info!(label = %token.label, serial = %token.serial, "user PIN set");

    let (_, info) = find_token(&pkcs11, token)?;
    Ok(token_view(&info))
}

/// Changes `role`'s PIN on `token` from `old_pin` to `new_pin` (C_SetPIN, logged in as that
/// role); returns the token as a fresh listing shows it.
pub fn change_pin(
    module: &Path,
    token: &TokenRef,
    role: Role,
    old_pin: &SecretString,
    new_pin: &SecretString,
) -> Result<TokenView, HsmError> {
    let pkcs11 = context(module)?;
    require_functions(&pkcs11, &[Function::SetPIN])?;
    let session = login(module, token, role, old_pin)?;
    let (slot, _) = find_token(&pkcs11, token)?;
    session
        .set_pin(old_pin, new_pin)
        .map_err(|err| pin_error(&pkcs11, slot, role, err))?;
    session
        .close()
        .map_err(|err| HsmError::from_call(Function::CloseSession, err))?;
    tracing::info!(label = %token.label, serial = %token.serial, %role, "PIN changed");

    let (_, info) = find_token(&pkcs11, token)?;
    Ok(token_view(&info))
}

/// Opens a read-write session on `token` and logs `role` in with `pin`.
///
/// The session logs out when it closes (dropping it closes it). A wrong PIN is reported with
/// the role's failed-attempt flags as the token shows them afterwards.
pub fn login(
    module: &Path,
    token: &TokenRef,
    role: Role,
    pin: &SecretString,
) -> Result<Session, HsmError> {
    let pkcs11 = context(module)?;
    require_functions(&pkcs11, &[Function::OpenSession, Function::Login])?;
    let (slot, info) = find_token(&pkcs11, token)?;
    if !info.token_initialized() {
        return Err(HsmError::TokenNotInitialized {
            token: token.clone(),
        });
    }
    if role == Role::User && !info.user_pin_initialized() {
        return Err(HsmError::UserPinNotInitialized {
            function: Function::Login,
            source: None,
        });
    }

    let session = pkcs11
        .open_rw_session(slot)
        .map_err(|err| HsmError::from_call(Function::OpenSession, err))?;
    session
        .login(user_type(role), Some(pin))
        .map_err(|err| pin_error(&pkcs11, slot, role, err))?;
    tracing::debug!(label = %token.label, serial = %token.serial, %role, "logged in");
    Ok(session)
}

/// Checks a label before it reaches the token, which would silently truncate or pad it.
pub fn validate_label(label: &str) -> Result<(), HsmError> {
    let reason = if label.trim().is_empty() {
        Some("is empty: give the token a name operators will recognise")
    } else if label.len() > MAX_LABEL_BYTES {
        Some("is longer than the 32 bytes PKCS#11 allows: shorten it")
    } else if label.trim() != label {
        Some("starts or ends with spaces, which the token would not keep: remove them")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(HsmError::InvalidLabel {
            label: label.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

fn set_user_pin(
    pkcs11: &Pkcs11,
    slot: Slot,
    so_pin: &SecretString,
    user_pin: &SecretString,
) -> Result<(), HsmError> {
    let session = pkcs11
        .open_rw_session(slot)
        .map_err(|err| HsmError::from_call(Function::OpenSession, err))?;
    session
        .login(UserType::So, Some(so_pin))
        .map_err(|err| pin_error(pkcs11, slot, Role::SecurityOfficer, err))?;
    session
        .init_pin(user_pin)
        .map_err(|err| pin_error(pkcs11, slot, Role::User, err))?;
    session
        .logout()
        .map_err(|err| HsmError::from_call(Function::Logout, err))?;
    session
        .close()
        .map_err(|err| HsmError::from_call(Function::CloseSession, err))
}

fn user_type(role: Role) -> UserType {
    match role {
        Role::SecurityOfficer => UserType::So,
        Role::User => UserType::User,
    }
}

/// Classifies an error of a call that took `role`'s PIN, re-reading the token's flags where
/// the officer needs them.
fn pin_error(pkcs11: &Pkcs11, slot: Slot, role: Role, err: CryptokiError) -> HsmError {
    let CryptokiError::Pkcs11(rv, function) = err else {
        return HsmError::from_call(Function::Login, err);
    };
    let info = pkcs11.get_token_info(slot).ok();
    match rv {
        RvError::PinIncorrect => HsmError::WrongPin {
            function,
            role,
            tries: info.map_or_else(PinTries::default, |info| match role {
                Role::User => PinTries {
                    count_low: info.user_pin_count_low(),
                    final_try: info.user_pin_final_try(),
                    locked: info.user_pin_locked(),
                    known: true,
                },
                Role::SecurityOfficer => PinTries {
                    count_low: info.so_pin_count_low(),
                    final_try: info.so_pin_final_try(),
                    locked: info.so_pin_locked(),
                    known: true,
                },
            }),
            source: err,
        },
        RvError::PinLocked => HsmError::PinLocked {
            function,
            role,
            source: err,
        },
        RvError::PinLenRange => HsmError::PinLength {
            function,
            role,
            min: info.as_ref().map_or(0, |i| i.min_pin_length() as u64),
            max: info.as_ref().map_or(0, |i| i.max_pin_length() as u64),
            source: err,
        },
        RvError::UserAlreadyLoggedIn => HsmError::AlreadyLoggedIn {
            function,
            role,
            source: err,
        },
        // The other role holds the login this process's sessions share.
        RvError::UserAnotherAlreadyLoggedIn => HsmError::AlreadyLoggedIn {
            function,
            role: match role {
                Role::User => Role::SecurityOfficer,
                Role::SecurityOfficer => Role::User,
            },
            source: err,
        },
        _ => HsmError::from_call(function, err),
    }
}
