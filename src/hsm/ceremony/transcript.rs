//! The ceremony transcript: JSON for machines, Markdown for the people who sign it, and the
//! audit journal entry. Made only from the plan and the step records, which hold no PIN.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::plan::{ScriptSource, Step, TokenChoice};
use super::record::{GeneratedKey, StepDetail, StepOutcome, StepRecord};
use super::{Ceremony, CeremonyState};
use crate::audit::{AuditError, Entry, Journal, Operator, Record, RecordKind};
use crate::estate::Pkcs11Library;
use crate::hsm::TokenRef;

mod markdown;

/// The `format` field of every JSON transcript, versioned for the tools that read them.
pub const FORMAT: &str = "keyward-ceremony-transcript/1";

/// How the ceremony ended, or that it has not yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptOutcome {
    Completed,
    Abandoned,
    InProgress,
}

/// A planned step as the transcript lists it, run or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    pub number: usize,
    #[serde(flatten)]
    pub step: Step,
    pub title: String,
    pub description: String,
}

/// Everything an auditor needs about one ceremony.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transcript {
    pub format: &'static str,
    pub ceremony: String,
    pub rehearsal: bool,
    pub outcome: TranscriptOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abandoned_because: Option<String>,
    pub operator: String,
    pub witnesses: Vec<String>,
    /// The account and machine keyward ran under.
    pub recorded_by: Operator,
    pub module: String,
    pub library: Option<Pkcs11Library>,
    pub token: Option<TokenRef>,
    pub script: Option<ScriptSource>,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub keys: Vec<GeneratedKey>,
    pub plan: Vec<PlannedStep>,
    pub steps: Vec<StepRecord>,
}

/// The files a transcript was written to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TranscriptFiles {
    pub markdown: PathBuf,
    pub json: PathBuf,
}

impl Transcript {
    /// The transcript of `ceremony` as it stands.
    pub fn of(ceremony: &Ceremony) -> Transcript {
        let (outcome, abandoned_because) = match ceremony.state() {
            CeremonyState::Completed => (TranscriptOutcome::Completed, None),
            CeremonyState::Abandoned { reason } => {
                (TranscriptOutcome::Abandoned, Some(reason.clone()))
            }
            CeremonyState::InProgress => (TranscriptOutcome::InProgress, None),
        };
        let library = ceremony.records().iter().find_map(|r| match &r.outcome {
            StepOutcome::Succeeded { detail } => match detail.as_ref() {
                StepDetail::Prepared { library, .. } => Some(library.clone()),
                _ => None,
            },
            StepOutcome::Failed { .. } => None,
        });
        let plan = ceremony
            .steps()
            .iter()
            .map(|step| PlannedStep {
                number: ceremony.number(*step),
                step: *step,
                title: super::steps::title(ceremony, *step),
                description: ceremony.describe(*step),
            })
            .collect();
        let plan_of = ceremony.plan();
        Transcript {
            format: FORMAT,
            ceremony: plan_of.name.clone(),
            rehearsal: ceremony.is_rehearsal(),
            outcome,
            abandoned_because,
            operator: plan_of.operator.clone(),
            witnesses: plan_of.witnesses.clone(),
            recorded_by: Operator::local(),
            module: ceremony.module().display().to_string(),
            library,
            // An existing token is known from the plan even before step 1 found it.
            token: ceremony.token().cloned().or_else(|| match &plan_of.token {
                TokenChoice::Existing { token, .. } => Some(token.clone()),
                TokenChoice::Blank { .. } => None,
            }),
            script: plan_of.script.clone(),
            started: ceremony.started(),
            finished: ceremony
                .records()
                .last()
                .map_or_else(Utc::now, |r| r.finished),
            keys: ceremony.generated_keys().to_vec(),
            plan,
            steps: ceremony.records().to_vec(),
        }
    }

    /// The file name both files share: the ceremony's name as a slug and its start time.
    pub fn file_stem(&self) -> String {
        let mut slug: String = self
            .ceremony
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        while slug.contains("--") {
            slug = slug.replace("--", "-");
        }
        let slug = slug.trim_matches('-');
        let slug = if slug.is_empty() { "ceremony" } else { slug };
        let kind = if self.rehearsal { "-rehearsal" } else { "" };
        format!("{slug}-{}{kind}", self.started.format("%Y%m%dT%H%M%SZ"))
    }

    /// Writes `<stem>.json` and `<stem>.md` into `dir` (created if missing), each replaced
    /// whole, so a transcript rewritten after every step is never half-written.
    pub fn write(&self, dir: &Path) -> std::io::Result<TranscriptFiles> {
        std::fs::create_dir_all(dir)?;
        let stem = self.file_stem();
        let files = TranscriptFiles {
            markdown: dir.join(format!("{stem}.md")),
            json: dir.join(format!("{stem}.json")),
        };
        let mut json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        json.push('\n');
        replace_file(&files.json, json.as_bytes())?;
        replace_file(&files.markdown, self.to_markdown().as_bytes())?;
        Ok(files)
    }

    /// One line for the journal and the terminal.
    pub fn summary(&self) -> String {
        let kind = if self.rehearsal {
            "ceremony rehearsal"
        } else {
            "ceremony"
        };
        let token = self
            .token
            .as_ref()
            .map_or_else(|| "no token yet".to_string(), |t| format!("token {t}"));
        let verdict = match self.outcome {
            TranscriptOutcome::Completed => "completed".to_string(),
            TranscriptOutcome::InProgress => "in progress".to_string(),
            TranscriptOutcome::Abandoned => {
                let failed = self.steps.iter().rev().find_map(|r| match &r.outcome {
                    StepOutcome::Failed { error } => Some((r.number, error.code.clone())),
                    StepOutcome::Succeeded { .. } => None,
                });
                match failed {
                    Some((number, code)) => {
                        format!("ABANDONED after step {number} failed ({code})")
                    }
                    None => "ABANDONED".to_string(),
                }
            }
        };
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("{} KCV {}", k.label, k.kcv.as_deref().unwrap_or("none")))
            .collect();
        let keys = if keys.is_empty() {
            String::new()
        } else {
            format!("; keys {}", keys.join(", "))
        };
        format!("{kind} {:?} on {token}: {verdict}{keys}", self.ceremony)
    }
}

/// Appends the transcript to the journal as one ceremony entry, flushed before it returns.
pub fn record(
    journal: &Journal,
    transcript: &Transcript,
    files: Option<&TranscriptFiles>,
) -> Result<Entry, AuditError> {
    let record = Record {
        kind: RecordKind::Ceremony,
        summary: transcript.summary(),
        operator: transcript.recorded_by.clone(),
        details: json!({ "transcript": transcript, "files": files }),
    };
    journal.append(&record, Utc::now())
}

fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    // Transcripts name the people and the token: readable by the user alone, like the journal.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
