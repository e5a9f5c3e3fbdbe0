//! KMS reads: keys, aliases, rotation status and rotation history of one region.

use std::collections::HashMap;

use aws_sdk_kms::types::{KeyMetadata, MultiRegionConfiguration};
use futures::StreamExt;

use super::{RegionClients, classify, to_chrono};
use crate::estate::{
    Fetched, Key, KeyManager, MultiRegion, MultiRegionRole, RotationFacts, RotationKind,
    RotationRecord, SourceError, Tags, UNDESCRIBED,
};
use crate::rotation::not_rotatable_reason;

/// The operation whose failure every key of a region carries when the aliases cannot be
/// listed.
pub(super) const ALIASES_OPERATION: &str = "ListAliases";

/// Every key of the region with its aliases and rotation facts. Fails as a whole only when
/// the keys cannot be listed; a key whose own calls fail carries the error on its row.
pub async fn fetch_keys(clients: &RegionClients) -> Fetched<Vec<Key>> {
    Ok(fetch_keys_reusing(clients, |_| None, None).await?.keys)
}

/// A region's keys read through the lists, with how many were described afresh.
pub(super) struct ListedKeys {
    pub keys: Vec<Key>,
    pub described: usize,
    /// The read reported its keys through [`KeyProgress`] as it went: `keys` holds only those
    /// no report carried.
    pub reported: bool,
}

/// What a read of a region's keys has learnt before it is done, for a console that shows rows
/// as they come: a region of thousands of keys takes minutes to describe within its budget,
/// but is listed in a request or two. Each key is reported once, and the finished read then
/// holds only the keys that no report carried (see [`crate::estate::RegionFetch::reported`]).
#[derive(Debug, Clone)]
pub enum KeyProgress {
    /// The keys and aliases are listed. `keys` holds every listed key in list order: those
    /// whose facts are still good as they are, the others as [`Key::listed`] placeholders,
    /// which `describing` names.
    Listed {
        keys: Vec<Key>,
        describing: Vec<String>,
    },
    /// Keys described since the previous report.
    Described(Vec<Key>),
}

/// Where a read reports its [`KeyProgress`], if anyone listens.
pub type ProgressSink<'a> = Option<&'a (dyn Fn(KeyProgress) + Send + Sync)>;

/// How often a read reports the keys it has described.
const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Lists the region's keys and aliases, takes each listed key that `reuse` hands back as it
/// is (with the aliases just listed), and describes the others, reporting to `progress` on
/// the way. A ListAliases failure keeps the reused keys' previous aliases and is noted on
/// every key.
pub(super) async fn fetch_keys_reusing(
    clients: &RegionClients,
    reuse: impl Fn(&str) -> Option<Key>,
    progress: ProgressSink<'_>,
) -> Fetched<ListedKeys> {
    let (key_ids, aliases) = tokio::join!(list_key_ids(clients), list_aliases(clients));
    let key_ids = key_ids?;
    let (aliases, alias_error) = match aliases {
        Ok(aliases) => (Some(aliases), None),
        Err(err) => (None, Some(err)),
    };
    let listed_aliases = |key_id: &str| {
        aliases
            .as_ref()
            .and_then(|a| a.get(key_id).cloned())
            .unwrap_or_default()
    };

    // Step 1: the keys whose facts are still good, with the aliases as listed now.
    let mut keys = Vec::with_capacity(key_ids.len());
    let mut to_describe = Vec::new();
    for key_id in key_ids {
        match reuse(&key_id) {
            Some(mut key) => {
                key.errors.retain(|e| e.operation != ALIASES_OPERATION);
                if aliases.is_some() {
                    key.aliases = listed_aliases(&key_id);
                }
                key.errors.extend(alias_error.clone());
                keys.push(key);
            }
            None => to_describe.push(key_id),
        }
    }

    // With someone listening, keys are handed over as they are known, not copied: the
    // listing takes the keys reused as they are, each report the keys described since the
    // one before, and the result only what no report carried.
    let reporting = progress.filter(|_| !to_describe.is_empty());
    if let Some(report) = reporting {
        let mut listed = std::mem::take(&mut keys);
        listed.extend(
            to_describe
                .iter()
                .map(|id| Key::listed(&clients.region, id, listed_aliases(id))),
        );
        listed.sort_by(Key::list_order);
        report(KeyProgress::Listed {
            keys: listed,
            describing: to_describe.clone(),
        });
    }

    // Step 2: the others, described concurrently within the region's permits.
    let described = to_describe.len();
    let mut fresh = futures::stream::iter(to_describe)
        .map(|key_id| {
            let aliases = listed_aliases(&key_id);
            let alias_error = alias_error.clone();
            async move {
                let mut key = describe(clients, &key_id, aliases).await;
                key.errors.extend(alias_error);
                key
            }
        })
        .buffer_unordered(clients.max_concurrency);
    let mut last_report = tokio::time::Instant::now();
    while let Some(key) = fresh.next().await {
        keys.push(key);
        if let Some(report) = reporting
            && last_report.elapsed() >= PROGRESS_INTERVAL
        {
            report(KeyProgress::Described(std::mem::take(&mut keys)));
            last_report = tokio::time::Instant::now();
        }
    }
    keys.sort_by(Key::list_order);
    Ok(ListedKeys {
        keys,
        described,
        reported: reporting.is_some(),
    })
}

/// One key, freshly read: DescribeKey, its aliases and its rotation facts. Fails only when
/// the key cannot be described.
pub async fn fetch_key(clients: &RegionClients, key_id: &str) -> Fetched<Key> {
    let mut key = describe(clients, key_id, Vec::new()).await;
    if key.state == UNDESCRIBED {
        return Err(key.errors.swap_remove(0));
    }
    // ListAliases filters by key id or ARN only, so ask with the id DescribeKey resolved.
    let aliases = {
        let _permit = clients.permit().await;
        let pages = clients
            .kms
            .list_aliases()
            .key_id(&key.key_id)
            .into_paginator()
            .page_size(clients.page_size)
            .send();
        clients.pages(pages).await
    };
    match aliases {
        Ok(pages) => {
            key.aliases = pages
                .into_iter()
                .flat_map(|p| p.aliases.unwrap_or_default())
                .filter_map(|a| a.alias_name)
                .collect();
            key.aliases.sort();
        }
        Err(err) => key.errors.push(classify("ListAliases", err)),
    }
    Ok(key)
}

async fn list_key_ids(clients: &RegionClients) -> Fetched<Vec<String>> {
    let _permit = clients.permit().await;
    let pages = clients
        .kms
        .list_keys()
        .into_paginator()
        .page_size(clients.page_size)
        .send();
    // Through `pages`, so every page pays the region's budget.
    let pages = clients
        .pages(pages)
        .await
        .map_err(|e| classify("ListKeys", e))?;
    Ok(pages
        .into_iter()
        .flat_map(|p| p.keys.unwrap_or_default())
        .filter_map(|entry| entry.key_id)
        .collect())
}

/// Alias names by target key id. Aliases without a target (AWS's reserved aliases before first
/// use) are skipped.
async fn list_aliases(clients: &RegionClients) -> Fetched<HashMap<String, Vec<String>>> {
    let _permit = clients.permit().await;
    let pages = clients
        .kms
        .list_aliases()
        .into_paginator()
        .page_size(clients.page_size)
        .send();
    let pages = clients
        .pages(pages)
        .await
        .map_err(|e| classify(ALIASES_OPERATION, e))?;
    let entries = pages
        .into_iter()
        .flat_map(|p| p.aliases.unwrap_or_default());
    let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
    for entry in entries {
        if let (Some(name), Some(target)) = (entry.alias_name, entry.target_key_id) {
            by_key.entry(target).or_default().push(name);
        }
    }
    for names in by_key.values_mut() {
        names.sort();
    }
    Ok(by_key)
}

/// DescribeKey, then the rotation calls that apply to this kind of key.
async fn describe(clients: &RegionClients, key_id: &str, aliases: Vec<String>) -> Key {
    let described = {
        let _permit = clients.permit().await;
        clients.kms.describe_key().key_id(key_id).send().await
    };
    let mut key = match described.map(|out| out.key_metadata) {
        Ok(Some(meta)) => key_from_metadata(&meta, &clients.region, aliases),
        Ok(None) => {
            let missing = SourceError {
                operation: "DescribeKey".into(),
                code: "InvalidResponse".into(),
                message: "the answer held no key metadata".into(),
                request_id: None,
            };
            return undescribed_key(clients, key_id, aliases, missing);
        }
        Err(err) => return undescribed_key(clients, key_id, aliases, classify("DescribeKey", err)),
    };

    let rotation_applies = key.manager == KeyManager::Customer
        && not_rotatable_reason(&key).is_none()
        && matches!(key.state.as_str(), "Enabled" | "Disabled");
    let key_id = key.key_id.clone();
    let (rotation, tags) = tokio::join!(
        async {
            if rotation_applies {
                Some(tokio::join!(
                    rotation_status(clients, &key_id),
                    rotation_history(clients, &key_id)
                ))
            } else {
                None
            }
        },
        async {
            if key.manager == KeyManager::Customer {
                Some(list_tags(clients, &key_id).await)
            } else {
                None
            }
        },
    );
    match tags {
        Some(Ok(tags)) => key.tags = tags,
        Some(Err(err)) => key.errors.push(err),
        None => {}
    }
    if let Some((status, history)) = rotation {
        match status {
            Ok(facts) => {
                key.rotation.enabled = facts.enabled;
                key.rotation.period_days = facts.period_days;
                key.rotation.next_rotation = facts.next_rotation;
            }
            Err(err) => key.errors.push(err),
        }
        match history {
            Ok(history) => key.rotation.history = history,
            Err(err) => key.errors.push(err),
        }
    }
    key
}

/// The key's tags. ListResourceTags allows at most 50 per page, so the page size is AWS's own.
async fn list_tags(clients: &RegionClients, key_id: &str) -> Fetched<Tags> {
    let _permit = clients.permit().await;
    let pages = clients
        .kms
        .list_resource_tags()
        .key_id(key_id)
        .into_paginator()
        .send();
    let pages = clients
        .pages(pages)
        .await
        .map_err(|e| classify("ListResourceTags", e))?;
    Ok(pages
        .into_iter()
        .flat_map(|p| p.tags.unwrap_or_default())
        .map(|t| (t.tag_key, t.tag_value))
        .collect())
}

async fn rotation_status(clients: &RegionClients, key_id: &str) -> Fetched<RotationFacts> {
    let _permit = clients.permit().await;
    let out = clients
        .kms
        .get_key_rotation_status()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| classify("GetKeyRotationStatus", e))?;
    Ok(RotationFacts {
        enabled: Some(out.key_rotation_enabled),
        period_days: out
            .rotation_period_in_days
            .and_then(|d| u32::try_from(d).ok()),
        next_rotation: out.next_rotation_date.as_ref().and_then(to_chrono),
        history: Vec::new(),
    })
}

async fn rotation_history(clients: &RegionClients, key_id: &str) -> Fetched<Vec<RotationRecord>> {
    let _permit = clients.permit().await;
    let pages = clients
        .kms
        .list_key_rotations()
        .key_id(key_id)
        .into_paginator()
        .page_size(clients.page_size)
        .send();
    let pages = clients
        .pages(pages)
        .await
        .map_err(|e| classify("ListKeyRotations", e))?;
    let entries: Vec<_> = pages
        .into_iter()
        .flat_map(|p| p.rotations.unwrap_or_default())
        .collect();
    let mut history: Vec<RotationRecord> = entries
        .iter()
        .filter_map(|entry| {
            let date = entry.rotation_date.as_ref().and_then(to_chrono)?;
            let kind = match entry.rotation_type.as_ref().map(|t| t.as_str()) {
                Some("ON_DEMAND") => RotationKind::OnDemand,
                _ => RotationKind::Automatic,
            };
            Some(RotationRecord { date, kind })
        })
        .collect();
    history.sort_by_key(|r| r.date);
    Ok(history)
}

/// Builds a [`Key`] from DescribeKey's answer.
pub fn key_from_metadata(meta: &KeyMetadata, region: &str, aliases: Vec<String>) -> Key {
    let arn = meta.arn.clone().unwrap_or_default();
    let manager = match meta.key_manager.as_ref().map(|m| m.as_str()) {
        Some("AWS") => KeyManager::Aws,
        _ => KeyManager::Customer,
    };
    Key {
        region: region.to_owned(),
        key_id: meta.key_id.clone(),
        aliases,
        description: meta.description.clone().unwrap_or_default(),
        key_spec: meta
            .key_spec
            .as_ref()
            .map_or_else(|| "SYMMETRIC_DEFAULT".to_owned(), |s| s.as_str().to_owned()),
        key_usage: meta
            .key_usage
            .as_ref()
            .map_or_else(|| "ENCRYPT_DECRYPT".to_owned(), |u| u.as_str().to_owned()),
        origin: meta
            .origin
            .as_ref()
            .map_or_else(|| "AWS_KMS".to_owned(), |o| o.as_str().to_owned()),
        manager,
        state: meta.key_state.as_ref().map_or_else(
            || if meta.enabled { "Enabled" } else { "Disabled" }.to_owned(),
            |s| s.as_str().to_owned(),
        ),
        created: meta.creation_date.as_ref().and_then(to_chrono),
        deletion_date: meta.deletion_date.as_ref().and_then(to_chrono),
        custom_key_store_id: meta.custom_key_store_id.clone(),
        multi_region: meta
            .multi_region_configuration
            .as_ref()
            .filter(|_| meta.multi_region.unwrap_or(true))
            .and_then(|config| multi_region(config, &arn)),
        tags: Tags::default(),
        rotation: RotationFacts::default(),
        errors: Vec::new(),
        arn,
    }
}

/// The key's role is read from where the primary is, not from `MultiRegionKeyType`.
fn multi_region(config: &MultiRegionConfiguration, own_arn: &str) -> Option<MultiRegion> {
    let primary = config.primary_key.as_ref()?;
    let primary_arn = primary.arn.clone()?;
    let role = if primary_arn == own_arn {
        MultiRegionRole::Primary
    } else {
        MultiRegionRole::Replica
    };
    let mut replica_regions: Vec<String> = config
        .replica_keys()
        .iter()
        .filter_map(|r| r.region.clone())
        .collect();
    replica_regions.sort();
    Some(MultiRegion {
        role,
        primary_region: primary.region.clone().unwrap_or_default(),
        primary_arn,
        replica_regions,
    })
}

/// A key DescribeKey could not describe: only its id, aliases and the error are known.
fn undescribed_key(
    clients: &RegionClients,
    key_id: &str,
    aliases: Vec<String>,
    error: SourceError,
) -> Key {
    let mut key = Key::listed(&clients.region, key_id, aliases);
    key.state = UNDESCRIBED.to_owned();
    key.errors.push(error);
    key
}
