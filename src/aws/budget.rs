//! The per-region request budget, and the count of requests AWS throttled.
//!
//! Every HTTP request a region's clients send pays one token of the region's budget. The first
//! attempt of an operation, and each further page, pays in [`RegionClients::permit`] and
//! [`RegionClients::pages`], outside the SDK's deadlines. A retry pays inside the SDK: identity
//! resolution is the one asynchronous step the SDK runs before every attempt that its public
//! configuration lets a client wrap, so [`PaidRetries`] waits there.
//!
//! TODO: pay every attempt in one place, an `HttpClient` wrapper around the SDK's default
//! client, once keyward depends on `aws-smithy-http-client` directly (the default client is
//! not reachable through the SDK's public API).
//!
//! [`RegionClients::permit`]: super::RegionClients::permit
//! [`RegionClients::pages`]: super::RegionClients::pages

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::identity::{
    IdentityFuture, ResolveCachedIdentity, SharedIdentityCache, SharedIdentityResolver,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    FinalizerInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryReason,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::ErrorKind;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// A region's request budget: tokens spaced evenly at the configured rate, with no burst, so
/// no one-second window carries more requests than the budget allows.
pub(crate) type Budget = DefaultDirectRateLimiter;

/// A budget of `requests_per_second` (at least one).
pub(crate) fn budget(requests_per_second: u32) -> Arc<Budget> {
    let rate = NonZeroU32::new(requests_per_second).unwrap_or(NonZeroU32::MIN);
    Arc::new(RateLimiter::direct(
        Quota::per_second(rate).allow_burst(NonZeroU32::MIN),
    ))
}

/// Resolves identities through the shared cache, paying the region's budget first when the
/// attempt is a retry.
#[derive(Debug)]
pub(crate) struct PaidRetries {
    budget: Arc<Budget>,
    inner: SharedIdentityCache,
}

impl PaidRetries {
    pub(crate) fn new(budget: Arc<Budget>, inner: SharedIdentityCache) -> Self {
        PaidRetries { budget, inner }
    }
}

impl ResolveCachedIdentity for PaidRetries {
    fn resolve_cached_identity<'a>(
        &'a self,
        resolver: SharedIdentityResolver,
        runtime_components: &'a RuntimeComponents,
        config_bag: &'a ConfigBag,
    ) -> IdentityFuture<'a> {
        let attempt = config_bag
            .load::<RequestAttempts>()
            .map_or(1, RequestAttempts::attempts);
        IdentityFuture::new(async move {
            if attempt > 1 {
                self.budget.until_ready().await;
            }
            self.inner
                .resolve_cached_identity(resolver, runtime_components, config_bag)
                .await
        })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }
}

/// Counts the attempts that the SDK's own retry classifiers judge throttled, for every
/// client of one region.
#[derive(Debug, Clone, Default)]
pub(crate) struct ThrottleCounter(Arc<AtomicU32>);

impl ThrottleCounter {
    /// Throttled attempts since the clients were built.
    pub(crate) fn total(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for ThrottleCounter {
    fn name(&self) -> &'static str {
        "ThrottleCounter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if is_throttled(context.inner(), runtime_components) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Runs the operation's retry classifiers as the SDK's retry strategy does and says whether
/// they call the attempt's outcome throttling.
fn is_throttled(context: &InterceptorContext, runtime_components: &RuntimeComponents) -> bool {
    let mut action = RetryAction::NoActionIndicated;
    for classifier in runtime_components.retry_classifiers() {
        let next = classifier.classify_retry_v2(context, &action);
        if next == RetryAction::NoActionIndicated {
            continue;
        }
        action = next;
        if action == RetryAction::RetryForbidden {
            break;
        }
    }
    matches!(
        action,
        RetryAction::RetryIndicated(RetryReason::RetryableError {
            kind: ErrorKind::ThrottlingError,
            ..
        })
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_allows_no_burst() {
        let budget = budget(1);
        assert!(budget.check().is_ok());
        // With a burst, a second token would be there at once; evenly spaced, it is a second
        // away.
        assert!(budget.check().is_err());
    }

    #[test]
    fn a_zero_budget_still_lets_requests_through() {
        assert!(budget(0).check().is_ok());
    }
}
