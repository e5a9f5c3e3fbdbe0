//! Seeds the sandbox estate of [`super::plan`] through the real AWS SDK.
//!
//! Events run in time order, oldest first. Before each moment the seeder sets moto's clock to
//! it (libfaketime), so creation, rotation, deletion and alarm dates are the API's own. Events
//! at the same moment run concurrently, except that the events of one key run in plan order.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use aws_sdk_cloudhsmv2::types::{BackupRetentionPolicy, BackupRetentionType};
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricDatum, StandardUnit, StateValue, Statistic,
};
use aws_sdk_kms::types::{KeySpec, KeyUsageType, OriginType};
use chrono::{TimeDelta, Utc};
use futures::future::try_join_all;
use thiserror::Error;

use super::moto::{MotoError, MotoServer};
use super::plan::{self, Action, Event, KeyKind, KeyTemplate};
use crate::aws::{Clients, RegionClients, classify};
use crate::estate::SourceError;

/// The estate could not be seeded.
#[derive(Debug, Error)]
pub enum SeedError {
    #[error("the sandbox needs moto's clock to move to record real past dates: {0}")]
    Clock(MotoError),
    #[error(
        "seeding {region}, {target}: {error}; the sandbox estate is incomplete (is the \
         endpoint moto {}, as scripts/install-deps installs it?)",
        super::MOTO_VERSION
    )]
    Call {
        region: String,
        /// The key (alias), cluster or alarm the call was about.
        target: String,
        error: Box<SourceError>,
    },
    #[error("seeding {region}: {step}: {message}")]
    Unexpected {
        region: String,
        step: String,
        message: String,
    },
}

/// What was seeded, for the progress message and for tests.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    /// Key ids by (region, alias); replicas share their primary's id.
    pub keys: BTreeMap<(String, String), String>,
    pub clusters: usize,
    pub alarms: usize,
}

/// Seeds the sandbox estate into moto, in `account` when given (moto's default otherwise).
/// The clock is back at real time afterwards, also when a step failed.
pub async fn seed(moto: &MotoServer, account: Option<&str>) -> Result<Seeded, SeedError> {
    if !moto.has_movable_clock() {
        return Err(SeedError::Clock(MotoError::ClockFixed));
    }
    let settings = super::aws_settings(moto.endpoint_url(), account);
    let regions: Vec<String> = plan::REGIONS.iter().map(|r| r.to_string()).collect();
    let clients = Clients::new(&settings, &regions).await;
    let seeder = Seeder {
        clients,
        keys: Mutex::new(HashMap::new()),
    };
    let result = seeder.replay(moto, plan::estate()).await;
    moto.set_clock_offset(TimeDelta::zero())
        .map_err(SeedError::Clock)?;
    result
}

struct Seeder {
    clients: Clients,
    keys: Mutex<HashMap<(&'static str, &'static str), String>>,
}

impl Seeder {
    async fn replay(&self, moto: &MotoServer, mut events: Vec<Event>) -> Result<Seeded, SeedError> {
        // Oldest first; the sort is stable, so plan order holds within a moment.
        events.sort_by(|a, b| b.days_ago.total_cmp(&a.days_ago));
        let mut seeded = Seeded::default();
        for moment in events.chunk_by(|a, b| a.days_ago == b.days_ago) {
            let offset = TimeDelta::milliseconds(-(moment[0].days_ago * 86_400_000.0) as i64);
            moto.set_clock_offset(offset).map_err(SeedError::Clock)?;

            // One chain per key (or per region for clusters and alarms), chains concurrently.
            let mut chains: Vec<Vec<&Event>> = Vec::new();
            for event in moment {
                match chains
                    .iter_mut()
                    .find(|c| c[0].region == event.region && c[0].alias == event.alias)
                {
                    Some(chain) => chain.push(event),
                    None => chains.push(vec![event]),
                }
            }
            try_join_all(chains.into_iter().map(|chain| async move {
                for event in chain {
                    self.apply(event).await?;
                }
                Ok::<_, SeedError>(())
            }))
            .await?;
            for event in moment {
                match event.action {
                    Action::CreateCluster { .. } => seeded.clusters += 1,
                    Action::PutRotationAlarm => seeded.alarms += 1,
                    _ => {}
                }
            }
        }

        // Today: the rotation metric, as the estate's reporting job publishes it daily.
        moto.set_clock_offset(TimeDelta::zero())
            .map_err(SeedError::Clock)?;
        let ages = plan::rotation_ages(&events);
        try_join_all(plan::REGIONS.map(|region| self.put_metrics(region, &ages))).await?;

        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        seeded.keys = keys
            .iter()
            .map(|((region, alias), id)| ((region.to_string(), alias.to_string()), id.clone()))
            .collect();
        Ok(seeded)
    }

    fn region(&self, region: &str) -> &RegionClients {
        self.clients
            .region(region)
            .expect("the plan names only the sandbox's regions")
    }

    fn key_id(&self, region: &'static str, alias: &'static str) -> Result<String, SeedError> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.get(&(region, alias))
            .cloned()
            .ok_or_else(|| unexpected(region, alias, "the key was not created first"))
    }

    fn remember(&self, region: &'static str, alias: &'static str, key_id: String) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.insert((region, alias), key_id);
    }

    async fn apply(&self, event: &Event) -> Result<(), SeedError> {
        let (region, alias) = (event.region, event.alias);
        let clients = self.region(region);
        let kms = &clients.kms;
        match event.action {
            Action::CreateKey(template) => {
                let key_id = self.create_key(clients, alias, template).await?;
                self.remember(region, alias, key_id);
            }
            Action::EnableRotation => {
                let id = self.key_id(region, alias)?;
                let request = kms.enable_key_rotation().key_id(id);
                let request = request.rotation_period_in_days(plan::ROTATION_PERIOD_DAYS);
                let sent = request.send().await;
                sent.map_err(|e| failed(region, alias, classify("EnableKeyRotation", e)))?;
            }
            Action::DisableRotation => {
                let sent = kms
                    .disable_key_rotation()
                    .key_id(self.key_id(region, alias)?)
                    .send()
                    .await;
                sent.map_err(|e| failed(region, alias, classify("DisableKeyRotation", e)))?;
            }
            Action::RotateOnDemand => {
                let sent = kms
                    .rotate_key_on_demand()
                    .key_id(self.key_id(region, alias)?)
                    .send()
                    .await;
                sent.map_err(|e| failed(region, alias, classify("RotateKeyOnDemand", e)))?;
            }
            Action::DisableKey => {
                let sent = kms
                    .disable_key()
                    .key_id(self.key_id(region, alias)?)
                    .send()
                    .await;
                sent.map_err(|e| failed(region, alias, classify("DisableKey", e)))?;
            }
            Action::ScheduleDeletion { days } => {
                let request = kms
                    .schedule_key_deletion()
                    .key_id(self.key_id(region, alias)?);
                let sent = request.pending_window_in_days(days).send().await;
                sent.map_err(|e| failed(region, alias, classify("ScheduleKeyDeletion", e)))?;
            }
            Action::Replicate { to } => self.replicate(region, alias, to).await?,
            Action::TouchAwsManaged => {
                let sent = kms.describe_key().key_id(alias).send().await;
                let out = sent.map_err(|e| failed(region, alias, classify("DescribeKey", e)))?;
                let id = out.key_metadata.map(|m| m.key_id);
                let id = id.ok_or_else(|| unexpected(region, alias, "DescribeKey held no key"))?;
                self.remember(region, alias, id);
            }
            Action::CreateCluster { subnet } => {
                let retention = BackupRetentionPolicy::builder()
                    .r#type(BackupRetentionType::Days)
                    .value("90")
                    .build();
                let tag = aws_sdk_cloudhsmv2::types::Tag::builder()
                    .key("estate")
                    .value("keyward-sandbox")
                    .build()
                    .map_err(|e| unexpected(region, "CreateCluster", &e.to_string()))?;
                let sent = clients
                    .cloudhsm
                    .create_cluster()
                    .hsm_type("hsm1.medium")
                    .subnet_ids(subnet)
                    .backup_retention_policy(retention)
                    .tag_list(tag)
                    .send()
                    .await;
                sent.map_err(|e| failed(region, "the HSM cluster", classify("CreateCluster", e)))?;
            }
            Action::PutRotationAlarm => {
                let sent = clients
                    .cloudwatch
                    .put_metric_alarm()
                    .alarm_name(plan::ROTATION_ALARM)
                    .alarm_description(
                        "A KMS key in this region went more than 85 days without rotation \
                         (the rule is 90 days)",
                    )
                    .namespace(plan::METRIC_NAMESPACE)
                    .metric_name(plan::METRIC_NAME)
                    .statistic(Statistic::Maximum)
                    .period(86_400)
                    .evaluation_periods(1)
                    .threshold(plan::ALARM_THRESHOLD_DAYS)
                    .comparison_operator(ComparisonOperator::GreaterThanThreshold)
                    .treat_missing_data("missing")
                    .send()
                    .await;
                sent.map_err(|e| {
                    failed(region, plan::ROTATION_ALARM, classify("PutMetricAlarm", e))
                })?;
            }
            Action::RaiseRotationAlarm { age_days } => {
                let id = self.key_id(region, alias)?;
                let when = Utc::now() - TimeDelta::seconds((event.days_ago * 86_400.0) as i64);
                let reason = format!(
                    "Threshold Crossed: 1 out of the last 1 datapoints [{:.1} ({})] was greater \
                     than the threshold ({:.1}) (minimum 1 datapoint for OK -> ALARM \
                     transition). Key {alias} ({id}) was last rotated {} days ago.",
                    age_days.floor(),
                    when.format("%d/%m/%y %H:%M:%S"),
                    plan::ALARM_THRESHOLD_DAYS,
                    age_days.floor(),
                );
                let sent = clients
                    .cloudwatch
                    .set_alarm_state()
                    .alarm_name(plan::ROTATION_ALARM)
                    .state_value(StateValue::Alarm)
                    .state_reason(reason)
                    .send()
                    .await;
                sent.map_err(|e| {
                    failed(region, plan::ROTATION_ALARM, classify("SetAlarmState", e))
                })?;
            }
        }
        Ok(())
    }

    /// CreateKey with the template's spec, usage, origin, description and tags, then its alias.
    async fn create_key(
        &self,
        clients: &RegionClients,
        alias: &'static str,
        template: KeyTemplate,
    ) -> Result<String, SeedError> {
        let region = clients.region.as_str();
        let (spec, usage) = match template.kind {
            KeyKind::EccSigning => (KeySpec::EccNistP256, KeyUsageType::SignVerify),
            KeyKind::Hmac => (KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac),
            _ => (KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt),
        };
        let mut request = clients
            .kms
            .create_key()
            .description(template.description)
            .key_spec(spec)
            .key_usage(usage)
            .multi_region(template.kind == KeyKind::MultiRegion);
        if template.kind == KeyKind::External {
            request = request.origin(OriginType::External);
        }
        for tag in kms_tags(region, template)? {
            request = request.tags(tag);
        }
        let created = request.send().await.map_err(|e| {
            failed(
                region,
                &format!("CreateKey for {alias}"),
                classify("CreateKey", e),
            )
        })?;
        let key_id = created
            .key_metadata
            .map(|m| m.key_id)
            .ok_or_else(|| unexpected(region, alias, "CreateKey held no key metadata"))?;
        create_alias(clients, alias, &key_id).await?;
        Ok(key_id)
    }

    /// ReplicateKey into `to`, then the same alias there (moto copies aliases onto replicas,
    /// AWS does not, so an alias already there counts as done).
    async fn replicate(
        &self,
        region: &'static str,
        alias: &'static str,
        to: &'static str,
    ) -> Result<(), SeedError> {
        let key_id = self.key_id(region, alias)?;
        let clients = self.region(region);
        let mut request = clients
            .kms
            .replicate_key()
            .key_id(&key_id)
            .replica_region(to);
        let template = plan::estate()
            .into_iter()
            .find_map(|e| match e.action {
                Action::CreateKey(t) if e.region == region && e.alias == alias => Some(t),
                _ => None,
            })
            .ok_or_else(|| unexpected(region, alias, "the primary is not in the plan"))?;
        request = request.description(template.description);
        for tag in kms_tags(region, template)? {
            request = request.tags(tag);
        }
        request.send().await.map_err(|e| {
            failed(
                region,
                &format!("ReplicateKey {alias} to {to}"),
                classify("ReplicateKey", e),
            )
        })?;
        create_alias(self.region(to), alias, &key_id).await?;
        self.remember(to, alias, key_id);
        Ok(())
    }

    /// One datum per rotating key (dimension KeyId) and the region's maximum (no dimension),
    /// which the alarm watches.
    async fn put_metrics(
        &self,
        region: &'static str,
        ages: &[(&str, &'static str, f64)],
    ) -> Result<(), SeedError> {
        let mut data = Vec::new();
        let mut oldest: f64 = 0.0;
        for (_, alias, days_ago) in ages.iter().filter(|(r, ..)| *r == region) {
            let days = days_ago.floor();
            oldest = oldest.max(days);
            let key = Dimension::builder()
                .name("KeyId")
                .value(self.key_id(region, alias)?)
                .build();
            data.push(datum(days).dimensions(key).build());
        }
        data.push(datum(oldest).build());
        let clients = self.region(region);
        let sent = clients
            .cloudwatch
            .put_metric_data()
            .namespace(plan::METRIC_NAMESPACE)
            .set_metric_data(Some(data))
            .send()
            .await;
        sent.map_err(|e| {
            failed(
                region,
                &format!("PutMetricData {}", plan::METRIC_NAME),
                classify("PutMetricData", e),
            )
        })?;
        Ok(())
    }
}

fn datum(days: f64) -> aws_sdk_cloudwatch::types::builders::MetricDatumBuilder {
    MetricDatum::builder()
        .metric_name(plan::METRIC_NAME)
        .value(days)
        .unit(StandardUnit::Count)
}

async fn create_alias(clients: &RegionClients, alias: &str, key_id: &str) -> Result<(), SeedError> {
    let sent = clients
        .kms
        .create_alias()
        .alias_name(alias)
        .target_key_id(key_id)
        .send()
        .await;
    match sent.map_err(|e| classify("CreateAlias", e)) {
        Ok(_) => Ok(()),
        Err(error) if error.code == "AlreadyExistsException" => Ok(()),
        Err(error) => Err(failed(&clients.region, alias, error)),
    }
}

fn kms_tags(
    region: &str,
    template: KeyTemplate,
) -> Result<Vec<aws_sdk_kms::types::Tag>, SeedError> {
    [
        ("domain", template.domain),
        ("owner", template.owner),
        ("data-classification", template.classification),
    ]
    .into_iter()
    .map(|(key, value)| {
        aws_sdk_kms::types::Tag::builder()
            .tag_key(key)
            .tag_value(value)
            .build()
            .map_err(|e| unexpected(region, "tags", &e.to_string()))
    })
    .collect()
}

fn failed(region: &str, target: &str, error: SourceError) -> SeedError {
    SeedError::Call {
        region: region.to_owned(),
        target: target.to_owned(),
        error: Box::new(error),
    }
}

fn unexpected(region: &str, step: &str, message: &str) -> SeedError {
    SeedError::Unexpected {
        region: region.to_owned(),
        step: step.to_owned(),
        message: message.to_owned(),
    }
}
