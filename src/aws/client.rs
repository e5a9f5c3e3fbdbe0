//! Per-region SDK clients built from one shared configuration.
//!
//! Every client has a connect timeout, a per-attempt and a whole-operation deadline, and the
//! SDK's standard retries with backoff, which the SDK's classifiers steer (throttling errors
//! back off longest). Each region has its own request budget, paid by every attempt, and its
//! own count of throttled attempts.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::identity::SharedIdentityCache;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::SdkConfig;
use aws_types::region::Region;
use tokio::sync::Semaphore;

use super::budget::{self, Budget, PaidRetries, ThrottleCounter};
use super::credentials;
use crate::config::AwsSettings;

/// The clients of one region, and the permits that bound its concurrent requests.
#[derive(Debug, Clone)]
pub struct RegionClients {
    pub region: String,
    pub kms: aws_sdk_kms::Client,
    pub cloudhsm: aws_sdk_cloudhsmv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sts: aws_sdk_sts::Client,
    pub(crate) permits: Arc<Semaphore>,
    /// The region's request budget: at most this many requests per second, retries included.
    budget: Arc<Budget>,
    /// Attempts the region answered with a throttling error.
    throttles: ThrottleCounter,
    /// Where the credentials come from, for messages about rejected credentials.
    pub(crate) credentials_source: Arc<str>,
    pub(crate) max_concurrency: usize,
    pub(crate) page_size: i32,
}

/// Clients for every configured region.
#[derive(Debug)]
pub struct Clients {
    regions: Vec<RegionClients>,
    /// The profile the credentials come from, for error messages.
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// Where the credentials come from, as an operator would say it: "profile `estate-ro`
    /// from the shared AWS config files" or "the default chain (...)".
    pub credentials_source: String,
}

impl Clients {
    /// Loads the shared configuration (credentials chain, profile, timeouts, retries) once
    /// and builds clients for each region.
    pub async fn new(settings: &AwsSettings, regions: &[String]) -> Clients {
        let credentials_source = credentials::describe_source(settings);
        let base = load_shared(
            settings,
            regions.first().map(String::as_str),
            &credentials_source,
        )
        .await;
        let overridden = settings.endpoint_url.is_some() || !settings.region_endpoints.is_empty();
        let account_header = settings
            .emulator_account_id
            .clone()
            .filter(|_| overridden)
            .map(EmulatorAccount);
        let regions = regions
            .iter()
            .map(|r| {
                RegionClients::new(
                    &base,
                    r,
                    account_header.clone(),
                    settings,
                    &credentials_source,
                )
            })
            .collect();
        Clients {
            regions,
            profile: settings.profile.clone(),
            endpoint_url: settings.endpoint_url.clone(),
            credentials_source,
        }
    }

    pub fn regions(&self) -> impl Iterator<Item = &RegionClients> {
        self.regions.iter()
    }

    pub fn region(&self, name: &str) -> Option<&RegionClients> {
        self.regions.iter().find(|r| r.region == name)
    }
}

impl RegionClients {
    fn new(
        base: &SdkConfig,
        region: &str,
        account: Option<EmulatorAccount>,
        settings: &AwsSettings,
        credentials_source: &str,
    ) -> Self {
        let region_name = Region::new(region.to_owned());
        let budget = budget::budget(settings.requests_per_second);
        let throttles = ThrottleCounter::default();
        // One identity cache for every client of every region, so credentials load once; each
        // region's wrapper makes that region's retries pay its budget.
        let identities = base
            .identity_cache()
            .unwrap_or_else(|| aws_sdk_kms::config::IdentityCache::lazy().build());
        let paid_retries = SharedIdentityCache::new(PaidRetries::new(budget.clone(), identities));
        macro_rules! client {
            ($krate:ident) => {{
                let mut builder = $krate::config::Builder::from(base)
                    .region(region_name.clone())
                    .identity_cache(paid_retries.clone())
                    .interceptor(throttles.clone());
                if let Some(url) = settings.region_endpoints.get(region) {
                    builder = builder.endpoint_url(url);
                }
                if let Some(account) = &account {
                    builder = builder.interceptor(account.clone());
                }
                $krate::Client::from_conf(builder.build())
            }};
        }
        RegionClients {
            region: region.to_owned(),
            kms: client!(aws_sdk_kms),
            cloudhsm: client!(aws_sdk_cloudhsmv2),
            cloudwatch: client!(aws_sdk_cloudwatch),
            sts: client!(aws_sdk_sts),
            permits: Arc::new(Semaphore::new(settings.max_concurrency)),
            budget,
            throttles,
            credentials_source: credentials_source.into(),
            max_concurrency: settings.max_concurrency,
            page_size: i32::try_from(settings.page_size).unwrap_or(1000),
        }
    }

    /// Attempts this region answered with a throttling error since the clients were built,
    /// whichever call made them; each was retried with backoff, or failed after the last.
    pub fn throttled_total(&self) -> u32 {
        self.throttles.total()
    }

    /// Waits for a slot among the region's concurrent requests and for a token of its request
    /// budget; the token pays for the first attempt of one request (or of the first page of a
    /// paginated one). Retries pay for themselves inside the SDK.
    pub async fn permit(&self) -> tokio::sync::SemaphorePermit<'_> {
        // The semaphore is never closed, so acquiring cannot fail.
        let permit = self
            .permits
            .acquire()
            .await
            .expect("region semaphore is never closed");
        self.budget.until_ready().await;
        permit
    }

    /// Collects every page of a paginated call, paying the budget for each page after the
    /// first (the first is paid by [`permit`](Self::permit)).
    pub async fn pages<T, E>(
        &self,
        mut stream: PaginationStream<Result<T, E>>,
    ) -> Result<Vec<T>, E> {
        let mut pages = Vec::new();
        loop {
            if !pages.is_empty() {
                self.budget.until_ready().await;
            }
            match stream.try_next().await? {
                Some(page) => pages.push(page),
                None => return Ok(pages),
            }
        }
    }
}

/// The shared configuration; its credentials provider names `credentials_source` when it fails.
async fn load_shared(
    settings: &AwsSettings,
    region: Option<&str>,
    credentials_source: &str,
) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(settings.connect_timeout)
        .operation_attempt_timeout(settings.operation_timeout)
        .operation_timeout(settings.operation_timeout * settings.max_attempts)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts));
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(provider) = credentials::profile_provider(settings, region) {
        loader = loader.credentials_provider(provider);
    }
    if let Some(credentials) = &settings.static_credentials {
        loader = loader.credentials_provider(credentials.clone());
    }
    let shared = loader.load().await;
    match shared.credentials_provider() {
        Some(provider) => {
            let named = credentials::named(provider, credentials_source.to_owned(), settings);
            shared.into_builder().credentials_provider(named).build()
        }
        None => shared,
    }
}

/// Adds `x-moto-account-id` to every request, so one emulator holds isolated estates.
#[derive(Debug, Clone)]
struct EmulatorAccount(String);

impl Intercept for EmulatorAccount {
    fn name(&self) -> &'static str {
        "EmulatorAccount"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-moto-account-id", self.0.clone());
        Ok(())
    }
}
