//! The AWS sources: per-region SDK clients and the reads that turn API answers into
//! [`crate::estate`] types. The only code in keyward that talks to AWS.
//!
//! Every client has connect and operation timeouts and the SDK's standard retries, and every
//! `List*`/`Describe*` call follows pagination to the end. Each region, and within it each
//! service and each key, fails alone: errors are kept beside the data they spoiled.
//!
//! [`fetch_region`] is a full read, for the headless commands; the console refreshes with
//! [`fetch_region_incremental`], which describes only the keys that need it.

mod budget;
mod client;
mod cloudhsm;
mod cloudwatch;
mod credentials;
mod error;
mod kms;
mod refresh;
mod time;

use chrono::Utc;
use futures::future::join_all;

pub use client::{Clients, RegionClients};
pub use cloudwatch::{AlarmDefinition, MetricPoint, describe_alarm, put_alarm, put_metric_data};
pub use credentials::describe_source as describe_credentials_source;
pub use error::{CredentialsUnavailable, ErrorClass, classify};
pub use kms::{KeyProgress, ProgressSink, fetch_key, key_from_metadata};
pub use refresh::{
    Known, REVALIDATE_WINDOW, fetch_region_incremental, fetch_region_reporting, needs_reading,
    revalidation_due,
};
pub use time::to_chrono;

use crate::estate::{Fetched, RegionFetch, RegionSnapshot};

/// Reads one region in full: keys, clusters and alarms concurrently.
pub async fn fetch_region(clients: &RegionClients) -> RegionSnapshot {
    fetch_region_counted(clients).await.snapshot
}

/// Reads one region like [`fetch_region`], counting the throttled attempts of the region's
/// clients while it ran; calls made at the same time on the same clients (a key action, say)
/// count too.
pub async fn fetch_region_counted(clients: &RegionClients) -> RegionFetch {
    let throttled_before = clients.throttled_total();
    let (keys, clusters, alarms) = tokio::join!(
        kms::fetch_keys(clients),
        cloudhsm::fetch_clusters(clients),
        cloudwatch::fetch_alarms(clients),
    );
    let source = &*clients.credentials_source;
    let snapshot = RegionSnapshot {
        region: clients.region.clone(),
        fetched_at: Utc::now(),
        keys: name_credentials_source(keys, source),
        clusters: name_credentials_source(clusters, source),
        alarms: name_credentials_source(alarms, source),
    };
    RegionFetch {
        snapshot,
        throttled: clients.throttled_total().wrapping_sub(throttled_before),
        reported: false,
    }
}

/// Adds where the credentials came from to an error that says AWS refused them; AWS's own
/// message cannot name the profile.
fn name_credentials_source<T>(fetched: Fetched<T>, source: &str) -> Fetched<T> {
    fetched.map_err(|mut err| {
        if ErrorClass::of(&err) == ErrorClass::CredentialsRejected {
            err.message = format!("{} (credentials from {source})", err.message);
        }
        err
    })
}

/// Reads every region concurrently; a slow or failing region does not hold up the others
/// beyond its own deadline.
pub async fn fetch_all(clients: &Clients) -> Vec<RegionSnapshot> {
    join_all(clients.regions().map(fetch_region)).await
}

/// Reads every region like [`fetch_all`], with each region's throttled attempts.
pub async fn fetch_all_counted(clients: &Clients) -> Vec<RegionFetch> {
    join_all(clients.regions().map(fetch_region_counted)).await
}
