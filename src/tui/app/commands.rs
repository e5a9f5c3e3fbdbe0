//! The operator's commands that open dialogs or start work: the detail view, the action
//! menu, approvals, the drill, the new-key form, token login and the ceremony wizard.

use super::{App, DrillView, Effect, Pane, PlanRequest};
use crate::estate::Key;
use crate::policy::Verdict;
use crate::tui::dialog::{ActionMenu, Overlay};

impl App {
    pub(super) fn open_detail(&mut self) {
        match self.pane {
            Pane::Audit => return self.open_entry(),
            Pane::Alarms => return self.open_alarm(),
            _ => {}
        }
        let Some(arn) = self.selected_key().map(|k| k.arn.clone()) else {
            return;
        };
        if self.pane != Pane::Keys {
            // Show it in the key table, unfiltered, where the detail view lives.
            self.keys.filter.clear();
            self.keys.refilter();
            self.keys.select_arn(&self.estate, &arn);
            self.keys.chosen = true;
            self.pane = Pane::Keys;
        }
        self.keys.detail = true;
        self.keys.detail_scroll = 0;
    }

    /// Starts drill mode by asking which region to imagine lost, or leaves it once the
    /// verdict is in.
    pub(super) fn toggle_drill(&mut self) {
        match &self.drill {
            Some(drill) if drill.finished.is_some() => self.drill = None,
            Some(_) => {}
            None => {
                let mut choices = vec![None];
                choices.extend(self.regions.iter().cloned().map(Some));
                self.overlay = Some(Overlay::DrillSetup {
                    choices,
                    selected: 0,
                });
            }
        }
    }

    pub(super) fn start_drill(&mut self, lose: Option<String>) -> Vec<Effect> {
        self.drill = Some(DrillView {
            lose: lose.clone(),
            started: self.now,
            finished: None,
        });
        self.pane = Pane::Overview;
        vec![Effect::Drill(crate::drill::Options {
            lose,
            keys: Vec::new(),
            required_regions: self.regions.clone(),
            backup_max_age_days: crate::drill::BACKUP_MAX_AGE_DAYS,
        })]
    }

    pub(super) fn open_login(&mut self) {
        let tokens: Vec<crate::hsm::TokenRef> = self
            .hsm
            .data
            .iter()
            .flat_map(|s| s.slots.iter())
            .filter_map(|slot| slot.token.as_ref())
            .filter(|t| t.initialized && t.user_pin_initialized)
            .map(crate::hsm::TokenRef::from)
            .collect();
        self.overlay = Some(if tokens.is_empty() {
            Overlay::notice(
                "Log in",
                vec!["No token with a user PIN is listed: run a ceremony first (c).".into()],
            )
        } else {
            Overlay::Login(crate::tui::dialog::Login::new(tokens))
        });
    }

    pub(super) fn open_wizard(&mut self) {
        if self.read_only {
            return;
        }
        let operator = crate::audit::Operator::local().user;
        let wizard = crate::tui::wizard::Wizard::new(
            self.pkcs11_module.clone(),
            self.hsm.data.as_ref(),
            operator,
        );
        self.overlay = Some(Overlay::Wizard(Box::new(wizard)));
    }

    /// The effects a wizard action asks for; closing it is the caller's business.
    pub(super) fn wizard_effects(
        &mut self,
        action: crate::tui::wizard::WizardAction,
    ) -> Vec<Effect> {
        use crate::tui::wizard::WizardAction;
        match action {
            WizardAction::None => Vec::new(),
            WizardAction::Close => {
                self.overlay = None;
                Vec::new()
            }
            WizardAction::Run {
                ceremony,
                step,
                pins,
            } => vec![Effect::CeremonyStep {
                ceremony,
                step,
                pins,
            }],
            WizardAction::Record(ceremony) => vec![Effect::RecordCeremony(ceremony)],
        }
    }

    pub(super) fn open_new_key_form(&mut self) {
        if !self.read_only {
            self.overlay = Some(Overlay::NewKey {
                alias: "alias/".into(),
                message: None,
            });
        }
    }

    /// The plan request for a new multi-region key: primary in the first watched region,
    /// replicas in the others, rotating at the policy's period.
    pub(super) fn new_key_request(&self, alias: String) -> PlanRequest {
        PlanRequest::NewMultiRegionKey {
            alias,
            primary: self.regions.first().cloned().unwrap_or_default(),
            replicas: self.regions.iter().skip(1).cloned().collect(),
            period_days: self.rotation_policy.period_days,
        }
    }

    pub(super) fn open_actions(&mut self) {
        if self.read_only {
            return;
        }
        let Some(key) = self.selected_key() else {
            return;
        };
        let menu = ActionMenu::new(key, &self.context(), self.rotation_policy.period_days);
        self.overlay = Some(Overlay::Menu(menu));
    }

    pub(super) fn toggle_mark(&mut self) {
        let Some(key) = self.selected_key() else {
            return;
        };
        let arn = key.arn.clone();
        let due = self
            .evaluation
            .iter()
            .flat_map(|e| e.keys.iter())
            .any(|v| v.arn == arn && v.status.is_due() && v.follows_primary.is_none());
        if !self.marked.remove(&arn) && due {
            self.marked.insert(arn);
        }
        self.move_selection(1);
    }

    pub(super) fn approve(&mut self) -> Vec<Effect> {
        let mut arns: Vec<String> = self.marked.iter().cloned().collect();
        if arns.is_empty()
            && let Some(key) = self.selected_key()
        {
            arns.push(key.arn.clone());
        }
        let Some(evaluation) = &self.evaluation else {
            return Vec::new();
        };
        let mut items: Vec<(Key, Verdict)> = arns
            .iter()
            .filter_map(|arn| {
                let verdict = evaluation.keys.iter().find(|v| &v.arn == arn)?;
                let key = self.estate.keys().find(|k| &k.arn == arn)?;
                Some((key.clone(), verdict.clone()))
            })
            .collect();
        if items.is_empty() {
            self.overlay = Some(Overlay::notice(
                "Nothing to approve",
                vec!["No marked or selected key is due for rotation.".into()],
            ));
            return Vec::new();
        }
        // The plan lists (and runs) the most overdue key first, the keys only due soon last.
        items.sort_by(|(_, a), (_, b)| a.cmp_urgency(b));
        self.overlay = Some(Overlay::Planning(format!(
            "Planning the rotation of {}",
            crate::plural::count(items.len(), "key", "keys")
        )));
        vec![Effect::BuildPlan(
            PlanRequest::Approve(items),
            self.context(),
        )]
    }

    /// The selected journal entry in full: who, when, its hashes and what it recorded.
    fn open_entry(&mut self) {
        let Some(journal) = &self.journal.data else {
            return;
        };
        let Some(entry) = journal.entries.iter().rev().nth(self.audit_selected) else {
            return;
        };
        let operator = &entry.operator;
        let mut lines = vec![
            entry.summary.clone(),
            format!(
                "{} UTC, entry {}",
                entry.time.format("%Y-%m-%d %H:%M:%S"),
                entry.seq
            ),
            format!(
                "operator {} on {}{}{}",
                operator.user,
                operator.host,
                operator
                    .ssh_client
                    .as_deref()
                    .map_or_else(String::new, |c| format!(", SSH from {c}")),
                operator
                    .aws_identity
                    .as_deref()
                    .map_or_else(String::new, |a| format!(", AWS {a}"))
            ),
            format!("hash {}", entry.hash),
            format!("after {}", entry.prev),
        ];
        // All of it: the notice scrolls.
        let details = serde_json::to_string_pretty(&entry.details).unwrap_or_default();
        lines.extend(details.lines().map(str::to_owned));
        self.overlay = Some(Overlay::notice(
            format!("Journal entry {}", entry.seq),
            lines,
        ));
    }

    /// The selected alarm in full, with its reason.
    fn open_alarm(&mut self) {
        let Some(alarm) = self.estate.alarms().nth(self.alarms_selected) else {
            return;
        };
        let mut lines = vec![
            format!(
                "{} in {}: {}",
                alarm.name,
                alarm.region,
                alarm.state.label()
            ),
            alarm.reason.clone(),
        ];
        if let (Some(metric), Some(threshold)) = (&alarm.metric, alarm.threshold) {
            lines.push(format!(
                "{} {} {} {threshold}",
                alarm.namespace.as_deref().unwrap_or(""),
                metric,
                alarm.comparison.as_deref().unwrap_or("")
            ));
        }
        if let Some(since) = alarm.since {
            lines.push(format!("since {} UTC", since.format("%Y-%m-%d %H:%M:%S")));
        }
        self.overlay = Some(Overlay::notice(format!("Alarm {}", alarm.name), lines));
    }
}
