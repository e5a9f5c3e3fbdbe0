//! The weekly compliance report in Markdown, for people and auditors.

use std::io::Write;

use chrono::{DateTime, Utc};

use super::{day, headline, last_rotation};
use crate::policy::{Evaluation, Rotator, Status};

/// Escapes a table cell: pipes would end the cell, line breaks the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Writes the whole report: summary, policy, per-region counts, violations, exemptions,
/// forecast, multi-region coverage, and every key.
pub fn write_markdown(
    evaluation: &Evaluation,
    generated_at: DateTime<Utc>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let time = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    writeln!(out, "# Key rotation compliance report\n")?;
    writeln!(out, "- Generated at: {}", time(generated_at))?;
    writeln!(out, "- Judged as of: {}", time(evaluation.as_of))?;
    let regions: Vec<&str> = evaluation
        .regions
        .iter()
        .map(|r| r.region.as_str())
        .collect();
    writeln!(out, "- Regions: {}", regions.join(", "))?;
    writeln!(out, "- Verdict: {}\n", headline(evaluation))?;

    writeln!(out, "## Policy\n")?;
    writeln!(
        out,
        "| rule | matches | period (days) | warn after (days) |"
    )?;
    writeln!(out, "|---|---|---:|---:|")?;
    for rule in &evaluation.rules {
        let mut matchers = Vec::new();
        matchers.extend(rule.alias_prefix.as_ref().map(|p| format!("alias {p}*")));
        matchers.extend(rule.tag.as_ref().map(|t| format!("tag {t}")));
        matchers.extend(rule.region.as_ref().map(|r| format!("region {r}")));
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(&rule.name),
            cell(&matchers.join(", ")),
            rule.period_days,
            rule.warn_after_days
        )?;
    }
    let default = &evaluation.default_rule;
    writeln!(
        out,
        "| {} | every other customer-managed key | {} | {} |\n",
        default.name, default.period_days, default.warn_after_days
    )?;
    writeln!(
        out,
        "The first rule that matches a key decides. Replicas follow their primary.\n"
    )?;

    writeln!(out, "## Per region\n")?;
    let statuses: Vec<Status> = Status::ALL
        .into_iter()
        .filter(|s| evaluation.regions.iter().any(|r| r.counts.contains_key(s)))
        .collect();
    let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    writeln!(
        out,
        "| region | read at | judged | compliant share | {} |",
        names.join(" | ")
    )?;
    writeln!(out, "|---|---|---:|---:|{}", "---:|".repeat(statuses.len()))?;
    for region in &evaluation.regions {
        if let Some(err) = &region.error {
            writeln!(
                out,
                "| {} | NOT READ: {} | | |{}",
                region.region,
                cell(&err.to_string()),
                " |".repeat(statuses.len())
            )?;
            continue;
        }
        let counts: Vec<String> = statuses
            .iter()
            .map(|s| region.counts.get(s).copied().unwrap_or(0).to_string())
            .collect();
        let share = region
            .compliant_share
            .map_or_else(|| "-".into(), |s| format!("{:.0}%", s * 100.0));
        writeln!(
            out,
            "| {} | {} | {} | {share} | {} |",
            region.region,
            time(region.fetched_at),
            region.judged,
            counts.join(" | ")
        )?;
    }

    writeln!(out, "\n## Violations\n")?;
    let violations: Vec<_> = evaluation.violations().collect();
    if violations.is_empty() {
        writeln!(out, "None.")?;
    } else {
        writeln!(
            out,
            "| region | key | alias | status | last rotation | days overdue | rule | detail |"
        )?;
        writeln!(out, "|---|---|---|---|---|---:|---|---|")?;
        for v in violations {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                v.region,
                v.key_id,
                cell(v.alias.as_deref().unwrap_or("-")),
                v.status,
                last_rotation(v),
                v.days_overdue.map_or_else(|| "-".into(), |d| d.to_string()),
                cell(v.rule.as_ref().map_or("-", |r| r.name.as_str())),
                cell(&v.detail)
            )?;
        }
    }

    writeln!(out, "\n## Exemptions\n")?;
    if evaluation.exemptions.is_empty() {
        writeln!(out, "None configured.")?;
    } else {
        writeln!(out, "| key | reason | expires | state | keys named |")?;
        writeln!(out, "|---|---|---|---|---:|")?;
        for e in &evaluation.exemptions {
            let state = match (e.active, e.matched.is_empty()) {
                (_, true) => "names no watched key",
                (true, false) => "active",
                (false, false) => "EXPIRED: judged again",
            };
            writeln!(
                out,
                "| {} | {} | {} | {state} | {} |",
                cell(&e.key),
                cell(&e.reason),
                e.expires,
                e.matched.len()
            )?;
        }
    }

    writeln!(out, "\n## Forecast\n")?;
    writeln!(
        out,
        "Keys reaching their rule's deadline, by how far ahead:\n"
    )?;
    let mut previous = None;
    for (days, entries) in evaluation.forecast.buckets() {
        let span = match previous {
            None => format!("within {days} days"),
            Some(last) => format!("in {}-{days} days", last + 1),
        };
        writeln!(out, "Due {span}: {}", entries.len())?;
        for entry in entries {
            let how = match entry.rotator {
                Some(Rotator::Manual) => "manual rotation",
                _ => "AWS rotates",
            };
            writeln!(
                out,
                "- {} {} ({}): by {}, in {}, {how}",
                entry.region,
                entry.alias.as_deref().unwrap_or(&entry.key_id),
                entry.key_id,
                day(Some(entry.deadline)),
                crate::plural::days(entry.days_left)
            )?;
        }
        previous = Some(days);
    }

    writeln!(out, "\n## Multi-region coverage\n")?;
    if evaluation.coverage.is_empty() {
        writeln!(out, "No multi-region keys.")?;
    } else {
        writeln!(
            out,
            "| key | alias | primary | replicas | missing in | state |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|")?;
        for c in &evaluation.coverage {
            let list = |r: &[String]| {
                if r.is_empty() {
                    "-".to_owned()
                } else {
                    r.join(", ")
                }
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                c.key_id,
                cell(c.alias.as_deref().unwrap_or("-")),
                c.primary_region,
                list(&c.replica_regions),
                list(&c.missing_regions),
                c.state
            )?;
        }
    }

    writeln!(out, "\n## Every key\n")?;
    writeln!(
        out,
        "| region | key | alias | status | last rotation | deadline | rule |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for v in &evaluation.keys {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            v.region,
            v.key_id,
            cell(v.alias.as_deref().unwrap_or("-")),
            v.status,
            last_rotation(v),
            day(v.deadline),
            cell(v.rule.as_ref().map_or("-", |r| r.name.as_str()))
        )?;
    }
    Ok(())
}
