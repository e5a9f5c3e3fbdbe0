//! Plans: the exact API calls an action will make, in order, with their targets.
//!
//! A plan is the one source of truth for an action: the confirmation dialog and `--dry-run`
//! print it, the executor runs it, and the audit journal records it with what happened.

use serde::Serialize;

/// How careful the confirmation must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Confirmed with an explicit key press (or `--yes`).
    Routine,
    /// Changes what applications can use (deletion, disabling, moving an alias): the operator
    /// types the alias or key id to confirm.
    Destructive,
}

/// A key a step acts on: one that exists, or the one an earlier step of the plan creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRef {
    Existing(String),
    /// The key created by the step with this index.
    CreatedBy(usize),
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyRef::Existing(id) => f.write_str(id),
            KeyRef::CreatedBy(step) => write!(f, "<key created by step {}>", step + 1),
        }
    }
}

/// A tag as KMS stores it; its value may be the id of a key the plan creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub key: String,
    pub value: TagValue,
}

impl Tag {
    pub fn text(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: key.into(),
            value: TagValue::Text(value.into()),
        }
    }
}

/// A tag value known when planning, or the id of a key known only once a step has run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TagValue {
    Text(String),
    KeyIdOf(KeyRef),
}

impl std::fmt::Display for TagValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TagValue::Text(text) => f.write_str(text),
            TagValue::KeyIdOf(key) => key.fmt(f),
        }
    }
}

/// One KMS API call with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "call")]
pub enum Call {
    RotateKeyOnDemand {
        key: KeyRef,
    },
    EnableKeyRotation {
        key: KeyRef,
        period_days: u32,
    },
    DisableKeyRotation {
        key: KeyRef,
    },
    CreateKey {
        key_spec: String,
        key_usage: String,
        origin: String,
        description: String,
        multi_region: bool,
        custom_key_store_id: Option<String>,
        /// The key policy document; `None` leaves AWS's default policy.
        policy: Option<String>,
        tags: Vec<Tag>,
    },
    ReplicateKey {
        key: KeyRef,
        replica_region: String,
        description: String,
        policy: Option<String>,
        tags: Vec<Tag>,
    },
    CreateAlias {
        alias: String,
        key: KeyRef,
    },
    UpdateAlias {
        alias: String,
        key: KeyRef,
    },
    TagResource {
        key: KeyRef,
        tags: Vec<Tag>,
    },
    ScheduleKeyDeletion {
        key: KeyRef,
        pending_window_days: u32,
    },
    CancelKeyDeletion {
        key: KeyRef,
    },
    DisableKey {
        key: KeyRef,
    },
    EnableKey {
        key: KeyRef,
    },
}

impl Call {
    /// The API operation's name, as AWS spells it.
    pub fn operation(&self) -> &'static str {
        match self {
            Call::RotateKeyOnDemand { .. } => "RotateKeyOnDemand",
            Call::EnableKeyRotation { .. } => "EnableKeyRotation",
            Call::DisableKeyRotation { .. } => "DisableKeyRotation",
            Call::CreateKey { .. } => "CreateKey",
            Call::ReplicateKey { .. } => "ReplicateKey",
            Call::CreateAlias { .. } => "CreateAlias",
            Call::UpdateAlias { .. } => "UpdateAlias",
            Call::TagResource { .. } => "TagResource",
            Call::ScheduleKeyDeletion { .. } => "ScheduleKeyDeletion",
            Call::CancelKeyDeletion { .. } => "CancelKeyDeletion",
            Call::DisableKey { .. } => "DisableKey",
            Call::EnableKey { .. } => "EnableKey",
        }
    }

    /// The call with its parameters on one line, as the plan shows it.
    pub fn describe(&self) -> String {
        let tags = |tags: &[Tag]| {
            tags.iter()
                .map(|t| format!("{}={}", t.key, t.value))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let policy = |p: &Option<String>| match p {
            Some(doc) => format!("copied policy ({} bytes)", doc.len()),
            None => "default policy".into(),
        };
        match self {
            Call::RotateKeyOnDemand { key } => format!("RotateKeyOnDemand KeyId={key}"),
            Call::EnableKeyRotation { key, period_days } => {
                format!("EnableKeyRotation KeyId={key} RotationPeriodInDays={period_days}")
            }
            Call::DisableKeyRotation { key } => format!("DisableKeyRotation KeyId={key}"),
            Call::CreateKey {
                key_spec,
                key_usage,
                origin,
                description,
                multi_region,
                custom_key_store_id,
                policy: p,
                tags: t,
            } => {
                let mut text = format!(
                    "CreateKey KeySpec={key_spec} KeyUsage={key_usage} Origin={origin} \
                     MultiRegion={multi_region} Description={description:?}, {}",
                    policy(p)
                );
                if let Some(store) = custom_key_store_id {
                    text.push_str(&format!(", CustomKeyStoreId={store}"));
                }
                if !t.is_empty() {
                    text.push_str(&format!(", Tags: {}", tags(t)));
                }
                text
            }
            Call::ReplicateKey {
                key,
                replica_region,
                policy: p,
                tags: t,
                ..
            } => format!(
                "ReplicateKey KeyId={key} ReplicaRegion={replica_region}, {}, Tags: {}",
                policy(p),
                tags(t)
            ),
            Call::CreateAlias { alias, key } => format!("CreateAlias {alias} -> {key}"),
            Call::UpdateAlias { alias, key } => format!("UpdateAlias {alias} -> {key}"),
            Call::TagResource { key, tags: t } => format!("TagResource KeyId={key} {}", tags(t)),
            Call::ScheduleKeyDeletion {
                key,
                pending_window_days,
            } => {
                format!("ScheduleKeyDeletion KeyId={key} PendingWindowInDays={pending_window_days}")
            }
            Call::CancelKeyDeletion { key } => format!("CancelKeyDeletion KeyId={key}"),
            Call::DisableKey { key } => format!("DisableKey KeyId={key}"),
            Call::EnableKey { key } => format!("EnableKey KeyId={key}"),
        }
    }
}

/// One call in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub region: String,
    pub call: Call,
    /// Steps of one group depend on each other: after a failure the rest of its group is
    /// skipped, while other groups of a batch go on.
    #[serde(skip_serializing_if = "is_zero")]
    pub group: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Step {
    pub fn new(region: impl Into<String>, call: Call) -> Self {
        Step {
            region: region.into(),
            call,
            group: 0,
        }
    }
}

/// A key the plan is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub region: String,
    pub arn: String,
    pub key_id: String,
    pub aliases: Vec<String>,
}

impl Target {
    pub fn name(&self) -> &str {
        self.aliases.first().map_or(&self.key_id, String::as_str)
    }
}

/// Everything an operator needs to decide, and everything the executor needs to act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// e.g. "Rotate alias/payments-data now".
    pub title: String,
    pub risk: Risk,
    pub account: Option<String>,
    pub targets: Vec<Target>,
    pub steps: Vec<Step>,
    /// What the estate will look like afterwards, in sentences.
    pub afterwards: Vec<String>,
    /// Things the operator should know before confirming.
    pub notes: Vec<String>,
    /// What a destructive plan's operator must type to confirm: an alias or the key id.
    pub confirm_phrase: Option<String>,
}

impl Plan {
    /// The plan as lines of text, for the dialog and `--dry-run`.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![self.title.clone()];
        if let Some(account) = &self.account {
            lines.push(format!("Account: {account}"));
        }
        for target in &self.targets {
            let aliases = if target.aliases.is_empty() {
                "no alias".into()
            } else {
                target.aliases.join(", ")
            };
            lines.push(format!(
                "Key: {} ({aliases}) in {}",
                target.arn, target.region
            ));
        }
        lines.push(format!(
            "Risk: {}",
            match self.risk {
                Risk::Routine => "routine",
                Risk::Destructive => "DESTRUCTIVE",
            }
        ));
        lines.push("Calls, in order:".into());
        for (index, step) in self.steps.iter().enumerate() {
            lines.push(format!(
                "  {}. [{}] {}",
                index + 1,
                step.region,
                step.call.describe()
            ));
        }
        if !self.afterwards.is_empty() {
            lines.push("Afterwards:".into());
            lines.extend(self.afterwards.iter().map(|a| format!("  - {a}")));
        }
        if !self.notes.is_empty() {
            lines.push("Notes:".into());
            lines.extend(self.notes.iter().map(|n| format!("  - {n}")));
        }
        if let Some(prompt) = self.confirm_prompt() {
            lines.push(format!("To confirm, type: {prompt}"));
        }
        lines
    }

    /// What confirms a destructive plan when typed: its confirm phrase and, for a plan about one
    /// key, that key's id too. Empty for a routine plan.
    pub fn confirm_words(&self) -> Vec<&str> {
        let Some(phrase) = &self.confirm_phrase else {
            return Vec::new();
        };
        let mut words = vec![phrase.as_str()];
        if let [target] = &self.targets[..]
            && target.key_id != *phrase
        {
            words.push(&target.key_id);
        }
        words
    }

    /// The words that confirm, as the prompt names them: "alias/x or its key id 1234…".
    pub fn confirm_prompt(&self) -> Option<String> {
        match &self.confirm_words()[..] {
            [] => None,
            [phrase] => Some((*phrase).to_owned()),
            [phrase, key_id, ..] => Some(format!("{phrase} or its key id {key_id}")),
        }
    }
}

impl KeyRef {
    /// The same reference with created-by indices moved `offset` steps later.
    fn shifted(&self, offset: usize) -> KeyRef {
        match self {
            KeyRef::Existing(id) => KeyRef::Existing(id.clone()),
            KeyRef::CreatedBy(index) => KeyRef::CreatedBy(index + offset),
        }
    }
}

impl Call {
    /// The same call with created-by references moved `offset` steps later.
    fn shifted(&self, offset: usize) -> Call {
        let mut call = self.clone();
        let shift_tags = |tags: &mut Vec<Tag>| {
            for tag in tags {
                if let TagValue::KeyIdOf(key) = &tag.value {
                    tag.value = TagValue::KeyIdOf(key.shifted(offset));
                }
            }
        };
        match &mut call {
            Call::CreateKey { tags, .. } => shift_tags(tags),
            Call::ReplicateKey { key, tags, .. } | Call::TagResource { key, tags } => {
                *key = key.shifted(offset);
                shift_tags(tags);
            }
            Call::RotateKeyOnDemand { key }
            | Call::EnableKeyRotation { key, .. }
            | Call::DisableKeyRotation { key }
            | Call::CreateAlias { key, .. }
            | Call::UpdateAlias { key, .. }
            | Call::ScheduleKeyDeletion { key, .. }
            | Call::CancelKeyDeletion { key }
            | Call::DisableKey { key }
            | Call::EnableKey { key } => *key = key.shifted(offset),
        }
        call
    }
}

impl Plan {
    /// Several plans as one, to be confirmed once: steps in order, each plan's references to
    /// keys it creates kept pointing at its own steps. The batch is destructive when any part
    /// is, and then confirms with the number of keys.
    pub fn batch(title: String, plans: Vec<Plan>) -> Plan {
        let mut batch = Plan {
            title,
            risk: Risk::Routine,
            account: plans.iter().find_map(|p| p.account.clone()),
            targets: Vec::new(),
            steps: Vec::new(),
            afterwards: Vec::new(),
            notes: Vec::new(),
            confirm_phrase: None,
        };
        for (group, plan) in plans.into_iter().enumerate() {
            let offset = batch.steps.len();
            batch.steps.extend(plan.steps.into_iter().map(|step| Step {
                region: step.region,
                call: step.call.shifted(offset),
                group,
            }));
            if plan.risk == Risk::Destructive {
                batch.risk = Risk::Destructive;
            }
            batch.targets.extend(plan.targets);
            batch.afterwards.extend(
                plan.afterwards
                    .into_iter()
                    .map(|a| format!("{}: {a}", plan.title)),
            );
            batch.notes.extend(
                plan.notes
                    .into_iter()
                    .map(|n| format!("{}: {n}", plan.title)),
            );
        }
        if batch.risk == Risk::Destructive {
            // A batch about one key is confirmed as that key's own plan would be.
            batch.confirm_phrase = Some(match &batch.targets[..] {
                [one] => one.aliases.first().unwrap_or(&one.key_id).clone(),
                many => format!("{} keys", many.len()),
            });
        }
        batch
    }
}
