//! CloudWatch: the metric alarms of one region, and the writes `keyward metrics publish` makes
//! (rotation metrics and the rotation alarm).

use super::{RegionClients, classify, to_chrono};
use crate::estate::{Alarm, AlarmState, Fetched};

/// Every metric alarm in the region, sorted by name.
pub async fn fetch_alarms(clients: &RegionClients) -> Fetched<Vec<Alarm>> {
    let _permit = clients.permit().await;
    let pages = clients.cloudwatch.describe_alarms().into_paginator().send();
    let pages = clients
        .pages(pages)
        .await
        .map_err(|e| classify("DescribeAlarms", e))?;
    let mut alarms: Vec<Alarm> = pages
        .into_iter()
        .flat_map(|p| p.metric_alarms.unwrap_or_default())
        .map(|a| Alarm {
            name: a.alarm_name.clone().unwrap_or_default(),
            region: clients.region.clone(),
            state: match a.state_value.as_ref().map(|s| s.as_str()) {
                Some("ALARM") => AlarmState::Alarm,
                Some("OK") => AlarmState::Ok,
                _ => AlarmState::InsufficientData,
            },
            reason: a.state_reason.clone().unwrap_or_default(),
            since: a.state_updated_timestamp.as_ref().and_then(to_chrono),
            namespace: a.namespace.clone(),
            metric: a.metric_name.clone(),
            threshold: a.threshold,
            comparison: a
                .comparison_operator
                .as_ref()
                .map(|c| c.as_str().to_owned()),
        })
        .collect();
    alarms.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(alarms)
}

/// One value of a metric: `dimensions` empty for a region-level datum.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    pub dimensions: Vec<(String, String)>,
    pub value: f64,
}

/// A metric alarm's definition, as DescribeAlarms reports it and PutMetricAlarm writes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmDefinition {
    pub name: String,
    pub description: Option<String>,
    pub namespace: Option<String>,
    pub metric: Option<String>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    pub period_secs: Option<i32>,
    pub evaluation_periods: Option<i32>,
    pub datapoints_to_alarm: Option<i32>,
    pub comparison: Option<String>,
    pub threshold: Option<f64>,
    pub dimensions: Vec<(String, String)>,
    pub unit: Option<String>,
    pub treat_missing_data: Option<String>,
    pub actions_enabled: Option<bool>,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
}

/// CloudWatch takes at most this many values per PutMetricData call on every endpoint (AWS
/// raised its own limit later; emulators and older partitions keep this one).
const METRIC_BATCH: usize = 20;

/// Puts `points` of `metric` into `namespace`, stamped `at`, in batches. Returns the request
/// id of each call; stops at the first call that fails.
pub async fn put_metric_data(
    clients: &RegionClients,
    namespace: &str,
    metric: &str,
    points: &[MetricPoint],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, crate::estate::SourceError> {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    use aws_types::request_id::RequestId;

    let timestamp = aws_smithy_types::DateTime::from_secs(at.timestamp());
    let mut request_ids = Vec::new();
    for batch in points.chunks(METRIC_BATCH) {
        let data = batch
            .iter()
            .map(|point| {
                let dimensions = point
                    .dimensions
                    .iter()
                    .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                    .collect();
                MetricDatum::builder()
                    .metric_name(metric)
                    .set_dimensions(Some(dimensions))
                    .value(point.value)
                    .unit(StandardUnit::None)
                    .timestamp(timestamp)
                    .build()
            })
            .collect();
        let _permit = clients.permit().await;
        let out = clients
            .cloudwatch
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .map_err(|e| classify("PutMetricData", e))?;
        request_ids.extend(out.request_id().map(str::to_owned));
    }
    Ok(request_ids)
}

/// The metric alarm called `name`, if the region has one.
pub async fn describe_alarm(
    clients: &RegionClients,
    name: &str,
) -> Fetched<Option<AlarmDefinition>> {
    let _permit = clients.permit().await;
    let out = clients
        .cloudwatch
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .map_err(|e| classify("DescribeAlarms", e))?;
    let Some(alarm) = out
        .metric_alarms
        .unwrap_or_default()
        .into_iter()
        .find(|a| a.alarm_name.as_deref() == Some(name))
    else {
        return Ok(None);
    };
    Ok(Some(AlarmDefinition {
        name: name.to_owned(),
        description: alarm.alarm_description,
        namespace: alarm.namespace,
        metric: alarm.metric_name,
        statistic: alarm.statistic.map(|s| s.as_str().to_owned()),
        extended_statistic: alarm.extended_statistic,
        period_secs: alarm.period,
        evaluation_periods: alarm.evaluation_periods,
        datapoints_to_alarm: alarm.datapoints_to_alarm,
        comparison: alarm.comparison_operator.map(|c| c.as_str().to_owned()),
        threshold: alarm.threshold,
        dimensions: alarm
            .dimensions
            .unwrap_or_default()
            .into_iter()
            .map(|d| (d.name.unwrap_or_default(), d.value.unwrap_or_default()))
            .collect(),
        unit: alarm.unit.map(|u| u.as_str().to_owned()),
        treat_missing_data: alarm.treat_missing_data,
        actions_enabled: alarm.actions_enabled,
        alarm_actions: alarm.alarm_actions.unwrap_or_default(),
        ok_actions: alarm.ok_actions.unwrap_or_default(),
        insufficient_data_actions: alarm.insufficient_data_actions.unwrap_or_default(),
    }))
}

/// Creates or replaces the alarm with `definition`; returns the request id.
pub async fn put_alarm(
    clients: &RegionClients,
    definition: &AlarmDefinition,
) -> Fetched<Option<String>> {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StandardUnit, Statistic};
    use aws_types::request_id::RequestId;

    let dimensions = definition
        .dimensions
        .iter()
        .map(|(name, value)| Dimension::builder().name(name).value(value).build())
        .collect();
    let _permit = clients.permit().await;
    let out = clients
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&definition.name)
        .set_alarm_description(definition.description.clone())
        .set_namespace(definition.namespace.clone())
        .set_metric_name(definition.metric.clone())
        .set_statistic(definition.statistic.as_deref().map(Statistic::from))
        .set_extended_statistic(definition.extended_statistic.clone())
        .set_period(definition.period_secs)
        .set_evaluation_periods(definition.evaluation_periods)
        .set_datapoints_to_alarm(definition.datapoints_to_alarm)
        .set_comparison_operator(
            definition
                .comparison
                .as_deref()
                .map(ComparisonOperator::from),
        )
        .set_threshold(definition.threshold)
        .set_dimensions(Some(dimensions))
        .set_unit(definition.unit.as_deref().map(StandardUnit::from))
        .set_treat_missing_data(definition.treat_missing_data.clone())
        .set_actions_enabled(definition.actions_enabled)
        .set_alarm_actions(Some(definition.alarm_actions.clone()))
        .set_ok_actions(Some(definition.ok_actions.clone()))
        .set_insufficient_data_actions(Some(definition.insufficient_data_actions.clone()))
        .send()
        .await
        .map_err(|e| classify("PutMetricAlarm", e))?;
    Ok(out.request_id().map(str::to_owned))
}
