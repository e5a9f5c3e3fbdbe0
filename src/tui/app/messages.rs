//! What reaches the app ([`Message`]) and what it asks for ([`Effect`]), with the values they
//! carry.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use crossterm::event::Event;

use crate::action::{Confirmation, Context, Outcome, Plan, StepOutcome};
use crate::audit::{Entry, Verification};
use crate::aws::KeyProgress;
use crate::cache::SharedRegion;
use crate::estate::{Fetched, HsmSnapshot, Key, RegionFetch, RegionSnapshot};
use crate::policy::Verdict;

/// The audit journal as the audit pane shows it.
#[derive(Debug, Clone)]
pub struct JournalView {
    pub path: String,
    pub entries: Vec<Entry>,
    /// Set after the operator asked for a verification.
    pub verification: Option<Verification>,
}

/// Something that happened.
#[derive(Debug)]
pub enum Message {
    Input(Event),
    /// A region's refresh finished, well or not, with how often AWS throttled it.
    Region(RegionFetch),
    /// A region's refresh has listed or described keys, before it finished.
    RegionProgress {
        region: String,
        progress: KeyProgress,
    },
    /// The objects on a token, listed after the operator logged in.
    Objects {
        token: crate::hsm::TokenRef,
        objects: Fetched<Vec<crate::estate::ObjectView>>,
    },
    /// The snapshot cache of the last run, shown marked stale until each region is read live.
    Cached(Vec<RegionSnapshot>),
    /// The PKCS#11 module was listed.
    Hsm(Fetched<HsmSnapshot>, DateTime<Utc>),
    /// The refresh interval elapsed.
    RefreshDue,
    /// A spinner frame while something loads.
    Tick,
    /// Something was logged while the log pane is open.
    Logged,
    /// The AWS account and caller behind the credentials.
    Identity(Fetched<(String, String)>),
    /// The plan the operator asked for, or why it could not be made.
    PlanReady(Result<Plan, String>),
    /// One step of the running plan finished.
    StepDone(StepOutcome),
    /// The running plan finished; `journal` is the entry it was recorded as.
    ActionFinished {
        outcome: Outcome,
        journal: Result<u64, String>,
    },
    /// A key read again after an action changed it.
    KeyRead {
        region: String,
        key: Fetched<Key>,
    },
    Journal(Result<JournalView, String>),
    /// The drill reached its verdict; `journal` is the entry it was recorded as.
    DrillFinished {
        report: Box<crate::drill::Report>,
        journal: Result<u64, String>,
    },
    /// A ceremony step ran (or failed); the ceremony comes back with its records.
    CeremonyStep {
        ceremony: Box<crate::hsm::ceremony::Ceremony>,
        error: Option<String>,
    },
    /// The ceremony's transcript was written and journaled: where, or why not.
    CeremonyRecorded(Result<String, String>),
    /// Hangup, terminate, or the input stream ended: leave now.
    Shutdown,
    /// A frame was drawn; the text in focus can scroll `scroll_limit` rows at most.
    Drawn {
        scroll_limit: u16,
    },
}

/// One region to refresh, with what is known of it: an incremental refresh re-describes only
/// the keys that need it, a full one (`previous` empty) reads every key.
#[derive(Debug)]
pub struct RegionRefresh {
    pub region: String,
    /// The keys of the last good read and when it was made.
    pub previous: Option<(Arc<Vec<Key>>, DateTime<Utc>)>,
    /// Report the keys as they are listed and described: the region shows no live keys yet.
    pub progressive: bool,
}

/// What the plan for an operator's request needs.
#[derive(Debug, Clone)]
pub enum PlanRequest {
    /// One action on one key.
    Key {
        key: Box<Key>,
        request: crate::action::Request,
    },
    /// The rotation approvals: each key with its verdict, as one batch.
    Approve(Vec<(Key, Verdict)>),
    /// A new multi-region key with its alias and automatic rotation, replicated into every
    /// other watched region.
    NewMultiRegionKey {
        alias: String,
        primary: String,
        replicas: Vec<String>,
        period_days: u32,
    },
}

/// I/O the app wants done.
#[derive(Debug)]
pub enum Effect {
    /// Refresh these regions (none of them is already refreshing).
    Refresh(Vec<RegionRefresh>),
    /// Save the estate's last good data as the snapshot cache for the next start.
    SaveCache(Vec<SharedRegion>),
    ListHsm,
    BuildPlan(PlanRequest, Context),
    Run {
        plan: Box<Plan>,
        confirmation: Confirmation,
    },
    /// The operator declined a plan; it is journaled as cancelled.
    Cancelled(Box<Plan>),
    LoadJournal {
        verify: bool,
    },
    /// Run a disaster-recovery drill and journal its verdict.
    Drill(crate::drill::Options),
    /// Run one ceremony step on a blocking thread; the PINs are consumed by the step.
    CeremonyStep {
        ceremony: Box<crate::hsm::ceremony::Ceremony>,
        step: crate::hsm::ceremony::Step,
        pins: crate::hsm::ceremony::StepPins,
    },
    /// Log in to `token` as its user with `pin` (consumed by the call), list, log out.
    ListObjects {
        token: crate::hsm::TokenRef,
        pin: secrecy::SecretString,
    },
    /// Write the ceremony's transcript beside the journal and journal it.
    RecordCeremony(Box<crate::hsm::ceremony::Ceremony>),
}

/// A disaster-recovery drill the console is in.
#[derive(Debug)]
pub struct DrillView {
    pub lose: Option<String>,
    pub started: DateTime<Utc>,
    /// The verdict, once reached, and the journal entry it was recorded as.
    pub finished: Option<(crate::drill::Report, Result<u64, String>)>,
}
