//! Which rule holds a key, and which exemption names it.
//!
//! Precedence: the first `[[rotation.rules]]` entry, in file order, whose every matcher matches
//! the key; otherwise the default of `[rotation]`. An exemption names a key by alias, key id or
//! ARN; it counts through the end of its expiry date (UTC).

use chrono::{DateTime, Utc};

use super::{AppliedRule, ExemptionUse, ExemptionView, Policy};
use crate::config::{Exemption, RotationRule};
use crate::estate::Key;

/// The name reports give the default rule of `[rotation]`.
pub const DEFAULT_RULE: &str = "default";

/// Whether every matcher `rule` names matches `key`.
pub fn matches(rule: &RotationRule, key: &Key) -> bool {
    let alias = rule
        .alias_prefix
        .as_ref()
        .is_none_or(|prefix| key.aliases.iter().any(|a| a.starts_with(prefix.as_str())));
    let tag = rule
        .tag
        .as_ref()
        .is_none_or(|(name, value)| key.tags.get(name) == Some(value));
    let region = rule.region.as_ref().is_none_or(|r| *r == key.region);
    alias && tag && region
}

/// The rule `key` is held to: the first that matches, or the default.
pub fn rule_for(policy: &Policy, key: &Key) -> AppliedRule {
    match policy.rules.iter().find(|rule| matches(rule, key)) {
        Some(rule) => AppliedRule {
            name: rule.name.clone(),
            period_days: rule.policy.period_days,
            warn_after_days: rule.policy.warn_after_days,
        },
        None => AppliedRule {
            name: DEFAULT_RULE.into(),
            period_days: policy.default.period_days,
            warn_after_days: policy.default.warn_after_days,
        },
    }
}

/// Whether `exemption` names `key`.
pub fn names(exemption: &Exemption, key: &Key) -> bool {
    let name = exemption.key.as_str();
    if name.starts_with("alias/") {
        key.aliases.iter().any(|a| a == name)
    } else if name.starts_with("arn:") {
        key.arn == name
    } else {
        key.key_id == name
    }
}

/// Whether an exemption still counts at `as_of`: through the end of its expiry date.
pub fn is_active(exemption: &Exemption, as_of: DateTime<Utc>) -> bool {
    as_of.date_naive() <= exemption.expires
}

/// The exemption that applies to `key`: the first active one naming it, else the first
/// expired one (so reports can say it lapsed).
pub fn exemption_for(policy: &Policy, key: &Key, as_of: DateTime<Utc>) -> Option<ExemptionView> {
    let naming = || policy.exemptions.iter().filter(|e| names(e, key));
    let chosen = naming()
        .find(|e| is_active(e, as_of))
        .or_else(|| naming().next())?;
    Some(ExemptionView {
        key: chosen.key.clone(),
        reason: chosen.reason.clone(),
        expires: chosen.expires,
        active: is_active(chosen, as_of),
    })
}

/// Every exemption of the policy with the keys it names.
pub fn exemption_uses(policy: &Policy, keys: &[&Key], as_of: DateTime<Utc>) -> Vec<ExemptionUse> {
    policy
        .exemptions
        .iter()
        .map(|exemption| ExemptionUse {
            key: exemption.key.clone(),
            reason: exemption.reason.clone(),
            expires: exemption.expires,
            active: is_active(exemption, as_of),
            matched: keys
                .iter()
                .filter(|k| names(exemption, k))
                .map(|k| k.arn.clone())
                .collect(),
        })
        .collect()
}
