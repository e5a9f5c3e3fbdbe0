//! One initialized cryptoki context per module path, for the whole process.
//!
//! PKCS#11 allows one C_Initialize per process and module: a second answers
//! CKR_CRYPTOKI_ALREADY_INITIALIZED, and SoftHSM2 reads its configuration only at the first.
//! So the contexts live in a process-wide registry, are created under its lock, and are never
//! finalized: the module stays loaded until the process exits. A failed initialization is not
//! remembered, so the next call tries again (after the officer fixed the configuration).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Function, Pkcs11};
use cryptoki::error::{Error as CryptokiError, RvError};

use super::{HsmError, softhsm};

/// Initialized contexts by canonical module path.
static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();

/// The process's initialized context for `module`, loading and initializing the module on
/// first use. Blocking: call it off the async workers.
pub fn context(module: &Path) -> Result<Pkcs11, HsmError> {
    let key = registry_key(module)?;
    let mut contexts = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(existing) = contexts.get(&key) {
        return Ok(existing.clone());
    }

    let pkcs11 = Pkcs11::new(&key).map_err(|error| HsmError::NotAModule {
        path: module.to_path_buf(),
        error,
    })?;
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => tracing::debug!(module = %module.display(), "PKCS#11 module initialized"),
        // Someone else in this process (another library) initialized it first; its state is
        // shared, so use it as it is and leave finalizing to nobody.
        Err(CryptokiError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {
            tracing::debug!(
                module = %module.display(),
                "PKCS#11 module was already initialized in this process; reusing it"
            );
        }
        Err(err) => return Err(initialize_error(module, err)),
    }
    contexts.insert(key, pkcs11.clone());
    Ok(pkcs11)
}

/// Checks that the module's function list holds every function in `needed`, so a ceremony
/// learns before its first step that the module cannot do one of them.
pub fn require_functions(pkcs11: &Pkcs11, needed: &[Function]) -> Result<(), HsmError> {
    match needed.iter().find(|f| !pkcs11.is_fn_supported(**f)) {
        Some(function) => Err(HsmError::FunctionMissing {
            function: *function,
            source: None,
        }),
        None => Ok(()),
    }
}

/// The path the registry knows a module by: canonical, so two spellings share one context.
/// A bare file name is left to the dynamic loader's search path.
fn registry_key(module: &Path) -> Result<PathBuf, HsmError> {
    let bare_name = module.components().count() == 1 && !module.exists();
    if bare_name {
        return Ok(module.to_path_buf());
    }
    std::fs::canonicalize(module).map_err(|_| HsmError::ModuleMissing {
        path: module.to_path_buf(),
    })
}

/// Explains a failed C_Initialize; SoftHSM2's CKR_GENERAL_ERROR gets its configuration checked.
fn initialize_error(module: &Path, err: CryptokiError) -> HsmError {
    explain_softhsm(module, Function::Initialize, err)
}

/// Classifies a failed call of `function`; when SoftHSM2 answers with a general or device
/// error, its configuration and token directory are checked to say what is wrong.
pub(super) fn explain_softhsm(module: &Path, function: Function, err: CryptokiError) -> HsmError {
    let general = matches!(
        err,
        CryptokiError::Pkcs11(
            RvError::GeneralError | RvError::DeviceError | RvError::FunctionFailed,
            _
        )
    );
    if general
        && is_softhsm(module)
        && let Some(problem) = softhsm::diagnose()
    {
        let function = match &err {
            CryptokiError::Pkcs11(_, reported) => *reported,
            _ => function,
        };
        return HsmError::SoftHsmConfig {
            function,
            problem,
            source: err,
        };
    }
    HsmError::from_call(function, err)
}

/// Whether the module looks like SoftHSM2, judged by its file name (library info needs a
/// successful C_Initialize).
fn is_softhsm(module: &Path) -> bool {
    let name = |p: &Path| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().contains("softhsm"))
    };
    name(module) || std::fs::canonicalize(module).is_ok_and(|p| name(&p))
}
