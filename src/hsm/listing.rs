//! Reading the module: library info, every slot, every token, and finding a token again by
//! its label and serial.

use std::path::Path;

use cryptoki::context::{Function, Pkcs11};
use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::slot::{Slot, TokenInfo};

use super::context::context;
use super::{HsmError, TokenRef};
use crate::estate::{HsmSnapshot, Pkcs11Library, SlotView, TokenView};

/// Lists the module's library info, every slot (with or without a token) and each token's
/// flags and limits. Blocking.
pub fn list(module: &Path) -> Result<HsmSnapshot, HsmError> {
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

    let slots = pkcs11
        .get_all_slots()
        .map_err(|err| HsmError::from_call(Function::GetSlotList, err))?;
    let mut views = Vec::with_capacity(slots.len());
    for slot in slots {
        views.push(slot_view(&pkcs11, slot)?);
    }
    Ok(HsmSnapshot {
        library,
        slots: views,
    })
}

fn slot_view(pkcs11: &Pkcs11, slot: Slot) -> Result<SlotView, HsmError> {
    let info = pkcs11
        .get_slot_info(slot)
        .map_err(|err| HsmError::from_call(Function::GetSlotInfo, err))?;
    let token = if info.token_present() {
        match pkcs11.get_token_info(slot) {
            Ok(token) => Some(token_view(&token)),
            // Removed between the two calls, or unreadable: the slot shows as empty.
            Err(CryptokiError::Pkcs11(
                RvError::TokenNotPresent | RvError::TokenNotRecognized,
                _,
            )) => None,
            Err(err) => return Err(HsmError::from_call(Function::GetTokenInfo, err)),
        }
    } else {
        None
    };
    Ok(SlotView {
        slot_id: slot.id(),
        description: info.slot_description().to_string(),
        manufacturer: info.manufacturer_id().to_string(),
        token,
    })
}

/// The officer's view of a token's info.
pub fn token_view(info: &TokenInfo) -> TokenView {
    let bytes = |value: Option<usize>| value.map(|v| v as u64);
    TokenView {
        label: info.label().to_string(),
        manufacturer: info.manufacturer_id().to_string(),
        model: info.model().to_string(),
        serial: info.serial_number().to_string(),
        initialized: info.token_initialized(),
        user_pin_initialized: info.user_pin_initialized(),
        login_required: info.login_required(),
        user_pin_count_low: info.user_pin_count_low(),
        user_pin_final_try: info.user_pin_final_try(),
        user_pin_locked: info.user_pin_locked(),
        user_pin_to_be_changed: info.user_pin_to_be_changed(),
        so_pin_count_low: info.so_pin_count_low(),
        so_pin_final_try: info.so_pin_final_try(),
        so_pin_locked: info.so_pin_locked(),
        so_pin_to_be_changed: info.so_pin_to_be_changed(),
        min_pin_len: info.min_pin_length() as u64,
        max_pin_len: info.max_pin_length() as u64,
        free_public_memory: bytes(info.free_public_memory()),
        total_public_memory: bytes(info.total_public_memory()),
        free_private_memory: bytes(info.free_private_memory()),
        total_private_memory: bytes(info.total_private_memory()),
    }
}

/// The slot currently holding `token`, found by label and serial in a fresh listing; slot
/// ids change when a module re-initializes, so they are never remembered.
pub fn find_token(pkcs11: &Pkcs11, token: &TokenRef) -> Result<(Slot, TokenInfo), HsmError> {
    let slots = pkcs11
        .get_slots_with_token()
        .map_err(|err| HsmError::from_call(Function::GetSlotList, err))?;
    for slot in slots {
        match pkcs11.get_token_info(slot) {
            Ok(info) if token.matches(&info) => return Ok((slot, info)),
            Ok(_) | Err(CryptokiError::Pkcs11(RvError::TokenNotPresent, _)) => {}
            Err(err) => return Err(HsmError::from_call(Function::GetTokenInfo, err)),
        }
    }
    Err(HsmError::TokenNotFound {
        token: token.clone(),
    })
}

/// The first slot holding a token that was never initialized.
pub fn find_free_slot(pkcs11: &Pkcs11) -> Result<(Slot, TokenInfo), HsmError> {
    let slots = pkcs11
        .get_slots_with_token()
        .map_err(|err| HsmError::from_call(Function::GetSlotList, err))?;
    for slot in slots {
        match pkcs11.get_token_info(slot) {
            Ok(info) if !info.token_initialized() => return Ok((slot, info)),
            Ok(_) | Err(CryptokiError::Pkcs11(RvError::TokenNotPresent, _)) => {}
            Err(err) => return Err(HsmError::from_call(Function::GetTokenInfo, err)),
        }
    }
    Err(HsmError::NoFreeSlot)
}
