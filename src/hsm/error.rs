//! The errors of the PKCS#11 layer, each saying what happened and what an officer can do.
//!
//! cryptoki's own error already records the PKCS#11 function and return value; [`HsmError`]
//! keeps it as the source and adds the situation around it (which role, which token, what the
//! token's PIN flags say now). No variant holds a PIN, so no message can print one.

use std::fmt;
use std::path::PathBuf;

use cryptoki::context::Function;
use cryptoki::error::{Error as CryptokiError, RvError};
use serde::Serialize;
use thiserror::Error;

use super::TokenRef;
use super::softhsm::SoftHsmProblem;
use crate::estate::SourceError;

/// Who is authenticating to a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The security officer, who initializes the token and sets the user PIN.
    SecurityOfficer,
    /// The normal user, who generates and uses keys.
    User,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::SecurityOfficer => "security officer (SO)",
            Role::User => "user",
        })
    }
}

/// A role's failed-attempt flags, re-read from the token after a PIN was refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinTries {
    /// At least one wrong PIN was entered since the last good one.
    pub count_low: bool,
    /// One more wrong PIN locks the role.
    pub final_try: bool,
    /// The role is locked.
    pub locked: bool,
    /// False when the token info could not be re-read, so the flags are unknown.
    pub known: bool,
}

impl fmt::Display for PinTries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.known {
            f.write_str("the token's remaining-tries flags could not be re-read")
        } else if self.locked {
            f.write_str("the token now reports the PIN locked")
        } else if self.final_try {
            f.write_str("the token now reports the FINAL TRY: one more wrong PIN locks it")
        } else if self.count_low {
            f.write_str("the token now reports failed attempts (PIN count low)")
        } else {
            f.write_str("the token reports no failed-attempt flags")
        }
    }
}

/// A failure of the PKCS#11 layer.
#[derive(Debug, Error)]
pub enum HsmError {
    /// The configured module file does not exist.
    #[error(
        "the PKCS#11 module {} does not exist: install it (SoftHSM2: run scripts/install-deps, \
         or apt install softhsm2) or set pkcs11.module in the config to the vendor's library",
        path.display()
    )]
    ModuleMissing { path: PathBuf },

    /// The module file exists but is not a loadable PKCS#11 library.
    #[error(
        "{} is not a loadable PKCS#11 library ({error}): set pkcs11.module to the vendor's \
         PKCS#11 shared object, e.g. /usr/lib/softhsm/libsofthsm2.so",
        path.display()
    )]
    NotAModule { path: PathBuf, error: CryptokiError },

    /// SoftHSM2 failed with a general error, and its configuration explains why.
    #[error(
        "{} failed ({}) because {problem}",
        function_name(*function),
        rv_name(source)
    )]
    SoftHsmConfig {
        function: Function,
        problem: SoftHsmProblem,
        source: CryptokiError,
    },

    /// The module does not implement a function keyward needs.
    #[error("{}", missing_function_message(*function))]
    FunctionMissing {
        function: Function,
        /// The error that revealed it, or `None` when the function list showed it up front.
        source: Option<CryptokiError>,
    },

    /// The token left its slot.
    #[error(
        "{}: the token is not present (CKR_TOKEN_NOT_PRESENT): reinsert or reconnect it, then \
         refresh",
        function_name(*function)
    )]
    TokenNotPresent {
        function: Function,
        source: CryptokiError,
    },

    /// No slot holds a token with this label and serial.
    #[error(
        "no slot holds token {token}: it may have been removed or re-initialized; list the \
         slots (the HSM pane or `keyward hsm slots`) and pick it again"
    )]
    TokenNotFound { token: TokenRef },

    /// The token has never been initialized.
    #[error(
        "the token {token} is not initialized: initialize it first (the ceremony's \
         initialization step)"
    )]
    TokenNotInitialized { token: TokenRef },

    /// No slot offers a blank token to initialize.
    #[error(
        "no slot holds an uninitialized token: SoftHSM2 always offers one, so check that its \
         token directory is writable; on other modules insert a blank token or reset one with \
         the vendor's tools"
    )]
    NoFreeSlot,

    /// The user PIN has not been set by the security officer.
    #[error(
        "{}: the user PIN is not initialized (CKR_USER_PIN_NOT_INITIALIZED): the security \
         officer must set it first (the ceremony's user-PIN step)",
        function_name(*function)
    )]
    UserPinNotInitialized {
        function: Function,
        source: Option<CryptokiError>,
    },

    /// The token refused the PIN.
    #[error(
        "{}: wrong {role} PIN (CKR_PIN_INCORRECT): {tries}. Check the PIN and try again; a PIN \
         shorter than the token's minimum is refused the same way",
        function_name(*function)
    )]
    WrongPin {
        function: Function,
        role: Role,
        tries: PinTries,
        source: CryptokiError,
    },

    /// Too many wrong PINs: the role is locked.
    #[error(
        "{}: the {role} PIN is locked (CKR_PIN_LOCKED) after too many wrong attempts: {}",
        function_name(*function),
        match role {
            Role::User => "the security officer must set a new user PIN",
            Role::SecurityOfficer => "the token must be re-initialized, which destroys its keys",
        }
    )]
    PinLocked {
        function: Function,
        role: Role,
        source: CryptokiError,
    },

    /// A new PIN is shorter or longer than the token allows.
    #[error(
        "{}: the new {role} PIN has the wrong length (CKR_PIN_LEN_RANGE): this token accepts \
         {min} to {max} characters",
        function_name(*function)
    )]
    PinLength {
        function: Function,
        role: Role,
        min: u64,
        max: u64,
        source: CryptokiError,
    },

    /// The role is already logged in through another session of this process.
    #[error(
        "{}: the {role} is already logged in ({}) through another session of this process: \
         finish or log out that session first",
        function_name(*function),
        rv_name(source)
    )]
    AlreadyLoggedIn {
        function: Function,
        role: Role,
        source: CryptokiError,
    },

    /// C_InitToken while sessions are open on the token.
    #[error(
        "C_InitToken: sessions are open on this token (CKR_SESSION_EXISTS): close them (other \
         programs, or a logged-in keyward session) and retry"
    )]
    SessionExists { source: CryptokiError },

    /// The token label cannot be written as given.
    #[error("token label {label:?} {reason}")]
    InvalidLabel { label: String, reason: &'static str },

    /// The token was initialized but its user PIN could not be set.
    #[error(
        "token {token} is initialized, but setting its user PIN failed: {cause}. The token \
         exists without a usable user: set the user PIN as security officer before using it"
    )]
    UserPinNotSet {
        token: TokenRef,
        cause: Box<HsmError>,
    },

    /// A SoftHSM2 configuration file or directory could not be written.
    #[error("cannot write {}: {source}", path.display())]
    ConfigWrite {
        path: PathBuf,
        source: std::io::Error,
    },

    /// Any other PKCS#11 failure, with the function and return value cryptoki recorded.
    #[error("{}", other_message(*function, error))]
    Pkcs11 {
        function: Function,
        error: CryptokiError,
    },
}

impl HsmError {
    /// Classifies a failed call of `function`; PIN-specific errors are classified by the
    /// callers that know the role (see `token.rs`).
    pub(crate) fn from_call(function: Function, err: CryptokiError) -> HsmError {
        let reported = match &err {
            CryptokiError::Pkcs11(rv, reported) => Some((*rv, *reported)),
            _ => None,
        };
        match reported {
            Some((RvError::FunctionNotSupported, function)) => HsmError::FunctionMissing {
                function,
                source: Some(err),
            },
            Some((RvError::TokenNotPresent, function)) => HsmError::TokenNotPresent {
                function,
                source: err,
            },
            Some((RvError::UserPinNotInitialized, function)) => HsmError::UserPinNotInitialized {
                function,
                source: Some(err),
            },
            Some((RvError::SessionExists, _)) => HsmError::SessionExists { source: err },
            Some((_, function)) => HsmError::Pkcs11 {
                function,
                error: err,
            },
            None if matches!(err, CryptokiError::NullFunctionPointer) => {
                HsmError::FunctionMissing {
                    function,
                    source: Some(err),
                }
            }
            None => HsmError::Pkcs11 {
                function,
                error: err,
            },
        }
    }

    /// The PKCS#11 function that failed, where one did.
    pub fn function(&self) -> Option<Function> {
        match self {
            HsmError::FunctionMissing { function, .. }
            | HsmError::SoftHsmConfig { function, .. }
            | HsmError::TokenNotPresent { function, .. }
            | HsmError::UserPinNotInitialized { function, .. }
            | HsmError::WrongPin { function, .. }
            | HsmError::PinLocked { function, .. }
            | HsmError::PinLength { function, .. }
            | HsmError::AlreadyLoggedIn { function, .. }
            | HsmError::Pkcs11 { function, .. } => Some(*function),
            HsmError::SessionExists { .. } => Some(Function::InitToken),
            HsmError::NotAModule { error, .. } => match error {
                CryptokiError::Pkcs11(_, function) => Some(*function),
                CryptokiError::MissingSymbol(_) => Some(Function::GetFunctionList),
                _ => None,
            },
            HsmError::UserPinNotSet { cause, .. } => cause.function(),
            HsmError::ModuleMissing { .. }
            | HsmError::TokenNotFound { .. }
            | HsmError::TokenNotInitialized { .. }
            | HsmError::NoFreeSlot
            | HsmError::InvalidLabel { .. }
            | HsmError::ConfigWrite { .. } => None,
        }
    }

    /// The PKCS#11 return value (`CKR_PIN_INCORRECT`), or a keyward class where the failure
    /// is not one return value (`ModuleNotFound`, `SoftHsm2TokenDirMissing`, ...).
    pub fn code(&self) -> String {
        match self {
            HsmError::ModuleMissing { .. } => "ModuleNotFound".into(),
            HsmError::NotAModule { .. } => "NotAPkcs11Module".into(),
            HsmError::SoftHsmConfig { problem, .. } => problem.code().into(),
            HsmError::FunctionMissing { source, .. } => match source {
                Some(CryptokiError::Pkcs11(rv, _)) => ckr_name(*rv),
                _ => "FunctionMissing".into(),
            },
            HsmError::TokenNotFound { .. } => "TokenNotFound".into(),
            HsmError::TokenNotInitialized { .. } => "TokenNotInitialized".into(),
            HsmError::NoFreeSlot => "NoFreeSlot".into(),
            HsmError::UserPinNotInitialized { .. } => "CKR_USER_PIN_NOT_INITIALIZED".into(),
            HsmError::InvalidLabel { .. } => "InvalidLabel".into(),
            HsmError::UserPinNotSet { cause, .. } => cause.code(),
            HsmError::ConfigWrite { .. } => "Io".into(),
            HsmError::TokenNotPresent { source, .. }
            | HsmError::WrongPin { source, .. }
            | HsmError::PinLocked { source, .. }
            | HsmError::PinLength { source, .. }
            | HsmError::AlreadyLoggedIn { source, .. }
            | HsmError::SessionExists { source }
            | HsmError::Pkcs11 { error: source, .. } => match source {
                CryptokiError::Pkcs11(rv, _) => ckr_name(*rv),
                other => format!("{other:?}"),
            },
        }
    }

    /// The error as a pane or an inventory record shows it.
    pub fn to_source_error(&self) -> SourceError {
        let operation = match self {
            HsmError::ModuleMissing { .. } => "dlopen".to_string(),
            HsmError::NotAModule { .. } => match self.function() {
                Some(function) => function_name(function),
                None => "dlopen".into(),
            },
            HsmError::ConfigWrite { .. } => "write SoftHSM2 configuration".into(),
            HsmError::InvalidLabel { .. } => "C_InitToken".into(),
            HsmError::TokenNotFound { .. }
            | HsmError::TokenNotInitialized { .. }
            | HsmError::NoFreeSlot => "C_GetTokenInfo".into(),
            _ => self
                .function()
                .map_or_else(|| "PKCS#11".to_string(), function_name),
        };
        // The pane shows the operation beside the message; don't say it twice.
        let full = self.to_string();
        let message = full
            .strip_prefix(&format!("{operation}: "))
            .unwrap_or(&full)
            .to_string();
        SourceError {
            operation,
            code: self.code(),
            message,
            request_id: None,
        }
    }
}

impl From<HsmError> for SourceError {
    fn from(err: HsmError) -> Self {
        err.to_source_error()
    }
}

/// The PKCS#11 name of a function: `C_Login` for [`Function::Login`].
pub fn function_name(function: Function) -> String {
    format!("C_{function:?}")
}

/// The PKCS#11 name of a return value: `CKR_PIN_INCORRECT` for [`RvError::PinIncorrect`].
pub fn ckr_name(rv: RvError) -> String {
    match rv {
        RvError::VendorDefined(code) => format!("CKR_VENDOR_DEFINED({code:#x})"),
        RvError::UnknownErrorCode(code) => format!("CKR_UNKNOWN({code:#x})"),
        other => {
            let camel = format!("{other:?}");
            let mut name = String::from("CKR");
            for c in camel.chars() {
                if c.is_ascii_uppercase() {
                    name.push('_');
                }
                name.push(c.to_ascii_uppercase());
            }
            name
        }
    }
}

fn rv_name(err: &CryptokiError) -> String {
    match err {
        CryptokiError::Pkcs11(rv, _) => ckr_name(*rv),
        other => format!("{other:?}"),
    }
}

fn missing_function_message(function: Function) -> String {
    let name = function_name(function);
    let instead = match function {
        Function::InitToken | Function::InitPIN | Function::SetPIN => {
            "tokens and users of such modules are managed with the vendor's tools (CloudHSM's \
             PKCS#11 library has none of C_InitToken, C_InitPIN, C_SetPIN: manage users with \
             the CloudHSM CLI, and log in with the PIN `user:password`)"
        }
        _ => "use a module that implements it, or the vendor's tools for this step",
    };
    format!("this PKCS#11 module does not implement {name} (CKR_FUNCTION_NOT_SUPPORTED): {instead}")
}

fn other_message(function: Function, err: &CryptokiError) -> String {
    match err {
        CryptokiError::Pkcs11(rv, reported) => {
            format!(
                "{} failed with {}: {rv}",
                function_name(*reported),
                ckr_name(*rv)
            )
        }
        other => format!("{}: {other}", function_name(function)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_values_get_their_pkcs11_names() {
        assert_eq!(ckr_name(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(
            ckr_name(RvError::CryptokiAlreadyInitialized),
            "CKR_CRYPTOKI_ALREADY_INITIALIZED"
        );
        assert_eq!(ckr_name(RvError::SlotIdInvalid), "CKR_SLOT_ID_INVALID");
        assert_eq!(function_name(Function::InitPIN), "C_InitPIN");
        assert_eq!(function_name(Function::GetSlotList), "C_GetSlotList");
    }

    #[test]
    fn a_missing_init_token_points_at_the_cloudhsm_cli() {
        let err = HsmError::from_call(
            Function::InitToken,
            CryptokiError::Pkcs11(RvError::FunctionNotSupported, Function::InitToken),
        );
        let source = err.to_source_error();
        assert_eq!(source.operation, "C_InitToken");
        assert_eq!(source.code, "CKR_FUNCTION_NOT_SUPPORTED");
        assert!(
            source.message.contains("CloudHSM CLI"),
            "{}",
            source.message
        );

        let null = HsmError::from_call(Function::InitPIN, CryptokiError::NullFunctionPointer);
        assert!(matches!(
            null,
            HsmError::FunctionMissing {
                function: Function::InitPIN,
                ..
            }
        ));
    }
}
