//! CloudWatch reads: the metric alarms of one region.

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
