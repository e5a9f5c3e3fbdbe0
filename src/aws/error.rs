//! Classification of SDK errors into [`SourceError`]s that keep the operation, the service's
//! error code and the request id.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

use crate::estate::SourceError;

/// Turns an SDK error into a [`SourceError`] for `operation`.
///
/// Service errors keep AWS's code and request id. Transport failures get a keyward code:
/// `Timeout`, `ConnectionFailed` (refused, reset, unknown host), `InvalidResponse` (the answer
/// could not be parsed, as with some emulators' timestamps) or `RequestNotBuilt`.
pub fn classify<E, R>(operation: &str, err: SdkError<E, R>) -> SourceError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
    SdkError<E, R>: RequestId,
{
    let request_id = err.request_id().map(str::to_owned);
    let (code, message) = match &err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("UnknownServiceError").to_owned();
            let message = inner
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| chain(inner));
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
        SdkError::ResponseError(_) => ("InvalidResponse".to_owned(), chain(&err)),
        SdkError::ConstructionFailure(_) => ("RequestNotBuilt".to_owned(), chain(&err)),
        _ => ("Unknown".to_owned(), chain(&err)),
    };
    SourceError {
        operation: operation.to_owned(),
        code,
        message,
        request_id,
    }
}

/// The error and its sources, joined, without repeating identical messages.
fn chain(err: &(dyn StdError + 'static)) -> String {
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
