//! Configuration: a TOML file layered over built-in defaults, then command-line flags.
//!
//! Error policy: a file named with `--config` (or `KEYWARD_CONFIG`) must exist and parse; the
//! default location may be absent, but a file that is there and does not parse is an error too,
//! since silently ignoring it would watch the wrong estate. Every error names the file, the line
//! and the field, and says what would be valid. Values are validated while they are
//! deserialized, so the TOML parser's own span points at the offending value.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

mod regions;
mod rules;

pub use rules::{Exemption, RotationRule};

/// The regions of the estate this project was built for; used when nothing else says.
pub const DEFAULT_REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
/// Where SoftHSM2 installs its PKCS#11 module on Debian and Ubuntu.
pub const DEFAULT_PKCS11_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The configuration file could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {path}: not found (it was named explicitly, so it must exist)")]
    Missing { path: PathBuf },
    #[error("config file {path}: cannot read it: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}, line {line}, column {column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{field}: {message}")]
    Flag {
        field: &'static str,
        message: String,
    },
}

/// An AWS region name such as `us-east-1`: one that AWS has (the list is in `config/regions.rs`),
/// whether or not the account enabled it (a region it has not shows its own error in the
/// console). An emulator on loopback is reached with real region names too.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Region(String);

impl Region {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Region {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        if regions::is_known(&name) {
            return Ok(Region(name));
        }
        if regions::looks_like_region(&name) {
            Err(format!(
                "unknown region {name:?}: AWS has no region of that name; expected one such as {}",
                or_list(&regions::suggestions(&name))
            ))
        } else {
            Err(format!(
                "invalid region name {name:?}: expected an AWS region such as \"us-east-1\" or \
                 \"ap-southeast-2\""
            ))
        }
    }
}

/// An integer checked against an inclusive range while it is deserialized; any other type
/// is refused with the range it should have been in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounded<const MIN: i64, const MAX: i64>(u32);

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Range<const MIN: i64, const MAX: i64>;
        impl<const MIN: i64, const MAX: i64> serde::de::Visitor<'_> for Range<MIN, MAX> {
            type Value = Bounded<MIN, MAX>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "a whole number from {MIN} to {MAX}")
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Bounded::try_from(value).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
                let value = i64::try_from(value).unwrap_or(i64::MAX);
                Bounded::try_from(value).map_err(E::custom)
            }
        }
        deserializer.deserialize_i64(Range::<MIN, MAX>)
    }
}

impl<const MIN: i64, const MAX: i64> Bounded<MIN, MAX> {
    pub fn get(self) -> u32 {
        self.0
    }
}

impl<const MIN: i64, const MAX: i64> TryFrom<i64> for Bounded<MIN, MAX> {
    type Error = String;

    fn try_from(value: i64) -> Result<Self, String> {
        if (MIN..=MAX).contains(&value) {
            Ok(Bounded(value as u32))
        } else {
            Err(format!(
                "{value} is out of range: expected a whole number from {MIN} to {MAX}"
            ))
        }
    }
}

/// An endpoint URL for every AWS service, such as a local emulator.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct EndpointUrl(String);

impl EndpointUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EndpointUrl {
    type Error = String;

    fn try_from(url: String) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        match rest {
            Some(host) if !host.is_empty() && !host.starts_with('/') => {
                Ok(EndpointUrl(url.trim_end_matches('/').to_owned()))
            }
            _ => Err(format!(
                "invalid endpoint URL {url:?}: expected http:// or https:// followed by a host, \
                 such as \"http://127.0.0.1:5000\""
            )),
        }
    }
}

/// The file as written; every field optional, unknown fields refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// Checked after deserializing, so an error points at the element rather than the list.
    regions: Option<Vec<Spanned<String>>>,
    profile: Option<String>,
    endpoint_url: Option<EndpointUrl>,
    refresh_interval_secs: Option<Bounded<5, 86_400>>,
    read_only: Option<bool>,
    rotation: Option<RotationFile>,
    pkcs11: Option<Pkcs11File>,
    aws: Option<AwsFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotationFile {
    period_days: Option<Spanned<Bounded<90, 2560>>>,
    warn_after_days: Option<Spanned<Bounded<1, 2559>>>,
    rules: Option<Vec<Spanned<rules::RuleFile>>>,
    exemptions: Option<Vec<rules::ExemptionFile>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pkcs11File {
    module: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AwsFile {
    connect_timeout_secs: Option<Bounded<1, 60>>,
    operation_timeout_secs: Option<Bounded<1, 600>>,
    max_attempts: Option<Bounded<1, 10>>,
    max_concurrency: Option<Bounded<1, 256>>,
    page_size: Option<Bounded<1, 1000>>,
    requests_per_second: Option<Bounded<1, 10_000>>,
    endpoints: Option<std::collections::BTreeMap<Region, EndpointUrl>>,
    emulator_account_id: Option<String>,
}

/// The rotation rule every customer-managed key is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// A key must have rotated within this many days.
    pub period_days: u32,
    /// Past this many days since the last rotation a key is due soon; the estate's
    /// `KeyRotationDelay` alarm fires at the same age.
    pub warn_after_days: u32,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy {
            period_days: 90,
            warn_after_days: 85,
        }
    }
}

/// How keyward talks to AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// One endpoint for every service of a region (a regional proxy or emulator); it wins over
    /// `endpoint_url` for that region.
    pub region_endpoints: std::collections::BTreeMap<String, String>,
    pub connect_timeout: Duration,
    pub operation_timeout: Duration,
    pub max_attempts: u32,
    /// Concurrent requests per region.
    pub max_concurrency: usize,
    /// The per-region request budget, so the console never starves production traffic of the
    /// account's KMS quota.
    pub requests_per_second: u32,
    /// Entries asked for per page of KMS `List*` calls (AWS allows up to 1000).
    pub page_size: u32,
    /// Sent as `x-moto-account-id` when an endpoint override is set, so one emulator can hold
    /// several isolated estates. Ignored against real AWS.
    pub emulator_account_id: Option<String>,
    /// Credentials to use instead of the SDK's default chain: the sandbox's and the tests'
    /// fixed emulator credentials. Never read from the config file.
    pub static_credentials: Option<aws_credential_types::Credentials>,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            profile: None,
            endpoint_url: None,
            region_endpoints: std::collections::BTreeMap::new(),
            connect_timeout: Duration::from_secs(3),
            operation_timeout: Duration::from_secs(20),
            max_attempts: 3,
            max_concurrency: 16,
            page_size: 1000,
            requests_per_second: 50,
            emulator_account_id: None,
            static_credentials: None,
        }
    }
}

/// The resolved settings keyward runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub regions: Vec<String>,
    pub refresh_interval: Duration,
    pub read_only: bool,
    pub rotation: RotationPolicy,
    /// `[[rotation.rules]]` in file order; the first that matches a key sets its period.
    pub rotation_rules: Vec<RotationRule>,
    /// `[[rotation.exemptions]]`: keys excused from the policy until a date.
    pub exemptions: Vec<Exemption>,
    pub pkcs11_module: PathBuf,
    pub aws: AwsSettings,
    /// The file these settings came from, if any.
    pub source: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            regions: DEFAULT_REGIONS.iter().map(|r| r.to_string()).collect(),
            refresh_interval: Duration::from_secs(60),
            read_only: false,
            rotation: RotationPolicy::default(),
            rotation_rules: Vec::new(),
            exemptions: Vec::new(),
            pkcs11_module: PathBuf::from(DEFAULT_PKCS11_MODULE),
            aws: AwsSettings::default(),
            source: None,
        }
    }
}

/// Values given on the command line (or their environment variables); they win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub regions: Vec<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub read_only: bool,
    pub pkcs11_module: Option<PathBuf>,
    pub emulator_account_id: Option<String>,
}

/// The default config file location, from the platform's conventions.
pub fn default_path() -> Option<PathBuf> {
    crate::paths::project_dirs().map(|d| d.config_dir().join("keyward.toml"))
}

/// Loads settings from `explicit` (which must exist) or the default location (which may not),
/// then applies the overrides.
pub fn load(explicit: Option<&Path>, overrides: &Overrides) -> Result<Settings, ConfigError> {
    let mut settings = match explicit {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => ConfigError::Missing {
                    path: path.to_owned(),
                },
                _ => ConfigError::Unreadable {
                    path: path.to_owned(),
                    source,
                },
            })?;
            parse(&text, path)?
        }
        None => match default_path() {
            Some(path) => match std::fs::read_to_string(&path) {
                Ok(text) => parse(&text, &path)?,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Settings::default(),
                Err(source) => return Err(ConfigError::Unreadable { path, source }),
            },
            None => Settings::default(),
        },
    };
    apply(&mut settings, overrides)?;
    Ok(settings)
}

/// Parses the text of a config file; `path` is only used in error messages.
pub fn parse(text: &str, path: &Path) -> Result<Settings, ConfigError> {
    let invalid = |span: Option<std::ops::Range<usize>>, message: String| {
        let (line, column) = span.map(|s| line_column(text, s.start)).unwrap_or((1, 1));
        ConfigError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    let file: FileConfig = toml::from_str(text).map_err(|err| {
        let message = match err.span().and_then(|span| key_at(text, span.start)) {
            Some(key) if !err.message().contains(&format!("`{key}`")) => {
                format!("{key}: {}", err.message())
            }
            _ => err.message().to_owned(),
        };
        invalid(err.span(), message)
    })?;

    let mut settings = Settings {
        source: Some(path.to_owned()),
        ..Settings::default()
    };
    if let Some(regions) = file.regions {
        if regions.is_empty() {
            let message =
                "regions: the list is empty; name at least one region, such as [\"us-east-1\"]";
            return Err(invalid(None, message.into()).with_span_of(text, "regions"));
        }
        let mut names = Vec::new();
        for name in regions {
            let span = name.span();
            let region = Region::try_from(name.into_inner())
                .map_err(|message| invalid(Some(span), format!("regions: {message}")))?;
            names.push(region.0);
        }
        settings.regions = dedup(names.into_iter());
    }
    settings.aws.profile = file.profile;
    settings.aws.endpoint_url = file.endpoint_url.map(|u| u.0);
    if let Some(secs) = file.refresh_interval_secs {
        settings.refresh_interval = Duration::from_secs(secs.get().into());
    }
    settings.read_only = file.read_only.unwrap_or(false);

    if let Some(rotation) = file.rotation {
        if let Some(period) = &rotation.period_days {
            settings.rotation.period_days = period.get_ref().get();
        }
        if let Some(warn) = &rotation.warn_after_days {
            settings.rotation.warn_after_days = warn.get_ref().get();
        }
        let policy = settings.rotation;
        if policy.warn_after_days >= policy.period_days {
            let span = rotation.warn_after_days.as_ref().map(|w| w.span());
            return Err(invalid(
                span,
                format!(
                    "rotation.warn_after_days = {} must be less than rotation.period_days = {}",
                    policy.warn_after_days, policy.period_days
                ),
            ));
        }
        settings.rotation_rules = rules::resolve_rules(rotation.rules.unwrap_or_default(), policy)
            .map_err(|(span, message)| invalid(span, message))?;
        settings.exemptions = rules::resolve_exemptions(rotation.exemptions.unwrap_or_default());
    }
    if let Some(module) = file.pkcs11.and_then(|p| p.module) {
        settings.pkcs11_module = module;
    }
    if let Some(aws) = file.aws {
        let defaults = AwsSettings::default();
        settings.aws.connect_timeout = aws
            .connect_timeout_secs
            .map_or(defaults.connect_timeout, |s| {
                Duration::from_secs(s.get().into())
            });
        settings.aws.operation_timeout = aws
            .operation_timeout_secs
            .map_or(defaults.operation_timeout, |s| {
                Duration::from_secs(s.get().into())
            });
        settings.aws.max_attempts = aws.max_attempts.map_or(defaults.max_attempts, |n| n.get());
        settings.aws.max_concurrency = aws
            .max_concurrency
            .map_or(defaults.max_concurrency, |n| n.get() as usize);
        settings.aws.page_size = aws.page_size.map_or(defaults.page_size, |n| n.get());
        settings.aws.requests_per_second = aws
            .requests_per_second
            .map_or(defaults.requests_per_second, |n| n.get());
        settings.aws.region_endpoints = aws
            .endpoints
            .unwrap_or_default()
            .into_iter()
            .map(|(region, url)| (region.0, url.0))
            .collect();
        if let Some(account) = aws.emulator_account_id {
            let account = check_account_id(&account).map_err(|message| {
                invalid(None, format!("aws.emulator_account_id: {message}"))
                    .with_span_of(text, "emulator_account_id")
            })?;
            settings.aws.emulator_account_id = Some(account);
        }
    }
    Ok(settings)
}

fn apply(settings: &mut Settings, overrides: &Overrides) -> Result<(), ConfigError> {
    if !overrides.regions.is_empty() {
        let mut regions = Vec::new();
        for name in overrides.regions.iter().flat_map(|r| r.split(',')) {
            let region =
                Region::try_from(name.trim().to_owned()).map_err(|message| ConfigError::Flag {
                    field: "--region",
                    message,
                })?;
            regions.push(region.0);
        }
        settings.regions = dedup(regions.into_iter());
    }
    if let Some(profile) = &overrides.profile {
        settings.aws.profile = Some(profile.clone());
    }
    if let Some(url) = &overrides.endpoint_url {
        let url = EndpointUrl::try_from(url.clone()).map_err(|message| ConfigError::Flag {
            field: "--endpoint-url",
            message,
        })?;
        settings.aws.endpoint_url = Some(url.0);
    }
    if let Some(module) = &overrides.pkcs11_module {
        settings.pkcs11_module = module.clone();
    }
    if let Some(account) = &overrides.emulator_account_id {
        settings.aws.emulator_account_id =
            Some(
                check_account_id(account).map_err(|message| ConfigError::Flag {
                    field: "KEYWARD_EMULATOR_ACCOUNT",
                    message,
                })?,
            );
    }
    settings.read_only |= overrides.read_only;
    Ok(())
}

fn check_account_id(account: &str) -> Result<String, String> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(account.to_owned())
    } else {
        Err(format!(
            "{account:?} is not an account id: expected 12 digits"
        ))
    }
}

/// "a", "a or b", "a, b or c".
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

impl ConfigError {
    /// Points an error at the first occurrence of `needle` in `text`, when it has no position.
    fn with_span_of(self, text: &str, needle: &str) -> Self {
        match self {
            ConfigError::Invalid { path, message, .. } => {
                let (line, column) = text.find(needle).map_or((1, 1), |o| line_column(text, o));
                ConfigError::Invalid {
                    path,
                    line,
                    column,
                    message,
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests;

/// The key assigned on the line holding byte `offset` of `text`, as in `key = value`.
fn key_at(text: &str, offset: usize) -> Option<&str> {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('#')).then_some(key)
}
