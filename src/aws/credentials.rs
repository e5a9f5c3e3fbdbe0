//! Where keyward's AWS credentials come from, named in every failure to get them.
//!
//! A profile named with `--profile` (or in the config file) is the only source: the SDK's
//! default chain would let `AWS_ACCESS_KEY_ID` in the shell win over it, and the console would
//! silently read, or change, the estate as someone else. With no profile the default chain
//! applies. Either way the provider is wrapped so that a failure says which source failed.

use std::error::Error as _;
use std::sync::Arc;

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{
    ProvideCredentials, SharedCredentialsProvider, future::ProvideCredentials as CredentialsFuture,
};
use aws_types::region::Region;

use super::error::{CredentialsUnavailable, chain};
use crate::config::AwsSettings;

/// A description of where credentials come from, for the console and for error messages,
/// e.g. "profile `estate-readonly` from the shared AWS config files (~/.aws/config,
/// ~/.aws/credentials)".
pub fn describe_source(settings: &AwsSettings) -> String {
    if settings.static_credentials.is_some() {
        return "the fixed emulator credentials (sandbox or tests)".to_owned();
    }
    match &settings.profile {
        Some(profile) => format!(
            "profile `{profile}` from the shared AWS config files ({})",
            shared_files()
        ),
        None => {
            let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
            format!(
                "the default chain (environment variables, then profile `{profile}`, web \
                 identity, container and instance metadata)"
            )
        }
    }
}

/// The shared config and credentials files the SDK reads, as their environment variables set
/// them.
fn shared_files() -> String {
    let config = std::env::var("AWS_CONFIG_FILE").unwrap_or_else(|_| "~/.aws/config".into());
    let credentials = std::env::var("AWS_SHARED_CREDENTIALS_FILE")
        .unwrap_or_else(|_| "~/.aws/credentials".into());
    format!("{config}, {credentials}")
}

/// What to say when the provider found nothing and gave no reason.
fn nothing_found(settings: &AwsSettings) -> &'static str {
    if settings.profile.is_some() {
        "the profile is not defined there, or holds no credentials"
    } else {
        "no source in the chain holds credentials"
    }
}

/// The provider for an explicitly named profile, or `None` to leave the default chain.
pub(crate) fn profile_provider(
    settings: &AwsSettings,
    region: Option<&str>,
) -> Option<ProfileFileCredentialsProvider> {
    if settings.static_credentials.is_some() {
        return None;
    }
    let profile = settings.profile.as_ref()?;
    let provider_config =
        ProviderConfig::default().with_region(region.map(|r| Region::new(r.to_owned())));
    Some(
        ProfileFileCredentialsProvider::builder()
            .configure(&provider_config)
            .profile_name(profile)
            .build(),
    )
}

/// Wraps `inner` so its failures name `source`.
pub(crate) fn named(
    inner: SharedCredentialsProvider,
    source: String,
    settings: &AwsSettings,
) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(NamedSource {
        inner,
        source: source.into(),
        nothing_found: nothing_found(settings),
    })
}

#[derive(Debug)]
struct NamedSource {
    inner: SharedCredentialsProvider,
    source: Arc<str>,
    nothing_found: &'static str,
}

impl ProvideCredentials for NamedSource {
    fn provide_credentials<'a>(&'a self) -> CredentialsFuture<'a>
    where
        Self: 'a,
    {
        CredentialsFuture::new(async move {
            self.inner.provide_credentials().await.map_err(|err| {
                let cause = match &err {
                    // The SDK's own words here are "the credential provider was not enabled".
                    CredentialsError::CredentialsNotLoaded(_) if err.source().is_none() => {
                        self.nothing_found.to_owned()
                    }
                    _ => chain(&err),
                };
                let unavailable = CredentialsUnavailable {
                    origin: self.source.to_string(),
                    cause,
                };
                match err {
                    CredentialsError::CredentialsNotLoaded(_) => {
                        CredentialsError::not_loaded(unavailable)
                    }
                    CredentialsError::InvalidConfiguration(_) => {
                        CredentialsError::invalid_configuration(unavailable)
                    }
                    _ => CredentialsError::provider_error(unavailable),
                }
            })
        })
    }
}
