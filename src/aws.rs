//! The AWS sources: per-region SDK clients and the reads that turn API answers into
//! [`crate::estate`] types. The only code in keyward that talks to AWS.
//!
//! Every client has connect and operation timeouts and the SDK's standard retries, and every
//! `List*`/`Describe*` call follows pagination to the end. Each region, and within it each
//! service and each key, fails alone: errors are kept beside the data they spoiled.

mod client;
mod cloudhsm;
mod cloudwatch;
mod error;
mod kms;
mod time;

use chrono::Utc;
use futures::future::join_all;

pub use client::{Clients, RegionClients};
pub use cloudwatch::{AlarmDefinition, MetricPoint, describe_alarm, put_alarm, put_metric_data};
pub use error::classify;
pub use kms::{fetch_key, key_from_metadata};
pub use time::to_chrono;

use crate::estate::RegionSnapshot;

/// Reads one region: keys, clusters and alarms concurrently.
pub async fn fetch_region(clients: &RegionClients) -> RegionSnapshot {
    let (keys, clusters, alarms) = tokio::join!(
        kms::fetch_keys(clients),
        cloudhsm::fetch_clusters(clients),
        cloudwatch::fetch_alarms(clients),
    );
    RegionSnapshot {
        region: clients.region.clone(),
        fetched_at: Utc::now(),
        keys,
        clusters,
        alarms,
    }
}

/// Reads every region concurrently; a slow or failing region does not hold up the others
/// beyond its own deadline.
pub async fn fetch_all(clients: &Clients) -> Vec<RegionSnapshot> {
    join_all(clients.regions().map(fetch_region)).await
}
