//! Incremental refreshes: after the first full read of a region, a refresh lists the keys and
//! aliases (two cheap, paginated calls) and describes only the keys that need it, reusing the
//! previous facts of the others.
//!
//! A key is described again when it is new, when its last read failed, when the caller
//! invalidated it, when a rotation or deletion date it carried has passed, or when its
//! re-validation moment came round. Each key's moment is a fixed phase of
//! [`REVALIDATE_WINDOW`], derived from its id, so re-validation is spread evenly over the
//! refreshes (each re-reads about `interval / window` of the keys) and needs no state beyond
//! the previous snapshot's time. Keys and aliases that appear or disappear show in the next
//! refresh; a change made elsewhere to a listed key (disabled, deletion scheduled, rotation
//! turned off) shows within the window.
//!
//! TODO: changes made elsewhere could show at once from CloudTrail events (through
//! EventBridge), but that needs infrastructure in the operator's account that keyward does not
//! own; until then the window bounds how stale a listed key's facts can be.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};

use super::kms::{self, ALIASES_OPERATION, ListedKeys, ProgressSink};
use super::{RegionClients, cloudhsm, cloudwatch, name_credentials_source};
use crate::estate::{DESCRIBING, Key, RegionFetch, RegionSnapshot, UNDESCRIBED};

/// Every key's facts are read again at least once in this long, whatever else happens.
pub const REVALIDATE_WINDOW: TimeDelta = TimeDelta::minutes(30);

/// What the console already knows about a region's keys, for an incremental refresh.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    /// The keys of the last good read of the region (its `Feed` data).
    pub keys: &'a [Key],
    /// When they were read: the `fetched_at` of the snapshot they came from.
    pub fetched_at: DateTime<Utc>,
    /// Key ids (or ARNs) to describe again whatever their age, e.g. keys an action touched.
    pub invalidated: &'a [String],
}

impl<'a> Known<'a> {
    /// Keys read at `fetched_at`, none invalidated.
    pub fn new(keys: &'a [Key], fetched_at: DateTime<Utc>) -> Self {
        Known {
            keys,
            fetched_at,
            invalidated: &[],
        }
    }
}

/// Reads one region incrementally: keys through [`Known`] (a full read when `previous` is
/// `None`), clusters and alarms in full. `now` is when the refresh starts; it becomes the
/// snapshot's `fetched_at`, so the next refresh re-validates the keys whose moment falls
/// after it.
pub async fn fetch_region_incremental(
    clients: &RegionClients,
    previous: Option<Known<'_>>,
    now: DateTime<Utc>,
) -> RegionFetch {
    fetch_region_reporting(clients, previous, now, None).await
}

/// [`fetch_region_incremental`], reporting the keys to `progress` as they are listed and
/// described, before the whole region is read.
pub async fn fetch_region_reporting(
    clients: &RegionClients,
    previous: Option<Known<'_>>,
    now: DateTime<Utc>,
    progress: ProgressSink<'_>,
) -> RegionFetch {
    let throttled_before = clients.throttled_total();
    let (keys, clusters, alarms) = tokio::join!(
        fetch_keys_incremental(clients, previous, now, progress),
        cloudhsm::fetch_clusters(clients),
        cloudwatch::fetch_alarms(clients),
    );
    let source = &*clients.credentials_source;
    let reported = keys.as_ref().is_ok_and(|listed| listed.reported);
    let snapshot = RegionSnapshot {
        region: clients.region.clone(),
        fetched_at: now,
        keys: name_credentials_source(keys.map(|listed| listed.keys), source),
        clusters: name_credentials_source(clusters, source),
        alarms: name_credentials_source(alarms, source),
    };
    RegionFetch {
        snapshot,
        throttled: clients.throttled_total().wrapping_sub(throttled_before),
        reported,
    }
}

async fn fetch_keys_incremental(
    clients: &RegionClients,
    previous: Option<Known<'_>>,
    now: DateTime<Utc>,
    progress: ProgressSink<'_>,
) -> crate::estate::Fetched<ListedKeys> {
    let Some(known) = previous else {
        return kms::fetch_keys_reusing(clients, |_| None, progress).await;
    };
    let by_id: HashMap<&str, &Key> = known
        .keys
        .iter()
        .map(|key| (key.key_id.as_str(), key))
        .collect();
    let invalidated: HashSet<&str> = known.invalidated.iter().map(String::as_str).collect();
    let listed = kms::fetch_keys_reusing(
        clients,
        |key_id| {
            let key = by_id.get(key_id)?;
            let stale = invalidated.contains(key.key_id.as_str())
                || invalidated.contains(key.arn.as_str())
                || needs_reading(key, known.fetched_at, now);
            (!stale).then(|| (*key).clone())
        },
        progress,
    )
    .await?;
    tracing::debug!(
        region = %clients.region,
        keys = listed.keys.len(),
        described = listed.described,
        "incremental key refresh"
    );
    Ok(listed)
}

/// Whether a key read at `read_at` must be described again at `now`, invalidation aside.
pub fn needs_reading(key: &Key, read_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let failed = key.state == UNDESCRIBED
        || key.state == DESCRIBING
        || key.errors.iter().any(|e| e.operation != ALIASES_OPERATION);
    let passed = |date: Option<DateTime<Utc>>| date.is_some_and(|d| read_at < d && d <= now);
    failed
        || passed(key.rotation.next_rotation)
        || passed(key.deletion_date)
        || revalidation_due(&key.key_id, read_at, now)
}

/// Whether the key's re-validation moment (a phase of [`REVALIDATE_WINDOW`] fixed by its id)
/// falls in `(read_at, now]`; always when a whole window has passed.
pub fn revalidation_due(key_id: &str, read_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let window = REVALIDATE_WINDOW.num_milliseconds();
    let elapsed = (now - read_at).num_milliseconds();
    if elapsed >= window {
        return true;
    }
    if elapsed <= 0 {
        return false;
    }
    let phase = (fnv1a(key_id.as_bytes()) % window.unsigned_abs()) as i64;
    let cycle = |t: DateTime<Utc>| (t.timestamp_millis() - phase).div_euclid(window);
    cycle(now) > cycle(read_at)
}

/// FNV-1a, 64 bits: a hash that is the same in every process and on every platform.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estate::{KeyManager, RotationFacts, SourceError};

    fn key(id: &str) -> Key {
        Key {
            arn: format!("arn:aws:kms:us-east-1:111122223333:key/{id}"),
            region: "us-east-1".into(),
            key_id: id.into(),
            aliases: Vec::new(),
            description: String::new(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            origin: "AWS_KMS".into(),
            manager: KeyManager::Customer,
            state: "Enabled".into(),
            created: None,
            deletion_date: None,
            custom_key_store_id: None,
            multi_region: None,
            tags: Default::default(),
            rotation: RotationFacts::default(),
            errors: Vec::new(),
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn every_key_is_revalidated_once_per_window() {
        let ids: Vec<String> = (0..500).map(|i| format!("key-{i:04}")).collect();
        let step = 60;
        let window = REVALIDATE_WINDOW.num_seconds();
        let mut reads = vec![0; ids.len()];
        let mut most_in_one_refresh = 0;
        for refresh in 0..window / step {
            let (read_at, now) = (at(refresh * step), at((refresh + 1) * step));
            let due: Vec<usize> = (0..ids.len())
                .filter(|&i| revalidation_due(&ids[i], read_at, now))
                .collect();
            most_in_one_refresh = most_in_one_refresh.max(due.len());
            for i in due {
                reads[i] += 1;
            }
        }
        assert!(reads.iter().all(|&n| n == 1), "reads per key: {reads:?}");
        // 500 keys over 30 one-minute refreshes: about 17 each, never a large share.
        assert!(
            most_in_one_refresh < 50,
            "{most_in_one_refresh} in one refresh"
        );
    }

    #[test]
    fn a_whole_window_or_more_revalidates_everything_and_no_time_nothing() {
        assert!(revalidation_due(
            "k",
            at(0),
            at(REVALIDATE_WINDOW.num_seconds())
        ));
        assert!(!revalidation_due("k", at(10), at(10)));
        assert!(!revalidation_due("k", at(10), at(0)));
    }

    /// A key id whose re-validation moment is not in `(read_at, now]`.
    fn quiet_id(read_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
        (0..)
            .map(|i| format!("quiet-{i}"))
            .find(|id| !revalidation_due(id, read_at, now))
            .unwrap()
    }

    #[test]
    fn failed_keys_are_read_again_but_alias_failures_do_not_count() {
        let (read_at, now) = (at(0), at(60));
        let id = quiet_id(read_at, now);
        let timeout = |operation: &str| SourceError {
            operation: operation.into(),
            code: "Timeout".into(),
            message: "slow".into(),
            request_id: None,
        };

        let mut listed_badly = key(&id);
        listed_badly.errors.push(timeout(ALIASES_OPERATION));
        assert!(!needs_reading(&listed_badly, read_at, now));

        let mut untagged = key(&id);
        untagged.errors.push(timeout("ListResourceTags"));
        assert!(needs_reading(&untagged, read_at, now));

        let mut undescribed = key(&id);
        undescribed.state = UNDESCRIBED.into();
        assert!(needs_reading(&undescribed, read_at, now));
    }

    #[test]
    fn a_rotation_or_deletion_date_that_passed_since_the_read_forces_a_read() {
        // A key whose own moment is not in the interval, so only the dates decide.
        let (read_at, now) = (at(0), at(60));
        let id = quiet_id(read_at, now);
        let mut rotating = key(&id);
        assert!(!needs_reading(&rotating, read_at, now));
        rotating.rotation.next_rotation = Some(at(30));
        assert!(needs_reading(&rotating, read_at, now));
        rotating.rotation.next_rotation = Some(at(-30));
        assert!(!needs_reading(&rotating, read_at, now));

        let mut deleting = key(&id);
        deleting.deletion_date = Some(at(59));
        assert!(needs_reading(&deleting, read_at, now));
    }

    #[test]
    fn the_hash_is_stable() {
        // FNV-1a's published test vector: the phase must not change between releases.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
