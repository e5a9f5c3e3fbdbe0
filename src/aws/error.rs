//! Classification of SDK errors into [`SourceError`]s that keep the operation, the service's
//! error code and the request id, and of those codes into the few classes an operator acts on.

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;
use serde::Serialize;

use crate::estate::SourceError;

/// Turns an SDK error into a [`SourceError`] for `operation`.
///
/// Service errors keep AWS's code and request id. Other failures get a keyward code:
/// `Timeout`, `ConnectionFailed` (refused, reset, unknown host), `ConnectionDropped` (the
/// connection closed while the answer was being read), `InvalidResponse` (the answer could not
/// be parsed, as with some emulators' timestamps), `CredentialsMissing` (no credentials could
/// be loaded; the message names the source) or `RequestNotBuilt`.
pub fn classify<E, R>(operation: &str, err: SdkError<E, R>) -> SourceError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
    SdkError<E, R>: RequestId,
{
    let request_id = err.request_id().map(str::to_owned);
    let (code, message) = if let Some(message) = credentials_failure(&err) {
        ("CredentialsMissing".to_owned(), message)
    } else {
        match &err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().unwrap_or("UnknownServiceError").to_owned();
                // The SDK's text for a message-less error is its debug dump; say it plainly.
                let message = inner
                    .message()
                    .map_or_else(|| "the service gave no message".to_owned(), str::to_owned);
                (code, message)
            }
            SdkError::TimeoutError(_) => ("Timeout".to_owned(), chain(&err)),
            SdkError::DispatchFailure(dispatch) => {
                let code = if dispatch.is_timeout() {
                    "Timeout"
                } else if dispatch.is_io() {
                    "ConnectionFailed"
                } else {
                    "DispatchFailure"
                };
                (code.to_owned(), chain(&err))
            }
            SdkError::ResponseError(_) if dropped_mid_response(&err) => {
                ("ConnectionDropped".to_owned(), chain(&err))
            }
            SdkError::ResponseError(_) => ("InvalidResponse".to_owned(), chain(&err)),
            SdkError::ConstructionFailure(_) => ("RequestNotBuilt".to_owned(), chain(&err)),
            _ => ("Unknown".to_owned(), chain(&err)),
        }
    };
    SourceError {
        operation: operation.to_owned(),
        code,
        message,
        request_id,
    }
}

/// Credentials could not be loaded from the named source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no AWS credentials from {origin}: {cause}")]
pub struct CredentialsUnavailable {
    /// Where keyward looked, e.g. "profile `estate-readonly` from the shared AWS config files".
    pub origin: String,
    /// What the SDK's provider said.
    pub cause: String,
}

/// The message of a credentials failure anywhere in the error's chain: keyward's named one
/// where the provider was wrapped, else the SDK's.
fn credentials_failure(err: &(dyn StdError + 'static)) -> Option<String> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    let mut sdk_failure = None;
    while let Some(e) = current {
        if let Some(named) = e.downcast_ref::<CredentialsUnavailable>() {
            return Some(named.to_string());
        }
        if sdk_failure.is_none() && e.downcast_ref::<CredentialsError>().is_some() {
            sdk_failure = Some(chain(e));
        }
        current = e.source();
    }
    sdk_failure
}

/// True when the answer's body could not be read because the connection went away, rather
/// than because what arrived made no sense. hyper, underneath the SDK, reports that as an
/// I/O error or as a body read that ended early; its error type is not ours to downcast, so
/// its messages decide.
fn dropped_mid_response(err: &(dyn StdError + 'static)) -> bool {
    let mut current = err.source();
    while let Some(e) = current {
        if e.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        let text = e.to_string();
        if text.contains("reading a body from connection")
            || text.contains("connection closed before message completed")
            || text.contains("end of file before message length reached")
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// What an operator can do about a failure, read from a [`SourceError`]'s code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// AWS refused the request rate; the request budget or the account's quota needs room.
    Throttled,
    /// No credentials could be loaded: the profile or source needs fixing.
    CredentialsMissing,
    /// AWS refused the credentials as unknown, expired or badly signed.
    CredentialsRejected,
    /// The identity lacks the permission.
    AccessDenied,
    /// No answer within the deadline.
    Timeout,
    /// The endpoint could not be reached, refused or reset the connection.
    ConnectionFailed,
    /// The connection closed while the answer was arriving.
    ConnectionDropped,
    /// An answer arrived that could not be understood.
    InvalidResponse,
    /// Any other error the service itself returned.
    Service,
}

impl ErrorClass {
    /// The class of `err`.
    pub fn of(err: &SourceError) -> ErrorClass {
        match err.code.as_str() {
            "ThrottlingException"
            | "Throttling"
            | "ThrottledException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "SlowDown" => ErrorClass::Throttled,
            "CredentialsMissing" => ErrorClass::CredentialsMissing,
            "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "RequestExpired"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
            | "IncompleteSignature"
            | "MissingAuthenticationToken"
            | "AuthFailure" => ErrorClass::CredentialsRejected,
            "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
                ErrorClass::AccessDenied
            }
            "Timeout" => ErrorClass::Timeout,
            "ConnectionFailed" | "DispatchFailure" => ErrorClass::ConnectionFailed,
            "ConnectionDropped" => ErrorClass::ConnectionDropped,
            "InvalidResponse" => ErrorClass::InvalidResponse,
            _ => ErrorClass::Service,
        }
    }

    /// True for failures of the link or the endpoint rather than of the request: they heal
    /// by themselves, and the next refresh tries again.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorClass::Throttled
                | ErrorClass::Timeout
                | ErrorClass::ConnectionFailed
                | ErrorClass::ConnectionDropped
        )
    }
}

/// The error and its sources, joined, without repeating identical messages.
pub(crate) fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_kms::operation::list_keys::ListKeysError;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    type KmsError = SdkError<ListKeysError, HttpResponse>;

    fn raw(status: u16) -> HttpResponse {
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty())
    }

    fn service(code: &str) -> KmsError {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("Rate exceeded")
            .build();
        SdkError::service_error(ListKeysError::generic(meta), raw(400))
    }

    #[test]
    fn a_throttling_answer_keeps_its_code_and_is_throttled() {
        let err = classify("ListKeys", service("ThrottlingException"));
        assert_eq!(err.code, "ThrottlingException");
        assert_eq!(err.message, "Rate exceeded");
        assert_eq!(ErrorClass::of(&err), ErrorClass::Throttled);
        assert!(ErrorClass::of(&err).is_transient());
    }

    #[test]
    fn missing_credentials_name_their_source() {
        let named = CredentialsUnavailable {
            origin: "profile `estate-readonly` from the shared AWS config files".into(),
            cause: "profile `estate-readonly` was not defined".into(),
        };
        let err: KmsError = SdkError::construction_failure(CredentialsError::not_loaded(named));
        let err = classify("ListKeys", err);
        assert_eq!(err.code, "CredentialsMissing");
        assert_eq!(
            err.message,
            "no AWS credentials from profile `estate-readonly` from the shared AWS config \
             files: profile `estate-readonly` was not defined"
        );
        assert_eq!(ErrorClass::of(&err), ErrorClass::CredentialsMissing);
        assert!(!ErrorClass::of(&err).is_transient());
    }

    #[test]
    fn an_unwrapped_credentials_failure_is_still_missing_credentials() {
        let err: KmsError =
            SdkError::construction_failure(CredentialsError::provider_error("no providers"));
        let err = classify("ListKeys", err);
        assert_eq!(err.code, "CredentialsMissing");
        assert!(err.message.contains("no providers"), "{}", err.message);
    }

    #[test]
    fn transport_failures_get_keyward_codes() {
        let timeout: KmsError = SdkError::timeout_error("operation timeout");
        assert_eq!(classify("ListKeys", timeout).code, "Timeout");

        let refused: KmsError = SdkError::dispatch_failure(ConnectorError::io(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into(),
        ));
        assert_eq!(classify("ListKeys", refused).code, "ConnectionFailed");

        let cut: KmsError = SdkError::response_error(
            std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
            raw(200),
        );
        assert_eq!(classify("ListKeys", cut).code, "ConnectionDropped");

        let nonsense: KmsError = SdkError::response_error("expected a timestamp", raw(200));
        assert_eq!(classify("ListKeys", nonsense).code, "InvalidResponse");
    }

    #[test]
    fn codes_map_to_the_classes_an_operator_acts_on() {
        let class = |code: &str| {
            ErrorClass::of(&SourceError {
                operation: "ListKeys".into(),
                code: code.into(),
                message: String::new(),
                request_id: None,
            })
        };
        assert_eq!(class("Throttling"), ErrorClass::Throttled);
        assert_eq!(
            class("ExpiredTokenException"),
            ErrorClass::CredentialsRejected
        );
        assert_eq!(
            class("UnrecognizedClientException"),
            ErrorClass::CredentialsRejected
        );
        assert_eq!(class("AccessDeniedException"), ErrorClass::AccessDenied);
        assert_eq!(class("Timeout"), ErrorClass::Timeout);
        assert_eq!(class("ConnectionFailed"), ErrorClass::ConnectionFailed);
        assert_eq!(class("ConnectionDropped"), ErrorClass::ConnectionDropped);
        assert_eq!(class("InvalidResponse"), ErrorClass::InvalidResponse);
        // KMS uses LimitExceededException for resource quotas, not for request rates.
        assert_eq!(class("LimitExceededException"), ErrorClass::Service);
        assert_eq!(class("NotFoundException"), ErrorClass::Service);
    }
}
