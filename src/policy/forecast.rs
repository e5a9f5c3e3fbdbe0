//! The forecast: which keys reach their rule's deadline within the next 7, 30 and 90 days.
//!
//! Buckets are disjoint: a key due in 3 days is in the 7-day bucket only. Keys already past
//! their deadline are violations, not forecast; replicas are left out because they rotate with
//! their primary, which is listed.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{Rotator, Verdict};

/// The forecast horizons, in days.
pub const HORIZONS_DAYS: [i64; 3] = [7, 30, 90];

/// One key that becomes due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upcoming {
    pub region: String,
    pub key_id: String,
    pub alias: Option<String>,
    pub deadline: DateTime<Utc>,
    pub days_left: i64,
    /// Whether AWS rotates it, or a manual rotation is needed.
    pub rotator: Option<Rotator>,
    /// The rule it is held to.
    pub rule: String,
}

/// Keys reaching their deadline, by horizon.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Forecast {
    /// Deadline within 7 days.
    pub within_7_days: Vec<Upcoming>,
    /// Deadline in 8 to 30 days.
    pub within_30_days: Vec<Upcoming>,
    /// Deadline in 31 to 90 days.
    pub within_90_days: Vec<Upcoming>,
}

impl Forecast {
    /// The buckets with their horizon in days, nearest first.
    pub fn buckets(&self) -> [(i64, &[Upcoming]); 3] {
        [
            (HORIZONS_DAYS[0], &self.within_7_days),
            (HORIZONS_DAYS[1], &self.within_30_days),
            (HORIZONS_DAYS[2], &self.within_90_days),
        ]
    }
}

/// Sorts the judged, non-replica keys whose deadline lies ahead into the buckets.
pub fn build(verdicts: &[Verdict], as_of: DateTime<Utc>) -> Forecast {
    let mut forecast = Forecast::default();
    let mut upcoming: Vec<Upcoming> = verdicts
        .iter()
        .filter(|v| v.status.is_judged() && v.follows_primary.is_none())
        .filter_map(|v| {
            let deadline = v.deadline.filter(|d| *d >= as_of)?;
            Some(Upcoming {
                region: v.region.clone(),
                key_id: v.key_id.clone(),
                alias: v.alias.clone(),
                deadline,
                days_left: v.days_left.unwrap_or_default(),
                rotator: v.rotator,
                rule: v.rule.as_ref().map_or_else(String::new, |r| r.name.clone()),
            })
        })
        .collect();
    upcoming.sort_by(|a, b| {
        (a.deadline, &a.region, &a.key_id).cmp(&(b.deadline, &b.region, &b.key_id))
    });
    for entry in upcoming {
        let within = |days: i64| entry.deadline <= as_of + Duration::days(days);
        if within(HORIZONS_DAYS[0]) {
            forecast.within_7_days.push(entry);
        } else if within(HORIZONS_DAYS[1]) {
            forecast.within_30_days.push(entry);
        } else if within(HORIZONS_DAYS[2]) {
            forecast.within_90_days.push(entry);
        }
    }
    forecast
}
