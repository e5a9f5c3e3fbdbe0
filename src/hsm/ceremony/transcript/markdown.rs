//! The transcript as Markdown, for the people who read and sign it.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{Transcript, TranscriptOutcome};
use crate::estate::{ObjectView, TokenView};
use crate::hsm::ceremony::record::{StepDetail, StepOutcome, StepRecord};

impl Transcript {
    /// The transcript for people: participants, keys, each step, and lines to sign.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Ceremony transcript: {}\n", inline(&self.ceremony));
        if self.rehearsal {
            md.push_str(
                "> **REHEARSAL** on a throwaway SoftHSM2 token directory: no production token \
                 or key was touched.\n\n",
            );
        }
        md.push_str("| | |\n|---|---|\n");
        let mut row = |name: &str, value: String| {
            let _ = writeln!(md, "| {name} | {} |", cell(&value));
        };
        row("Outcome", self.outcome_text());
        row("Started", time(self.started));
        row("Finished", time(self.finished));
        row("Operator", self.operator.clone());
        row("Witnesses", self.witnesses.join(", "));
        row(
            "Recorded by",
            format!("{}@{}", self.recorded_by.user, self.recorded_by.host),
        );
        let library = self.library.as_ref().map_or_else(String::new, |l| {
            format!(
                " ({} {}, library {}, PKCS#11 {})",
                l.manufacturer, l.description, l.library_version, l.cryptoki_version
            )
        });
        row("Module", format!("{}{library}", self.module));
        row(
            "Token",
            self.token
                .as_ref()
                .map_or_else(|| "not yet chosen".to_string(), |t| t.to_string()),
        );
        if let Some(script) = &self.script {
            row(
                "Script",
                format!("{} (SHA-256 {})", script.path, script.sha256),
            );
        }

        md.push_str("\n## Root keys\n\n");
        if self.keys.is_empty() {
            md.push_str("No key was generated.\n");
        } else {
            md.push_str("| Label | Id | KCV | KCV method |\n|---|---|---|---|\n");
            for key in &self.keys {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} |",
                    cell(&key.label),
                    key.id,
                    key.kcv.as_deref().unwrap_or("none"),
                    cell(&key.kcv_method)
                );
            }
        }

        md.push_str("\n## Plan\n\n| # | Step | Done |\n|---|---|---|\n");
        for planned in &self.plan {
            let done = self
                .steps
                .iter()
                .any(|r| r.step == planned.step && r.succeeded());
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                planned.number,
                cell(&planned.title),
                if done { "yes" } else { "no" }
            );
        }

        md.push_str("\n## Steps as run\n");
        for record in &self.steps {
            step_markdown(&mut md, record);
        }

        md.push_str("\n## Signatures\n\n");
        let _ = writeln!(
            md,
            "Operator: {} ______________________ date __________\n",
            inline(&self.operator)
        );
        for witness in &self.witnesses {
            let _ = writeln!(
                md,
                "Witness: {} ______________________ date __________\n",
                inline(witness)
            );
        }
        md
    }

    fn outcome_text(&self) -> String {
        match (&self.outcome, &self.abandoned_because) {
            (TranscriptOutcome::Completed, _) => "completed".into(),
            (TranscriptOutcome::InProgress, _) => "in progress".into(),
            (TranscriptOutcome::Abandoned, Some(reason)) => format!("abandoned: {reason}"),
            (TranscriptOutcome::Abandoned, None) => "abandoned".into(),
        }
    }
}

fn step_markdown(md: &mut String, record: &StepRecord) {
    let verdict = if record.succeeded() {
        "succeeded"
    } else {
        "FAILED"
    };
    let _ = writeln!(
        md,
        "\n### {}. {} (attempt {}): {verdict}\n\n{} to {}\n",
        record.number,
        inline(&record.title),
        record.attempt,
        time(record.started),
        time(record.finished)
    );
    match &record.outcome {
        StepOutcome::Failed { error } => {
            let _ = writeln!(
                md,
                "- {} failed with {}: {}",
                error.operation,
                error.code,
                inline(&error.message)
            );
        }
        StepOutcome::Succeeded { detail } => match detail.as_ref() {
            StepDetail::Prepared {
                token,
                functions_checked,
                ..
            } => {
                let _ = writeln!(md, "- Functions checked: {}", functions_checked.join(", "));
                token_lines(md, token);
            }
            StepDetail::TokenInitialized { token }
            | StepDetail::UserPinSet { token }
            | StepDetail::PinChanged { token, .. } => token_lines(md, token),
            StepDetail::KeyGenerated { key } => object_table(md, key),
            StepDetail::Verified { token, keys } => {
                token_lines(md, token);
                for verified in keys {
                    let _ = writeln!(
                        md,
                        "\nKey {}:\n\n| Check | Expected | Found | Result |\n|---|---|---|---|",
                        inline(&verified.key.label)
                    );
                    for check in &verified.checks {
                        let _ = writeln!(
                            md,
                            "| {} | {} | {} | {} |",
                            cell(&check.name),
                            cell(&check.expected),
                            cell(&check.found),
                            if check.passed { "pass" } else { "FAIL" }
                        );
                    }
                }
            }
        },
    }
}

fn token_lines(md: &mut String, token: &TokenView) {
    let label = if token.initialized {
        format!("{:?}", token.label)
    } else {
        "(blank)".to_string()
    };
    let _ = writeln!(
        md,
        "- Token {} serial {}, {} {}; initialized {}, user PIN set {}, PIN length {} to {}",
        inline(&label),
        if token.serial.is_empty() {
            "(none yet)"
        } else {
            &token.serial
        },
        inline(&token.manufacturer),
        inline(&token.model),
        token.initialized,
        token.user_pin_initialized,
        token.min_pin_len,
        token.max_pin_len
    );
}

fn object_table(md: &mut String, key: &ObjectView) {
    let flag = |b: Option<bool>| b.map_or_else(|| "not reported".to_string(), |b| b.to_string());
    let kcv = key.kcv.as_ref();
    let rows = [
        ("label", key.label.clone()),
        ("id", key.id.clone()),
        ("class", key.class.clone()),
        ("key type", key.key_type.clone().unwrap_or_default()),
        (
            "size (bits)",
            key.size_bits.map(|b| b.to_string()).unwrap_or_default(),
        ),
        ("token", flag(key.token)),
        ("private", flag(key.private)),
        ("sensitive", flag(key.sensitive)),
        ("extractable", flag(key.extractable)),
        ("never extractable", flag(key.never_extractable)),
        ("local", flag(key.local)),
        (
            "KCV",
            kcv.and_then(|k| k.value.clone())
                .unwrap_or_else(|| "none".into()),
        ),
        (
            "KCV method",
            kcv.map(|k| match &k.note {
                Some(note) => format!("{} ({note})", k.method),
                None => k.method.to_string(),
            })
            .unwrap_or_default(),
        ),
    ];
    md.push_str("| Attribute | Value |\n|---|---|\n");
    for (name, value) in rows {
        let _ = writeln!(md, "| {name} | {} |", cell(&value));
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    inline(text).replace('|', "\\|")
}

/// Text kept on one line.
fn inline(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}
