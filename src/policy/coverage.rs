//! Multi-region coverage: for each multi-region primary, the watched regions holding a copy
//! and those missing one.

use serde::Serialize;

use crate::estate::{Key, MultiRegionRole};

/// One multi-region key and where it can be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub key_id: String,
    pub alias: Option<String>,
    pub primary_region: String,
    /// Regions holding a replica, as the primary reports them.
    pub replica_regions: Vec<String>,
    /// Watched regions with neither the primary nor a replica.
    pub missing_regions: Vec<String>,
    /// The primary's state; a disabled primary covers nothing.
    pub state: String,
}

impl Coverage {
    /// True when every watched region holds a copy.
    pub fn complete(&self) -> bool {
        self.missing_regions.is_empty()
    }
}

/// The coverage of every multi-region primary among `keys`, against the `watched` regions.
pub fn build(keys: &[&Key], watched: &[String]) -> Vec<Coverage> {
    let mut coverage: Vec<Coverage> = keys
        .iter()
        .filter_map(|key| {
            let mr = key
                .multi_region
                .as_ref()
                .filter(|m| m.role == MultiRegionRole::Primary)?;
            let missing_regions = watched
                .iter()
                .filter(|r| **r != key.region && !mr.replica_regions.contains(r))
                .cloned()
                .collect();
            Some(Coverage {
                key_id: key.key_id.clone(),
                alias: key.aliases.first().cloned(),
                primary_region: key.region.clone(),
                replica_regions: mr.replica_regions.clone(),
                missing_regions,
                state: key.state.clone(),
            })
        })
        .collect();
    coverage.sort_by(|a, b| (&a.alias, &a.key_id).cmp(&(&b.alias, &b.key_id)));
    coverage
}
