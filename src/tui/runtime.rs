//! Carries out the app's [`Effect`]s in background tasks; each reports back as a [`Message`].
//!
//! Refreshes run one task per region, so a region that hangs holds up nobody. A region with no
//! live keys on screen yet is read progressively: its task reports the listed keys, then the
//! keys described, as [`Message::RegionProgress`], before the finished read. A plan runs in a
//! task of its own, and the loop waits for it (and its journal entry) before it exits.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::app::{Effect, JournalView, Message, PlanRequest, RegionRefresh};
use crate::action::{self, Confirmation, Context, KeyExtras, Plan, Request};
use crate::audit::{Journal, Operator};
use crate::aws::{Clients, Known, ProgressSink, fetch_key, fetch_region_reporting};
use crate::hsm::ceremony::Ceremony;
use crate::policy::rotate;

/// What the effects need: the AWS clients, the token module, the journal and the operator.
pub struct Runtime {
    clients: Arc<Clients>,
    module: std::path::PathBuf,
    journal: Arc<Journal>,
    operator: Arc<std::sync::Mutex<Operator>>,
    tx: UnboundedSender<Message>,
    /// The snapshot cache file, and the estate it belongs to.
    cache: Option<std::path::PathBuf>,
    scope: String,
    /// Where ceremony transcripts go: a `ceremonies` folder beside the journal.
    transcripts: std::path::PathBuf,
    /// The running plan, awaited before the console exits so its journal entry is written.
    action: Option<JoinHandle<()>>,
    /// Cancelled plans being journaled, awaited before the console exits.
    journaling: Vec<JoinHandle<()>>,
}

impl Runtime {
    pub fn new(
        clients: Clients,
        module: std::path::PathBuf,
        journal: Journal,
        cache: Option<(std::path::PathBuf, String)>,
        tx: UnboundedSender<Message>,
    ) -> Runtime {
        let (cache, scope) = match cache {
            Some((path, scope)) => (Some(path), scope),
            None => (None, String::new()),
        };
        let transcripts = journal
            .path()
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("ceremonies");
        Runtime {
            cache,
            scope,
            transcripts,
            clients: Arc::new(clients),
            module,
            journal: Arc::new(journal),
            operator: Arc::new(std::sync::Mutex::new(Operator::local())),
            tx,
            action: None,
            journaling: Vec::new(),
        }
    }

    /// Asks who the credentials belong to, for plans and the journal.
    pub fn identify(&self) {
        let Some(first) = self.clients.regions().next().cloned() else {
            return;
        };
        let tx = self.tx.clone();
        let operator = Arc::clone(&self.operator);
        tokio::spawn(async move {
            let identity = action::caller_identity(&first).await;
            if let (Ok((_, arn)), Ok(mut operator)) = (&identity, operator.lock()) {
                operator.aws_identity = Some(arn.clone());
            }
            let _ = tx.send(Message::Identity(identity));
        });
    }

    pub fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::Refresh(regions) => {
                for region in regions {
                    self.refresh(region);
                }
            }
            Effect::SaveCache(snapshots) => {
                let Some(path) = self.cache.clone() else {
                    return;
                };
                let scope = self.scope.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(err) = crate::cache::save_shared(&path, &scope, &snapshots) {
                        tracing::warn!(error = %err, "the snapshot cache was not saved");
                    }
                });
            }
            Effect::ListHsm => {
                let tx = self.tx.clone();
                let module = self.module.clone();
                tokio::spawn(async move {
                    let listed = crate::hsm::snapshot(&module).await;
                    let _ = tx.send(Message::Hsm(listed, Utc::now()));
                });
            }
            Effect::BuildPlan(request, ctx) => {
                let tx = self.tx.clone();
                let clients = Arc::clone(&self.clients);
                tokio::spawn(async move {
                    let plan = build_plan(&clients, request, &ctx).await;
                    let _ = tx.send(Message::PlanReady(plan));
                });
            }
            Effect::Run { plan, confirmation } => self.run(*plan, confirmation),
            Effect::Cancelled(plan) => {
                let journal = Arc::clone(&self.journal);
                let operator = self.operator();
                let tx = self.tx.clone();
                self.journaling.retain(|handle| !handle.is_finished());
                self.journaling.push(tokio::task::spawn_blocking(move || {
                    match action::record(&journal, &operator, &plan, Confirmation::Cancelled, None)
                    {
                        Ok(entry) => {
                            tracing::info!(seq = entry.seq, "plan cancelled: {}", plan.title)
                        }
                        Err(err) => tracing::error!(error = %err, "journaling a cancelled plan"),
                    }
                    let _ = tx.send(Message::Journal(read_journal(&journal, false)));
                }));
            }
            Effect::Drill(options) => {
                let clients = Arc::clone(&self.clients);
                let journal = Arc::clone(&self.journal);
                let operator = self.operator();
                let tx = self.tx.clone();
                self.action = Some(tokio::spawn(async move {
                    tracing::info!(lose = ?options.lose, "drill started");
                    let report = crate::drill::run(&clients, &options).await;
                    let recorded = {
                        let report = report.clone();
                        tokio::task::spawn_blocking(move || {
                            crate::drill::record(&journal, &operator, &report)
                        })
                        .await
                    };
                    let journal = match recorded {
                        Ok(Ok(entry)) => Ok(entry.seq),
                        Ok(Err(err)) => Err(err.to_string()),
                        Err(join) => Err(format!("the journal task failed: {join}")),
                    };
                    tracing::info!(passed = report.passed, "drill finished");
                    let _ = tx.send(Message::DrillFinished {
                        report: Box::new(report),
                        journal,
                    });
                }));
            }
            Effect::CeremonyStep {
                mut ceremony,
                step,
                pins,
            } => {
                let tx = self.tx.clone();
                self.action = Some(tokio::spawn(async move {
                    let ran = tokio::task::spawn_blocking(move || {
                        let result = ceremony.run_step(step, pins);
                        (ceremony, result)
                    })
                    .await;
                    match ran {
                        Ok((ceremony, result)) => {
                            let error = result.err().map(|e| e.to_string());
                            match &error {
                                None => tracing::info!(?step, "ceremony step succeeded"),
                                Some(err) => {
                                    tracing::warn!(?step, error = %err, "ceremony step failed")
                                }
                            }
                            let _ = tx.send(Message::CeremonyStep { ceremony, error });
                        }
                        Err(join) => {
                            tracing::error!(error = %join, "the ceremony step task failed")
                        }
                    }
                }));
            }
            Effect::ListObjects { token, pin } => {
                let module = self.module.clone();
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let objects = crate::hsm::list_token_objects(&module, &token, &pin)
                        .map_err(|e| e.to_source_error());
                    drop(pin);
                    let _ = tx.send(Message::Objects { token, objects });
                });
            }
            Effect::RecordCeremony(ceremony) => {
                let journal = Arc::clone(&self.journal);
                let dir = self.transcripts.clone();
                let tx = self.tx.clone();
                self.action = Some(tokio::spawn(async move {
                    let recorded = tokio::task::spawn_blocking(move || {
                        record_ceremony(&ceremony, &dir, &journal)
                    })
                    .await
                    .unwrap_or_else(|join| Err(format!("the transcript task failed: {join}")));
                    let _ = tx.send(Message::CeremonyRecorded(recorded));
                }));
            }
            Effect::LoadJournal { verify } => {
                let journal = Arc::clone(&self.journal);
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Message::Journal(read_journal(&journal, verify)));
                });
            }
        }
    }

    fn refresh(&self, refresh: RegionRefresh) {
        let Some(clients) = self.clients.region(&refresh.region).cloned() else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let known = refresh
                .previous
                .as_ref()
                .map(|(keys, at)| Known::new(keys, *at));
            let region = refresh.region.clone();
            let progress_tx = tx.clone();
            let report = move |progress| {
                let _ = progress_tx.send(Message::RegionProgress {
                    region: region.clone(),
                    progress,
                });
            };
            let sink: ProgressSink<'_> = match refresh.progressive {
                true => Some(&report),
                false => None,
            };
            let fetch = fetch_region_reporting(&clients, known, Utc::now(), sink).await;
            let _ = tx.send(Message::Region(fetch));
        });
    }

    fn operator(&self) -> Operator {
        self.operator
            .lock()
            .map(|o| o.clone())
            .unwrap_or_else(|_| Operator::local())
    }

    fn run(&mut self, plan: Plan, confirmation: Confirmation) {
        let clients = Arc::clone(&self.clients);
        let journal = Arc::clone(&self.journal);
        let operator = self.operator();
        let tx = self.tx.clone();
        self.action = Some(tokio::spawn(async move {
            tracing::info!("running plan: {}", plan.title);
            let progress = tx.clone();
            let outcome = action::execute(&plan, &clients, |step| {
                let _ = progress.send(Message::StepDone(step.clone()));
            })
            .await;
            let recorded = {
                let (journal, plan, outcome) =
                    (Arc::clone(&journal), plan.clone(), outcome.clone());
                tokio::task::spawn_blocking(move || {
                    action::record(&journal, &operator, &plan, confirmation, Some(&outcome))
                })
                .await
            };
            let journaled = match recorded {
                Ok(Ok(entry)) => Ok(entry.seq),
                Ok(Err(err)) => Err(err.to_string()),
                Err(join) => Err(format!("the journal task failed: {join}")),
            };
            match &journaled {
                Ok(seq) => tracing::info!(seq, "plan finished and journaled: {}", plan.title),
                Err(err) => tracing::error!(error = %err, "the plan ran but was NOT journaled"),
            }
            for (region, key_id) in outcome.touched_keys(&plan) {
                if let Some(rc) = clients.region(&region) {
                    let key = fetch_key(rc, &key_id).await;
                    let _ = tx.send(Message::KeyRead { region, key });
                }
            }
            let _ = tx.send(Message::ActionFinished {
                outcome,
                journal: journaled,
            });
        }));
    }

    /// Waits for a running plan to finish and be journaled.
    pub async fn finish(&mut self) {
        if let Some(handle) = self.action.take() {
            let _ = handle.await;
        }
        for handle in self.journaling.drain(..) {
            let _ = handle.await;
        }
    }
}

async fn build_plan(
    clients: &Clients,
    request: PlanRequest,
    ctx: &Context,
) -> Result<Plan, String> {
    match request {
        PlanRequest::Key { key, request } => {
            let extras = if matches!(request, Request::ManualRotate | Request::Replicate { .. }) {
                let rc = clients
                    .region(&key.region)
                    .ok_or_else(|| format!("{} is not a configured region", key.region))?;
                action::read_extras(rc, &key)
                    .await
                    .map_err(|e| format!("reading what the plan copies from the key: {e}"))?
            } else {
                KeyExtras::default()
            };
            action::plan(&request, &key, &extras, ctx).map_err(|r| r.0)
        }
        PlanRequest::NewMultiRegionKey {
            alias,
            primary,
            replicas,
            period_days,
        } => {
            let plan = action::preflight::plan_new_multi_region_key(
                &primary,
                &alias,
                "",
                period_days,
                &replicas,
                ctx,
            )
            .map_err(|r| r.0)?;
            // An alias already in use would leave the new key behind, unnamed.
            match action::command::alias_taken(clients, &alias, &plan).await {
                Some(refusal) => Err(refusal.0),
                None => Ok(plan),
            }
        }
        PlanRequest::Approve(items) => {
            let mut plans = Vec::new();
            let mut refused = Vec::new();
            for (key, verdict) in &items {
                let requests = rotate::requests(key, verdict);
                if requests.is_empty() {
                    refused.push(format!("{}: nothing is due", verdict.name()));
                    continue;
                }
                match crate::policy::command::plan_key(clients, key, verdict, &requests, ctx).await
                {
                    Ok(plan) => plans.push(plan),
                    Err(reason) => refused.push(format!("{}: {reason}", verdict.name())),
                }
            }
            if plans.is_empty() {
                return Err(if refused.is_empty() {
                    "nothing to approve".into()
                } else {
                    refused.join("; ")
                });
            }
            let keys = crate::plural::count(plans.len(), "key", "keys");
            let mut plan = Plan::batch(format!("Approve the rotation of {keys}"), plans);
            plan.notes
                .extend(refused.into_iter().map(|r| format!("left out: {r}")));
            Ok(plan)
        }
    }
}

/// Writes the transcript (Markdown and JSON) into `dir` and journals it.
fn record_ceremony(
    ceremony: &Ceremony,
    dir: &std::path::Path,
    journal: &Journal,
) -> Result<String, String> {
    let transcript = ceremony.transcript();
    let files = transcript
        .write(dir)
        .map_err(|e| format!("writing the transcript into {}: {e}", dir.display()))?;
    let entry = crate::hsm::ceremony::transcript::record(journal, &transcript, Some(&files))
        .map_err(|e| format!("the transcript is written but NOT journaled: {e}"))?;
    tracing::info!(seq = entry.seq, "ceremony transcript written and journaled");
    Ok(format!(
        "transcript {} and {}; journaled as entry {}",
        files.markdown.display(),
        files.json.display(),
        entry.seq
    ))
}

fn read_journal(journal: &Journal, verify: bool) -> Result<JournalView, String> {
    let entries = journal.entries().map_err(|e| e.to_string())?;
    let verification = if verify {
        Some(journal.verify().map_err(|e| e.to_string())?)
    } else {
        None
    };
    Ok(JournalView {
        path: journal.path().display().to_string(),
        entries,
        verification,
    })
}
