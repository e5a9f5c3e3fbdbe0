//! Ceremony scripts: a reviewed TOML file describing the participants, the token and the keys,
//! so a ceremony can be rehearsed and then run identically. See `config/ceremony.toml`.
//!
//! Error policy, as for the configuration: unknown fields are refused, and every error names
//! the file, the line and column, and the field. A script never holds a PIN; there is no
//! field for one.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;
use toml::Spanned;

use super::plan::{CeremonyPlan, KeySpec, KeyUsage, PlanField, ScriptSource, TokenChoice};
use crate::hsm::{Role, TokenRef};

/// The script could not be used.
#[derive(Debug, Error)]
pub enum ScriptError {
    #[error("ceremony script {path}: not found")]
    Missing { path: PathBuf },
    #[error("ceremony script {path}: cannot read it: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("ceremony script {path}, line {line}, column {column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFile {
    ceremony: CeremonySection,
    token: TokenSection,
    keys: Spanned<Vec<KeySection>>,
    change_pin: Option<ChangePinSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CeremonySection {
    name: Spanned<String>,
    operator: Spanned<String>,
    witnesses: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TokenUse {
    Blank,
    Existing,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenSection {
    #[serde(rename = "use")]
    token_use: Spanned<TokenUse>,
    label: Spanned<String>,
    serial: Option<Spanned<String>>,
    set_user_pin: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySection {
    label: Spanned<String>,
    id: Spanned<String>,
    usage: Option<Spanned<Vec<UsageName>>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum UsageName {
    Encrypt,
    Decrypt,
    Wrap,
    Unwrap,
    Derive,
}

impl From<UsageName> for KeyUsage {
    fn from(name: UsageName) -> Self {
        match name {
            UsageName::Encrypt => KeyUsage::Encrypt,
            UsageName::Decrypt => KeyUsage::Decrypt,
            UsageName::Wrap => KeyUsage::Wrap,
            UsageName::Unwrap => KeyUsage::Unwrap,
            UsageName::Derive => KeyUsage::Derive,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RoleName {
    User,
    So,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePinSection {
    role: Spanned<RoleName>,
}

/// Reads and checks the script at `path`.
pub fn load(path: &Path) -> Result<CeremonyPlan, ScriptError> {
    let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ScriptError::Missing {
            path: path.to_owned(),
        },
        _ => ScriptError::Unreadable {
            path: path.to_owned(),
            source,
        },
    })?;
    parse(&text, path)
}

/// Parses and checks a script's text; `path` names it in errors and in the plan's source.
pub fn parse(text: &str, path: &Path) -> Result<CeremonyPlan, ScriptError> {
    let invalid = |span: Option<Range<usize>>, message: String| {
        let (line, column) = span.map_or((1, 1), |s| line_column(text, s.start));
        ScriptError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    let file: ScriptFile =
        toml::from_str(text).map_err(|err| invalid(err.span(), err.message().to_owned()))?;

    // The token: a blank one to initialize, or an existing one by label and serial.
    let token = &file.token;
    let token_choice = match *token.token_use.get_ref() {
        TokenUse::Blank => {
            if let Some(serial) = &token.serial {
                return Err(invalid(
                    Some(serial.span()),
                    "token.serial: only for use = \"existing\"; a blank token gets its serial \
                     when it is initialized"
                        .into(),
                ));
            }
            if let Some(set) = &token.set_user_pin {
                return Err(invalid(
                    Some(set.span()),
                    "token.set_user_pin: only for use = \"existing\"; a blank token always \
                     gets its user PIN set"
                        .into(),
                ));
            }
            TokenChoice::Blank {
                label: token.label.get_ref().clone(),
            }
        }
        TokenUse::Existing => {
            let Some(serial) = &token.serial else {
                return Err(invalid(
                    Some(token.token_use.span()),
                    "token.serial: missing; use = \"existing\" names the token by its label and \
                     serial (`keyward hsm slots` lists them)"
                        .into(),
                ));
            };
            TokenChoice::Existing {
                token: TokenRef {
                    label: token.label.get_ref().clone(),
                    serial: serial.get_ref().clone(),
                },
                set_user_pin: token.set_user_pin.as_ref().is_some_and(|s| *s.get_ref()),
            }
        }
    };

    // The keys, each with a hex id and its usages.
    let mut keys = Vec::new();
    for (i, key) in file.keys.get_ref().iter().enumerate() {
        let id = hex::decode(key.id.get_ref().trim()).map_err(|err| {
            invalid(
                Some(key.id.span()),
                format!(
                    "keys[{i}].id: {:?} is not hex ({err}): write the CKA_ID as hex digits, \
                     such as \"01\" or \"a0b1\"",
                    key.id.get_ref()
                ),
            )
        })?;
        let usage = match &key.usage {
            Some(usage) => {
                let mut list: Vec<KeyUsage> =
                    usage.get_ref().iter().map(|u| KeyUsage::from(*u)).collect();
                list.sort();
                list.dedup();
                list
            }
            None => KeyUsage::DEFAULT.to_vec(),
        };
        keys.push(KeySpec {
            label: key.label.get_ref().clone(),
            id,
            usage,
        });
    }

    let plan = CeremonyPlan {
        name: file.ceremony.name.get_ref().clone(),
        operator: file.ceremony.operator.get_ref().clone(),
        witnesses: file
            .ceremony
            .witnesses
            .get_ref()
            .iter()
            .map(|w| w.get_ref().clone())
            .collect(),
        token: token_choice,
        keys,
        change_pin: file.change_pin.as_ref().map(|c| match c.role.get_ref() {
            RoleName::User => Role::User,
            RoleName::So => Role::SecurityOfficer,
        }),
        script: Some(ScriptSource {
            path: path.display().to_string(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
        }),
    };

    // The plan's own checks, pointed at the value in the file.
    plan.validate().map_err(|problem| {
        let span = match problem.field {
            PlanField::Name => Some(file.ceremony.name.span()),
            PlanField::Operator => Some(file.ceremony.operator.span()),
            PlanField::Witnesses => Some(file.ceremony.witnesses.span()),
            PlanField::Witness(i) => file.ceremony.witnesses.get_ref().get(i).map(|w| w.span()),
            PlanField::TokenLabel => Some(file.token.label.span()),
            PlanField::TokenSerial => file.token.serial.as_ref().map(|s| s.span()),
            PlanField::Keys => Some(file.keys.span()),
            PlanField::KeyLabel(i) => file.keys.get_ref().get(i).map(|k| k.label.span()),
            PlanField::KeyId(i) => file.keys.get_ref().get(i).map(|k| k.id.span()),
            PlanField::KeyUsage(i) => file
                .keys
                .get_ref()
                .get(i)
                .and_then(|k| k.usage.as_ref().map(|u| u.span())),
            PlanField::ChangePin => file.change_pin.as_ref().map(|c| c.role.span()),
        };
        invalid(span, problem.to_string())
    })?;
    Ok(plan)
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
