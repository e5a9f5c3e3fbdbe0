//! The evaluation as evidence: the `check` table, and the weekly report as Markdown, JSON or CSV.
//!
//! JSON is the [`Evaluation`] itself with the time it was generated, so `check --format json`
//! and `report --format json` are one schema. CSV is one row per key (RFC 4180 quoting) plus
//! one `unread` row per region whose keys could not be listed, so a spreadsheet never passes
//! over a gap in silence.

mod markdown;

use std::io::Write;

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use serde::Serialize;

use super::{Evaluation, Outcome, Status, Verdict};
use crate::plural::count;

pub use markdown::write_markdown;

/// Output formats of `keyward check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
}

/// Output formats of `keyward report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Json,
    Csv,
}

/// The JSON document: when it was generated, and the evaluation.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub generated_at: DateTime<Utc>,
    pub exit_code: u8,
    #[serde(flatten)]
    pub evaluation: &'a Evaluation,
}

/// Writes the evaluation as pretty JSON.
pub fn write_json(
    evaluation: &Evaluation,
    generated_at: DateTime<Utc>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let document = Document {
        generated_at,
        exit_code: evaluation.outcome.exit_code(),
        evaluation,
    };
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}

/// The CSV header, in column order.
pub const CSV_COLUMNS: [&str; 21] = [
    "generated_at",
    "as_of",
    "region",
    "key_id",
    "arn",
    "alias",
    "status",
    "violation",
    "rule",
    "period_days",
    "last_rotated",
    "age_from",
    "deadline",
    "days_overdue",
    "automatic_rotation",
    "rotator",
    "multi_region",
    "follows_primary",
    "exemption_reason",
    "exemption_expires",
    "detail",
];

/// Writes one CSV row per key, and one `unread` row per region that could not be read.
pub fn write_csv(
    evaluation: &Evaluation,
    generated_at: DateTime<Utc>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    write_row(out, CSV_COLUMNS.iter().map(|c| c.to_string()))?;
    let generated = rfc3339(Some(generated_at));
    let as_of = rfc3339(Some(evaluation.as_of));
    for region in &evaluation.regions {
        if let Some(err) = &region.error {
            let mut row = vec![String::new(); CSV_COLUMNS.len()];
            row[0] = generated.clone();
            row[1] = as_of.clone();
            row[2] = region.region.clone();
            row[6] = "unread".into();
            row[20] = format!("the region's keys could not be read: {err}");
            write_row(out, row)?;
        }
    }
    for v in &evaluation.keys {
        let opt = |n: Option<String>| n.unwrap_or_default();
        let row = vec![
            generated.clone(),
            as_of.clone(),
            v.region.clone(),
            v.key_id.clone(),
            v.arn.clone(),
            opt(v.alias.clone()),
            v.status.to_string(),
            v.status.is_violation().to_string(),
            opt(v.rule.as_ref().map(|r| r.name.clone())),
            opt(v.rule.as_ref().map(|r| r.period_days.to_string())),
            rfc3339(v.last_rotated),
            rfc3339(v.age_from),
            rfc3339(v.deadline),
            opt(v.days_overdue.map(|d| d.to_string())),
            opt(v.automatic_rotation.map(|b| b.to_string())),
            opt(v.rotator.map(|r| json_word(&r))),
            opt(v.multi_region.map(|m| json_word(&m))),
            opt(v.follows_primary.clone()),
            opt(v.exemption.as_ref().map(|e| e.reason.clone())),
            opt(v.exemption.as_ref().map(|e| e.expires.to_string())),
            v.detail.clone(),
        ];
        write_row(out, row)?;
    }
    Ok(())
}

/// One CSV record; a field with a comma, quote or line break is quoted, quotes doubled.
fn write_row(
    out: &mut impl Write,
    fields: impl IntoIterator<Item = String>,
) -> std::io::Result<()> {
    let fields: Vec<String> = fields
        .into_iter()
        .map(|field| {
            if field.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", field.replace('"', "\"\""))
            } else {
                field
            }
        })
        .collect();
    write!(out, "{}\r\n", fields.join(","))
}

/// How serde spells a unit enum variant, without its quotes.
fn json_word(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn rfc3339(time: Option<DateTime<Utc>>) -> String {
    time.map_or_else(String::new, |t| {
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}

/// `2026-01-31`, or `-`.
pub(crate) fn day(time: Option<DateTime<Utc>>) -> String {
    time.map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d").to_string())
}

/// The last rotation, or when the key was created if it never rotated.
pub(crate) fn last_rotation(v: &Verdict) -> String {
    match (v.last_rotated, v.age_from) {
        (Some(at), _) => day(Some(at)),
        (None, Some(created)) => format!("never (created {})", day(Some(created))),
        (None, None) => "-".into(),
    }
}

/// One sentence saying what the evaluation found.
pub fn headline(evaluation: &Evaluation) -> String {
    let judged: usize = evaluation.regions.iter().map(|r| r.judged).sum();
    let violations = evaluation.violations().count();
    let unread: Vec<&str> = evaluation
        .regions
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.region.as_str())
        .collect();
    let unknown = evaluation
        .keys
        .iter()
        .filter(|v| v.status == Status::Unknown)
        .count();
    let mut text = match evaluation.outcome {
        Outcome::Compliant if judged == 1 => {
            "COMPLIANT: the one judged key meets the policy".into()
        }
        Outcome::Compliant => format!("COMPLIANT: all {judged} judged keys meet the policy"),
        Outcome::Violations => format!(
            "VIOLATIONS: {violations} of {} {} the policy",
            count(judged, "judged key", "judged keys"),
            if violations == 1 {
                "violates"
            } else {
                "violate"
            }
        ),
        Outcome::Incomplete => format!(
            "INCOMPLETE: no violation among {}, but not everything was read",
            count(judged, "judged key", "judged keys")
        ),
    };
    if !unread.is_empty() {
        text.push_str(&format!("; regions not read: {}", unread.join(", ")));
    }
    if unknown > 0 {
        text.push_str(&format!(
            "; {} not be judged",
            count(unknown, "key could", "keys could")
        ));
    }
    text
}

/// The `check` table: the headline, the violations, per-region counts, the forecast.
pub fn write_table(evaluation: &Evaluation, out: &mut impl Write) -> std::io::Result<()> {
    let as_of = evaluation.as_of.format("%Y-%m-%d %H:%M UTC");
    writeln!(out, "{} (as of {as_of})", headline(evaluation))?;
    let attention: Vec<&Verdict> = evaluation
        .keys
        .iter()
        .filter(|v| v.status.is_violation() || v.status == Status::Unknown)
        .collect();
    if !attention.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{:<15} {:<30} {:<23} {:<26} {:>7}  {:<20} DETAIL",
            "REGION", "KEY", "STATUS", "LAST ROTATION", "OVERDUE", "RULE"
        )?;
        for v in attention {
            writeln!(
                out,
                "{:<15} {:<30} {:<23} {:<26} {:>7}  {:<20} {}",
                v.region,
                crate::inventory::truncate(v.name(), 30),
                v.status.as_str(),
                last_rotation(v),
                v.days_overdue
                    .map_or_else(|| "-".into(), |d| format!("{d}d")),
                crate::inventory::truncate(v.rule.as_ref().map_or("-", |r| r.name.as_str()), 20),
                v.detail
            )?;
        }
    }
    writeln!(out)?;
    for region in &evaluation.regions {
        match &region.error {
            Some(err) => writeln!(out, "{}: NOT READ: {err}", region.region)?,
            None => {
                let counts: Vec<String> = region
                    .counts
                    .iter()
                    .map(|(status, n)| format!("{n} {status}"))
                    .collect();
                let share = region.compliant_share.map_or_else(
                    || "no judged keys".into(),
                    |s| format!("{:.0}% compliant", s * 100.0),
                );
                writeln!(out, "{}: {share}; {}", region.region, counts.join(", "))?;
            }
        }
    }
    let buckets = evaluation.forecast.buckets();
    writeln!(
        out,
        "Due within 7 days: {}, in 8-30 days: {}, in 31-90 days: {}",
        buckets[0].1.len(),
        buckets[1].1.len(),
        buckets[2].1.len()
    )?;
    for exemption in &evaluation.exemptions {
        let state = if exemption.active {
            "active"
        } else {
            "EXPIRED"
        };
        writeln!(
            out,
            "Exemption {} ({state}, until {}): {}",
            exemption.key, exemption.expires, exemption.reason
        )?;
    }
    Ok(())
}
