//! `keyward hsm slots`: the module's library info, every slot and its token.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::InventoryFormat;
use crate::estate::{HsmSnapshot, TokenView};
use crate::hsm::list;

/// Exit code when the module could not be read.
const EXIT_UNREADABLE: u8 = 2;

/// Lists `module`'s slots in `format`; exit 2 (with the officer-facing message) when the
/// module cannot be read.
pub fn run(module: &Path, format: InventoryFormat) -> anyhow::Result<ExitCode> {
    let snapshot = match list(module) {
        Ok(snapshot) => snapshot,
        Err(err) => {
            let shown = err.to_source_error();
            tracing::error!(error = %shown, "PKCS#11 listing failed");
            eprintln!(
                "keyward: {}: {}: {}",
                shown.operation, shown.code, shown.message
            );
            return Ok(ExitCode::from(EXIT_UNREADABLE));
        }
    };
    let mut out = std::io::stdout().lock();
    match format {
        InventoryFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &snapshot)?;
            writeln!(out)?;
        }
        InventoryFormat::Table => write_table(&mut out, &snapshot)?,
    }
    out.flush()
        .context("writing the slots to standard output")?;
    Ok(ExitCode::SUCCESS)
}

fn write_table(out: &mut impl Write, snapshot: &HsmSnapshot) -> std::io::Result<()> {
    let library = &snapshot.library;
    writeln!(
        out,
        "{} — {} {} (library {}, PKCS#11 {})",
        library.path,
        library.manufacturer,
        library.description,
        library.library_version,
        library.cryptoki_version
    )?;
    writeln!(
        out,
        "{:<12} {:<32} {:<18} {:<18} {:<9} STATE",
        "SLOT", "LABEL", "SERIAL", "MODEL", "PIN LEN"
    )?;
    for slot in &snapshot.slots {
        match &slot.token {
            Some(token) => writeln!(
                out,
                "{:<12} {:<32} {:<18} {:<18} {:<9} {}",
                slot.slot_id,
                if token.initialized {
                    token.label.as_str()
                } else {
                    "(blank)"
                },
                token.serial,
                token.model,
                format!("{}-{}", token.min_pin_len, token.max_pin_len),
                state(token)
            )?,
            None => writeln!(
                out,
                "{:<12} {:<32} {:<18} {:<18} {:<9} no token ({})",
                slot.slot_id, "-", "-", "-", "-", slot.description
            )?,
        }
    }
    writeln!(
        out,
        "Slot ids are valid for this listing only; name a token by its label and serial."
    )
}

/// The token flags an officer acts on, in words.
fn state(token: &TokenView) -> String {
    if !token.initialized {
        return "blank: free to initialize".into();
    }
    let mut text = token.pin_flags().join(", ");
    if let Some(free) = token.free_private_memory {
        text.push_str(&format!(", {free} bytes private memory free"));
    }
    text
}
