//! The console's state and [`App::update`], the only place it changes.
//!
//! Everything that happens reaches the app as a [`Message`]: terminal input, a region's
//! fresh snapshot, an action's progress. `update` folds it into the state and answers with
//! [`Effect`]s, the I/O it wants done, which [`super::runtime`] carries out in background
//! tasks that report back as messages. Nothing here waits, and rendering only reads.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::dialog::{Confirm, Overlay};
use super::keymap::{Focus, Scroll};
use super::keytable::{KeyTable, step};
use crate::action::Context;
use crate::cache::SharedRegion;
use crate::config::{RotationPolicy, Settings};
use crate::estate::{Estate, Feed, Fetched, HsmSnapshot, Key, SourceError};
use crate::policy::{Evaluation, Policy, RegionKeys, Verdict, evaluate_regions};

/// The panes, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    #[default]
    Overview,
    Keys,
    Rotation,
    Compliance,
    Hsm,
    Alarms,
    Audit,
    Log,
}

impl Pane {
    pub const ALL: [Pane; 8] = [
        Pane::Overview,
        Pane::Keys,
        Pane::Rotation,
        Pane::Compliance,
        Pane::Hsm,
        Pane::Alarms,
        Pane::Audit,
        Pane::Log,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Overview => "Overview",
            Pane::Keys => "Keys",
            Pane::Rotation => "Rotation",
            Pane::Compliance => "Compliance",
            Pane::Hsm => "HSM",
            Pane::Alarms => "Alarms",
            Pane::Audit => "Audit",
            Pane::Log => "Log",
        }
    }

    fn position(self) -> usize {
        Pane::ALL.iter().position(|&p| p == self).unwrap_or(0)
    }

    fn offset(self, by: isize) -> Pane {
        let len = Pane::ALL.len() as isize;
        Pane::ALL[(self.position() as isize + by).rem_euclid(len) as usize]
    }
}

pub use messages::{DrillView, Effect, JournalView, Message, PlanRequest, RegionRefresh};

/// The whole console state.
pub struct App {
    pub read_only: bool,
    pub rotation_policy: RotationPolicy,
    pub policy: Policy,
    pub regions: Vec<String>,
    /// The PKCS#11 module the HSM pane lists and the ceremony wizard drives.
    pub pkcs11_module: std::path::PathBuf,
    /// Where AWS is reached: an endpoint override, or "AWS".
    pub endpoint: String,
    pub profile: Option<String>,
    pub estate: Estate,
    pub hsm: Feed<HsmSnapshot>,
    pub journal: Feed<JournalView>,
    pub identity: Option<(String, String)>,
    pub evaluation: Option<Evaluation>,
    pub now: DateTime<Utc>,
    pub pane: Pane,
    pub keys: KeyTable,
    /// Selected row of each list pane other than keys.
    pub rotation_selected: usize,
    pub compliance_selected: usize,
    pub hsm_selected: usize,
    pub alarms_selected: usize,
    pub audit_selected: usize,
    /// Keys marked for a rotation approval, by ARN.
    pub marked: BTreeSet<String>,
    pub overlay: Option<Overlay>,
    /// The objects of the token the operator last logged in to.
    pub objects: Option<(
        crate::hsm::TokenRef,
        Fetched<Vec<crate::estate::ObjectView>>,
    )>,
    /// Regions showing the snapshot cache of an earlier run, not yet read live.
    pub stale: BTreeSet<String>,
    /// Set while the console is in drill mode.
    pub drill: Option<DrillView>,
    /// How far the overview's lower half (what needs attention, or the drill) is scrolled.
    pub overview_scroll: u16,
    /// The furthest the text in focus can scroll, as the last frame drew it.
    pub scroll_limit: u16,
    /// Frame counter for the loading spinner.
    pub spinner: usize,
    pub quit: bool,
    /// Set by `update` when the screen must be drawn again.
    pub dirty: bool,
    /// The estate changed since the key table and the evaluation were last rebuilt.
    outdated: bool,
    /// When a refresh's progress last rebuilt them.
    last_progress_rebuild: Option<DateTime<Utc>>,
}

/// Rows a page key moves.
pub(super) const PAGE_ROWS: isize = 10;

impl App {
    pub fn new(settings: &Settings, now: DateTime<Utc>) -> App {
        App {
            read_only: settings.read_only,
            rotation_policy: settings.rotation,
            policy: Policy::from_settings(settings),
            regions: settings.regions.clone(),
            pkcs11_module: settings.pkcs11_module.clone(),
            endpoint: settings
                .aws
                .endpoint_url
                .clone()
                .unwrap_or_else(|| "AWS".into()),
            profile: settings.aws.profile.clone(),
            estate: Estate::new(&settings.regions),
            hsm: Feed::default(),
            journal: Feed::default(),
            identity: None,
            evaluation: None,
            now,
            pane: Pane::Overview,
            keys: KeyTable::default(),
            rotation_selected: 0,
            compliance_selected: 0,
            hsm_selected: 0,
            alarms_selected: 0,
            audit_selected: 0,
            marked: BTreeSet::new(),
            overlay: None,
            drill: None,
            stale: BTreeSet::new(),
            objects: None,
            overview_scroll: 0,
            scroll_limit: 0,
            spinner: 0,
            quit: false,
            dirty: true,
            outdated: false,
            last_progress_rebuild: None,
        }
    }

    /// The effects to start with: every region, the PKCS#11 module and the journal.
    pub fn start(&mut self) -> Vec<Effect> {
        let mut effects = self.refresh_all(false);
        effects.push(Effect::LoadJournal { verify: false });
        effects
    }

    /// True while any region is being read.
    pub fn reading(&self) -> bool {
        self.estate.iter().any(|(_, s)| s.is_loading())
    }

    /// True while something on screen animates, so the loop sends ticks.
    pub fn animating(&self) -> bool {
        self.estate.iter().any(|(_, s)| s.is_loading())
            || self.hsm.loading
            || matches!(self.overlay, Some(Overlay::Planning(_)))
            || self.drill.as_ref().is_some_and(|d| d.finished.is_none())
            || matches!(&self.overlay, Some(Overlay::Wizard(w))
                if matches!(w.stage, super::wizard::Stage::Running { .. }))
            || matches!(&self.overlay, Some(Overlay::Running(r)) if r.finished.is_none())
    }

    pub fn context(&self) -> Context {
        Context {
            read_only: self.read_only,
            regions: self.regions.clone(),
            account: self.identity.as_ref().map(|(account, _)| account.clone()),
            assumed_period_days: self.rotation_policy.period_days,
        }
    }

    /// Folds `message` into the state.
    pub fn update(&mut self, message: Message) -> Vec<Effect> {
        match message {
            Message::Input(event) => self.on_input(event),
            Message::Region(mut fetch) => {
                self.keys.remember_selection(&self.estate);
                if fetch.reported {
                    self.merge_reported(&mut fetch);
                }
                // A failed read leaves the cached data as it was: still the cache's, still stale.
                if fetch.snapshot.keys.is_ok() {
                    self.stale.remove(&fetch.snapshot.region);
                }
                if let Some(state) = self.estate.regions.get_mut(&fetch.snapshot.region) {
                    state.absorb_fetch(fetch);
                }
                self.rebuild();
                self.dirty = true;
                // Once every region has answered, what was read is kept for the next start.
                let settled = self.estate.iter().all(|(_, s)| !s.is_loading());
                if settled && self.stale.is_empty() {
                    vec![Effect::SaveCache(self.shared_regions())]
                } else {
                    Vec::new()
                }
            }
            Message::RegionProgress { region, progress } => {
                self.absorb_progress(&region, progress);
                Vec::new()
            }
            Message::Objects { token, objects } => {
                self.objects = Some((token, objects));
                self.dirty = true;
                Vec::new()
            }
            Message::Cached(snapshots) => {
                self.keys.remember_selection(&self.estate);
                for snapshot in snapshots {
                    if let Some(state) = self.estate.regions.get_mut(&snapshot.region)
                        && state.keys.data.is_none()
                    {
                        self.stale.insert(snapshot.region.clone());
                        let loading = state.is_loading();
                        state.absorb(snapshot);
                        if loading {
                            state.set_loading();
                        }
                    }
                }
                self.rebuild();
                self.dirty = true;
                Vec::new()
            }
            Message::Hsm(result, at) => {
                self.hsm.absorb(result, at);
                self.dirty = true;
                Vec::new()
            }
            Message::RefreshDue => {
                let effects = self.refresh_all(false);
                self.dirty |= !effects.is_empty();
                effects
            }
            Message::Tick => {
                if self.outdated {
                    self.rebuild();
                }
                self.spinner = self.spinner.wrapping_add(1);
                self.dirty = true;
                Vec::new()
            }
            Message::Logged => {
                self.dirty |= self.pane == Pane::Log;
                Vec::new()
            }
            Message::Identity(result) => {
                match result {
                    Ok(identity) => self.identity = Some(identity),
                    Err(err) => tracing::warn!(error = %err, "caller identity unknown"),
                }
                self.dirty = true;
                Vec::new()
            }
            Message::PlanReady(result) => {
                if matches!(self.overlay, Some(Overlay::Planning(_))) {
                    self.overlay = Some(match result {
                        Ok(plan) => Overlay::Confirm(Confirm::new(plan)),
                        Err(reason) => Overlay::notice("Not available", vec![reason]),
                    });
                    self.dirty = true;
                }
                Vec::new()
            }
            Message::StepDone(outcome) => {
                if let Some(Overlay::Running(running)) = &mut self.overlay {
                    running.steps.push(outcome);
                    self.dirty = true;
                }
                Vec::new()
            }
            Message::ActionFinished { outcome, journal } => {
                if let Some(Overlay::Running(running)) = &mut self.overlay {
                    running.finished = Some((outcome, journal));
                }
                self.dirty = true;
                let mut effects = vec![Effect::LoadJournal { verify: false }];
                effects.extend(self.refresh_all(false));
                effects
            }
            Message::KeyRead { region, key } => {
                match key {
                    Ok(key) => self.patch_key(&region, key),
                    Err(err) => tracing::warn!(%region, error = %err, "re-reading a key failed"),
                }
                self.dirty = true;
                Vec::new()
            }
            Message::Journal(result) => {
                self.journal.absorb(
                    result.map_err(|message| SourceError {
                        operation: "reading the audit journal".into(),
                        code: "JournalUnreadable".into(),
                        message,
                        request_id: None,
                    }),
                    self.now,
                );
                self.dirty = true;
                Vec::new()
            }
            Message::DrillFinished { report, journal } => {
                if let Some(drill) = &mut self.drill {
                    drill.finished = Some((*report, journal));
                }
                self.dirty = true;
                vec![Effect::LoadJournal { verify: false }]
            }
            Message::CeremonyStep { ceremony, error } => {
                let Some(Overlay::Wizard(wizard)) = &mut self.overlay else {
                    return Vec::new();
                };
                let initialized = ceremony.records().last().is_some_and(|r| {
                    r.succeeded() && r.step == crate::hsm::ceremony::Step::InitToken
                });
                let action = wizard.step_done(*ceremony, error);
                self.dirty = true;
                let mut effects = self.wizard_effects(action);
                // SoftHSM renumbers the slots once a token is initialized: list them again.
                if initialized && !self.hsm.loading {
                    self.hsm.loading = true;
                    effects.push(Effect::ListHsm);
                }
                effects
            }
            Message::CeremonyRecorded(outcome) => {
                if let Some(Overlay::Wizard(wizard)) = &mut self.overlay {
                    wizard.recorded(outcome);
                }
                self.dirty = true;
                let mut effects = vec![Effect::LoadJournal { verify: false }];
                if !self.hsm.loading {
                    self.hsm.loading = true;
                    effects.push(Effect::ListHsm);
                }
                effects
            }
            Message::Shutdown => {
                self.quit = true;
                // A plan left unconfirmed by a hang-up or a signal is journaled as cancelled,
                // as Esc would have.
                match self.overlay.take() {
                    Some(Overlay::Confirm(confirm)) => {
                        vec![Effect::Cancelled(Box::new(confirm.plan))]
                    }
                    other => {
                        self.overlay = other;
                        Vec::new()
                    }
                }
            }
            // Not a change to show: what the frame just drawn allows.
            Message::Drawn { scroll_limit } => {
                self.scroll_limit = scroll_limit;
                if let Some(offset) = self.focused_scroll() {
                    *offset = (*offset).min(scroll_limit);
                }
                Vec::new()
            }
        }
    }

    /// What the keys act on: a pane's rows, or the text it shows for reading.
    pub fn focus(&self) -> Focus {
        Focus {
            pane: self.pane,
            text: match self.pane {
                Pane::Overview => true,
                Pane::Keys => self.keys.detail,
                _ => false,
            },
        }
    }

    /// The scroll offset of the text in focus: the overlay's, else the pane's.
    fn focused_scroll(&mut self) -> Option<&mut u16> {
        match &mut self.overlay {
            Some(overlay) => overlay.scroll_mut(),
            None => match self.pane {
                Pane::Overview => Some(&mut self.overview_scroll),
                Pane::Keys if self.keys.detail => Some(&mut self.keys.detail_scroll),
                _ => None,
            },
        }
    }

    /// Scrolls the text in focus, no further than the last frame showed its end.
    pub(super) fn scroll(&mut self, by: Scroll) {
        let limit = self.scroll_limit;
        let page = PAGE_ROWS as u16;
        if let Some(offset) = self.focused_scroll() {
            *offset = match by {
                Scroll::Up => offset.saturating_sub(1),
                Scroll::Down => offset.saturating_add(1),
                Scroll::PageUp => offset.saturating_sub(page),
                Scroll::PageDown => offset.saturating_add(page),
                Scroll::Top => 0,
                Scroll::Bottom => limit,
            }
            .min(limit);
        }
    }

    /// Recomputes what is derived from the estate: the key table and the compliance view.
    fn rebuild(&mut self) {
        self.outdated = false;
        self.keys
            .rebuild(&self.estate, &self.rotation_policy, self.now);
        // The old evaluation goes first, so two are never held at once.
        self.evaluation = None;
        let regions: Vec<RegionKeys<'_>> = self
            .estate
            .iter()
            .filter_map(|(region, state)| {
                let keys = match (&state.keys.data, &state.keys.error) {
                    (Some(keys), _) => Ok(keys.as_slice()),
                    (None, Some(err)) => Err(err),
                    (None, None) => return None,
                };
                Some(RegionKeys {
                    region,
                    fetched_at: state.keys.fetched_at.unwrap_or(self.now),
                    keys,
                })
            })
            .collect();
        let mut evaluation = evaluate_regions(&regions, &self.policy, self.now);
        // The counts, forecast and outcome are worked out; of the verdicts the console lists
        // and approves only those that need something, so only those are kept.
        evaluation
            .keys
            .retain(|v| v.status.is_due() || v.status.is_violation());
        evaluation.keys.shrink_to_fit();
        let due: BTreeSet<&str> = evaluation
            .keys
            .iter()
            .filter(|v| v.status.is_due())
            .map(|v| v.arn.as_str())
            .collect();
        self.marked.retain(|arn| due.contains(arn.as_str()));
        self.evaluation = Some(evaluation);
        // An open action menu says what the key allows as it is read now.
        if let Some(Overlay::Menu(menu)) = &self.overlay
            && let Some(key) = self
                .estate
                .regions
                .get(&menu.region)
                .and_then(|state| state.key_list().iter().find(|k| k.key_id == menu.key_id))
        {
            let menu = menu.refreshed(key, &self.context(), self.rotation_policy.period_days);
            self.overlay = Some(Overlay::Menu(menu));
        }
    }

    /// The estate's last good data per region, for the cache; the keys are shared, not copied.
    fn shared_regions(&self) -> Vec<SharedRegion> {
        self.estate
            .iter()
            .filter_map(|(region, state)| {
                let keys = match (&state.keys.data, &state.keys.error) {
                    (Some(keys), _) => Ok(Arc::clone(keys)),
                    (None, Some(err)) => Err(err.clone()),
                    (None, None) => return None,
                };
                Some(SharedRegion {
                    region: region.to_owned(),
                    fetched_at: state.keys.fetched_at.unwrap_or(self.now),
                    keys,
                    clusters: last_good(&state.clusters),
                    alarms: last_good(&state.alarms),
                })
            })
            .collect()
    }

    fn patch_key(&mut self, region: &str, key: Key) {
        self.keys.remember_selection(&self.estate);
        let Some(state) = self.estate.regions.get_mut(region) else {
            return;
        };
        let keys = Arc::make_mut(state.keys.data.get_or_insert_with(Default::default));
        match keys.iter_mut().find(|k| k.key_id == key.key_id) {
            Some(slot) => {
                // A fresh read of one key lists its own aliases; keep what the list knew
                // when the single read found none.
                let aliases = std::mem::take(&mut slot.aliases);
                *slot = key;
                if slot.aliases.is_empty() {
                    slot.aliases = aliases;
                }
            }
            None => keys.push(key),
        }
        self.rebuild();
    }

    /// Refresh effects for every region not already refreshing, and the PKCS#11 module. An
    /// interval refresh is incremental; `full` reads every key again, as an operator's `r`
    /// asks.
    pub(super) fn refresh_all(&mut self, full: bool) -> Vec<Effect> {
        let mut regions = Vec::new();
        for region in &self.regions {
            if let Some(state) = self.estate.regions.get_mut(region)
                && !state.is_loading()
            {
                state.set_loading();
                let previous = match (&state.keys.data, state.keys.fetched_at) {
                    (Some(keys), Some(at)) if !full => Some((Arc::clone(keys), at)),
                    _ => None,
                };
                regions.push(RegionRefresh {
                    region: region.clone(),
                    progressive: state.keys.data.is_none() || self.stale.contains(region),
                    previous,
                });
            }
        }
        let mut effects = Vec::new();
        if !regions.is_empty() {
            effects.push(Effect::Refresh(regions));
        }
        if !self.hsm.loading {
            self.hsm.loading = true;
            effects.push(Effect::ListHsm);
        }
        effects
    }

    pub(super) fn show(&mut self, pane: Pane) -> Vec<Effect> {
        let arrived = self.pane != pane;
        self.pane = pane;
        self.keys.detail = false;
        // The journal may have grown from another keyward process: read it on arrival.
        if arrived && pane == Pane::Audit {
            vec![Effect::LoadJournal { verify: false }]
        } else {
            Vec::new()
        }
    }

    fn list_len(&self) -> usize {
        match self.pane {
            Pane::Keys => self.keys.visible.len(),
            Pane::Rotation => self.rotation_queue().len(),
            Pane::Compliance => self.violations().len(),
            Pane::Hsm => self.estate.clusters().count(),
            Pane::Alarms => self.estate.alarms().count(),
            Pane::Audit => self.journal.data.as_ref().map_or(0, |j| j.entries.len()),
            Pane::Overview | Pane::Log => 0,
        }
    }

    pub(super) fn move_selection(&mut self, delta: isize) {
        let len = self.list_len();
        let selected = match self.pane {
            Pane::Keys => &mut self.keys.selected,
            Pane::Rotation => &mut self.rotation_selected,
            Pane::Compliance => &mut self.compliance_selected,
            Pane::Hsm => &mut self.hsm_selected,
            Pane::Alarms => &mut self.alarms_selected,
            Pane::Audit => &mut self.audit_selected,
            Pane::Overview | Pane::Log => return,
        };
        *selected = step(*selected, delta, len);
        self.keys.chosen |= self.pane == Pane::Keys;
    }

    /// The rotation pane's queue: keys with a countdown, most urgent first.
    pub fn rotation_queue(&self) -> Vec<&super::keytable::KeyRow> {
        let mut rows: Vec<_> = self
            .keys
            .rows
            .iter()
            .filter(|r| r.view.days_left.is_some())
            .collect();
        rows.sort_by_key(|r| (r.view.days_left, r.view.status.urgency()));
        rows
    }

    /// The compliance pane's violations, most overdue first.
    pub fn violations(&self) -> Vec<&Verdict> {
        let mut violations: Vec<&Verdict> = self
            .evaluation
            .iter()
            .flat_map(|e| e.violations())
            .collect();
        violations.sort_by_key(|v| (v.days_left, v.region.clone()));
        violations
    }

    /// The key the current pane has selected, if it lists keys.
    pub fn selected_key(&self) -> Option<&Key> {
        match self.pane {
            Pane::Keys => self.keys.selected_key(&self.estate),
            Pane::Rotation => self
                .rotation_queue()
                .get(self.rotation_selected)
                .and_then(|row| super::keytable::key_of(&self.estate, row)),
            Pane::Compliance => {
                let arn = self.violations().get(self.compliance_selected)?.arn.clone();
                self.estate.keys().find(|k| k.arn == arn)
            }
            _ => None,
        }
    }
}

/// A feed's last good data, or its error when it never had any.
fn last_good<T: Clone>(feed: &Feed<Vec<T>>) -> Fetched<Vec<T>> {
    match (&feed.data, &feed.error) {
        (Some(data), _) => Ok(data.clone()),
        (None, Some(err)) => Err(err.clone()),
        (None, None) => Ok(Vec::new()),
    }
}

mod commands;
mod input;
mod messages;
mod progress;
#[cfg(test)]
mod tests;
