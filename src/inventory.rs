//! `keyward inventory`: one snapshot of the estate as JSON or a table, for scripts and cron.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::RotationPolicy;
use crate::estate::{
    Alarm, Cluster, KeyManager, MultiRegionRole, ON_DEMAND_ROTATION_LIMIT, RegionSnapshot,
    RotationRecord, SourceError,
};
use crate::rotation::{RotationView, evaluate};

/// The whole inventory document.
#[derive(Debug, Serialize)]
pub struct Inventory {
    pub generated_at: DateTime<Utc>,
    pub policy: PolicyRecord,
    pub regions: Vec<RegionRecord>,
    pub keys: Vec<KeyRecord>,
    pub clusters: Vec<Cluster>,
    pub alarms: Vec<Alarm>,
}

#[derive(Debug, Serialize)]
pub struct PolicyRecord {
    pub period_days: u32,
    pub warn_after_days: u32,
}

/// One region's fetch: when, and what failed.
#[derive(Debug, Serialize)]
pub struct RegionRecord {
    pub region: String,
    pub fetched_at: DateTime<Utc>,
    /// Set when the region's keys could not be listed.
    pub error: Option<SourceError>,
    pub clusters_error: Option<SourceError>,
    pub alarms_error: Option<SourceError>,
    pub key_count: usize,
}

/// A key as the inventory reports it: the API's facts with the rotation verdict.
#[derive(Debug, Serialize)]
pub struct KeyRecord {
    pub arn: String,
    pub region: String,
    pub key_id: String,
    pub aliases: Vec<String>,
    pub description: String,
    pub key_spec: String,
    pub key_usage: String,
    pub origin: String,
    pub manager: KeyManager,
    pub state: String,
    pub created: Option<DateTime<Utc>>,
    pub deletion_date: Option<DateTime<Utc>>,
    pub custom_key_store_id: Option<String>,
    pub multi_region: Option<MultiRegionRole>,
    pub primary_region: Option<String>,
    pub replica_regions: Vec<String>,
    pub rotation: RotationRecordOut,
    pub errors: Vec<SourceError>,
}

/// The rotation verdict plus the facts behind it.
#[derive(Debug, Serialize)]
pub struct RotationRecordOut {
    #[serde(flatten)]
    pub view: RotationView,
    pub enabled: Option<bool>,
    pub on_demand_used: usize,
    pub on_demand_limit: usize,
    pub history: Vec<RotationRecord>,
}

impl Inventory {
    /// Builds the document from fresh snapshots, judged at `now`.
    pub fn build(
        snapshots: &[RegionSnapshot],
        policy: &RotationPolicy,
        now: DateTime<Utc>,
    ) -> Self {
        let mut inventory = Inventory {
            generated_at: now,
            policy: PolicyRecord {
                period_days: policy.period_days,
                warn_after_days: policy.warn_after_days,
            },
            regions: Vec::new(),
            keys: Vec::new(),
            clusters: Vec::new(),
            alarms: Vec::new(),
        };
        for snap in snapshots {
            inventory.regions.push(RegionRecord {
                region: snap.region.clone(),
                fetched_at: snap.fetched_at,
                error: snap.keys.as_ref().err().cloned(),
                clusters_error: snap.clusters.as_ref().err().cloned(),
                alarms_error: snap.alarms.as_ref().err().cloned(),
                key_count: snap.keys.as_ref().map_or(0, Vec::len),
            });
            for key in snap.keys.iter().flatten() {
                let view = evaluate(key, policy, now);
                let mr = key.multi_region.as_ref();
                inventory.keys.push(KeyRecord {
                    arn: key.arn.clone(),
                    region: key.region.clone(),
                    key_id: key.key_id.clone(),
                    aliases: key.aliases.clone(),
                    description: key.description.clone(),
                    key_spec: key.key_spec.clone(),
                    key_usage: key.key_usage.clone(),
                    origin: key.origin.clone(),
                    manager: key.manager,
                    state: key.state.clone(),
                    created: key.created,
                    deletion_date: key.deletion_date,
                    custom_key_store_id: key.custom_key_store_id.clone(),
                    multi_region: mr.map(|m| m.role),
                    primary_region: mr.map(|m| m.primary_region.clone()),
                    replica_regions: mr.map(|m| m.replica_regions.clone()).unwrap_or_default(),
                    rotation: RotationRecordOut {
                        view,
                        enabled: key.rotation.enabled,
                        on_demand_used: key.rotation.on_demand_used(),
                        on_demand_limit: ON_DEMAND_ROTATION_LIMIT,
                        history: key.rotation.history.clone(),
                    },
                    errors: key.errors.clone(),
                });
            }
            inventory
                .clusters
                .extend(snap.clusters.iter().flatten().cloned());
            inventory
                .alarms
                .extend(snap.alarms.iter().flatten().cloned());
        }
        inventory
    }

    /// True when every region's keys were read.
    pub fn complete(&self) -> bool {
        self.regions.iter().all(|r| r.error.is_none())
    }

    pub fn write_json(&self, out: &mut impl Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }

    /// A plain table for terminals and logs; statuses are words, never colours.
    pub fn write_table(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{:<15} {:<28} {:<20} {:<9} {:<14} {:<10}  NEXT",
            "REGION", "KEY", "SPEC", "MR", "STATE", "ROTATION"
        )?;
        for key in &self.keys {
            let name = key.aliases.first().unwrap_or(&key.key_id);
            let mr = match key.multi_region {
                Some(MultiRegionRole::Primary) => "primary",
                Some(MultiRegionRole::Replica) => "replica",
                None => "-",
            };
            writeln!(
                out,
                "{:<15} {:<28} {:<20} {:<9} {:<14} {:<10}  {}",
                key.region,
                truncate(name, 28),
                truncate(&key.key_spec, 20),
                mr,
                truncate(&key.state, 14),
                key.rotation.view.status.label(),
                key.rotation.view.countdown()
            )?;
        }
        writeln!(out)?;
        for region in &self.regions {
            let fetched = region.fetched_at.format("%Y-%m-%d %H:%M:%S UTC");
            match &region.error {
                None => writeln!(
                    out,
                    "{}: {}, read {fetched}",
                    region.region,
                    crate::plural::count(region.key_count, "key", "keys")
                )?,
                Some(err) => writeln!(out, "{}: NOT READ: {err}", region.region)?,
            }
            for err in [&region.clusters_error, &region.alarms_error]
                .into_iter()
                .flatten()
            {
                writeln!(out, "{}: {err}", region.region)?;
            }
        }
        Ok(())
    }
}

/// Cuts `text` to `width` characters, marking the cut with an ellipsis.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}
