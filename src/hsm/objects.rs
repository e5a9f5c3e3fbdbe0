//! The objects on a token once a role is logged in: their trust attributes and, for secret
//! keys, the key check value.
//!
//! A KCV is the first 3 bytes of encrypting one all-zero block with the key under AES-ECB.
//! Where the key may not encrypt, or the token refuses ECB, the token's own `CKA_CHECK_VALUE`
//! is read instead, and the view says which method produced the value. Key material is never
//! read: the only attribute that holds it, `CKA_VALUE`, is never asked for.

use std::path::Path;

use cryptoki::context::Function;
use cryptoki::error::Error as CryptokiError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use secrecy::SecretString;

use super::token::login;
use super::{HsmError, Role, TokenRef, ckr_name};
use crate::estate::{KcvMethod, KeyCheckValue, ObjectView};

/// The attributes read for every object; those an object lacks are reported as absent.
const VIEW_ATTRIBUTES: [AttributeType; 17] = [
    AttributeType::Class,
    AttributeType::KeyType,
    AttributeType::Label,
    AttributeType::Id,
    AttributeType::Token,
    AttributeType::Private,
    AttributeType::Sensitive,
    AttributeType::Extractable,
    AttributeType::NeverExtractable,
    AttributeType::AlwaysSensitive,
    AttributeType::Local,
    AttributeType::Encrypt,
    AttributeType::Decrypt,
    AttributeType::Wrap,
    AttributeType::Unwrap,
    AttributeType::ValueLen,
    AttributeType::ModulusBits,
];

/// An AES block: the KCV encrypts one of zeros.
const AES_BLOCK_BYTES: usize = 16;
/// A key check value is 3 bytes, shown as 6 hex digits.
const KCV_BYTES: usize = 3;

/// Logs the user in on `token`, lists every object the user can see, and logs out again.
/// Blocking; for the HSM pane.
pub fn list_token_objects(
    module: &Path,
    token: &TokenRef,
    user_pin: &SecretString,
) -> Result<Vec<ObjectView>, HsmError> {
    let session = login(module, token, Role::User, user_pin)?;
    let objects = list_objects(&session)?;
    session
        .close()
        .map_err(|err| HsmError::from_call(Function::CloseSession, err))?;
    Ok(objects)
}

/// Every object `session` can see, in the token's order, with the trust attributes and KCVs.
pub fn list_objects(session: &Session) -> Result<Vec<ObjectView>, HsmError> {
    let handles = session
        .find_objects(&[])
        .map_err(|err| HsmError::from_call(Function::FindObjects, err))?;
    handles
        .into_iter()
        .map(|handle| object_view(session, handle))
        .collect()
}

/// The secret keys whose `CKA_LABEL` is `label` or whose `CKA_ID` is `id`.
pub fn find_secret_keys(
    session: &Session,
    label: &str,
    id: &[u8],
) -> Result<Vec<ObjectHandle>, HsmError> {
    let find = |template: &[Attribute]| {
        session
            .find_objects(template)
            .map_err(|err| HsmError::from_call(Function::FindObjects, err))
    };
    let mut handles = find(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ])?;
    for handle in find(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Id(id.to_vec()),
    ])? {
        if !handles.contains(&handle) {
            handles.push(handle);
        }
    }
    Ok(handles)
}

/// One object's view.
pub fn object_view(session: &Session, handle: ObjectHandle) -> Result<ObjectView, HsmError> {
    let attributes = session
        .get_attributes(handle, &VIEW_ATTRIBUTES)
        .map_err(|err| HsmError::from_call(Function::GetAttributeValue, err))?;
    let mut view = ObjectView {
        label: String::new(),
        id: String::new(),
        class: String::new(),
        key_type: None,
        size_bits: None,
        token: None,
        private: None,
        sensitive: None,
        extractable: None,
        never_extractable: None,
        always_sensitive: None,
        local: None,
        encrypt: None,
        decrypt: None,
        wrap: None,
        unwrap: None,
        kcv: None,
    };
    let mut class = None;
    let mut key_type = None;
    let mut value_len = None;
    let mut modulus_bits = None;
    for attribute in attributes {
        match attribute {
            Attribute::Class(c) => class = Some(c),
            Attribute::KeyType(k) => key_type = Some(k),
            Attribute::Label(bytes) => view.label = String::from_utf8_lossy(&bytes).into_owned(),
            Attribute::Id(bytes) => view.id = hex::encode(bytes),
            Attribute::Token(b) => view.token = Some(b),
            Attribute::Private(b) => view.private = Some(b),
            Attribute::Sensitive(b) => view.sensitive = Some(b),
            Attribute::Extractable(b) => view.extractable = Some(b),
            Attribute::NeverExtractable(b) => view.never_extractable = Some(b),
            Attribute::AlwaysSensitive(b) => view.always_sensitive = Some(b),
            Attribute::Local(b) => view.local = Some(b),
            Attribute::Encrypt(b) => view.encrypt = Some(b),
            Attribute::Decrypt(b) => view.decrypt = Some(b),
            Attribute::Wrap(b) => view.wrap = Some(b),
            Attribute::Unwrap(b) => view.unwrap = Some(b),
            Attribute::ValueLen(len) => value_len = Some(u64::from(len)),
            Attribute::ModulusBits(bits) => modulus_bits = Some(u64::from(bits)),
            _ => {}
        }
    }
    view.class = class.map_or_else(|| "unknown".into(), class_name);
    view.key_type = key_type.map(key_type_name);
    view.size_bits = match key_type {
        Some(KeyType::RSA) => modulus_bits,
        Some(_) => value_len.map(|bytes| bytes * 8),
        None => None,
    };
    if class == Some(ObjectClass::SECRET_KEY) {
        view.kcv = Some(key_check_value(session, handle, key_type, view.encrypt));
    }
    Ok(view)
}

/// The key's check value: AES-ECB of a zero block where the key is AES and may encrypt, else
/// the token's `CKA_CHECK_VALUE`; the result names the method, or why there is none.
pub fn key_check_value(
    session: &Session,
    handle: ObjectHandle,
    key_type: Option<KeyType>,
    may_encrypt: Option<bool>,
) -> KeyCheckValue {
    // Method 1: encrypt a zero block, the definition auditors compute by hand.
    let ecb_refusal = match (key_type, may_encrypt) {
        (Some(KeyType::AES), Some(true)) => {
            match session.encrypt(&Mechanism::AesEcb, handle, &[0u8; AES_BLOCK_BYTES]) {
                Ok(block) if block.len() >= KCV_BYTES => {
                    return KeyCheckValue {
                        value: Some(hex::encode(&block[..KCV_BYTES])),
                        method: KcvMethod::AesEcbZeroBlock,
                        note: None,
                    };
                }
                Ok(block) => format!("AES-ECB returned {} bytes", block.len()),
                Err(err) => format!("the token refused AES-ECB ({})", rv_text(&err)),
            }
        }
        (Some(KeyType::AES), _) => "the key may not encrypt (CKA_ENCRYPT false)".to_string(),
        _ => "AES-ECB applies to AES keys only".to_string(),
    };

    // Method 2: the check value the token computed when the key was made.
    match session.get_attributes(handle, &[AttributeType::CheckValue]) {
        Ok(attributes) => {
            let value = attributes.into_iter().find_map(|a| match a {
                Attribute::CheckValue(bytes) if bytes.len() >= KCV_BYTES => Some(bytes),
                _ => None,
            });
            match value {
                Some(bytes) => KeyCheckValue {
                    value: Some(hex::encode(&bytes[..KCV_BYTES])),
                    method: KcvMethod::CheckValueAttribute,
                    note: Some(ecb_refusal),
                },
                None => KeyCheckValue {
                    value: None,
                    method: KcvMethod::NotAvailable,
                    note: Some(format!(
                        "{ecb_refusal}, and the token reports no CKA_CHECK_VALUE"
                    )),
                },
            }
        }
        Err(err) => KeyCheckValue {
            value: None,
            method: KcvMethod::NotAvailable,
            note: Some(format!(
                "{ecb_refusal}, and reading CKA_CHECK_VALUE failed ({})",
                rv_text(&err)
            )),
        },
    }
}

fn rv_text(err: &CryptokiError) -> String {
    match err {
        CryptokiError::Pkcs11(rv, _) => ckr_name(*rv),
        other => other.to_string(),
    }
}

/// The officer's name for an object class: `secret key` for `CKO_SECRET_KEY`.
fn class_name(class: ObjectClass) -> String {
    let name = match class {
        ObjectClass::SECRET_KEY => "secret key",
        ObjectClass::PRIVATE_KEY => "private key",
        ObjectClass::PUBLIC_KEY => "public key",
        ObjectClass::CERTIFICATE => "certificate",
        ObjectClass::DATA => "data",
        ObjectClass::DOMAIN_PARAMETERS => "domain parameters",
        ObjectClass::MECHANISM => "mechanism",
        ObjectClass::HARDWARE_FEATURE => "hardware feature",
        ObjectClass::OTP_KEY => "OTP key",
        other => return other.to_string(),
    };
    name.to_string()
}

/// The officer's name for a key type: `AES` for `CKK_AES`.
fn key_type_name(key_type: KeyType) -> String {
    let name = match key_type {
        KeyType::AES => "AES",
        KeyType::RSA => "RSA",
        KeyType::EC => "EC",
        KeyType::EC_EDWARDS => "EdDSA",
        KeyType::GENERIC_SECRET => "generic secret",
        KeyType::DES3 => "DES3",
        other => {
            let text = other.to_string();
            return text
                .strip_prefix("CKK_")
                .map_or(text.clone(), str::to_string);
        }
    };
    name.to_string()
}
