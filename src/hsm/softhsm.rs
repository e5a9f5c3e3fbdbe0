//! SoftHSM2, the local stand-in for an HSM: writing a private configuration, and explaining
//! why its C_Initialize failed.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` once, at C_Initialize, and answers every problem with its
//! configuration or token directory with the same CKR_GENERAL_ERROR. [`diagnose`] checks those
//! facts from outside so the error can name the file or directory at fault.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::HsmError;

/// The environment variable SoftHSM2 reads its configuration path from.
pub const CONF_ENV: &str = "SOFTHSM2_CONF";
/// Where SoftHSM2 (as Debian builds it) looks when `SOFTHSM2_CONF` is unset.
pub const DEFAULT_CONF: &str = "/etc/softhsm/softhsm2.conf";
/// The token directory SoftHSM2 uses when the configuration names none.
pub const DEFAULT_TOKEN_DIR: &str = "/var/lib/softhsm/tokens/";

/// Writes a SoftHSM2 configuration whose tokens live in `<dir>/tokens`, and returns the path
/// of `<dir>/softhsm2.conf`.
///
/// The caller sets `SOFTHSM2_CONF` to the returned path before the process (or a child) first
/// initializes the module: SoftHSM2 reads it only then.
pub fn write_config(dir: &Path) -> Result<PathBuf, HsmError> {
    let token_dir = dir.join("tokens");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&token_dir)
        .map_err(|source| HsmError::ConfigWrite {
            path: token_dir.clone(),
            source,
        })?;

    let conf = dir.join("softhsm2.conf");
    let text = format!(
        "# Written by keyward: a token directory of its own.\n\
         directories.tokendir = {}\n\
         objectstore.backend = file\n\
         log.level = ERROR\n\
         slots.removable = false\n",
        token_dir.display()
    );
    let write = || -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&conf)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    };
    write().map_err(|source| HsmError::ConfigWrite {
        path: conf.clone(),
        source,
    })?;
    Ok(conf)
}

/// What is wrong with the SoftHSM2 configuration this process would use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoftHsmProblem {
    /// `SOFTHSM2_CONF` is unset and the default configuration is missing or unreadable.
    ConfUnset { default: PathBuf, error: String },
    /// `SOFTHSM2_CONF` names a file that does not exist.
    ConfMissing { path: PathBuf },
    /// The configuration exists but cannot be read.
    ConfUnreadable { path: PathBuf, error: String },
    /// The token directory the configuration names does not exist.
    TokenDirMissing { conf: PathBuf, dir: PathBuf },
    /// The token directory exists but this process cannot create files in it.
    TokenDirNotWritable {
        conf: PathBuf,
        dir: PathBuf,
        error: String,
    },
}

impl SoftHsmProblem {
    /// A keyward error class for the problem, shown where a PKCS#11 return value would be.
    pub fn code(&self) -> &'static str {
        match self {
            SoftHsmProblem::ConfUnset { .. }
            | SoftHsmProblem::ConfMissing { .. }
            | SoftHsmProblem::ConfUnreadable { .. } => "SoftHsm2ConfigMissing",
            SoftHsmProblem::TokenDirMissing { .. } => "SoftHsm2TokenDirMissing",
            SoftHsmProblem::TokenDirNotWritable { .. } => "SoftHsm2TokenDirNotWritable",
        }
    }
}

impl fmt::Display for SoftHsmProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SoftHsmProblem::ConfUnset { default, error } => write!(
                f,
                "the SoftHSM2 configuration is missing: {CONF_ENV} is not set and the default \
                 {} cannot be read ({error}); set {CONF_ENV} to a softhsm2.conf (`keyward \
                 sandbox` prints one to export)",
                default.display()
            ),
            SoftHsmProblem::ConfMissing { path } => write!(
                f,
                "the SoftHSM2 configuration is missing: {CONF_ENV} points at {}, which does not \
                 exist; create it with a directories.tokendir line, or point {CONF_ENV} at an \
                 existing softhsm2.conf",
                path.display()
            ),
            SoftHsmProblem::ConfUnreadable { path, error } => write!(
                f,
                "the SoftHSM2 configuration {} cannot be read ({error}); fix its permissions or \
                 point {CONF_ENV} at a readable softhsm2.conf",
                path.display()
            ),
            SoftHsmProblem::TokenDirMissing { conf, dir } => write!(
                f,
                "the SoftHSM2 token directory {} (directories.tokendir in {}) does not exist; \
                 create it (mkdir -m 700) or correct directories.tokendir",
                dir.display(),
                conf.display()
            ),
            SoftHsmProblem::TokenDirNotWritable { conf, dir, error } => write!(
                f,
                "the SoftHSM2 token directory {} (directories.tokendir in {}) is not writable \
                 by this user ({error}); fix its owner or permissions, or use a directory of \
                 your own",
                dir.display(),
                conf.display()
            ),
        }
    }
}

/// Checks the configuration SoftHSM2 would read in this process: `SOFTHSM2_CONF` or the
/// default file, and the token directory it names. `None` when nothing is wrong with them.
///
/// The writability check creates and removes a probe file in the token directory; it runs
/// only to explain a failure.
pub fn diagnose() -> Option<SoftHsmProblem> {
    diagnose_with(std::env::var_os(CONF_ENV), Path::new(DEFAULT_CONF))
}

/// [`diagnose`] with the environment value and the default path given.
pub fn diagnose_with(conf_env: Option<OsString>, default_conf: &Path) -> Option<SoftHsmProblem> {
    let (conf, from_env) = match conf_env.filter(|value| !value.is_empty()) {
        Some(value) => (PathBuf::from(value), true),
        None => (default_conf.to_path_buf(), false),
    };

    let text = match fs::read_to_string(&conf) {
        Ok(text) => text,
        Err(err) if !from_env => {
            return Some(SoftHsmProblem::ConfUnset {
                default: conf,
                error: err.to_string(),
            });
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Some(SoftHsmProblem::ConfMissing { path: conf });
        }
        Err(err) => {
            return Some(SoftHsmProblem::ConfUnreadable {
                path: conf,
                error: err.to_string(),
            });
        }
    };

    let dir = token_dir(&text).unwrap_or_else(|| PathBuf::from(DEFAULT_TOKEN_DIR));
    if !dir.is_dir() {
        return Some(SoftHsmProblem::TokenDirMissing { conf, dir });
    }
    probe_writable(&dir)
        .err()
        .map(|err| SoftHsmProblem::TokenDirNotWritable {
            conf,
            dir,
            error: err.to_string(),
        })
}

/// The `directories.tokendir` value of a softhsm2.conf text.
fn token_dir(conf_text: &str) -> Option<PathBuf> {
    conf_text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == "directories.tokendir")
        .map(|(_, value)| PathBuf::from(value.trim()))
}

/// Creates and removes a file in `dir`, as SoftHSM2 must be able to.
fn probe_writable(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".keyward-probe-{}", std::process::id()));
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("keyward-softhsm-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    }

    #[test]
    fn a_written_config_diagnoses_clean() {
        let dir = scratch("clean");
        let conf = write_config(&dir).expect("write config");
        assert_eq!(conf, dir.join("softhsm2.conf"));
        let text = fs::read_to_string(&conf).expect("read config");
        assert_eq!(token_dir(&text), Some(dir.join("tokens")));
        assert!(text.contains("objectstore.backend = file"));
        assert!(text.contains("log.level = ERROR"));
        let mode = fs::metadata(dir.join("tokens"))
            .expect("tokens")
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
        assert_eq!(
            diagnose_with(Some(conf.into()), Path::new("/nonexistent")),
            None
        );
        fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn each_missing_piece_is_named() {
        let dir = scratch("missing");
        let absent = dir.join("absent.conf");
        assert_eq!(
            diagnose_with(Some(absent.clone().into()), Path::new("/nonexistent")),
            Some(SoftHsmProblem::ConfMissing {
                path: absent.clone()
            })
        );
        let unset = diagnose_with(None, &absent).expect("default missing");
        assert_eq!(unset.code(), "SoftHsm2ConfigMissing");
        assert!(
            unset.to_string().contains("SOFTHSM2_CONF is not set"),
            "{unset}"
        );

        let conf = write_config(&dir).expect("write config");
        fs::remove_dir(dir.join("tokens")).expect("remove tokens");
        let problem = diagnose_with(Some(conf.into()), &absent).expect("token dir missing");
        assert_eq!(problem.code(), "SoftHsm2TokenDirMissing");
        assert!(problem.to_string().contains("tokens"), "{problem}");
        fs::remove_dir_all(&dir).expect("clean up");
    }
}
