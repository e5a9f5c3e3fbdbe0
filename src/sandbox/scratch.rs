//! Private working directories and random values for the sandbox.
//!
//! keyward has no dependency on a temporary-directory or random-number crate; the sandbox
//! needs only a few of each, so directories are made under the system's temporary directory
//! with mode 0700 and random names, and random bytes come from the kernel's `/dev/urandom`
//! (the sandbox runs on Linux, where SoftHSM2 and libfaketime are).

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// A directory the sandbox owns: removed with everything in it when dropped, unless kept.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
    remove_on_drop: bool,
}

impl ScratchDir {
    /// Creates a new directory `keyward-<purpose>-<random>` under the system's temporary
    /// directory, readable only by this user.
    pub fn new(purpose: &str) -> io::Result<ScratchDir> {
        let name = format!("keyward-{purpose}-{}", random_hex(6)?.as_str());
        let path = std::env::temp_dir().join(name);
        fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(ScratchDir {
            path,
            remove_on_drop: true,
        })
    }

    /// Uses `path` (created if missing) and leaves it in place when dropped.
    pub fn existing(path: &Path) -> io::Result<ScratchDir> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)?;
        Ok(ScratchDir {
            path: std::path::absolute(path)?,
            remove_on_drop: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the directory is removed when this value is dropped.
    pub fn is_temporary(&self) -> bool {
        self.remove_on_drop
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if self.remove_on_drop
            && let Err(err) = fs::remove_dir_all(&self.path)
            && err.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.path.display(), %err, "cannot remove the sandbox directory");
        }
    }
}

/// `bytes` random bytes from the kernel, as lowercase hex; zeroed when dropped, since PINs
/// are made from it.
pub fn random_hex(bytes: usize) -> io::Result<Zeroizing<String>> {
    let mut raw = Zeroizing::new(vec![0u8; bytes]);
    fs::File::open("/dev/urandom")?.read_exact(&mut raw)?;
    Ok(Zeroizing::new(hex::encode(&*raw)))
}

/// A random 12-digit AWS account id, so a test or a second estate can live in its own moto
/// account (sent as `x-moto-account-id`).
pub fn random_account_id() -> io::Result<String> {
    let mut raw = [0u8; 8];
    fs::File::open("/dev/urandom")?.read_exact(&mut raw)?;
    // 9 followed by 11 digits, away from moto's default account 123456789012.
    Ok(format!(
        "9{:011}",
        u64::from_le_bytes(raw) % 100_000_000_000
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_directory_is_private_and_removed_on_drop() {
        let dir = ScratchDir::new("scratch-test").expect("create");
        let path = dir.path().to_path_buf();
        let mode = fs::metadata(&path).expect("stat").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
        fs::write(path.join("file"), b"x").expect("write inside");
        drop(dir);
        assert!(!path.exists(), "{} left behind", path.display());
    }

    #[test]
    fn random_values_have_their_shape() {
        let hex = random_hex(10).expect("random");
        assert_eq!(hex.len(), 20);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let account = random_account_id().expect("account");
        assert_eq!(account.len(), 12);
        assert!(account.bytes().all(|b| b.is_ascii_digit()));
    }
}
