//! Running a confirmed plan: each call in order, stopping at the first failure, with the AWS
//! request id of every call that reached AWS.

use aws_sdk_kms::types::{KeySpec, KeyUsageType, OriginType, Tag as SdkTag};
use aws_types::request_id::RequestId;
use serde::Serialize;

use super::plan::{Call, KeyRef, Plan, Tag, TagValue};
use crate::aws::{Clients, classify};
use crate::estate::SourceError;

/// What became of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Succeeded,
    Failed,
    /// Not attempted because an earlier step failed.
    Skipped,
}

/// One step's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    pub index: usize,
    pub region: String,
    pub operation: &'static str,
    pub status: StepStatus,
    pub request_id: Option<String>,
    /// The key a CreateKey or ReplicateKey step made.
    pub created_key: Option<String>,
    /// Something the operator should know about how the step succeeded.
    pub note: Option<String>,
    pub error: Option<SourceError>,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub steps: Vec<StepOutcome>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.steps.iter().all(|s| s.status == StepStatus::Succeeded)
    }

    /// Keys whose state the run changed, as (region, key id), for re-reading.
    pub fn touched_keys(&self, plan: &Plan) -> Vec<(String, String)> {
        let mut keys: Vec<(String, String)> = Vec::new();
        for (step, outcome) in plan.steps.iter().zip(&self.steps) {
            if outcome.status != StepStatus::Succeeded {
                continue;
            }
            let id = match call_key(&step.call) {
                Some(KeyRef::Existing(id)) => Some(id.clone()),
                Some(KeyRef::CreatedBy(i)) => {
                    self.steps.get(*i).and_then(|s| s.created_key.clone())
                }
                None => outcome.created_key.clone(),
            };
            let region = match &step.call {
                Call::ReplicateKey { replica_region, .. } => {
                    if let Some(id) = &id {
                        keys.push((replica_region.clone(), id.clone()));
                    }
                    step.region.clone()
                }
                _ => step.region.clone(),
            };
            if let Some(id) = id
                && !keys.contains(&(region.clone(), id.clone()))
            {
                keys.push((region, id));
            }
        }
        keys
    }
}

fn call_key(call: &Call) -> Option<&KeyRef> {
    match call {
        Call::CreateKey { .. } => None,
        Call::RotateKeyOnDemand { key }
        | Call::EnableKeyRotation { key, .. }
        | Call::DisableKeyRotation { key }
        | Call::ReplicateKey { key, .. }
        | Call::CreateAlias { key, .. }
        | Call::UpdateAlias { key, .. }
        | Call::TagResource { key, .. }
        | Call::ScheduleKeyDeletion { key, .. }
        | Call::CancelKeyDeletion { key }
        | Call::DisableKey { key }
        | Call::EnableKey { key } => Some(key),
    }
}

/// A step's result while running: the request id and any key it created.
#[derive(Default)]
struct Done {
    request_id: Option<String>,
    created_key: Option<String>,
    note: Option<String>,
}

/// Runs every step of `plan` in order; after a failure the rest of that step's group is
/// skipped and other groups go on. `progress` hears about each step as it finishes.
pub async fn execute(
    plan: &Plan,
    clients: &Clients,
    mut progress: impl FnMut(&StepOutcome),
) -> Outcome {
    let mut steps: Vec<StepOutcome> = Vec::new();
    let mut failed_groups: Vec<usize> = Vec::new();
    for (index, step) in plan.steps.iter().enumerate() {
        let mut outcome = StepOutcome {
            index,
            region: step.region.clone(),
            operation: step.call.operation(),
            status: StepStatus::Skipped,
            request_id: None,
            created_key: None,
            note: None,
            error: None,
        };
        if !failed_groups.contains(&step.group) {
            match run_step(&step.call, &step.region, clients, &steps).await {
                Ok(done) => {
                    outcome.status = StepStatus::Succeeded;
                    outcome.request_id = done.request_id;
                    outcome.created_key = done.created_key;
                    outcome.note = done.note;
                    tracing::info!(
                        operation = outcome.operation,
                        region = %step.region,
                        request_id = outcome.request_id.as_deref().unwrap_or("-"),
                        "action step succeeded"
                    );
                }
                Err(err) => {
                    tracing::error!(region = %step.region, error = %err, "action step failed");
                    outcome.status = StepStatus::Failed;
                    outcome.request_id = err.request_id.clone();
                    outcome.error = Some(err);
                    failed_groups.push(step.group);
                }
            }
        }
        progress(&outcome);
        steps.push(outcome);
    }
    Outcome { steps }
}

fn resolve(key: &KeyRef, done: &[StepOutcome], operation: &str) -> Result<String, SourceError> {
    match key {
        KeyRef::Existing(id) => Ok(id.clone()),
        KeyRef::CreatedBy(index) => done
            .get(*index)
            .and_then(|s| s.created_key.clone())
            .ok_or_else(|| SourceError {
                operation: operation.to_owned(),
                code: "PlanError".into(),
                message: format!("step {} created no key to act on", index + 1),
                request_id: None,
            }),
    }
}

fn sdk_tags(
    tags: &[Tag],
    done: &[StepOutcome],
    operation: &str,
) -> Result<Vec<SdkTag>, SourceError> {
    tags.iter()
        .map(|tag| {
            let value = match &tag.value {
                TagValue::Text(text) => text.clone(),
                TagValue::KeyIdOf(key) => resolve(key, done, operation)?,
            };
            SdkTag::builder()
                .tag_key(&tag.key)
                .tag_value(value)
                .build()
                .map_err(|e| SourceError {
                    operation: operation.to_owned(),
                    code: "RequestNotBuilt".into(),
                    message: e.to_string(),
                    request_id: None,
                })
        })
        .collect()
}

async fn run_step(
    call: &Call,
    region: &str,
    clients: &Clients,
    done: &[StepOutcome],
) -> Result<Done, SourceError> {
    let op = call.operation();
    let Some(region_clients) = clients.region(region) else {
        return Err(SourceError {
            operation: op.to_owned(),
            code: "RegionNotConfigured".into(),
            message: format!("{region} is not among the configured regions"),
            request_id: None,
        });
    };
    let kms = &region_clients.kms;
    let _permit = region_clients.permit().await;
    let simple = |request_id: Option<&str>| Done {
        request_id: request_id.map(str::to_owned),
        ..Done::default()
    };

    Ok(match call {
        Call::RotateKeyOnDemand { key } => {
            let out = kms
                .rotate_key_on_demand()
                .key_id(resolve(key, done, op)?)
                .send()
                .await;
            simple(out.map_err(|e| classify(op, e))?.request_id())
        }
        Call::EnableKeyRotation { key, period_days } => {
            let out = kms
                .enable_key_rotation()
                .key_id(resolve(key, done, op)?)
                .rotation_period_in_days(i32::try_from(*period_days).unwrap_or(i32::MAX))
                .send()
                .await;
            simple(out.map_err(|e| classify(op, e))?.request_id())
        }
        Call::DisableKeyRotation { key } => {
            let out = kms
                .disable_key_rotation()
                .key_id(resolve(key, done, op)?)
                .send()
                .await;
            simple(out.map_err(|e| classify(op, e))?.request_id())
        }
        Call::CreateKey {
            key_spec,
            key_usage,
            origin,
            description,
            multi_region,
            custom_key_store_id,
            policy,
            tags,
        } => {
            let out = kms
                .create_key()
                .key_spec(KeySpec::from(key_spec.as_str()))
                .key_usage(KeyUsageType::from(key_usage.as_str()))
                .origin(OriginType::from(origin.as_str()))
                .description(description)
                .multi_region(*multi_region)
                .set_custom_key_store_id(custom_key_store_id.clone())
                .set_policy(policy.clone())
                .set_tags(Some(sdk_tags(tags, done, op)?).filter(|t| !t.is_empty()))
                .send()
                .await
                .map_err(|e| classify(op, e))?;
            Done {
                request_id: out.request_id().map(str::to_owned),
                created_key: out.key_metadata.map(|m| m.key_id),
                note: None,
            }
        }
        Call::ReplicateKey {
            key,
            replica_region,
            description,
            policy,
            tags,
        } => {
            let key_id = resolve(key, done, op)?;
            let out = kms
                .replicate_key()
                .key_id(&key_id)
                .replica_region(replica_region)
                .description(description)
                .set_policy(policy.clone())
                .set_tags(Some(sdk_tags(tags, done, op)?).filter(|t| !t.is_empty()))
                .send()
                .await
                .map_err(|e| classify(op, e))?;
            Done {
                request_id: out.request_id().map(str::to_owned),
                created_key: Some(key_id),
                note: None,
            }
        }
        Call::CreateAlias { alias, key } => {
            let key_id = resolve(key, done, op)?;
            let out = kms
                .create_alias()
                .alias_name(alias)
                .target_key_id(&key_id)
                .send()
                .await;
            match out.map_err(|e| classify(op, e)) {
                Ok(out) => simple(out.request_id()),
                // Re-running a plan, or an endpoint that copies aliases with replicas: an alias
                // that already names this very key is the state the step wanted.
                Err(err) if err.code == "AlreadyExistsException" => {
                    if alias_names_key(kms, alias, &key_id).await {
                        Done {
                            request_id: err.request_id,
                            note: Some(format!("{alias} already named this key")),
                            ..Done::default()
                        }
                    } else {
                        return Err(err);
                    }
                }
                Err(err) => return Err(err),
            }
        }
        Call::UpdateAlias { alias, key } => {
            let out = kms
                .update_alias()
                .alias_name(alias)
                .target_key_id(resolve(key, done, op)?)
                .send()
                .await;
            simple(out.map_err(|e| classify(op, e))?.request_id())
        }
        Call::TagResource { key, tags } => {
            let out = kms
                .tag_resource()
                .key_id(resolve(key, done, op)?)
                .set_tags(Some(sdk_tags(tags, done, op)?))
                .send()
                .await;
            simple(out.map_err(|e| classify(op, e))?.request_id())
        }
        Call::ScheduleKeyDeletion {
            key,
            pending_window_days,
        } => {
            let out = kms
                .schedule_key_deletion()
                .key_id(resolve(key, done, op)?)
                .pending_window_in_days(i32::try_from(*pending_window_days).unwrap_or(30))
                .send()
                .await;
            simple(out.map_err(|e| classify(op, e))?.request_id())
        }
        Call::CancelKeyDeletion { key } => {
            let out = kms
                .cancel_key_deletion()
                .key_id(resolve(key, done, op)?)
                .send()
                .await;
            simple(out.map_err(|e| classify(op, e))?.request_id())
        }
        Call::DisableKey { key } => {
            let out = kms
                .disable_key()
                .key_id(resolve(key, done, op)?)
                .send()
                .await;
            simple(out.map_err(|e| classify(op, e))?.request_id())
        }
        Call::EnableKey { key } => {
            let out = kms
                .enable_key()
                .key_id(resolve(key, done, op)?)
                .send()
                .await;
            simple(out.map_err(|e| classify(op, e))?.request_id())
        }
    })
}

/// Whether `alias` already targets `key_id` in this region.
async fn alias_names_key(kms: &aws_sdk_kms::Client, alias: &str, key_id: &str) -> bool {
    let listed: Result<Vec<_>, _> = kms
        .list_aliases()
        .key_id(key_id)
        .into_paginator()
        .items()
        .send()
        .collect()
        .await;
    listed.is_ok_and(|aliases| {
        aliases
            .iter()
            .any(|a| a.alias_name.as_deref() == Some(alias))
    })
}
