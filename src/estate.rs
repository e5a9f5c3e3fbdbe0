//! Domain types for the estate keyward watches: KMS keys, CloudHSM clusters, CloudWatch
//! alarms and PKCS#11 tokens, as fetched from their sources.
//!
//! These are plain data. The sources in [`crate::aws`] and [`crate::hsm`] build them, the
//! rotation evaluation in [`crate::rotation`] reads them, and the TUI and the headless commands
//! render them. Nothing here does I/O or knows the current time.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// An error from one source call, kept with the data it spoiled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceError {
    /// The API operation or PKCS#11 function that failed, e.g. `ListKeys`.
    pub operation: String,
    /// The service's error code (`AccessDeniedException`), or a keyward class such as
    /// `Timeout`, `ConnectionRefused` or `InvalidResponse`.
    pub code: String,
    /// The message as the service or the transport gave it.
    pub message: String,
    /// The AWS request id, where the service answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.operation, self.code, self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request {id})")?;
        }
        Ok(())
    }
}

/// Who manages a KMS key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyManager {
    Aws,
    Customer,
}

/// A key's place in a multi-region key group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MultiRegionRole {
    Primary,
    Replica,
}

/// The multi-region configuration of a key, as DescribeKey reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MultiRegion {
    /// Derived from where the primary lives, not from `MultiRegionKeyType`, which some
    /// emulators report as PRIMARY on replicas too.
    pub role: MultiRegionRole,
    pub primary_arn: String,
    pub primary_region: String,
    /// Regions holding replicas, as the key itself reports them.
    pub replica_regions: Vec<String>,
}

/// How a rotation happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationKind {
    Automatic,
    OnDemand,
}

/// One entry of ListKeyRotations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationRecord {
    pub date: DateTime<Utc>,
    pub kind: RotationKind,
}

/// What the KMS API said about a key's rotation; the verdict lives in [`crate::rotation`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RotationFacts {
    /// `None` when the status was not asked (key type cannot rotate) or the call failed.
    pub enabled: Option<bool>,
    /// `RotationPeriodInDays`, when the endpoint reports it.
    pub period_days: Option<u32>,
    /// `NextRotationDate`, when the endpoint reports it.
    pub next_rotation: Option<DateTime<Utc>>,
    /// Every rotation the key has had, oldest first.
    pub history: Vec<RotationRecord>,
}

impl RotationFacts {
    /// The most recent rotation of either kind.
    pub fn last_rotated(&self) -> Option<DateTime<Utc>> {
        self.history.iter().map(|r| r.date).max()
    }

    /// How many of the on-demand rotations AWS allows per key have been used.
    pub fn on_demand_used(&self) -> usize {
        self.history
            .iter()
            .filter(|r| r.kind == RotationKind::OnDemand)
            .count()
    }
}

/// The `state` of a key that DescribeKey could not describe; its errors say why.
pub const UNDESCRIBED: &str = "Unknown";

/// The `state` of a key that is listed but not yet described; the read is under way.
pub const DESCRIBING: &str = "Describing";

/// AWS allows this many on-demand rotations per key over its lifetime.
pub const ON_DEMAND_ROTATION_LIMIT: usize = 25;

/// A key's tags, sorted by name. A sorted list rather than a map: keys carry a handful of
/// tags, and a map's node would cost more than the tags themselves at estate scale.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Vec<(String, String)>);

impl Tags {
    /// The value of the tag `name`.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.position(name).ok().map(|i| &self.0[i].1)
    }

    /// Sets the tag `name`, returning the value it replaced.
    pub fn insert(&mut self, name: String, value: String) -> Option<String> {
        match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    /// The tags in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter().map(|(name, value)| (name, value))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name))
    }
}

impl FromIterator<(String, String)> for Tags {
    /// Tags in any order; of two with one name, the later wins, as a map's insert would.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut tags = Tags::default();
        for (name, value) in iter {
            tags.insert(name, value);
        }
        tags.0.shrink_to_fit();
        tags
    }
}

impl<const N: usize> From<[(String, String); N]> for Tags {
    fn from(tags: [(String, String); N]) -> Self {
        tags.into_iter().collect()
    }
}

impl Serialize for Tags {
    /// As a map from name to value.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// A KMS key with everything the console shows about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Key {
    pub arn: String,
    pub region: String,
    pub key_id: String,
    pub aliases: Vec<String>,
    pub description: String,
    pub key_spec: String,
    pub key_usage: String,
    pub origin: String,
    pub manager: KeyManager,
    /// `KeyState` as AWS spells it: Enabled, Disabled, PendingDeletion, PendingImport, ...
    pub state: String,
    pub created: Option<DateTime<Utc>>,
    pub deletion_date: Option<DateTime<Utc>>,
    pub custom_key_store_id: Option<String>,
    pub multi_region: Option<MultiRegion>,
    /// The key's tags (ListResourceTags); read for customer-managed keys only.
    pub tags: Tags,
    pub rotation: RotationFacts,
    /// Calls about this key that failed; the rest of the key still renders.
    pub errors: Vec<SourceError>,
}

impl Key {
    /// A key as the lists name it, before DescribeKey: its id and aliases, state
    /// [`DESCRIBING`], nothing else known.
    pub fn listed(region: &str, key_id: &str, aliases: Vec<String>) -> Key {
        Key {
            arn: String::new(),
            region: region.to_owned(),
            key_id: key_id.to_owned(),
            aliases,
            description: String::new(),
            key_spec: String::new(),
            key_usage: String::new(),
            origin: String::new(),
            manager: KeyManager::Customer,
            state: DESCRIBING.to_owned(),
            created: None,
            deletion_date: None,
            custom_key_store_id: None,
            multi_region: None,
            tags: Tags::default(),
            rotation: RotationFacts::default(),
            errors: Vec::new(),
        }
    }

    /// The order a region's keys are listed in: by name, then by key id.
    pub fn list_order(a: &Key, b: &Key) -> std::cmp::Ordering {
        a.display_name()
            .cmp(b.display_name())
            .then(a.key_id.cmp(&b.key_id))
    }

    /// The first alias, or the key id when the key has none.
    pub fn display_name(&self) -> &str {
        self.aliases
            .first()
            .map(String::as_str)
            .unwrap_or(&self.key_id)
    }

    pub fn is_symmetric_default(&self) -> bool {
        self.key_spec == "SYMMETRIC_DEFAULT"
    }
}

/// One HSM inside a CloudHSM cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hsm {
    pub id: String,
    pub state: String,
    pub availability_zone: String,
    pub ip_address: Option<String>,
}

/// A CloudHSM backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    pub id: String,
    pub state: String,
    pub created: Option<DateTime<Utc>>,
    /// Set on a backup that was copied here from another region.
    pub source_region: Option<String>,
}

/// A CloudHSM v2 cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cluster {
    pub id: String,
    pub region: String,
    pub state: String,
    pub state_message: Option<String>,
    pub hsm_type: String,
    pub hsms: Vec<Hsm>,
    pub backup_retention_days: Option<u32>,
    pub latest_backup: Option<Backup>,
    pub created: Option<DateTime<Utc>>,
}

/// A CloudWatch alarm's state; "insufficient data" is neutral, neither good nor bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn label(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "NO DATA",
        }
    }
}

/// A CloudWatch metric alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    pub name: String,
    pub region: String,
    pub state: AlarmState,
    pub reason: String,
    pub since: Option<DateTime<Utc>>,
    pub namespace: Option<String>,
    pub metric: Option<String>,
    pub threshold: Option<f64>,
    pub comparison: Option<String>,
}

/// The outcome of one fetch from one source: the data, or the error that prevented it.
pub type Fetched<T> = Result<T, SourceError>;

/// Everything fetched from one region in one refresh.
#[derive(Debug, Clone, Serialize)]
pub struct RegionSnapshot {
    pub region: String,
    pub fetched_at: DateTime<Utc>,
    pub keys: Fetched<Vec<Key>>,
    pub clusters: Fetched<Vec<Cluster>>,
    pub alarms: Fetched<Vec<Alarm>>,
}

/// A region's snapshot with how often AWS throttled the fetch that made it.
#[derive(Debug, Clone, Serialize)]
pub struct RegionFetch {
    #[serde(flatten)]
    pub snapshot: RegionSnapshot,
    /// Attempts during the fetch that the region answered with a throttling error; each was
    /// retried with backoff, or failed with its error after the last attempt. Zero when AWS
    /// never pushed back.
    pub throttled: u32,
    /// The keys were reported as they were read (a console's progressive read): the
    /// snapshot's keys are only those no report carried, to be merged with the reported ones.
    #[serde(skip)]
    pub reported: bool,
}

impl From<RegionSnapshot> for RegionFetch {
    /// A fetch that AWS never throttled, holding all its keys.
    fn from(snapshot: RegionSnapshot) -> Self {
        RegionFetch {
            snapshot,
            throttled: 0,
            reported: false,
        }
    }
}

/// A source's data as the console holds it between refreshes: the last good data, when it
/// was fetched, and the error of the latest attempt if that attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed<T> {
    pub data: Option<T>,
    pub fetched_at: Option<DateTime<Utc>>,
    pub error: Option<SourceError>,
    pub loading: bool,
}

impl<T> Default for Feed<T> {
    fn default() -> Self {
        Feed {
            data: None,
            fetched_at: None,
            error: None,
            loading: false,
        }
    }
}

impl<T> Feed<T> {
    /// Folds in the result of an attempt made at `at`; an error keeps the last good data.
    pub fn absorb(&mut self, result: Fetched<T>, at: DateTime<Utc>) {
        self.loading = false;
        match result {
            Ok(data) => {
                self.data = Some(data);
                self.fetched_at = Some(at);
                self.error = None;
            }
            Err(err) => self.error = Some(err),
        }
    }

    /// How old the last good data is at `now`; `None` before the first success.
    pub fn age(&self, now: DateTime<Utc>) -> Option<chrono::TimeDelta> {
        self.fetched_at.map(|at| now - at)
    }
}

/// The console's picture of one region, across refreshes.
#[derive(Debug, Clone, Default)]
pub struct RegionState {
    /// Shared, so a refresh and the cache read the keys without copying them.
    pub keys: Feed<Arc<Vec<Key>>>,
    pub clusters: Feed<Vec<Cluster>>,
    pub alarms: Feed<Vec<Alarm>>,
    /// When the latest refresh of this region finished, successful or not.
    pub attempted_at: Option<DateTime<Utc>>,
    /// Throttled attempts in the latest refresh (see [`RegionFetch::throttled`]).
    pub throttled: u32,
    /// When a refresh last met throttling, so the console can show throttled periods.
    pub last_throttled_at: Option<DateTime<Utc>>,
    /// Keys the refresh under way has listed and is still describing; empty once it is done.
    pub describing: std::collections::HashSet<String>,
}

impl RegionState {
    pub fn absorb(&mut self, snapshot: RegionSnapshot) {
        let at = snapshot.fetched_at;
        self.keys.absorb(snapshot.keys.map(Arc::new), at);
        self.clusters.absorb(snapshot.clusters, at);
        self.alarms.absorb(snapshot.alarms, at);
        self.attempted_at = Some(at);
        self.describing.clear();
    }

    /// Folds in a fetch like [`absorb`](Self::absorb), and notes whether AWS throttled it.
    pub fn absorb_fetch(&mut self, fetch: RegionFetch) {
        let at = fetch.snapshot.fetched_at;
        self.absorb(fetch.snapshot);
        self.throttled = fetch.throttled;
        if fetch.throttled > 0 {
            self.last_throttled_at = Some(at);
        }
    }

    /// The last good key list, empty before the first.
    pub fn key_list(&self) -> &[Key] {
        self.keys.data.as_deref().map_or(&[], Vec::as_slice)
    }

    pub fn set_loading(&mut self) {
        self.keys.loading = true;
        self.clusters.loading = true;
        self.alarms.loading = true;
    }

    pub fn is_loading(&self) -> bool {
        self.keys.loading || self.clusters.loading || self.alarms.loading
    }
}

/// Every region the console watches, in configuration order.
#[derive(Debug, Clone, Default)]
pub struct Estate {
    pub regions: BTreeMap<String, RegionState>,
    pub order: Vec<String>,
}

impl Estate {
    pub fn new(regions: &[String]) -> Self {
        Estate {
            regions: regions
                .iter()
                .map(|r| (r.clone(), RegionState::default()))
                .collect(),
            order: regions.to_vec(),
        }
    }

    /// Regions in configuration order with their state.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RegionState)> {
        self.order
            .iter()
            .filter_map(|r| self.regions.get(r).map(|s| (r.as_str(), s)))
    }

    /// Every key of every region whose key list has been fetched at least once.
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.iter().flat_map(|(_, s)| s.key_list())
    }

    pub fn clusters(&self) -> impl Iterator<Item = &Cluster> {
        self.iter()
            .flat_map(|(_, s)| s.clusters.data.iter().flatten())
    }

    pub fn alarms(&self) -> impl Iterator<Item = &Alarm> {
        self.iter()
            .flat_map(|(_, s)| s.alarms.data.iter().flatten())
    }
}

/// The PKCS#11 module as cryptoki reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pkcs11Library {
    pub path: String,
    pub description: String,
    pub manufacturer: String,
    pub cryptoki_version: String,
    pub library_version: String,
}

/// A token's flags and limits that matter to an officer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenView {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub initialized: bool,
    pub user_pin_initialized: bool,
    pub login_required: bool,
    pub user_pin_count_low: bool,
    pub user_pin_final_try: bool,
    pub user_pin_locked: bool,
    pub user_pin_to_be_changed: bool,
    pub so_pin_count_low: bool,
    pub so_pin_final_try: bool,
    pub so_pin_locked: bool,
    pub so_pin_to_be_changed: bool,
    pub min_pin_len: u64,
    pub max_pin_len: u64,
    /// Bytes, where the token reports them.
    pub free_public_memory: Option<u64>,
    pub total_public_memory: Option<u64>,
    pub free_private_memory: Option<u64>,
    pub total_private_memory: Option<u64>,
}

impl TokenView {
    /// The PIN flags an officer acts on, in words, most severe first; what needs action is
    /// in capitals.
    pub fn pin_flags(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.user_pin_initialized {
            "user PIN set"
        } else {
            "user PIN NOT SET"
        }];
        for (set, text) in [
            (self.user_pin_locked, "user PIN LOCKED"),
            (self.user_pin_final_try, "user PIN FINAL TRY"),
            (self.user_pin_count_low, "user PIN count low"),
            (self.user_pin_to_be_changed, "user PIN to be changed"),
            (self.so_pin_locked, "SO PIN LOCKED"),
            (self.so_pin_final_try, "SO PIN FINAL TRY"),
            (self.so_pin_count_low, "SO PIN count low"),
            (self.so_pin_to_be_changed, "SO PIN to be changed"),
        ] {
            if set {
                flags.push(text);
            }
        }
        flags
    }
}

/// A PKCS#11 slot; its id is valid only for this listing, never remembered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotView {
    pub slot_id: u64,
    pub description: String,
    pub manufacturer: String,
    pub token: Option<TokenView>,
}

/// One listing of the configured PKCS#11 module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HsmSnapshot {
    pub library: Pkcs11Library,
    pub slots: Vec<SlotView>,
}

/// How a key check value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KcvMethod {
    /// The first 3 bytes of encrypting one all-zero block with the key under AES-ECB.
    AesEcbZeroBlock,
    /// The token's own `CKA_CHECK_VALUE` attribute.
    CheckValueAttribute,
    /// The token allowed neither.
    NotAvailable,
}

impl std::fmt::Display for KcvMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KcvMethod::AesEcbZeroBlock => "AES-ECB encryption of a zero block",
            KcvMethod::CheckValueAttribute => "CKA_CHECK_VALUE read from the token",
            KcvMethod::NotAvailable => "not available",
        })
    }
}

/// A key's check value: 6 hex digits that identify the key material without revealing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyCheckValue {
    /// Lowercase hex, 6 digits; `None` when the token allowed no method.
    pub value: Option<String>,
    pub method: KcvMethod,
    /// Why the preferred method was not used, or why there is no value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One object on a token as a logged-in user sees it, with the attributes that make a root
/// key trustworthy. `None` means the token did not report that attribute for this object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectView {
    pub label: String,
    /// `CKA_ID`, lowercase hex.
    pub id: String,
    /// `secret key`, `private key`, `public key`, `certificate`, `data`, ...
    pub class: String,
    /// `AES`, `RSA`, `EC`, ...; `None` for objects that are not keys.
    pub key_type: Option<String>,
    /// Key size in bits, where it follows from the attributes (AES, generic secret, RSA).
    pub size_bits: Option<u64>,
    pub token: Option<bool>,
    pub private: Option<bool>,
    pub sensitive: Option<bool>,
    pub extractable: Option<bool>,
    pub never_extractable: Option<bool>,
    pub always_sensitive: Option<bool>,
    pub local: Option<bool>,
    pub encrypt: Option<bool>,
    pub decrypt: Option<bool>,
    pub wrap: Option<bool>,
    pub unwrap: Option<bool>,
    /// For secret keys only.
    pub kcv: Option<KeyCheckValue>,
}
