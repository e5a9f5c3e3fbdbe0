//! The audit journal: append-only JSON Lines, each entry hash-chained to the one before.
//!
//! Entry `n` holds `seq = n`, `prev` (the hash of entry `n - 1`, or 64 zeros for the first) and
//! `hash`: SHA-256 over the entry's canonical JSON without `hash` (keys sorted, no spaces). An
//! edited entry fails its own hash; a removed or reordered one breaks `seq` or `prev` of the
//! next. A removed tail is caught by the head file beside the journal, which records the last
//! sequence number and hash. Appends take an exclusive lock on the journal, so several keyward
//! processes can write at once, and are flushed to disk before `append` returns.
//!
//! Entries never hold secrets: records are built from plans and outcomes, whose types carry no
//! PIN or key material.

pub mod command;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The journal could not be read or written.
#[derive(Debug, Error)]
pub enum AuditError {
    #[error("audit journal {path}: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error("audit journal {path}, line {line}: not a journal entry: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "audit journal {path}: its last entry does not parse ({message}); nothing was appended. \
         Run `keyward audit verify` to find what changed"
    )]
    LastEntryUnreadable { path: PathBuf, message: String },
    #[error("no audit journal location: set KEYWARD_AUDIT_LOG or give --audit-log")]
    NoLocation,
}

/// Who did something, as far as this machine can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    pub user: String,
    pub host: String,
    /// The SSH client address, when the session came in over SSH.
    pub ssh_client: Option<String>,
    /// The AWS caller identity (an ARN), when it was asked.
    pub aws_identity: Option<String>,
}

impl Operator {
    /// The local user, host and SSH client of this process.
    pub fn local() -> Self {
        let ssh_client = std::env::var("SSH_CLIENT")
            .or_else(|_| std::env::var("SSH_CONNECTION"))
            .ok()
            .and_then(|v| v.split_whitespace().next().map(str::to_owned));
        Operator {
            user: whoami::username().unwrap_or_else(|_| "unknown".into()),
            host: whoami::hostname().unwrap_or_else(|_| "unknown".into()),
            ssh_client,
            aws_identity: None,
        }
    }
}

/// What an entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A plan that was confirmed and run, with each step's outcome.
    Action,
    /// A plan that was shown and then cancelled; nothing ran.
    Cancelled,
    /// An HSM ceremony step or transcript.
    Ceremony,
    /// A disaster-recovery drill and its verdict.
    Drill,
}

/// One thing to record; `append` adds the sequence number, time and chain.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub kind: RecordKind,
    /// One line for people, e.g. "rotate alias/payments-data in us-east-1: succeeded".
    pub summary: String,
    pub operator: Operator,
    /// The plan, the confirmation given and the outcomes, as structured data.
    pub details: Value,
}

/// An entry as read back from the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub prev: String,
    pub hash: String,
    pub kind: RecordKind,
    pub summary: String,
    pub operator: Operator,
    pub details: Value,
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every entry is intact and in order; `head` is the last hash (GENESIS when empty).
    Intact { entries: u64, head: String },
    /// The first entry (by line) where the chain breaks, and how.
    Broken {
        line: usize,
        seq: Option<u64>,
        reason: String,
    },
}

/// The journal file and its head file.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Journal { path: path.into() }
    }

    /// The journal in the platform data directory.
    pub fn default_location() -> Result<Self, AuditError> {
        let dirs = crate::paths::project_dirs().ok_or(AuditError::NoLocation)?;
        Ok(Journal::at(dirs.data_dir().join("audit.jsonl")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn head_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".head");
        PathBuf::from(name)
    }

    fn io(&self, action: &'static str) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
        move |source| AuditError::Io {
            path: self.path.clone(),
            action,
            source,
        }
    }

    /// Appends `record` under an exclusive lock and flushes it to disk; returns the entry.
    pub fn append(&self, record: &Record, now: DateTime<Utc>) -> Result<Entry, AuditError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(self.io("creating its directory"))?;
        }
        let mut file = open_private(&self.path, true).map_err(self.io("opening"))?;
        file.lock().map_err(self.io("locking"))?;

        let (seq, prev) = match last_line(&mut file).map_err(self.io("reading its last entry"))? {
            Some(line) => {
                let last: Entry =
                    serde_json::from_str(&line).map_err(|e| AuditError::LastEntryUnreadable {
                        path: self.path.clone(),
                        message: e.to_string(),
                    })?;
                (last.seq + 1, last.hash)
            }
            None => (1, GENESIS.to_owned()),
        };

        let mut body = serde_json::to_value(record).expect("records serialize to JSON");
        let fields = body.as_object_mut().expect("a record is a JSON object");
        fields.insert("seq".into(), seq.into());
        fields.insert("time".into(), Value::String(now.to_rfc3339()));
        fields.insert("prev".into(), Value::String(prev));
        let hash = hash_body(fields);
        fields.insert("hash".into(), Value::String(hash.clone()));

        let mut line = serde_json::to_string(&body).expect("entries serialize to JSON");
        line.push('\n');
        file.seek(SeekFrom::End(0))
            .map_err(self.io("seeking to its end"))?;
        file.write_all(line.as_bytes())
            .map_err(self.io("appending"))?;
        file.sync_data().map_err(self.io("flushing to disk"))?;
        self.write_head(seq, &hash)?;
        // The lock is released when `file` closes.
        Ok(serde_json::from_value(body).expect("an entry just built reads back"))
    }

    fn write_head(&self, seq: u64, hash: &str) -> Result<(), AuditError> {
        let head = self.head_path();
        let tmp = head.with_extension("head.tmp");
        let mut file = open_private(&tmp, false).map_err(self.io("writing the head file"))?;
        file.set_len(0).map_err(self.io("writing the head file"))?;
        writeln!(file, "{seq} {hash}").map_err(self.io("writing the head file"))?;
        file.sync_data().map_err(self.io("writing the head file"))?;
        std::fs::rename(&tmp, &head).map_err(self.io("writing the head file"))
    }

    /// Every entry, oldest first. A missing journal has no entries.
    pub fn entries(&self) -> Result<Vec<Entry>, AuditError> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io("opening")(e)),
        };
        let mut entries = Vec::new();
        for (index, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(self.io("reading"))?;
            let entry = serde_json::from_str(&line).map_err(|e| AuditError::Malformed {
                path: self.path.clone(),
                line: index + 1,
                message: e.to_string(),
            })?;
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Checks every entry's hash, sequence and link, and the head file against the last entry.
    pub fn verify(&self) -> Result<Verification, AuditError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(self.io("reading")(e)),
        };
        let mut expected_prev = GENESIS.to_owned();
        let mut expected_seq = 1u64;
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            if let Some(reason) = check_line(line, expected_seq, &expected_prev) {
                let seq = serde_json::from_str::<Value>(line)
                    .ok()
                    .and_then(|v| v["seq"].as_u64());
                return Ok(Verification::Broken {
                    line: line_no,
                    seq,
                    reason,
                });
            }
            let value: Value = serde_json::from_str(line).expect("checked above");
            expected_prev = value["hash"].as_str().unwrap_or_default().to_owned();
            expected_seq += 1;
        }
        let entries = expected_seq - 1;

        let head = match std::fs::read_to_string(self.head_path()) {
            Ok(head) => Some(head),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.io("reading the head file")(e)),
        };
        if let Some(head) = head {
            let mut parts = head.split_whitespace();
            let head_seq: Option<u64> = parts.next().and_then(|s| s.parse().ok());
            let head_hash = parts.next().unwrap_or_default();
            if head_seq != Some(entries) || head_hash != expected_prev {
                return Ok(Verification::Broken {
                    line: text.lines().count() + 1,
                    seq: head_seq,
                    reason: format!(
                        "the head file records entry {} but the journal ends at entry {entries}: \
                         entries were removed from the end or the head file was altered",
                        head_seq.map_or_else(|| "?".into(), |s| s.to_string())
                    ),
                });
            }
        } else if entries > 0 {
            return Ok(Verification::Broken {
                line: 1,
                seq: None,
                reason: "the head file beside the journal is missing".into(),
            });
        }
        Ok(Verification::Intact {
            entries,
            head: expected_prev,
        })
    }
}

/// Why one line breaks the chain, if it does.
fn check_line(line: &str, expected_seq: u64, expected_prev: &str) -> Option<String> {
    let mut value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(e) => return Some(format!("not valid JSON: {e}")),
    };
    let Some(fields) = value.as_object_mut() else {
        return Some("not a JSON object".into());
    };
    let Some(Value::String(hash)) = fields.remove("hash") else {
        return Some("no hash field".into());
    };
    if hash_body(fields) != hash {
        return Some("its content does not match its hash: the entry was altered".into());
    }
    let seq = fields.get("seq").and_then(Value::as_u64);
    if seq != Some(expected_seq) {
        return Some(format!(
            "expected entry {expected_seq} here but found {}: entries were removed or reordered",
            seq.map_or_else(|| "none".into(), |s| s.to_string())
        ));
    }
    if fields.get("prev").and_then(Value::as_str) != Some(expected_prev) {
        return Some(
            "its link to the previous entry does not match: entries were removed or reordered"
                .into(),
        );
    }
    None
}

/// SHA-256 of the canonical JSON of an entry's fields without `hash`.
fn hash_body(fields: &Map<String, Value>) -> String {
    // serde_json's map is ordered by key, so this serialization is canonical.
    let canonical = serde_json::to_string(fields).expect("JSON values serialize");
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Opens for reading and appending (or writing), creating the file readable by its owner only.
fn open_private(path: &Path, append: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).create(true);
    if append {
        options.append(true);
    } else {
        options.write(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The last complete line of the file, read from its end.
fn last_line(file: &mut File) -> std::io::Result<Option<String>> {
    const CHUNK: u64 = 64 * 1024;
    let len = file.seek(SeekFrom::End(0))?;
    let mut start = len.saturating_sub(CHUNK);
    loop {
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        let end = tail.iter().rposition(|&b| b != b'\n').map_or(0, |i| i + 1);
        let tail = &tail[..end];
        let line = match tail.iter().rposition(|&b| b == b'\n') {
            Some(nl) => &tail[nl + 1..],
            None if start == 0 => tail,
            None => {
                start = start.saturating_sub(CHUNK);
                continue;
            }
        };
        if line.is_empty() {
            return Ok(None);
        }
        return String::from_utf8(line.to_vec())
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e));
    }
}

#[cfg(test)]
mod tests;
