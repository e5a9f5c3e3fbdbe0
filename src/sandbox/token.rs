//! The sandbox's SoftHSM2: a token directory of its own, random PINs in a private file, and
//! one initialized token (SoftHSM2 then offers one free slot beside it).
//!
//! The PKCS#11 work itself is [`crate::hsm`]'s; this module only prepares the files and holds
//! the PINs, which never reach a log, an argument list or a child's environment.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::SandboxError;
use super::scratch::random_hex;
use crate::estate::TokenView;
use crate::hsm::{self, HsmError};

/// The label of the sandbox's token.
pub const TOKEN_LABEL: &str = "keyward-sandbox";
/// The file holding the token's PINs, readable only by its owner.
pub const PINS_FILE: &str = "pins.txt";
/// Marks a directory as one the sandbox made, so a reused `--dir` may be reset.
const MARKER_FILE: &str = ".keyward-sandbox";
/// Random bytes per PIN: 24 hex digits, well inside SoftHSM2's 4 to 255.
const PIN_BYTES: usize = 12;

/// The sandbox's SoftHSM2 configuration and its token's PINs.
#[derive(Debug)]
pub struct SandboxToken {
    /// The softhsm2.conf that `SOFTHSM2_CONF` names.
    pub conf: PathBuf,
    pub pins_file: PathBuf,
    pub module: PathBuf,
    so_pin: SecretString,
    user_pin: SecretString,
}

impl SandboxToken {
    /// Prepares `dir` for SoftHSM2: its configuration, an empty token directory and the PINs
    /// file. A token directory left by an earlier sandbox in the same `--dir` is emptied; one
    /// the sandbox did not make is refused.
    pub fn prepare(dir: &Path) -> Result<SandboxToken, SandboxError> {
        let module = softhsm_module()?;
        let tokens = dir.join("tokens");
        let marker = dir.join(MARKER_FILE);
        let has_tokens = fs::read_dir(&tokens).is_ok_and(|mut entries| entries.next().is_some());
        if has_tokens {
            if !marker.exists() {
                return Err(SandboxError::DirInUse { path: tokens });
            }
            fs::remove_dir_all(&tokens).map_err(|error| dir_error(&tokens, error))?;
        }
        fs::write(&marker, "keyward sandbox directory\n")
            .map_err(|error| dir_error(&marker, error))?;
        let conf = hsm::softhsm::write_config(dir).map_err(|error| SandboxError::Hsm {
            step: "writing the SoftHSM2 configuration",
            error: Box::new(error),
        })?;

        let so_pin = random_hex(PIN_BYTES).map_err(SandboxError::Random)?;
        let user_pin = random_hex(PIN_BYTES).map_err(SandboxError::Random)?;
        let pins_file = dir.join(PINS_FILE);
        let text = Zeroizing::new(format!(
            "# PINs of the SoftHSM2 token \"{TOKEN_LABEL}\" ({}), made by keyward sandbox\n\
             so_pin={}\nuser_pin={}\n",
            conf.display(),
            so_pin.as_str(),
            user_pin.as_str()
        ));
        write_private(&pins_file, text.as_bytes()).map_err(|error| SandboxError::Pins {
            path: pins_file.clone(),
            error,
        })?;
        Ok(SandboxToken {
            conf,
            pins_file,
            module,
            so_pin: SecretString::from(so_pin.as_str().to_owned()),
            user_pin: SecretString::from(user_pin.as_str().to_owned()),
        })
    }

    /// Initializes the token with the label and PINs. Blocking: run it off the async workers,
    /// and only once `SOFTHSM2_CONF` names [`conf`](Self::conf).
    pub fn initialize(&self) -> Result<TokenView, HsmError> {
        hsm::init_token(&self.module, TOKEN_LABEL, &self.so_pin, &self.user_pin)
    }
}

/// The SoftHSM2 PKCS#11 module: Debian's path, or where other layouts put it.
pub fn softhsm_module() -> Result<PathBuf, SandboxError> {
    let mut candidates = vec![PathBuf::from(crate::config::DEFAULT_PKCS11_MODULE)];
    if let Ok(entries) = fs::read_dir("/usr/lib") {
        let mut arch: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("softhsm/libsofthsm2.so"))
            .collect();
        arch.sort();
        candidates.extend(arch);
    }
    candidates.push(PathBuf::from("/usr/local/lib/softhsm/libsofthsm2.so"));
    candidates.push(PathBuf::from("/usr/lib64/pkcs11/libsofthsm2.so"));
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .ok_or(SandboxError::SoftHsmMissing)
}

/// Creates `path` afresh with mode 0600 (an old file is replaced, never reused with its mode).
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn dir_error(path: &Path, error: io::Error) -> SandboxError {
    SandboxError::Dir {
        path: path.to_owned(),
        error,
    }
}
