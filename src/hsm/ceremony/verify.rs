//! The last step: each root key found again by label and id and checked against the plan,
//! its material unreadable and its KCV as it was when generated.

use cryptoki::context::Function;
use cryptoki::object::{AttributeInfo, AttributeType};
use cryptoki::session::Session;

use super::plan::ROOT_KEY_BYTES;
use super::record::{Check, VerifiedKey};
use super::{Ceremony, CeremonyError};
use crate::estate::KcvMethod;
use crate::hsm::HsmError;
use crate::hsm::objects::{find_secret_keys, key_check_value, object_view};

/// Finds each planned key and checks it is what the ceremony asked for.
pub(super) fn verify(
    session: &Session,
    ceremony: &Ceremony,
) -> Result<Vec<VerifiedKey>, CeremonyError> {
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
