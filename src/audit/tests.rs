//! The chain holds, and verification names the first entry that was altered, removed or moved.

use chrono::TimeZone;
use serde_json::json;

use super::*;

fn record(n: u32) -> Record {
    Record {
        kind: RecordKind::Action,
        summary: format!("rotate alias/key-{n}"),
        operator: Operator {
            user: "oncall".into(),
            host: "bastion".into(),
            ssh_client: Some("127.0.0.1".into()),
            aws_identity: Some("arn:aws:iam::111122223333:user/oncall".into()),
        },
        details: json!({ "plan": [{ "call": "RotateKeyOnDemand", "key": n }], "outcome": "ok" }),
    }
}

fn journal_with(n: u32) -> (tempfile::TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::at(dir.path().join("sub/audit.jsonl"));
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    for i in 1..=n {
        journal.append(&record(i), now).unwrap();
    }
    (dir, journal)
}

fn lines(journal: &Journal) -> Vec<String> {
    std::fs::read_to_string(journal.path())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn rewrite(journal: &Journal, lines: &[String]) {
    std::fs::write(journal.path(), lines.join("\n") + "\n").unwrap();
}

fn broken_line(journal: &Journal) -> (usize, String) {
    match journal.verify().unwrap() {
        Verification::Broken { line, reason, .. } => (line, reason),
        intact => panic!("expected a broken chain, got {intact:?}"),
    }
}

#[test]
fn an_empty_journal_is_intact() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::at(dir.path().join("audit.jsonl"));
    assert_eq!(
        journal.verify().unwrap(),
        Verification::Intact {
            entries: 0,
            head: GENESIS.into()
        }
    );
    assert!(journal.entries().unwrap().is_empty());
}

#[test]
fn appended_entries_chain_and_read_back() {
    let (_dir, journal) = journal_with(3);
    let entries = journal.entries().unwrap();
    assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(entries[0].prev, GENESIS);
    assert_eq!(entries[1].prev, entries[0].hash);
    assert_eq!(entries[2].prev, entries[1].hash);
    assert_eq!(entries[2].summary, "rotate alias/key-3");
    assert_eq!(
        journal.verify().unwrap(),
        Verification::Intact {
            entries: 3,
            head: entries[2].hash.clone()
        }
    );
}

#[cfg(unix)]
#[test]
fn the_journal_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, journal) = journal_with(1);
    let mode = std::fs::metadata(journal.path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn an_edited_entry_is_named() {
    let (_dir, journal) = journal_with(4);
    let mut lines = lines(&journal);
    lines[1] = lines[1].replace("rotate alias/key-2", "rotate alias/key-X");
    rewrite(&journal, &lines);
    let (line, reason) = broken_line(&journal);
    assert_eq!(line, 2);
    assert!(reason.contains("altered"), "{reason}");
}

#[test]
fn a_deleted_entry_is_named() {
    let (_dir, journal) = journal_with(4);
    let mut lines = lines(&journal);
    lines.remove(1);
    rewrite(&journal, &lines);
    let (line, reason) = broken_line(&journal);
    assert_eq!(line, 2);
    assert!(
        reason.contains("expected entry 2 here but found 3"),
        "{reason}"
    );
}

#[test]
fn swapped_entries_are_named() {
    let (_dir, journal) = journal_with(4);
    let mut lines = lines(&journal);
    lines.swap(2, 3);
    rewrite(&journal, &lines);
    let (line, reason) = broken_line(&journal);
    assert_eq!(line, 3);
    assert!(reason.contains("removed or reordered"), "{reason}");
}

#[test]
fn a_removed_tail_is_caught_by_the_head_file() {
    let (_dir, journal) = journal_with(3);
    let mut lines = lines(&journal);
    lines.pop();
    rewrite(&journal, &lines);
    let (_, reason) = broken_line(&journal);
    assert!(reason.contains("head file records entry 3"), "{reason}");
}

#[test]
fn a_rehashed_forgery_still_breaks_the_link() {
    // Someone edits entry 2 and recomputes its hash: entry 3's link no longer matches.
    let (_dir, journal) = journal_with(3);
    let mut lines = lines(&journal);
    let mut value: Value = serde_json::from_str(&lines[1]).unwrap();
    value["summary"] = "nothing happened".into();
    let fields = value.as_object_mut().unwrap();
    fields.remove("hash");
    let hash = hash_body(fields);
    fields.insert("hash".into(), hash.into());
    lines[1] = serde_json::to_string(&value).unwrap();
    rewrite(&journal, &lines);
    let (line, reason) = broken_line(&journal);
    assert_eq!(line, 3);
    assert!(reason.contains("link"), "{reason}");
}

#[test]
fn concurrent_writers_keep_the_chain() {
    let (_dir, journal) = journal_with(0);
    let path = journal.path().to_owned();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let journal = Journal::at(path);
                for i in 0..25 {
                    journal.append(&record(w * 100 + i), Utc::now()).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    match journal.verify().unwrap() {
        Verification::Intact { entries, .. } => assert_eq!(entries, 100),
        broken => panic!("{broken:?}"),
    }
}

#[test]
fn an_unreadable_last_entry_stops_appends_without_writing() {
    let (_dir, journal) = journal_with(2);
    let before = std::fs::read_to_string(journal.path()).unwrap();
    std::fs::write(journal.path(), format!("{before}{{not json\n")).unwrap();
    let err = journal
        .append(&record(9), Utc::now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("last entry does not parse"), "{err}");
    assert!(
        std::fs::read_to_string(journal.path())
            .unwrap()
            .ends_with("{not json\n")
    );
}
