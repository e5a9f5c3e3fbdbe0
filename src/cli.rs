//! Command-line definitions. Every flag that reaches AWS or the token has an environment
//! variable too, so `keyward sandbox --no-tui` can hand a second shell the whole estate.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "Terminal console for a multi-region KMS and CloudHSM key estate"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file [default: the platform config dir's keyward/keyward.toml]
    #[arg(long, global = true, env = "KEYWARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// AWS shared-config profile to take credentials from
    #[arg(long, global = true, env = "KEYWARD_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Region to watch; repeat it, or separate with commas
    #[arg(
        long = "region",
        global = true,
        env = "KEYWARD_REGIONS",
        value_delimiter = ',',
        value_name = "R"
    )]
    pub regions: Vec<String>,

    /// AWS-compatible endpoint for every service, such as a local emulator
    #[arg(long, global = true, env = "KEYWARD_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Offer no action that changes keys or tokens
    #[arg(long, global = true)]
    pub read_only: bool,

    /// PKCS#11 module to list and drive
    #[arg(
        long,
        global = true,
        env = "KEYWARD_PKCS11_MODULE",
        value_name = "PATH"
    )]
    pub pkcs11_module: Option<PathBuf>,

    /// Audit journal [default: the platform data dir's keyward/audit.jsonl]
    #[arg(long, global = true, env = "KEYWARD_AUDIT_LOG", value_name = "FILE")]
    pub audit_log: Option<PathBuf>,

    /// Account id sent to an emulator that isolates accounts by header (moto)
    #[arg(
        long,
        global = true,
        env = "KEYWARD_EMULATOR_ACCOUNT",
        value_name = "ID",
        hide = true
    )]
    pub emulator_account: Option<String>,
}

impl GlobalArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            regions: self.regions.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            read_only: self.read_only,
            pkcs11_module: self.pkcs11_module.clone(),
            emulator_account_id: self.emulator_account.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a local estate (moto server and a SoftHSM2 token directory), seed it, open the TUI
    Sandbox(SandboxArgs),
    /// Print one snapshot of the estate and exit (2 when a region could not be read)
    Inventory(InventoryArgs),
    /// Read or check the audit journal
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Change a key: print the plan with --dry-run, run it with --yes
    Key(KeyArgs),
    /// Disaster-recovery drill over the multi-region keys (exit 0 only when every check passed)
    Drill(DrillArgs),
    /// Judge every key against the rotation policy (exit 0 compliant, 1 a key violates, 2 not
    /// everything could be read)
    Check(CheckArgs),
    /// Write the compliance report: counts, violations, exemptions, forecast, coverage
    Report(ReportArgs),
    /// CloudWatch rotation metrics and the KeyRotationDelay alarm
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// Rotate every key due under the policy: print the plan with --dry-run, run it with --yes
    Rotate(RotateArgs),
    /// PKCS#11 tokens: list the slots, run a root-key ceremony from a reviewed script
    #[command(subcommand)]
    Hsm(HsmCommand),
}

#[derive(Debug, Subcommand)]
pub enum HsmCommand {
    /// List the module's slots and tokens with the flags an officer needs (exit 2 when the
    /// module cannot be read)
    Slots {
        /// Output format
        #[arg(long, value_enum, default_value_t = InventoryFormat::Table)]
        format: InventoryFormat,
    },
    /// Run a root-key ceremony described by a TOML script, writing its transcript and a
    /// journal entry (exit 0 completed, 1 a step failed, 2 the script or module is unusable)
    Ceremony(CeremonyArgs),
}

#[derive(Debug, Args)]
pub struct CeremonyArgs {
    /// The reviewed ceremony script (see config/ceremony.toml)
    #[arg(long, value_name = "FILE")]
    pub script: PathBuf,

    /// Read the PINs one per line from this open file descriptor (0 is standard input), in
    /// the order printed, instead of prompting on the terminal
    #[arg(long, value_name = "N")]
    pub pin_fd: Option<i32>,

    /// Directory for the transcript [default: the platform data dir's keyward/ceremonies]
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// Run the script on a throwaway SoftHSM2 token directory instead of the configured
    /// module; the transcript and journal entry say it was a rehearsal
    #[arg(long)]
    pub rehearse: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = crate::policy::report::CheckFormat::Table)]
    pub format: crate::policy::report::CheckFormat,

    /// Judge the estate as it will stand at the end of this day (YYYY-MM-DD, today or later)
    #[arg(long, value_name = "DATE", value_parser = crate::policy::command::parse_date)]
    pub as_of: Option<chrono::NaiveDate>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = crate::policy::report::ReportFormat::Markdown)]
    pub format: crate::policy::report::ReportFormat,

    /// Write the report to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Judge the estate as it will stand at the end of this day (YYYY-MM-DD, today or later)
    #[arg(long, value_name = "DATE", value_parser = crate::policy::command::parse_date)]
    pub as_of: Option<chrono::NaiveDate>,
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Put DaysSinceLastRotation per key and per region into Custom/KMS, and make sure each
    /// region's KeyRotationDelay alarm is as the policy asks (saying what changed)
    Publish,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Rotate the keys that are due soon or violate the policy (the only mode)
    #[arg(long, required = true)]
    pub due: bool,

    /// Print the plan and change nothing
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,

    /// Run the plan without asking (it is still printed, and each key is journaled)
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Also report what losing this region would take away
    #[arg(long, value_name = "REGION")]
    pub lose: Option<String>,

    /// Drill only these keys (alias or key id; repeatable) [default: every multi-region key]
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,

    /// Output format
    #[arg(long, value_enum, default_value_t = crate::drill::report::Format::Table)]
    pub format: crate::drill::report::Format,

    /// Write the report to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// A CloudHSM backup copied out of the lost region may be at most this many days old
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    pub backup_max_age_days: u32,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub action: KeyAction,

    /// Print the plan and change nothing
    #[arg(long, global = true, conflicts_with = "yes")]
    pub dry_run: bool,

    /// Run the plan without asking (it is still printed and journaled)
    #[arg(long, global = true)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Rotate the key material now (RotateKeyOnDemand)
    Rotate { key: String },
    /// Create a successor key with the same properties and move the aliases to it
    RotateManual { key: String },
    /// Turn on automatic rotation with a period
    EnableRotation {
        key: String,
        /// Days between rotations (90 to 2560)
        #[arg(long, default_value_t = 90)]
        period_days: u32,
    },
    /// Turn off automatic rotation
    DisableRotation { key: String },
    /// Replicate a multi-region primary key into another region
    Replicate {
        key: String,
        /// The region to replicate into
        #[arg(long, value_name = "REGION")]
        to: String,
    },
    /// Schedule the key's deletion after a waiting period
    ScheduleDeletion {
        key: String,
        /// Days before deletion (7 to 30)
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// Cancel a scheduled deletion (the key comes back disabled)
    CancelDeletion { key: String },
    /// Disable the key
    Disable { key: String },
    /// Enable the key
    Enable { key: String },
    /// Create a multi-region key with an alias and rotation, and replicate it
    CreateMultiRegion {
        /// Alias for the new key, such as alias/settlements-data
        #[arg(long)]
        alias: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Region of the primary [default: the first configured region]
        #[arg(long, value_name = "REGION")]
        primary: Option<String>,
        /// Regions to replicate into (repeat, or separate with commas)
        #[arg(long = "replica", value_delimiter = ',', value_name = "REGION")]
        replicas: Vec<String>,
        /// Days between automatic rotations (90 to 2560)
        #[arg(long, default_value_t = 90)]
        period_days: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List the journal's entries, oldest first
    Show {
        /// Output format
        #[arg(long, value_enum, default_value_t = InventoryFormat::Table)]
        format: InventoryFormat,
    },
    /// Check the hash chain; exit 1 naming the first entry altered, removed or reordered
    Verify,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Do not open the TUI: print `export` lines for a second shell, then `ready`, and keep
    /// the estate running until interrupted
    #[arg(long)]
    pub no_tui: bool,

    /// Directory for the sandbox's files [default: a new temporary directory]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InventoryFormat {
    Json,
    Table,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = InventoryFormat::Table)]
    pub format: InventoryFormat,
}
