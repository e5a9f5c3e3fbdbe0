//! A progressive read as the console sees it: the listed keys shown at once, the described
//! ones folded in as they come, and the finished read completing what its reports brought.

use std::collections::HashMap;
use std::sync::Arc;

use super::App;
use crate::aws::KeyProgress;
use crate::estate::{DESCRIBING, Key, RegionFetch};

/// A refresh under way rebuilds the table with what it has read at most this often.
const PROGRESS_REBUILD: chrono::TimeDelta = chrono::TimeDelta::milliseconds(500);

impl App {
    /// Folds in what a region's refresh has read so far: the listed keys, each shown with its
    /// last known facts or as a placeholder until it is described, then the keys described.
    /// The table is rebuilt at most every [`PROGRESS_REBUILD`]; a tick catches up.
    pub(super) fn absorb_progress(&mut self, region: &str, progress: KeyProgress) {
        self.keys.remember_selection(&self.estate);
        let Some(state) = self.estate.regions.get_mut(region) else {
            return;
        };
        if !state.keys.loading {
            // A late report from a refresh that has already finished.
            return;
        }
        match progress {
            KeyProgress::Listed { keys, describing } => {
                let known: HashMap<&str, &Key> = state
                    .key_list()
                    .iter()
                    .map(|k| (k.key_id.as_str(), k))
                    .collect();
                let keys: Vec<Key> = keys
                    .into_iter()
                    .map(|listed| match known.get(listed.key_id.as_str()) {
                        Some(&old) if listed.state == DESCRIBING => Key {
                            aliases: listed.aliases,
                            ..old.clone()
                        },
                        _ => listed,
                    })
                    .collect();
                state.keys.data = Some(Arc::new(keys));
                state.describing = describing.into_iter().collect();
            }
            KeyProgress::Described(batch) => {
                let keys = Arc::make_mut(state.keys.data.get_or_insert_with(Default::default));
                let position: HashMap<String, usize> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (k.key_id.clone(), i))
                    .collect();
                for key in batch {
                    state.describing.remove(&key.key_id);
                    match position.get(&key.key_id) {
                        Some(&i) => keys[i] = key,
                        None => keys.push(key),
                    }
                }
            }
        }
        self.dirty = true;
        self.outdated = true;
        if self
            .last_progress_rebuild
            .is_none_or(|at| self.now - at >= PROGRESS_REBUILD)
        {
            self.last_progress_rebuild = Some(self.now);
            self.rebuild();
        }
    }

    /// Completes a progressive read's keys: the keys its reports already brought, which the
    /// region holds, with the rest the finished read carries, in list order.
    pub(super) fn merge_reported(&mut self, fetch: &mut RegionFetch) {
        fetch.reported = false;
        let (Ok(rest), Some(state)) = (
            &mut fetch.snapshot.keys,
            self.estate.regions.get_mut(&fetch.snapshot.region),
        ) else {
            return;
        };
        let mut keys = state
            .keys
            .data
            .take()
            .map(|shared| Arc::try_unwrap(shared).unwrap_or_else(|shared| (*shared).clone()))
            .unwrap_or_default();
        let position: HashMap<String, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.key_id.clone(), i))
            .collect();
        for key in rest.drain(..) {
            match position.get(&key.key_id) {
                Some(&i) => keys[i] = key,
                None => keys.push(key),
            }
        }
        keys.sort_by(Key::list_order);
        *rest = keys;
    }
}
