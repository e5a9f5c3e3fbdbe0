//! The drill's calls to AWS: data-key round trips between regions, and backups copied out of a
//! lost region.

use std::time::Instant;

use aws_sdk_kms::types::DataKeySpec;
use zeroize::Zeroizing;

use super::{Check, backup_deadline, elapsed_ms};
use crate::aws::{Clients, classify, to_chrono};
use crate::estate::Key;

/// Generates a data key under `from` and decrypts its ciphertext under `to`. Passes when the
/// plaintexts match; they are compared in memory and wiped on drop.
pub async fn round_trip(clients: &Clients, from: &Key, to: &Key) -> Check {
    let started = Instant::now();
    let mut check = Check {
        kind: "round_trip",
        subject: from.display_name().to_owned(),
        region: Some(format!("{} -> {}", from.region, to.region)),
        passed: false,
        reason: String::new(),
        duration_ms: 0,
    };
    check.reason = match attempt(clients, from, to).await {
        Ok((generate_ms, decrypt_ms)) => {
            check.passed = true;
            format!(
                "a data key generated in {} ({generate_ms} ms) decrypted in {} ({decrypt_ms} ms) \
                 to the same plaintext",
                from.region, to.region
            )
        }
        Err(reason) => reason,
    };
    check.duration_ms = elapsed_ms(started);
    check
}

async fn attempt(clients: &Clients, from: &Key, to: &Key) -> Result<(u64, u64), String> {
    let source = clients
        .region(&from.region)
        .ok_or_else(|| format!("{} is not configured", from.region))?;
    let target = clients
        .region(&to.region)
        .ok_or_else(|| format!("{} is not configured", to.region))?;

    let started = Instant::now();
    let generated = source
        .kms
        .generate_data_key()
        .key_id(&from.arn)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .map_err(|e| format!("in {}: {}", from.region, classify("GenerateDataKey", e)))?;
    let generate_ms = elapsed_ms(started);
    let expected = Zeroizing::new(
        generated
            .plaintext
            .map(|b| b.into_inner())
            .unwrap_or_default(),
    );
    let Some(ciphertext) = generated.ciphertext_blob else {
        return Err("GenerateDataKey returned no ciphertext".into());
    };

    let started = Instant::now();
    let decrypted = target
        .kms
        .decrypt()
        .key_id(&to.arn)
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .map_err(|e| format!("in {}: {}", to.region, classify("Decrypt", e)))?;
    let decrypt_ms = elapsed_ms(started);
    let actual = Zeroizing::new(
        decrypted
            .plaintext
            .map(|b| b.into_inner())
            .unwrap_or_default(),
    );

    if expected.is_empty() || *expected != *actual {
        return Err(format!(
            "the data key decrypted in {} does not match the one generated in {}",
            to.region, from.region
        ));
    }
    Ok((generate_ms, decrypt_ms))
}

/// For each CloudHSM cluster in `lost`: is there a READY backup of it, copied to another region,
/// no older than `max_age_days`?
pub async fn backup_checks(clients: &Clients, lost: &str, max_age_days: u32) -> Vec<Check> {
    let Some(lost_clients) = clients.region(lost) else {
        return Vec::new();
    };
    let started = Instant::now();
    let clusters = {
        let _permit = lost_clients.permit().await;
        let pages = lost_clients
            .cloudhsm
            .describe_clusters()
            .into_paginator()
            .send();
        lost_clients.pages(pages).await
    };
    let clusters: Vec<String> = match clusters {
        Ok(pages) => pages
            .into_iter()
            .flat_map(|p| p.clusters.unwrap_or_default())
            .filter_map(|c| c.cluster_id)
            .collect(),
        Err(err) => {
            return vec![Check {
                kind: "loss",
                subject: format!("CloudHSM clusters in {lost}"),
                region: Some(lost.to_owned()),
                passed: false,
                reason: classify("DescribeClusters", err).to_string(),
                duration_ms: elapsed_ms(started),
            }];
        }
    };

    // Backups copied out of the lost region, wherever they landed.
    let mut copied = Vec::new();
    let mut unreadable = Vec::new();
    for other in clients.regions().filter(|r| r.region != lost) {
        let pages = {
            let _permit = other.permit().await;
            let pages = other.cloudhsm.describe_backups().into_paginator().send();
            other.pages(pages).await
        };
        match pages {
            Ok(pages) => copied.extend(
                pages
                    .into_iter()
                    .flat_map(|p| p.backups.unwrap_or_default())
                    .filter(|b| b.source_region.as_deref() == Some(lost))
                    .map(|b| (other.region.clone(), b)),
            ),
            Err(err) => unreadable.push(format!(
                "{}: {}",
                other.region,
                classify("DescribeBackups", err)
            )),
        }
    }

    let deadline = backup_deadline(max_age_days);
    clusters
        .into_iter()
        .map(|cluster| {
            let recent = copied.iter().find(|(_, b)| {
                b.source_cluster.as_deref() == Some(cluster.as_str())
                    && b.backup_state
                        .as_ref()
                        .is_some_and(|s| s.as_str() == "READY")
                    && b.create_timestamp
                        .as_ref()
                        .and_then(to_chrono)
                        .is_some_and(|t| t >= deadline)
            });
            let (passed, reason) = match recent {
                Some((region, backup)) => (
                    true,
                    format!("backup {} copied to {region}", backup.backup_id),
                ),
                None if !unreadable.is_empty() => (
                    false,
                    format!(
                        "no copied backup found, and some regions could not be read: {}",
                        unreadable.join("; ")
                    ),
                ),
                None => (
                    false,
                    format!(
                        "no READY backup of this cluster from the last {} was copied to \
                         another region (CopyBackupToRegion)",
                        crate::plural::days(max_age_days)
                    ),
                ),
            };
            Check {
                kind: "loss",
                subject: cluster,
                region: Some(lost.to_owned()),
                passed,
                reason,
                duration_ms: elapsed_ms(started),
            }
        })
        .collect()
}
