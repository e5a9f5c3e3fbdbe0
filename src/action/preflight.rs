//! Pre-flight checks and plan building: why an action is unavailable for a key, in words, or
//! the exact plan it would run.

use serde::Serialize;

use super::plan::{Call, KeyRef, Plan, Risk, Step, Tag, TagValue, Target};
use crate::estate::{
    DESCRIBING, Key, KeyManager, MultiRegionRole, ON_DEMAND_ROTATION_LIMIT, UNDESCRIBED,
};
use crate::plural::days;
use crate::rotation::not_rotatable_reason;

/// Rotation periods AWS accepts, in days.
pub const ROTATION_PERIOD_DAYS: std::ops::RangeInclusive<u32> = 90..=2560;
/// Deletion waiting periods AWS accepts, in days.
pub const DELETION_WINDOW_DAYS: std::ops::RangeInclusive<u32> = 7..=30;
/// Tags keyward puts on both keys of a manual rotation.
pub const SUCCESSOR_TAG: &str = "keyward:successor";
pub const PREDECESSOR_TAG: &str = "keyward:predecessor";

/// An action on one existing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Request {
    /// RotateKeyOnDemand.
    RotateNow,
    /// A successor key with the same properties; the aliases move to it.
    ManualRotate,
    EnableRotation {
        period_days: u32,
    },
    DisableRotation,
    Replicate {
        to_region: String,
    },
    ScheduleDeletion {
        days: u32,
    },
    CancelDeletion,
    Disable,
    Enable,
}

impl Request {
    pub fn label(&self) -> &'static str {
        match self {
            Request::RotateNow => "rotate now",
            Request::ManualRotate => "manual rotation to a successor key",
            Request::EnableRotation { .. } => "enable automatic rotation",
            Request::DisableRotation => "disable automatic rotation",
            Request::Replicate { .. } => "replicate to another region",
            Request::ScheduleDeletion { .. } => "schedule deletion",
            Request::CancelDeletion => "cancel deletion",
            Request::Disable => "disable key",
            Request::Enable => "enable key",
        }
    }
}

/// Why an action is not offered, said so an operator can act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

fn refuse<T>(reason: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(reason.into()))
}

/// What the checks need beyond the key itself.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub read_only: bool,
    /// The regions keyward is configured to watch; replicas may go to these.
    pub regions: Vec<String>,
    pub account: Option<String>,
    /// The rotation period assumed for a key whose endpoint reports none: the policy's
    /// (`[rotation] period_days`), as the console and the reports assume it.
    pub assumed_period_days: u32,
}

/// The key's policy and tags, read before a plan that copies them is built.
#[derive(Debug, Clone, Default)]
pub struct KeyExtras {
    pub policy: Option<String>,
    pub tags: Vec<Tag>,
}

/// Checks whether `request` may run on `key`, without building the plan.
pub fn check(request: &Request, key: &Key, ctx: &Context) -> Result<(), Refusal> {
    if ctx.read_only {
        return refuse("read-only mode: keyward offers no action that changes keys");
    }
    if key.state == DESCRIBING {
        return refuse("the key is still being read; wait for its description");
    }
    if key.state == UNDESCRIBED {
        return refuse("the key could not be described; refresh and look at its errors");
    }
    if key.manager == KeyManager::Aws {
        return refuse("AWS manages this key and rotates it yearly; it cannot be changed");
    }
    let pending_deletion = key.state == "PendingDeletion";
    if pending_deletion && *request != Request::CancelDeletion {
        return refuse("the key is pending deletion; cancel the deletion first");
    }
    let replica = key
        .multi_region
        .as_ref()
        .filter(|m| m.role == MultiRegionRole::Replica);

    match request {
        Request::RotateNow | Request::EnableRotation { .. } | Request::DisableRotation => {
            if let Some(mr) = replica {
                return refuse(format!(
                    "this is a replica; it rotates with its primary in {}: act on the primary",
                    mr.primary_region
                ));
            }
            if let Some(reason) = not_rotatable_reason(key) {
                return refuse(format!(
                    "AWS cannot rotate this {}; use manual rotation to a successor key",
                    reason.describe()
                ));
            }
            require_state(key, "Enabled")?;
            match request {
                Request::RotateNow if key.rotation.on_demand_used() >= ON_DEMAND_ROTATION_LIMIT => {
                    refuse(format!(
                        "all {ON_DEMAND_ROTATION_LIMIT} on-demand rotations AWS allows for this key \
                         are used; use manual rotation to a successor key"
                    ))
                }
                Request::EnableRotation { period_days }
                    if !ROTATION_PERIOD_DAYS.contains(period_days) =>
                {
                    refuse(format!(
                        "a rotation period of {} is not allowed: AWS accepts 90 to \
                         2560 days",
                        days(*period_days)
                    ))
                }
                Request::DisableRotation if key.rotation.enabled == Some(false) => {
                    refuse("automatic rotation is already off")
                }
                _ => Ok(()),
            }
        }
        Request::ManualRotate => {
            if key.multi_region.is_some() {
                return refuse(
                    "multi-region keys are not rotated by successor: rotate the primary on demand, \
                     or create a new multi-region key and replicate it",
                );
            }
            if key.origin == "EXTERNAL_KEY_STORE" {
                // CreateKey in an external key store needs the id of a key the operator first
                // makes in the external key manager; nothing in KMS can name one.
                return refuse(
                    "a successor in an external key store needs a new key in the external key                      manager first: create it there, then create the KMS key with its XksKeyId",
                );
            }
            require_state(key, "Enabled")
        }
        Request::Replicate { to_region } => {
            let Some(mr) = &key.multi_region else {
                return refuse(
                    "only multi-region keys can be replicated; this is a single-region key",
                );
            };
            if mr.role != MultiRegionRole::Primary {
                return refuse(format!(
                    "replicas are made from the primary, which is in {}",
                    mr.primary_region
                ));
            }
            if *to_region == key.region || mr.replica_regions.contains(to_region) {
                return refuse(format!("{to_region} already holds this key"));
            }
            if !ctx.regions.is_empty() && !ctx.regions.contains(to_region) {
                return refuse(format!(
                    "{to_region} is not a region keyward watches ({}); add it to the configuration \
                     first so the replica can be seen",
                    ctx.regions.join(", ")
                ));
            }
            require_state(key, "Enabled")
        }
        Request::ScheduleDeletion { days } => {
            if !DELETION_WINDOW_DAYS.contains(days) {
                return refuse(format!(
                    "a waiting period of {} is not allowed: AWS accepts 7 to 30 days",
                    crate::plural::days(*days)
                ));
            }
            Ok(())
        }
        Request::CancelDeletion => {
            if pending_deletion {
                Ok(())
            } else {
                refuse("the key is not pending deletion")
            }
        }
        Request::Disable => require_state(key, "Enabled"),
        Request::Enable => require_state(key, "Disabled"),
    }
}

fn require_state(key: &Key, state: &str) -> Result<(), Refusal> {
    if key.state == state {
        Ok(())
    } else {
        refuse(format!(
            "the key is {}; this needs a key that is {state}",
            key.state
        ))
    }
}

/// Every request that could apply to a key, each with its refusal if it does not.
pub fn offers(key: &Key, ctx: &Context) -> Vec<(Request, Result<(), Refusal>)> {
    let mut requests = vec![
        Request::RotateNow,
        Request::ManualRotate,
        Request::EnableRotation { period_days: 90 },
        Request::DisableRotation,
    ];
    requests.extend(ctx.regions.iter().map(|r| Request::Replicate {
        to_region: r.clone(),
    }));
    requests.extend([
        Request::ScheduleDeletion { days: 30 },
        Request::CancelDeletion,
        Request::Disable,
        Request::Enable,
    ]);
    requests
        .into_iter()
        .filter(|r| !matches!(r, Request::Replicate { to_region } if *to_region == key.region))
        .map(|r| {
            let verdict = check(&r, key, ctx);
            (r, verdict)
        })
        .collect()
}

/// Builds the plan for `request` on `key`. `extras` carries the policy and tags of the key for
/// the plans that copy them (manual rotation, replication).
pub fn plan(
    request: &Request,
    key: &Key,
    extras: &KeyExtras,
    ctx: &Context,
) -> Result<Plan, Refusal> {
    check(request, key, ctx)?;
    let this = || KeyRef::Existing(key.key_id.clone());
    let step = |call: Call| Step::new(key.region.clone(), call);
    let name = key.display_name().to_owned();
    let mut plan = Plan {
        title: String::new(),
        risk: Risk::Routine,
        account: ctx.account.clone(),
        targets: vec![Target {
            region: key.region.clone(),
            arn: key.arn.clone(),
            key_id: key.key_id.clone(),
            aliases: key.aliases.clone(),
        }],
        steps: Vec::new(),
        afterwards: Vec::new(),
        notes: Vec::new(),
        confirm_phrase: None,
    };

    match request {
        Request::RotateNow => {
            let used = key.rotation.on_demand_used();
            plan.title = format!("Rotate {name} now (on demand)");
            plan.steps
                .push(step(Call::RotateKeyOnDemand { key: this() }));
            plan.afterwards.push(
                "new key material encrypts from now on; older material still decrypts".into(),
            );
            plan.afterwards.push(format!(
                "on-demand rotations used: {} of {ON_DEMAND_ROTATION_LIMIT}",
                used + 1
            ));
            if key.rotation.enabled != Some(true) {
                plan.notes
                    .push("automatic rotation stays off; enable it to meet the policy".into());
            }
        }
        Request::ManualRotate => manual_rotation(&mut plan, key, extras, ctx),
        Request::EnableRotation { period_days } => {
            plan.title = format!("Enable automatic rotation of {name} every {period_days} days");
            plan.steps.push(step(Call::EnableKeyRotation {
                key: this(),
                period_days: *period_days,
            }));
            plan.afterwards.push(format!(
                "AWS rotates the key material every {period_days} days"
            ));
        }
        Request::DisableRotation => {
            plan.title = format!("Disable automatic rotation of {name}");
            plan.steps
                .push(step(Call::DisableKeyRotation { key: this() }));
            plan.afterwards
                .push("AWS stops rotating the key; it will fall out of policy".into());
        }
        Request::Replicate { to_region } => {
            plan.title = format!("Replicate {name} into {to_region}");
            plan.steps.push(step(Call::ReplicateKey {
                key: this(),
                replica_region: to_region.clone(),
                description: key.description.clone(),
                policy: extras.policy.clone(),
                tags: extras.tags.clone(),
            }));
            for alias in &key.aliases {
                plan.steps.push(Step::new(
                    to_region.clone(),
                    Call::CreateAlias {
                        alias: alias.clone(),
                        key: this(),
                    },
                ));
            }
            plan.afterwards.push(format!(
                "a replica with the same key id and material exists in {to_region}"
            ));
            plan.notes
                .push("aliases are not replicated by AWS; the plan creates them".into());
        }
        Request::ScheduleDeletion { days } => {
            plan.title = format!("Schedule deletion of {name} in {days} days");
            plan.risk = Risk::Destructive;
            plan.steps.push(step(Call::ScheduleKeyDeletion {
                key: this(),
                pending_window_days: *days,
            }));
            plan.afterwards.push(format!(
                "the key is unusable at once and destroyed after {days} days unless cancelled; \
                 data encrypted under it can then never be decrypted"
            ));
            if let Some(mr) = key
                .multi_region
                .as_ref()
                .filter(|m| !m.replica_regions.is_empty())
            {
                plan.notes.push(format!(
                    "AWS deletes a primary only after its replicas in {} are deleted",
                    mr.replica_regions.join(", ")
                ));
            }
        }
        Request::CancelDeletion => {
            plan.title = format!("Cancel the deletion of {name}");
            plan.steps
                .push(step(Call::CancelKeyDeletion { key: this() }));
            plan.afterwards
                .push("the key is kept, in the Disabled state; enable it to use it".into());
        }
        Request::Disable => {
            plan.title = format!("Disable {name}");
            plan.risk = Risk::Destructive;
            plan.steps.push(step(Call::DisableKey { key: this() }));
            plan.afterwards
                .push("applications can no longer encrypt or decrypt with this key".into());
        }
        Request::Enable => {
            plan.title = format!("Enable {name}");
            plan.steps.push(step(Call::EnableKey { key: this() }));
            plan.afterwards
                .push("applications can use the key again".into());
        }
    }
    if plan.risk == Risk::Destructive {
        plan.confirm_phrase = Some(name);
    }
    Ok(plan)
}

/// The runbook's rotation: a successor with the same properties takes over the aliases.
fn manual_rotation(plan: &mut Plan, key: &Key, extras: &KeyExtras, ctx: &Context) {
    let old = KeyRef::Existing(key.key_id.clone());
    let new = KeyRef::CreatedBy(0);
    let step = |call: Call| Step::new(key.region.clone(), call);
    plan.title = format!("Rotate {} manually to a successor key", key.display_name());
    plan.risk = Risk::Destructive;
    plan.steps.push(step(Call::CreateKey {
        key_spec: key.key_spec.clone(),
        key_usage: key.key_usage.clone(),
        origin: key.origin.clone(),
        description: key.description.clone(),
        multi_region: false,
        custom_key_store_id: key.custom_key_store_id.clone(),
        policy: extras.policy.clone(),
        tags: extras
            .tags
            .iter()
            .filter(|t| !t.key.starts_with("keyward:"))
            .cloned()
            .collect(),
    }));
    // A successor for imported material is created without any (PendingImport): aliases
    // moved to it now would stop every application that uses them.
    let imported = key.origin == "EXTERNAL";
    if !imported {
        for alias in &key.aliases {
            plan.steps.push(step(Call::UpdateAlias {
                alias: alias.clone(),
                key: new.clone(),
            }));
        }
    }
    plan.steps.push(step(Call::TagResource {
        key: old.clone(),
        tags: vec![Tag {
            key: SUCCESSOR_TAG.into(),
            value: TagValue::KeyIdOf(new.clone()),
        }],
    }));
    plan.steps.push(step(Call::TagResource {
        key: new.clone(),
        tags: vec![Tag::text(PREDECESSOR_TAG, key.key_id.clone())],
    }));
    // A key AWS rotated hands its schedule on: the successor must not start with rotation
    // off. The policy's period is assumed where the endpoint reported none.
    if key.rotation.enabled == Some(true) && crate::rotation::not_rotatable_reason(key).is_none() {
        let period_days = key.rotation.period_days.unwrap_or(ctx.assumed_period_days);
        plan.steps.push(step(Call::EnableKeyRotation {
            key: new,
            period_days,
        }));
        plan.afterwards.push(format!(
            "the successor rotates automatically every {period_days} days, as the key did"
        ));
    } else if crate::rotation::not_rotatable_reason(key).is_none() {
        plan.notes
            .push("automatic rotation was off on the key and stays off on the successor".into());
    }
    if key.aliases.is_empty() {
        plan.notes
            .push("the key has no alias to move: applications must be told the new key id".into());
    } else if imported {
        plan.afterwards.push(format!(
            "{} stay on the old key: import the successor's key material, then move them to it \
             with UpdateAlias",
            key.aliases.join(", ")
        ));
    } else {
        let verb = if key.aliases.len() == 1 {
            "points"
        } else {
            "point"
        };
        plan.afterwards
            .push(format!("{} {verb} to the new key", key.aliases.join(", ")));
    }
    plan.afterwards
        .push("the old key stays enabled so data encrypted under it still decrypts".into());
    if imported {
        plan.notes.push(
            "the successor awaits its own imported key material before it can be used".into(),
        );
    }
}

/// The longest alias AWS accepts, `alias/` included.
pub const MAX_ALIAS_LEN: usize = 256;

/// Checks an alias against AWS's rules before any call: `alias/` and 1 to 250 characters of
/// letters, digits, `/`, `_`, `-` and `:`, and not under `alias/aws/`, which AWS reserves.
pub fn check_alias(alias: &str) -> Result<(), String> {
    let Some(name) = alias.strip_prefix("alias/") else {
        return Err("an alias starts with alias/, as in alias/payments-data".into());
    };
    if name.is_empty() || alias.len() > MAX_ALIAS_LEN {
        return Err(format!(
            "the name after alias/ must be 1 to {} characters",
            MAX_ALIAS_LEN - 6
        ));
    }
    if alias.starts_with("alias/aws/") {
        return Err("alias/aws/ is reserved for AWS managed keys".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | ':')))
    {
        return Err(format!(
            "{bad:?} is not allowed: use letters, digits, /, _, - and : only"
        ));
    }
    Ok(())
}

/// The plan for a new multi-region key with alias and rotation, replicated into `replicas`.
pub fn plan_new_multi_region_key(
    region: &str,
    alias: &str,
    description: &str,
    period_days: u32,
    replicas: &[String],
    ctx: &Context,
) -> Result<Plan, Refusal> {
    if ctx.read_only {
        return refuse("read-only mode: keyward offers no action that changes keys");
    }
    if let Err(why) = check_alias(alias) {
        return refuse(format!(
            "{alias:?} is not an alias keyward can create: {why}"
        ));
    }
    if !ROTATION_PERIOD_DAYS.contains(&period_days) {
        return refuse(format!(
            "a rotation period of {} is not allowed: AWS accepts 90 to 2560 days",
            days(period_days)
        ));
    }
    if let Some(dup) = replicas.iter().find(|r| r.as_str() == region) {
        return refuse(format!(
            "{dup} is the primary's region; choose other replica regions"
        ));
    }
    let created = KeyRef::CreatedBy(0);
    let mut steps = vec![
        Step::new(
            region.to_owned(),
            Call::CreateKey {
                key_spec: "SYMMETRIC_DEFAULT".into(),
                key_usage: "ENCRYPT_DECRYPT".into(),
                origin: "AWS_KMS".into(),
                description: description.to_owned(),
                multi_region: true,
                custom_key_store_id: None,
                policy: None,
                tags: Vec::new(),
            },
        ),
        Step::new(
            region.to_owned(),
            Call::CreateAlias {
                alias: alias.to_owned(),
                key: created.clone(),
            },
        ),
        Step::new(
            region.to_owned(),
            Call::EnableKeyRotation {
                key: created.clone(),
                period_days,
            },
        ),
    ];
    for replica in replicas {
        steps.push(Step::new(
            region.to_owned(),
            Call::ReplicateKey {
                key: created.clone(),
                replica_region: replica.clone(),
                description: description.to_owned(),
                policy: None,
                tags: Vec::new(),
            },
        ));
        steps.push(Step::new(
            replica.clone(),
            Call::CreateAlias {
                alias: alias.to_owned(),
                key: created.clone(),
            },
        ));
    }
    let mut afterwards = vec![format!(
        "{alias} names a new multi-region key in {region}, rotated every {period_days} days"
    )];
    if !replicas.is_empty() {
        afterwards.push(format!(
            "replicas with the same alias in {}",
            replicas.join(", ")
        ));
    }
    Ok(Plan {
        title: format!("Create multi-region key {alias} in {region}"),
        risk: Risk::Routine,
        account: ctx.account.clone(),
        targets: Vec::new(),
        steps,
        afterwards,
        notes: Vec::new(),
        confirm_phrase: None,
    })
}
