//! `keyward audit show` and `keyward audit verify`.

use std::io::Write;

use super::{AuditError, Journal, Verification};
use crate::cli::InventoryFormat;

/// Prints every entry; JSON Lines exactly as stored, or one line per entry for people.
pub fn show(
    journal: &Journal,
    format: InventoryFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let entries = journal.entries()?;
    match format {
        InventoryFormat::Json => {
            for entry in &entries {
                serde_json::to_writer(&mut *out, entry)?;
                writeln!(out)?;
            }
        }
        InventoryFormat::Table => {
            if entries.is_empty() {
                writeln!(out, "{}: no entries", journal.path().display())?;
            }
            for entry in &entries {
                let who = match &entry.operator.ssh_client {
                    Some(client) => format!(
                        "{}@{} via {client}",
                        entry.operator.user, entry.operator.host
                    ),
                    None => format!("{}@{}", entry.operator.user, entry.operator.host),
                };
                writeln!(
                    out,
                    "{:>5}  {}  {:<9}  {:<28}  {}",
                    entry.seq,
                    entry.time.format("%Y-%m-%d %H:%M:%S"),
                    serde_json::to_value(entry.kind)?
                        .as_str()
                        .unwrap_or_default(),
                    who,
                    entry.summary
                )?;
            }
        }
    }
    Ok(())
}

/// Checks the chain and prints the verdict; returns whether it is intact.
pub fn verify(journal: &Journal, out: &mut impl Write) -> Result<bool, AuditError> {
    let verdict = journal.verify()?;
    let path = journal.path().display();
    let written = match &verdict {
        Verification::Intact { entries, head } => {
            writeln!(
                out,
                "{path}: intact, {}, head {}",
                crate::plural::count(*entries, "entry", "entries"),
                &head[..16]
            )
        }
        Verification::Broken { line, seq, reason } => {
            let entry = seq.map_or_else(String::new, |s| format!(" (entry {s})"));
            writeln!(out, "{path}: BROKEN at line {line}{entry}: {reason}")
        }
    };
    written.map_err(|source| AuditError::Io {
        path: journal.path().to_owned(),
        action: "printing the verdict",
        source,
    })?;
    Ok(matches!(verdict, Verification::Intact { .. }))
}
