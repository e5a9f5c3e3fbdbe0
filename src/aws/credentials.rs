//! Where keyward's AWS credentials come from, named in every failure to get them.
//!
//! A profile named with `--profile` (or in the config file) is the only source: the SDK's
//! default chain would let `AWS_ACCESS_KEY_ID` in the shell win over it, and the console would
//! silently read, or change, the estate as someone else. With no profile the default chain
//! applies. Either way the provider is wrapped so that a failure says which source failed.

use std::error::Error as _;
use std::sync::{Arc, Mutex};

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
) -> Option<SharedCredentialsProvider> {
    if settings.static_credentials.is_some() {
        return None;
    }
    let profile = settings.profile.clone()?;
    let provider_config =
        ProviderConfig::default().with_region(region.map(|r| Region::new(r.to_owned())));
    Some(rebuilt_after_failure(move || {
        SharedCredentialsProvider::new(
            ProfileFileCredentialsProvider::builder()
                .configure(&provider_config)
                .profile_name(&profile)
                .build(),
        )
    }))
}

/// A provider made afresh after every failure. The SDK's profile provider reads the profile
/// files once and repeats its first error ever after; rebuilt, it reads them again, so a
/// profile fixed while keyward runs is picked up on the next refresh.
fn rebuilt_after_failure(
    build: impl Fn() -> SharedCredentialsProvider + Send + Sync + 'static,
) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Rebuilt {
        current: Mutex::new(build()),
        build: Box::new(build),
    })
}

struct Rebuilt {
    build: Box<dyn Fn() -> SharedCredentialsProvider + Send + Sync>,
    current: Mutex<SharedCredentialsProvider>,
}

impl std::fmt::Debug for Rebuilt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rebuilt")
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl ProvideCredentials for Rebuilt {
    fn provide_credentials<'a>(&'a self) -> CredentialsFuture<'a>
    where
        Self: 'a,
    {
        let current = self.current.lock().expect("never poisoned").clone();
        CredentialsFuture::new(async move {
            let result = current.provide_credentials().await;
            if result.is_err() {
                *self.current.lock().expect("never poisoned") = (self.build)();
            }
            result
        })
    }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use aws_credential_types::Credentials;

    use super::*;

    /// Repeats one answer forever, as the SDK's profile provider repeats its first error.
    #[derive(Debug)]
    struct Stuck {
        ok: bool,
    }

    impl ProvideCredentials for Stuck {
        fn provide_credentials<'a>(&'a self) -> CredentialsFuture<'a>
        where
            Self: 'a,
        {
            CredentialsFuture::ready(if self.ok {
                Ok(Credentials::new("AKID", "secret", None, None, "test"))
            } else {
                Err(CredentialsError::not_loaded(
                    "profile `ops` was not defined",
                ))
            })
        }
    }

    #[tokio::test]
    async fn a_failed_provider_is_rebuilt_so_a_fixed_profile_is_picked_up() {
        // The profile is missing when keyward starts and is fixed after the first refresh.
        let builds = Arc::new(AtomicU32::new(0));
        let counted = builds.clone();
        let provider = rebuilt_after_failure(move || {
            let n = counted.fetch_add(1, Ordering::Relaxed);
            SharedCredentialsProvider::new(Stuck { ok: n > 0 })
        });

        assert!(provider.provide_credentials().await.is_err());
        let credentials = provider.provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "AKID");
        // A provider that answers is kept.
        assert!(provider.provide_credentials().await.is_ok());
        assert_eq!(builds.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn failures_name_the_source_and_say_what_was_missing() {
        #[derive(Debug)]
        struct Nothing;
        impl ProvideCredentials for Nothing {
            fn provide_credentials<'a>(&'a self) -> CredentialsFuture<'a>
            where
                Self: 'a,
            {
                CredentialsFuture::ready(Err(CredentialsError::not_loaded_no_source()))
            }
        }
        let settings = AwsSettings {
            profile: Some("ops".into()),
            ..AwsSettings::default()
        };
        let provider = named(
            SharedCredentialsProvider::new(Nothing),
            describe_source(&settings),
            &settings,
        );
        let err = provider.provide_credentials().await.unwrap_err();
        let named = err
            .source()
            .and_then(|s| s.downcast_ref::<CredentialsUnavailable>())
            .expect("the named failure is the source");
        assert!(
            named
                .origin
                .starts_with("profile `ops` from the shared AWS config files (")
        );
        assert_eq!(
            named.cause,
            "the profile is not defined there, or holds no credentials"
        );
    }
}
