//! `keyward metrics publish`: the rotation metrics and the rotation alarm, as the estate's
//! monitoring expects them.
//!
//! Per region: `DaysSinceLastRotation` in `Custom/KMS` for each judged key (dimensions `KeyId`
//! and `Alias`), plus one datum without dimensions holding the region's maximum, which the
//! `KeyRotationDelay` alarm watches (a region with no judged key publishes 0). What to publish
//! and how an existing alarm differs are pure functions here; the calls are in
//! [`crate::aws`].

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Evaluation;
use crate::aws::{AlarmDefinition, Clients, MetricPoint};

pub const NAMESPACE: &str = "Custom/KMS";
pub const METRIC: &str = "DaysSinceLastRotation";
pub const ALARM_NAME: &str = "KeyRotationDelay";
/// The alarm evaluates one day's maximum.
pub const ALARM_PERIOD_SECS: i32 = 86_400;
/// The `Alias` dimension of a key without an alias (CloudWatch refuses empty values).
pub const NO_ALIAS: &str = "(none)";

/// The points to publish in `region`: one per judged key, then the region's maximum.
pub fn points(evaluation: &Evaluation, region: &str) -> Vec<MetricPoint> {
    let mut points: Vec<MetricPoint> = evaluation
        .keys
        .iter()
        .filter(|v| v.region == region && v.status.is_judged())
        .filter_map(|v| {
            let age = v.age_days?;
            Some(MetricPoint {
                dimensions: vec![
                    ("KeyId".into(), v.key_id.clone()),
                    (
                        "Alias".into(),
                        v.alias.clone().unwrap_or_else(|| NO_ALIAS.into()),
                    ),
                ],
                value: age as f64,
            })
        })
        .collect();
    let maximum = points.iter().map(|p| p.value).fold(0.0, f64::max);
    points.push(MetricPoint {
        dimensions: Vec::new(),
        value: maximum,
    });
    points
}

/// The alarm the policy asks for, keeping what an operator added to an existing one (its
/// description, actions and missing-data treatment).
pub fn desired_alarm(warn_after_days: u32, existing: Option<&AlarmDefinition>) -> AlarmDefinition {
    let kept = existing.cloned().unwrap_or_default();
    AlarmDefinition {
        name: ALARM_NAME.into(),
        description: kept.description.or_else(|| {
            Some(format!(
                "A KMS key in this region has gone more than {} without rotation \
                 (keyward metrics publish)",
                crate::plural::days(warn_after_days)
            ))
        }),
        namespace: Some(NAMESPACE.into()),
        metric: Some(METRIC.into()),
        statistic: Some("Maximum".into()),
        extended_statistic: None,
        period_secs: Some(ALARM_PERIOD_SECS),
        evaluation_periods: Some(1),
        datapoints_to_alarm: kept.datapoints_to_alarm.filter(|n| *n == 1),
        comparison: Some("GreaterThanThreshold".into()),
        threshold: Some(f64::from(warn_after_days)),
        dimensions: Vec::new(),
        unit: None,
        treat_missing_data: kept.treat_missing_data,
        actions_enabled: kept.actions_enabled,
        alarm_actions: kept.alarm_actions,
        ok_actions: kept.ok_actions,
        insufficient_data_actions: kept.insufficient_data_actions,
    }
}

/// One field of the alarm that differs from what the policy asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: &'static str,
    pub from: String,
    pub to: String,
}

/// The policy-relevant fields where `existing` differs from `desired`.
pub fn differences(existing: &AlarmDefinition, desired: &AlarmDefinition) -> Vec<Change> {
    fn show<T: std::fmt::Debug>(value: &Option<T>) -> String {
        value.as_ref().map_or_else(
            || "(unset)".into(),
            |v| format!("{v:?}").trim_matches('"').to_owned(),
        )
    }
    let mut changes = Vec::new();
    let mut compare = |field: &'static str, from: String, to: String| {
        if from != to {
            changes.push(Change { field, from, to });
        }
    };
    compare(
        "Namespace",
        show(&existing.namespace),
        show(&desired.namespace),
    );
    compare("MetricName", show(&existing.metric), show(&desired.metric));
    compare(
        "Statistic",
        show(&existing.statistic),
        show(&desired.statistic),
    );
    compare(
        "ExtendedStatistic",
        show(&existing.extended_statistic),
        show(&desired.extended_statistic),
    );
    compare(
        "Period",
        show(&existing.period_secs),
        show(&desired.period_secs),
    );
    compare(
        "EvaluationPeriods",
        show(&existing.evaluation_periods),
        show(&desired.evaluation_periods),
    );
    compare(
        "DatapointsToAlarm",
        show(&existing.datapoints_to_alarm),
        show(&desired.datapoints_to_alarm),
    );
    compare(
        "ComparisonOperator",
        show(&existing.comparison),
        show(&desired.comparison),
    );
    compare(
        "Threshold",
        show(&existing.threshold),
        show(&desired.threshold),
    );
    compare(
        "Dimensions",
        format!("{:?}", existing.dimensions),
        format!("{:?}", desired.dimensions),
    );
    compare("Unit", show(&existing.unit), show(&desired.unit));
    changes
}

/// What publishing did in one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionPublish {
    pub region: String,
    /// Datums put, the region-level maximum included.
    pub points: usize,
    pub maximum_days: f64,
    pub alarm: AlarmResult,
    /// The first failure, if any; the region's other step still ran.
    pub errors: Vec<String>,
}

/// What became of the region's `KeyRotationDelay` alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum AlarmResult {
    Created,
    Unchanged,
    Updated { changes: Vec<Change> },
    Failed,
}

/// Publishes every region's points and ensures its alarm; a region that fails does not stop
/// the others. `now` stamps the datums.
pub async fn publish(
    clients: &Clients,
    evaluation: &Evaluation,
    warn_after_days: u32,
    now: DateTime<Utc>,
) -> Vec<RegionPublish> {
    let mut results = Vec::new();
    for region in evaluation.regions.iter().filter(|r| r.error.is_none()) {
        let Some(rc) = clients.region(&region.region) else {
            continue;
        };
        let points = points(evaluation, &region.region);
        let mut result = RegionPublish {
            region: region.region.clone(),
            points: points.len(),
            maximum_days: points.last().map_or(0.0, |p| p.value),
            alarm: AlarmResult::Failed,
            errors: Vec::new(),
        };
        if let Err(err) = crate::aws::put_metric_data(rc, NAMESPACE, METRIC, &points, now).await {
            result.points = 0;
            result.errors.push(err.to_string());
        }
        match ensure_alarm(rc, warn_after_days).await {
            Ok(alarm) => result.alarm = alarm,
            Err(err) => result.errors.push(err.to_string()),
        }
        results.push(result);
    }
    results
}

async fn ensure_alarm(
    rc: &crate::aws::RegionClients,
    warn_after_days: u32,
) -> Result<AlarmResult, crate::estate::SourceError> {
    let existing = crate::aws::describe_alarm(rc, ALARM_NAME).await?;
    let desired = desired_alarm(warn_after_days, existing.as_ref());
    let result = match &existing {
        None => AlarmResult::Created,
        Some(existing) => {
            let changes = differences(existing, &desired);
            if changes.is_empty() {
                return Ok(AlarmResult::Unchanged);
            }
            AlarmResult::Updated { changes }
        }
    };
    crate::aws::put_alarm(rc, &desired).await?;
    Ok(result)
}

/// One line per region, and one per changed alarm field.
pub fn write_summary(results: &[RegionPublish], out: &mut impl Write) -> std::io::Result<()> {
    for r in results {
        let alarm = match &r.alarm {
            AlarmResult::Created => format!("alarm {ALARM_NAME} created"),
            AlarmResult::Unchanged => format!("alarm {ALARM_NAME} already as the policy asks"),
            AlarmResult::Updated { changes } => {
                format!(
                    "alarm {ALARM_NAME} updated ({})",
                    crate::plural::count(changes.len(), "change", "changes")
                )
            }
            AlarmResult::Failed => format!("alarm {ALARM_NAME} NOT ensured"),
        };
        writeln!(
            out,
            "{}: {} of {NAMESPACE}/{METRIC} put (region maximum {} {}); {alarm}",
            r.region,
            crate::plural::count(r.points, "datum", "datums"),
            r.maximum_days,
            if r.maximum_days == 1.0 { "day" } else { "days" }
        )?;
        if let AlarmResult::Updated { changes } = &r.alarm {
            for change in changes {
                writeln!(out, "  {}: {} -> {}", change.field, change.from, change.to)?;
            }
        }
        for err in &r.errors {
            writeln!(out, "  FAILED: {err}")?;
        }
    }
    Ok(())
}
