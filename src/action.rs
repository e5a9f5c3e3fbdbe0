//! Guided key actions: a pre-flight check, a plan, a confirmation, the run, and an audit entry.
//!
//! The TUI and `keyward key ...` share all of it and differ only in how a plan is confirmed
//! (a dialog, or `--yes`) and how the outcome is shown.

pub mod command;
pub mod execute;
pub mod plan;
pub mod preflight;

use chrono::Utc;
use serde::Serialize;
use serde_json::json;

pub use execute::{Outcome, StepOutcome, StepStatus, execute};
pub use plan::{Plan, Risk};
pub use preflight::{Context, KeyExtras, Refusal, Request, check, offers, plan};

use crate::audit::{AuditError, Entry, Journal, Operator, Record, RecordKind};
use crate::aws::{RegionClients, classify};
use crate::estate::{Fetched, Key};
use plan::Tag;

/// How the operator confirmed (or declined) a plan. Never the text typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// `--yes` on the command line.
    YesFlag,
    /// The confirm key in the dialog.
    KeyPress,
    /// The alias or key id typed in the dialog, and it matched.
    TypedName,
    /// Esc or `n` in the dialog: nothing ran. (A headless `--dry-run` is not journaled.)
    Cancelled,
}

/// Reads what a plan copies from a key: its default policy and its tags.
pub async fn read_extras(clients: &RegionClients, key: &Key) -> Fetched<KeyExtras> {
    let policy = {
        let _permit = clients.permit().await;
        let out = clients
            .kms
            .get_key_policy()
            .key_id(&key.key_id)
            .policy_name("default")
            .send();
        out.await.map_err(|e| classify("GetKeyPolicy", e))?.policy
    };
    let _permit = clients.permit().await;
    let pages = clients
        .kms
        .list_resource_tags()
        .key_id(&key.key_id)
        .into_paginator()
        .send();
    let pages = clients
        .pages(pages)
        .await
        .map_err(|e| classify("ListResourceTags", e))?;
    let tags = pages.into_iter().flat_map(|p| p.tags.unwrap_or_default());
    let tags = tags.map(|t| Tag::text(t.tag_key, t.tag_value)).collect();
    Ok(KeyExtras { policy, tags })
}

/// The AWS account and caller ARN behind the credentials, for plans and the journal.
pub async fn caller_identity(clients: &RegionClients) -> Fetched<(String, String)> {
    let out = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| classify("GetCallerIdentity", e))?;
    Ok((out.account.unwrap_or_default(), out.arn.unwrap_or_default()))
}

/// Writes a plan and what became of it to the journal, flushed before this returns.
pub fn record(
    journal: &Journal,
    operator: &Operator,
    plan: &Plan,
    confirmation: Confirmation,
    outcome: Option<&Outcome>,
) -> Result<Entry, AuditError> {
    let (kind, verdict) = match outcome {
        None => (RecordKind::Cancelled, "cancelled".to_owned()),
        Some(outcome) if outcome.succeeded() => (RecordKind::Action, "succeeded".to_owned()),
        Some(outcome) => {
            let failed = outcome
                .steps
                .iter()
                .find(|s| s.status == StepStatus::Failed);
            let why = failed
                .and_then(|s| s.error.as_ref())
                .map_or_else(String::new, |e| format!(": {}", e.code));
            (RecordKind::Action, format!("FAILED{why}"))
        }
    };
    let record = Record {
        kind,
        summary: format!("{}: {verdict}", plan.title),
        operator: operator.clone(),
        details: json!({
            "plan": plan,
            "confirmation": confirmation,
            "outcome": outcome,
        }),
    };
    journal.append(&record, Utc::now())
}

#[cfg(test)]
mod tests;
