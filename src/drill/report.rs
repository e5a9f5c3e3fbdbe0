//! The drill report as a table, JSON or Markdown.

use std::io::Write;

use super::Report;

/// The output formats of `keyward drill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
}

impl Report {
    pub fn write(&self, format: Format, out: &mut impl Write) -> std::io::Result<()> {
        match format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut *out, self)?;
                writeln!(out)
            }
            Format::Table => self.write_table(out),
            Format::Markdown => self.write_markdown(out),
        }
    }

    fn verdict(&self) -> &'static str {
        if self.passed { "PASSED" } else { "FAILED" }
    }

    fn write_table(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(
            out,
            "DR drill started {}",
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        )?;
        if let Some(lost) = &self.lost_region {
            writeln!(out, "Imagined loss of {lost}")?;
        }
        for check in &self.checks {
            writeln!(
                out,
                "{:<4} {:<10} {:<28} {:<30} {:>6} ms  {}",
                if check.passed { "ok" } else { "FAIL" },
                check.kind,
                crate::inventory::truncate(&check.subject, 28),
                check.region.as_deref().unwrap_or("-"),
                check.duration_ms,
                check.reason
            )?;
        }
        let failed = self.checks.iter().filter(|c| !c.passed).count();
        writeln!(
            out,
            "{}: {}, {failed} failed, verdict after {} ms",
            self.verdict(),
            crate::plural::count(self.checks.len(), "check", "checks"),
            self.verdict_after_ms
        )
    }

    fn write_markdown(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(out, "# Disaster-recovery drill: {}\n", self.verdict())?;
        writeln!(out, "- Started: {}", self.started_at.to_rfc3339())?;
        writeln!(out, "- Regions: {}", self.regions.join(", "))?;
        if let Some(lost) = &self.lost_region {
            writeln!(out, "- Imagined loss of: {lost}")?;
        }
        writeln!(out, "- Keys drilled: {}", self.keys_drilled.join(", "))?;
        writeln!(out, "- Time to verdict: {} ms\n", self.verdict_after_ms)?;
        writeln!(out, "| result | check | subject | region | ms | reason |")?;
        writeln!(out, "|---|---|---|---|---|---|")?;
        for c in &self.checks {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                if c.passed { "pass" } else { "**FAIL**" },
                c.kind,
                c.subject,
                c.region.as_deref().unwrap_or("-"),
                c.duration_ms,
                c.reason.replace('|', "\\|")
            )?;
        }
        Ok(())
    }
}
