//! `[[rotation.rules]]` and `[[rotation.exemptions]]`: the parts of the rotation policy that
//! single out some keys.
//!
//! Each value is checked while it is deserialized, so the TOML parser's span points at it;
//! checks that compare two fields of one table run afterwards in [`resolve_rules`] and
//! [`resolve_exemptions`], pointing at the field that has to change.

use std::ops::Range;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::{Bounded, Region, RotationPolicy};

/// A rule that gives the keys it matches their own period and warning age.
///
/// A rule matches a key when every matcher it names matches (alias prefix, tag, region); the
/// first rule in file order that matches decides, so specific rules go before general ones. A
/// key no rule matches is held to the default `[rotation]` period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationRule {
    /// The rule's `name`, or a description of its matchers when it has none.
    pub name: String,
    /// Matches a key with at least one alias starting with this, such as `alias/payments-`.
    pub alias_prefix: Option<String>,
    /// Matches a key carrying this tag key with exactly this value.
    pub tag: Option<(String, String)>,
    /// Matches keys in this region.
    pub region: Option<String>,
    /// The period and warning age of the keys the rule matches.
    pub policy: RotationPolicy,
}

/// A key excused from the policy until the end of its expiry date (UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    /// An alias (`alias/NAME`), a key id, or a key ARN, as written in the file.
    pub key: String,
    /// Why the key is excused; reports quote it.
    pub reason: String,
    /// The last day the exemption counts; from the next day on the key is judged again.
    pub expires: NaiveDate,
}

/// A rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleFile {
    name: Option<String>,
    alias_prefix: Option<AliasPrefix>,
    tag: Option<TagMatch>,
    region: Option<Region>,
    period_days: Option<Spanned<Bounded<90, 2560>>>,
    warn_after_days: Option<Spanned<Bounded<1, 2559>>>,
}

/// An exemption as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExemptionFile {
    key: KeyName,
    reason: Reason,
    expires: ExpiryDate,
}

/// An alias prefix, which must start with `alias/`.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct AliasPrefix(String);

impl TryFrom<String> for AliasPrefix {
    type Error = String;

    fn try_from(prefix: String) -> Result<Self, String> {
        if prefix.starts_with("alias/") && prefix.len() > "alias/".len() {
            Ok(AliasPrefix(prefix))
        } else {
            Err(format!(
                "invalid alias_prefix {prefix:?}: expected the start of an alias, such as \
                 \"alias/payments-\""
            ))
        }
    }
}

/// A tag matcher written `KEY=VALUE`.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct TagMatch(String, String);

impl TryFrom<String> for TagMatch {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        match text.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok(TagMatch(key.trim().to_owned(), value.trim().to_owned()))
            }
            _ => Err(format!(
                "invalid tag {text:?}: expected KEY=VALUE, such as \"data-class=pci\""
            )),
        }
    }
}

/// An alias, a key id or a key ARN naming one key.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct KeyName(String);

impl TryFrom<String> for KeyName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        if is_alias(&name) || is_key_id(&name) || is_key_arn(&name) {
            Ok(KeyName(name))
        } else {
            Err(format!(
                "invalid key {name:?}: expected an alias (\"alias/legacy-signing\"), a key id \
                 (\"1234abcd-12ab-34cd-56ef-1234567890ab\" or \"mrk-\" and 32 hex digits) or a \
                 key ARN (\"arn:aws:kms:us-east-1:111122223333:key/ID\")"
            ))
        }
    }
}

fn is_alias(name: &str) -> bool {
    name.strip_prefix("alias/")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A KMS key id: a UUID, or `mrk-` and 32 hex digits for multi-region keys (emulators write
/// a UUID after `mrk-`, which is accepted too).
fn is_key_id(id: &str) -> bool {
    let id = match id.strip_prefix("mrk-") {
        Some(hex) if hex.len() == 32 && is_hex(hex) => return true,
        Some(uuid) => uuid,
        None => id,
    };
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]) && groups.iter().all(|g| is_hex(g))
}

/// `arn:PARTITION:kms:REGION:ACCOUNT:key/ID`.
fn is_key_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "kms"
        && Region::try_from(parts[3].to_owned()).is_ok()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].strip_prefix("key/").is_some_and(is_key_id)
}

/// A reason that says something.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct Reason(String);

impl TryFrom<String> for Reason {
    type Error = String;

    fn try_from(reason: String) -> Result<Self, String> {
        if reason.trim().is_empty() {
            Err("the reason is empty: say why the key is exempt; reports quote it".into())
        } else {
            Ok(Reason(reason.trim().to_owned()))
        }
    }
}

/// A calendar date, written as a TOML date (`2026-12-31`) or a string holding one.
#[derive(Debug)]
struct ExpiryDate(NaiveDate);

impl<'de> Deserialize<'de> for ExpiryDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let expected = "expected a date such as 2026-12-31";
        let date = match toml::Value::deserialize(deserializer)? {
            toml::Value::Datetime(datetime) if datetime.time.is_none() => datetime
                .date
                .and_then(|d| NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())),
            toml::Value::String(text) => NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok(),
            _ => None,
        };
        date.map(ExpiryDate).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid expires: {expected}, without a time"))
        })
    }
}

/// A problem found after deserializing, with the span of the value to change.
pub(super) type Problem = (Option<Range<usize>>, String);

/// The rules in file order, each with the default's warning gap where it gives no warning age.
pub(super) fn resolve_rules(
    rules: Vec<Spanned<RuleFile>>,
    default: RotationPolicy,
) -> Result<Vec<RotationRule>, Problem> {
    let gap = default.period_days - default.warn_after_days;
    let mut resolved = Vec::new();
    for (index, rule) in rules.into_iter().enumerate() {
        let field = format!("rotation.rules[{}]", index + 1);
        let table_span = rule.span();
        let rule = rule.into_inner();
        if rule.alias_prefix.is_none() && rule.tag.is_none() && rule.region.is_none() {
            return Err((
                Some(table_span),
                format!(
                    "{field} matches every key: give it alias_prefix, tag or region (the \
                     period of all other keys is rotation.period_days)"
                ),
            ));
        }
        let period = rule
            .period_days
            .as_ref()
            .map_or(default.period_days, |p| p.get_ref().get());
        let warn = match &rule.warn_after_days {
            Some(warn) => warn.get_ref().get(),
            None => period.saturating_sub(gap).max(1),
        };
        if warn >= period {
            let span = match (&rule.warn_after_days, &rule.period_days) {
                (Some(warn), _) => warn.span(),
                (None, Some(period)) => period.span(),
                (None, None) => table_span,
            };
            return Err((
                Some(span),
                format!(
                    "{field}: warn_after_days = {warn} must be less than period_days = {period}"
                ),
            ));
        }
        let name = rule.name.clone().unwrap_or_else(|| describe(&rule));
        resolved.push(RotationRule {
            name,
            alias_prefix: rule.alias_prefix.map(|a| a.0),
            tag: rule.tag.map(|t| (t.0, t.1)),
            region: rule.region.map(|r| r.0),
            policy: RotationPolicy {
                period_days: period,
                warn_after_days: warn,
            },
        });
    }
    Ok(resolved)
}

/// A name for a rule written without one, from its matchers.
fn describe(rule: &RuleFile) -> String {
    let mut parts = Vec::new();
    if let Some(prefix) = &rule.alias_prefix {
        parts.push(format!("{}*", prefix.0));
    }
    if let Some(tag) = &rule.tag {
        parts.push(format!("tag {}={}", tag.0, tag.1));
    }
    if let Some(region) = &rule.region {
        parts.push(format!("in {region}"));
    }
    parts.join(", ")
}

/// The exemptions in file order.
pub(super) fn resolve_exemptions(exemptions: Vec<ExemptionFile>) -> Vec<Exemption> {
    exemptions
        .into_iter()
        .map(|e| Exemption {
            key: e.key.0,
            reason: e.reason.0,
            expires: e.expires.0,
        })
        .collect()
}
