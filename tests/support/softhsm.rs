//! SoftHSM2 scenarios, each with a throwaway token directory, each in a process of its own.
//!
//! SoftHSM2 reads SOFTHSM2_CONF once per process, at C_Initialize, and keyward keeps one
//! context per process; so a scenario runs in a child process of its test binary (the same
//! test, selected with `--exact`) whose environment points at the scenario's directory. The
//! parent checks that the child really ran the test and passed.

use std::path::{Path, PathBuf};
use std::process::Command;

use keyward::hsm;
use secrecy::SecretString;
use tempfile::TempDir;

pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// Set in a child's environment to the test it must run; its absence marks the parent.
const SCENARIO_ENV: &str = "KEYWARD_HSM_TEST_SCENARIO";
/// Which phase of a multi-process scenario the child runs.
const PHASE_ENV: &str = "KEYWARD_HSM_TEST_PHASE";

/// The SoftHSM2 module, which must be installed: a missing one fails the test.
pub fn module() -> PathBuf {
    let module = PathBuf::from(MODULE);
    assert!(
        module.exists(),
        "SoftHSM2 is not installed ({MODULE} is missing): run scripts/install-deps"
    );
    module
}

pub fn pin(text: &str) -> SecretString {
    SecretString::from(text)
}

/// The phase this process must run for `test`, or `None` in the parent.
pub fn child_phase(test: &str) -> Option<String> {
    let scenario = std::env::var(SCENARIO_ENV).ok()?;
    assert_eq!(scenario, test, "a child ran a test it was not started for");
    Some(std::env::var(PHASE_ENV).unwrap_or_default())
}

/// Runs `test`'s `phase` in a child of this binary with SOFTHSM2_CONF set to `conf`, and
/// returns the child's standard output once it passed.
pub fn run_child(test: &str, phase: &str, conf: &Path) -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let mut command = Command::new(exe);
    command.args([test, "--exact", "--nocapture", "--test-threads=1"]);
    run_command(command, test, phase, conf)
}

/// Runs `command` as the child of `test`'s `phase`, and returns its standard output once it
/// passed.
pub fn run_command(mut command: Command, test: &str, phase: &str, conf: &Path) -> String {
    let output = command
        .env(SCENARIO_ENV, test)
        .env(PHASE_ENV, phase)
        .env("SOFTHSM2_CONF", conf)
        .output()
        .expect("start the child test process");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "child {test}/{phase} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    stdout
}

/// A throwaway SoftHSM2 directory with its configuration written by keyward.
pub fn token_directory() -> (TempDir, PathBuf) {
    module();
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = hsm::softhsm::write_config(dir.path()).expect("write softhsm2.conf");
    (dir, conf)
}

/// The directory the child's SOFTHSM2_CONF lives in.
pub fn child_directory() -> PathBuf {
    let conf = std::env::var_os("SOFTHSM2_CONF").expect("SOFTHSM2_CONF set by the parent");
    Path::new(&conf).parent().expect("conf dir").to_path_buf()
}
