//! CloudHSM v2 reads: clusters with their HSMs and latest backup.

use std::collections::HashMap;

use super::{RegionClients, classify, to_chrono};
use crate::estate::{Backup, Cluster, Fetched, Hsm};
use aws_sdk_cloudhsmv2::types::Cluster as SdkCluster;

/// Every cluster in the region, each with its newest backup.
pub async fn fetch_clusters(clients: &RegionClients) -> Fetched<Vec<Cluster>> {
    let (clusters, backups) = tokio::join!(describe_clusters(clients), latest_backups(clients));
    let mut latest = backups?;
    let mut clusters: Vec<Cluster> = clusters?
        .iter()
        .map(|c| {
            let mut cluster = cluster_from_sdk(c, &clients.region);
            cluster.latest_backup = latest.remove(&cluster.id);
            cluster
        })
        .collect();
    clusters.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(clusters)
}

async fn describe_clusters(clients: &RegionClients) -> Fetched<Vec<SdkCluster>> {
    let _permit = clients.permit().await;
    let pages = clients.cloudhsm.describe_clusters().into_paginator().send();
    let pages = clients
        .pages(pages)
        .await
        .map_err(|e| classify("DescribeClusters", e))?;
    Ok(pages
        .into_iter()
        .flat_map(|p| p.clusters.unwrap_or_default())
        .collect())
}

/// The newest backup of each cluster, by cluster id.
async fn latest_backups(clients: &RegionClients) -> Fetched<HashMap<String, Backup>> {
    let _permit = clients.permit().await;
    let pages = clients.cloudhsm.describe_backups().into_paginator().send();
    let pages = clients
        .pages(pages)
        .await
        .map_err(|e| classify("DescribeBackups", e))?;
    let mut latest: HashMap<String, Backup> = HashMap::new();
    for backup in pages
        .into_iter()
        .flat_map(|p| p.backups.unwrap_or_default())
    {
        let Some(cluster_id) = backup.cluster_id.clone() else {
            continue;
        };
        let candidate = Backup {
            id: backup.backup_id.clone(),
            state: backup
                .backup_state
                .as_ref()
                .map_or("UNKNOWN", |s| s.as_str())
                .to_owned(),
            created: backup.create_timestamp.as_ref().and_then(to_chrono),
            source_region: backup.source_region.clone(),
        };
        let newer = latest
            .get(&cluster_id)
            .is_none_or(|current| candidate.created > current.created);
        if newer {
            latest.insert(cluster_id, candidate);
        }
    }
    Ok(latest)
}

fn cluster_from_sdk(c: &SdkCluster, region: &str) -> Cluster {
    let hsms = c
        .hsms()
        .iter()
        .map(|h| Hsm {
            id: h.hsm_id.clone(),
            state: h
                .state
                .as_ref()
                .map_or("UNKNOWN", |s| s.as_str())
                .to_owned(),
            availability_zone: h.availability_zone.clone().unwrap_or_default(),
            ip_address: h.eni_ip.clone(),
        })
        .collect();
    let backup_retention_days = c
        .backup_retention_policy
        .as_ref()
        .and_then(|p| p.value.as_deref())
        .and_then(|v| v.parse().ok());
    Cluster {
        id: c.cluster_id.clone().unwrap_or_default(),
        region: region.to_owned(),
        state: c
            .state
            .as_ref()
            .map_or("UNKNOWN", |s| s.as_str())
            .to_owned(),
        state_message: c.state_message.clone().filter(|m| !m.is_empty()),
        hsm_type: c.hsm_type.clone().unwrap_or_default(),
        hsms,
        backup_retention_days,
        latest_backup: None,
        created: c.create_timestamp.as_ref().and_then(to_chrono),
    }
}
