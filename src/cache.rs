//! The snapshot cache: the last per-region snapshots on disk, so the console can draw its first
//! frame from them (marked stale) before the first live read answers.
//!
//! One JSON file in the platform's cache directory, readable by the user alone (file 0600,
//! directory 0700), replaced atomically (written beside, synced, renamed). The cache is a
//! convenience, never a source of truth: a file that is missing, unreadable, from another
//! schema version or from another estate (its scope differs) is ignored with a warning.
//!
//! The estate types only serialize, so the file is read into mirror types here and converted;
//! a round-trip test keeps the two in step.
//! TODO: derive `Deserialize` on the estate types and drop the mirrors, once `estate.rs`
//! takes that dependency on serde's derive for reading too.

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::estate::{
    Alarm, AlarmState, Backup, Cluster, Fetched, Hsm, Key, KeyManager, MultiRegion,
    MultiRegionRole, RegionSnapshot, RotationFacts, RotationKind, RotationRecord, SourceError,
};

/// The layout of the file; a file of any other version is ignored.
pub const SCHEMA_VERSION: u32 = 1;
/// The file's name inside the cache directory.
pub const FILE_NAME: &str = "snapshot.json";
const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// Where the cache lives by default: `snapshot.json` in keyward's platform cache directory.
pub fn default_path() -> Option<PathBuf> {
    crate::paths::project_dirs().map(|dirs| dirs.cache_dir().join(FILE_NAME))
}

/// The snapshots read back from the cache.
#[derive(Debug, Clone)]
pub struct Cached {
    /// When the file was written.
    pub written_at: DateTime<Utc>,
    /// The regions as they were saved, each with its own `fetched_at`.
    pub regions: Vec<RegionSnapshot>,
}

/// The cache could not be written.
#[derive(Debug, Error)]
pub enum CacheError {
    #[error("cannot create the cache directory {path}: {error}")]
    Directory { path: PathBuf, error: io::Error },
    #[error("cannot write the snapshot cache {path}: {error}")]
    Write { path: PathBuf, error: io::Error },
    #[error("cannot encode the snapshot cache: {0}")]
    Encode(#[from] serde_json::Error),
}

/// A region as the console hands it to [`save_shared`]: the keys are the console's own, shared,
/// so saving copies none of them.
#[derive(Debug, Clone)]
pub struct SharedRegion {
    pub region: String,
    pub fetched_at: DateTime<Utc>,
    pub keys: Result<Arc<Vec<Key>>, SourceError>,
    pub clusters: Fetched<Vec<Cluster>>,
    pub alarms: Fetched<Vec<Alarm>>,
}

/// Saves `snapshots` for `scope` (a string naming the estate: endpoint, profile, account),
/// replacing the file in one step.
pub fn save(path: &Path, scope: &str, snapshots: &[RegionSnapshot]) -> Result<(), CacheError> {
    let regions: Vec<RegionOut<'_>> = snapshots
        .iter()
        .map(|s| RegionOut {
            region: &s.region,
            fetched_at: s.fetched_at,
            keys: s.keys.as_deref(),
            clusters: s.clusters.as_deref(),
            alarms: s.alarms.as_deref(),
        })
        .collect();
    write(path, scope, &regions)
}

/// [`save`] for regions the console shares with it.
pub fn save_shared(path: &Path, scope: &str, regions: &[SharedRegion]) -> Result<(), CacheError> {
    let regions: Vec<RegionOut<'_>> = regions
        .iter()
        .map(|s| RegionOut {
            region: &s.region,
            fetched_at: s.fetched_at,
            keys: s.keys.as_ref().map(|keys| keys.as_slice()),
            clusters: s.clusters.as_deref(),
            alarms: s.alarms.as_deref(),
        })
        .collect();
    write(path, scope, &regions)
}

fn write(path: &Path, scope: &str, regions: &[RegionOut<'_>]) -> Result<(), CacheError> {
    // Step 1: the directory, private to the user.
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir_error = |error| CacheError::Directory {
        path: dir.to_owned(),
        error,
    };
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(dir_error)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE)).map_err(dir_error)?;

    // Step 2: a new file beside the old one, encoded straight into it (a large estate's
    // snapshot is never held in memory twice), then a rename over the old one.
    let staging = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let write_error = |error| CacheError::Write {
        path: path.to_owned(),
        error,
    };
    let written = (|| {
        let _ = fs::remove_file(&staging);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&staging)
            .map_err(write_error)?;
        let mut out = io::BufWriter::new(file);
        let contents = FileOut {
            schema: SCHEMA_VERSION,
            scope,
            written_at: Utc::now(),
            regions,
        };
        serde_json::to_writer(&mut out, &contents).map_err(|error| {
            if error.is_io() {
                write_error(io::Error::other(error))
            } else {
                CacheError::Encode(error)
            }
        })?;
        let file = out
            .into_inner()
            .map_err(|error| write_error(error.into_error()))?;
        file.sync_all().map_err(write_error)?;
        fs::rename(&staging, path).map_err(write_error)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&staging);
    }
    written
}

/// Reads the snapshots saved for `scope`; `None`, with a warning, when there are none usable.
pub fn load(path: &Path, scope: &str) -> Option<Cached> {
    match read(path, scope) {
        Ok(cached) => Some(cached),
        Err(Unusable::Missing) => None,
        Err(reason) => {
            tracing::warn!(path = %path.display(), "snapshot cache ignored: {reason}");
            None
        }
    }
}

/// Why a cache file was not used.
#[derive(Debug, Error)]
enum Unusable {
    #[error("no file")]
    Missing,
    #[error("cannot read it: {0}")]
    Read(io::Error),
    #[error("it can be read by others (mode {0:o}); it is written 0600")]
    Exposed(u32),
    #[error("it is not a keyward snapshot cache: {0}")]
    Decode(serde_json::Error),
    #[error("it has schema version {found}, this keyward reads {SCHEMA_VERSION}")]
    Version { found: u32 },
    #[error("it holds another estate ({found})")]
    OtherScope { found: String },
}

fn read(path: &Path, scope: &str) -> Result<Cached, Unusable> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(Unusable::Missing),
        Err(error) => return Err(Unusable::Read(error)),
    };
    let mode = fs::metadata(path)
        .map_err(Unusable::Read)?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(Unusable::Exposed(mode));
    }
    // One pass over the file when it is of this version; the header alone is read only to
    // say why a file did not decode.
    let file: FileIn = match serde_json::from_slice::<FileIn>(&bytes) {
        Ok(file) if file.schema == SCHEMA_VERSION => file,
        Ok(file) => return Err(Unusable::Version { found: file.schema }),
        Err(error) => {
            return Err(match serde_json::from_slice::<Header>(&bytes) {
                Ok(header) if header.schema != SCHEMA_VERSION => Unusable::Version {
                    found: header.schema,
                },
                _ => Unusable::Decode(error),
            });
        }
    };
    if file.scope != scope {
        return Err(Unusable::OtherScope { found: file.scope });
    }
    Ok(Cached {
        written_at: file.written_at,
        regions: file.regions.into_iter().map(Into::into).collect(),
    })
}

#[derive(Serialize)]
struct FileOut<'a> {
    schema: u32,
    scope: &'a str,
    written_at: DateTime<Utc>,
    regions: &'a [RegionOut<'a>],
}

/// A region as [`RegionSnapshot`] serializes it, borrowed.
#[derive(Serialize)]
struct RegionOut<'a> {
    region: &'a str,
    fetched_at: DateTime<Utc>,
    keys: Result<&'a [Key], &'a SourceError>,
    clusters: Result<&'a [Cluster], &'a SourceError>,
    alarms: Result<&'a [Alarm], &'a SourceError>,
}

/// Just the version, so a file of another layout is named as such.
#[derive(Deserialize)]
struct Header {
    schema: u32,
}

#[derive(Deserialize)]
struct FileIn {
    schema: u32,
    scope: String,
    written_at: DateTime<Utc>,
    regions: Vec<SnapshotIn>,
}

// The mirrors below read exactly what the estate types' `Serialize` writes.

#[derive(Deserialize)]
struct SnapshotIn {
    region: String,
    fetched_at: DateTime<Utc>,
    keys: Result<Vec<KeyIn>, ErrorIn>,
    clusters: Result<Vec<ClusterIn>, ErrorIn>,
    alarms: Result<Vec<AlarmIn>, ErrorIn>,
}

#[derive(Deserialize)]
struct ErrorIn {
    operation: String,
    code: String,
    message: String,
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct KeyIn {
    arn: String,
    region: String,
    key_id: String,
    aliases: Vec<String>,
    description: String,
    key_spec: String,
    key_usage: String,
    origin: String,
    manager: ManagerIn,
    state: String,
    created: Option<DateTime<Utc>>,
    deletion_date: Option<DateTime<Utc>>,
    custom_key_store_id: Option<String>,
    multi_region: Option<MultiRegionIn>,
    tags: BTreeMap<String, String>,
    rotation: RotationIn,
    errors: Vec<ErrorIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ManagerIn {
    Aws,
    Customer,
}

#[derive(Deserialize)]
struct MultiRegionIn {
    role: RoleIn,
    primary_arn: String,
    primary_region: String,
    replica_regions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RoleIn {
    Primary,
    Replica,
}

#[derive(Deserialize)]
struct RotationIn {
    enabled: Option<bool>,
    period_days: Option<u32>,
    next_rotation: Option<DateTime<Utc>>,
    history: Vec<RecordIn>,
}

#[derive(Deserialize)]
struct RecordIn {
    date: DateTime<Utc>,
    kind: KindIn,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindIn {
    Automatic,
    OnDemand,
}

#[derive(Deserialize)]
struct ClusterIn {
    id: String,
    region: String,
    state: String,
    state_message: Option<String>,
    hsm_type: String,
    hsms: Vec<HsmIn>,
    backup_retention_days: Option<u32>,
    latest_backup: Option<BackupIn>,
    created: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct HsmIn {
    id: String,
    state: String,
    availability_zone: String,
    ip_address: Option<String>,
}

#[derive(Deserialize)]
struct BackupIn {
    id: String,
    state: String,
    created: Option<DateTime<Utc>>,
    source_region: Option<String>,
}

#[derive(Deserialize)]
struct AlarmIn {
    name: String,
    region: String,
    state: AlarmStateIn,
    reason: String,
    since: Option<DateTime<Utc>>,
    namespace: Option<String>,
    metric: Option<String>,
    threshold: Option<f64>,
    comparison: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum AlarmStateIn {
    Ok,
    Alarm,
    InsufficientData,
}

fn fetched<A, B: From<A>>(result: Result<Vec<A>, ErrorIn>) -> Fetched<Vec<B>> {
    result
        .map(|items| items.into_iter().map(Into::into).collect())
        .map_err(Into::into)
}

impl From<SnapshotIn> for RegionSnapshot {
    fn from(s: SnapshotIn) -> Self {
        RegionSnapshot {
            region: s.region,
            fetched_at: s.fetched_at,
            keys: fetched(s.keys),
            clusters: fetched(s.clusters),
            alarms: fetched(s.alarms),
        }
    }
}

impl From<ErrorIn> for SourceError {
    fn from(e: ErrorIn) -> Self {
        SourceError {
            operation: e.operation,
            code: e.code,
            message: e.message,
            request_id: e.request_id,
        }
    }
}

impl From<KeyIn> for Key {
    fn from(k: KeyIn) -> Self {
        Key {
            arn: k.arn,
            region: k.region,
            key_id: k.key_id,
            aliases: k.aliases,
            description: k.description,
            key_spec: k.key_spec,
            key_usage: k.key_usage,
            origin: k.origin,
            manager: match k.manager {
                ManagerIn::Aws => KeyManager::Aws,
                ManagerIn::Customer => KeyManager::Customer,
            },
            state: k.state,
            created: k.created,
            deletion_date: k.deletion_date,
            custom_key_store_id: k.custom_key_store_id,
            multi_region: k.multi_region.map(|m| MultiRegion {
                role: match m.role {
                    RoleIn::Primary => MultiRegionRole::Primary,
                    RoleIn::Replica => MultiRegionRole::Replica,
                },
                primary_arn: m.primary_arn,
                primary_region: m.primary_region,
                replica_regions: m.replica_regions,
            }),
            tags: k.tags.into_iter().collect(),
            rotation: RotationFacts {
                enabled: k.rotation.enabled,
                period_days: k.rotation.period_days,
                next_rotation: k.rotation.next_rotation,
                history: k
                    .rotation
                    .history
                    .into_iter()
                    .map(|r| RotationRecord {
                        date: r.date,
                        kind: match r.kind {
                            KindIn::Automatic => RotationKind::Automatic,
                            KindIn::OnDemand => RotationKind::OnDemand,
                        },
                    })
                    .collect(),
            },
            errors: k.errors.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<ClusterIn> for Cluster {
    fn from(c: ClusterIn) -> Self {
        Cluster {
            id: c.id,
            region: c.region,
            state: c.state,
            state_message: c.state_message,
            hsm_type: c.hsm_type,
            hsms: c
                .hsms
                .into_iter()
                .map(|h| Hsm {
                    id: h.id,
                    state: h.state,
                    availability_zone: h.availability_zone,
                    ip_address: h.ip_address,
                })
                .collect(),
            backup_retention_days: c.backup_retention_days,
            latest_backup: c.latest_backup.map(|b| Backup {
                id: b.id,
                state: b.state,
                created: b.created,
                source_region: b.source_region,
            }),
            created: c.created,
        }
    }
}

impl From<AlarmIn> for Alarm {
    fn from(a: AlarmIn) -> Self {
        Alarm {
            name: a.name,
            region: a.region,
            state: match a.state {
                AlarmStateIn::Ok => AlarmState::Ok,
                AlarmStateIn::Alarm => AlarmState::Alarm,
                AlarmStateIn::InsufficientData => AlarmState::InsufficientData,
            },
            reason: a.reason,
            since: a.since,
            namespace: a.namespace,
            metric: a.metric,
            threshold: a.threshold,
            comparison: a.comparison,
        }
    }
}

#[cfg(test)]
mod tests;
