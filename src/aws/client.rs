//! Per-region SDK clients built from one shared configuration.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::SdkConfig;
use aws_types::region::Region;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

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
    /// The region's request budget: at most this many requests per second.
    budget: Arc<DefaultDirectRateLimiter>,
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
}

impl Clients {
    /// Loads the shared configuration (credentials chain, profile, timeouts, retries) once
    /// and builds clients for each region.
    pub async fn new(settings: &AwsSettings, regions: &[String]) -> Clients {
        let base = load_shared(settings, regions.first().map(String::as_str)).await;
        let overridden = settings.endpoint_url.is_some() || !settings.region_endpoints.is_empty();
        let account_header = settings
            .emulator_account_id
            .clone()
            .filter(|_| overridden)
            .map(EmulatorAccount);
        let regions = regions
            .iter()
            .map(|r| RegionClients::new(&base, r, account_header.clone(), settings))
            .collect();
        Clients {
            regions,
            profile: settings.profile.clone(),
            endpoint_url: settings.endpoint_url.clone(),
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
    ) -> Self {
        let region_name = Region::new(region.to_owned());
        macro_rules! client {
            ($krate:ident) => {{
                let mut builder = $krate::config::Builder::from(base).region(region_name.clone());
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
            budget: Arc::new(RateLimiter::direct(Quota::per_second(
                std::num::NonZeroU32::new(settings.requests_per_second)
                    .unwrap_or(std::num::NonZeroU32::MIN),
            ))),
            max_concurrency: settings.max_concurrency,
            page_size: i32::try_from(settings.page_size).unwrap_or(1000),
        }
    }

    /// Waits for a slot among the region's concurrent requests and for a token of its request
    /// budget; the token pays for one request (or the first page of a paginated one).
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

async fn load_shared(settings: &AwsSettings, region: Option<&str>) -> SdkConfig {
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
    if let Some(credentials) = &settings.static_credentials {
        loader = loader.credentials_provider(credentials.clone());
    }
    loader.load().await
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
