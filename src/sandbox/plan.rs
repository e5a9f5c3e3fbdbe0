//! The sandbox estate as data: what happens to which key, in which region, how long ago.
//!
//! [`super::seed`] replays these events through the AWS API in time order, with moto's clock
//! moved back to each event's moment, so every date the console shows is one the API
//! recorded. The ages are chosen so that every rotation verdict occurs: with the 90-day rule
//! and the 85-day warning, eu-west-1 holds a key due soon and an overdue one (and its
//! `KeyRotationDelay` alarm fires); every other rotating key is within 85 days.

/// The regions of the sandbox estate, in display order.
pub const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
/// The rotation alarm every region has.
pub const ROTATION_ALARM: &str = "KeyRotationDelay";
/// The alarm's namespace and metric.
pub const METRIC_NAMESPACE: &str = "Custom/KMS";
pub const METRIC_NAME: &str = "DaysSinceLastRotation";
/// The alarm fires above this many days since the last rotation.
pub const ALARM_THRESHOLD_DAYS: f64 = 85.0;
/// The rotation period every rotating key is created with.
pub const ROTATION_PERIOD_DAYS: i32 = 90;
/// The region whose alarm is in ALARM.
pub const ALARM_REGION: &str = "eu-west-1";
/// The AWS managed key the sandbox makes moto create in each region.
pub const AWS_MANAGED_ALIAS: &str = "alias/aws/ebs";

/// What kind of key to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Symmetric,
    /// Symmetric, multi-region primary.
    MultiRegion,
    /// ECC_NIST_P256 for SIGN_VERIFY.
    EccSigning,
    /// HMAC_256 for GENERATE_VERIFY_MAC.
    Hmac,
    /// Origin EXTERNAL: created without key material, awaiting import.
    External,
}

/// A key to create, with its alias, description and tags.
#[derive(Debug, Clone, Copy)]
pub struct KeyTemplate {
    pub kind: KeyKind,
    pub description: &'static str,
    pub domain: &'static str,
    pub owner: &'static str,
    pub classification: &'static str,
}

/// One API step against one key (named by alias), cluster or alarm.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    CreateKey(KeyTemplate),
    EnableRotation,
    DisableRotation,
    RotateOnDemand,
    /// ReplicateKey into `to`, and the same alias there.
    Replicate {
        to: &'static str,
    },
    DisableKey,
    ScheduleDeletion {
        days: i32,
    },
    /// DescribeKey on an `alias/aws/*` alias, which makes moto create the AWS managed key.
    TouchAwsManaged,
    CreateCluster {
        subnet: &'static str,
    },
    PutRotationAlarm,
    /// SetAlarmState to ALARM, naming `alias`'s key, whose age was `age_days` at that moment.
    RaiseRotationAlarm {
        age_days: f64,
    },
}

/// An action at a moment `days_ago` before now; `alias` names the key it acts on (or the key
/// an alarm names).
#[derive(Debug, Clone, Copy)]
pub struct Event {
    pub days_ago: f64,
    pub region: &'static str,
    pub alias: &'static str,
    pub action: Action,
}

/// The application domains every region has a key for.
const DOMAINS: [(&str, KeyTemplate); 4] = [
    (
        "alias/payments-data",
        domain(
            "Card payment records and settlement files",
            "payments",
            "payments-platform",
            "pci",
        ),
    ),
    (
        "alias/ledger-data",
        domain(
            "General ledger entries and journal exports",
            "ledger",
            "finance-engineering",
            "confidential",
        ),
    ),
    (
        "alias/customer-pii",
        domain(
            "Customer profiles: names, addresses, contact details",
            "customer",
            "identity-team",
            "restricted",
        ),
    ),
    (
        "alias/tokenization",
        domain(
            "Token vault for card and bank account numbers",
            "tokenization",
            "payments-platform",
            "pci",
        ),
    ),
];

/// Per region: when its domain keys were created, and how long ago each last rotated (in
/// [`DOMAINS`] order).
const ROLLOUTS: [(&str, f64, [f64; 4]); 3] = [
    ("us-east-1", 512.3, [62.4, 18.7, 44.2, 79.5]),
    ("eu-west-1", 401.6, [29.3, 88.4, 104.6, 47.8]),
    ("ap-southeast-2", 287.9, [15.1, 76.3, 33.9, 58.6]),
];

const fn domain(
    description: &'static str,
    domain: &'static str,
    owner: &'static str,
    classification: &'static str,
) -> KeyTemplate {
    KeyTemplate {
        kind: KeyKind::Symmetric,
        description,
        domain,
        owner,
        classification,
    }
}

const fn special(kind: KeyKind, description: &'static str, domain: &'static str) -> KeyTemplate {
    KeyTemplate {
        kind,
        description,
        domain,
        owner: "security-engineering",
        classification: "confidential",
    }
}

/// The whole estate's history, in no particular order (the seeder sorts it).
pub fn estate() -> Vec<Event> {
    let mut events = Vec::new();
    let mut at = |days_ago: f64, region: &'static str, alias: &'static str, action: Action| {
        events.push(Event {
            days_ago,
            region,
            alias,
            action,
        });
    };

    // The application domains, rolled out region by region, rotating every ~90 days.
    for (region, created, last_rotations) in ROLLOUTS {
        for ((alias, template), last) in DOMAINS.into_iter().zip(last_rotations) {
            at(created, region, alias, Action::CreateKey(template));
            at(created, region, alias, Action::EnableRotation);
            for rotated in rotation_history(created, last) {
                at(rotated, region, alias, Action::RotateOnDemand);
            }
        }
    }

    // us-east-1: the multi-region settlements key and its replicas, a signing key, and a
    // retired key pending deletion.
    let settlements = "alias/settlements-data";
    let mrk = special(
        KeyKind::MultiRegion,
        "Cross-region settlement batches",
        "settlements",
    );
    at(236.2, "us-east-1", settlements, Action::CreateKey(mrk));
    at(236.2, "us-east-1", settlements, Action::EnableRotation);
    for to in ["eu-west-1", "ap-southeast-2"] {
        at(236.1, "us-east-1", settlements, Action::Replicate { to });
    }
    for rotated in rotation_history(236.0, 36.5) {
        at(rotated, "us-east-1", settlements, Action::RotateOnDemand);
    }
    let signing = special(
        KeyKind::EccSigning,
        "Signs release manifests and documents",
        "signing",
    );
    at(
        190.4,
        "us-east-1",
        "alias/document-signing",
        Action::CreateKey(signing),
    );
    let batch = "alias/batch-exports-2023";
    let retired = special(
        KeyKind::Symmetric,
        "2023 batch exports (retired)",
        "exports",
    );
    at(455.0, "us-east-1", batch, Action::CreateKey(retired));
    at(455.0, "us-east-1", batch, Action::EnableRotation);
    at(300.2, "us-east-1", batch, Action::RotateOnDemand);
    at(209.5, "us-east-1", batch, Action::RotateOnDemand);
    at(
        9.3,
        "us-east-1",
        batch,
        Action::ScheduleDeletion { days: 30 },
    );

    // eu-west-1: an HMAC key and a key whose rotation was turned off.
    let hmac = special(KeyKind::Hmac, "Signs outgoing webhook payloads", "webhooks");
    at(
        151.7,
        "eu-west-1",
        "alias/webhook-signing",
        Action::CreateKey(hmac),
    );
    let legacy = "alias/legacy-reporting";
    let reporting = special(
        KeyKind::Symmetric,
        "Legacy reporting warehouse extracts",
        "reporting",
    );
    at(612.5, "eu-west-1", legacy, Action::CreateKey(reporting));
    at(612.5, "eu-west-1", legacy, Action::EnableRotation);
    at(520.1, "eu-west-1", legacy, Action::RotateOnDemand);
    at(430.9, "eu-west-1", legacy, Action::RotateOnDemand);
    at(401.2, "eu-west-1", legacy, Action::DisableRotation);

    // ap-southeast-2: a key awaiting imported material, and a disabled archive key.
    let import = special(
        KeyKind::External,
        "Partner-supplied key material (BYOK)",
        "partners",
    );
    at(
        6.2,
        "ap-southeast-2",
        "alias/partner-import",
        Action::CreateKey(import),
    );
    let archive = "alias/archive-2023";
    let archived = special(
        KeyKind::Symmetric,
        "2023 archive bucket (read-only)",
        "archive",
    );
    at(
        702.8,
        "ap-southeast-2",
        archive,
        Action::CreateKey(archived),
    );
    at(702.8, "ap-southeast-2", archive, Action::EnableRotation);
    at(611.4, "ap-southeast-2", archive, Action::RotateOnDemand);
    at(520.0, "ap-southeast-2", archive, Action::RotateOnDemand);
    at(418.3, "ap-southeast-2", archive, Action::DisableKey);

    // Every region: the EBS default key AWS makes on first use, its HSM cluster (with a fresh
    // daily backup), and the rotation alarm.
    let regional = [
        ("us-east-1", 698.0, 0.42),
        ("eu-west-1", 655.2, 0.61),
        ("ap-southeast-2", 590.6, 0.83),
    ];
    for (region, ebs, cluster) in regional {
        at(ebs, region, AWS_MANAGED_ALIAS, Action::TouchAwsManaged);
        let subnet = match region {
            "us-east-1" => "subnet-0e1c5a9d7f3b21a40",
            "eu-west-1" => "subnet-07d2f6b8c4e1a9350",
            _ => "subnet-0b9a3e7c1d5f82c64",
        };
        at(cluster, region, "", Action::CreateCluster { subnet });
        at(280.0, region, "", Action::PutRotationAlarm);
    }

    // eu-west-1's alarm fired the day its oldest key passed 85 days.
    let (alias, last) = ("alias/customer-pii", 104.6);
    let fired = last - ALARM_THRESHOLD_DAYS - 1.2;
    at(
        fired,
        ALARM_REGION,
        alias,
        Action::RaiseRotationAlarm {
            age_days: last - fired,
        },
    );

    events
}

/// Up to three rotations ~91 days apart, the newest `last` days ago, none before creation.
fn rotation_history(created: f64, last: f64) -> Vec<f64> {
    (0..3)
        .map(|n| last + 91.3 * f64::from(n))
        .filter(|days_ago| *days_ago < created - 1.0)
        .collect()
}

/// Days since each rotating key's last rotation (or creation), by region and alias, as the
/// estate's rotation metric reports them. Disabled keys, keys pending deletion, keys with
/// rotation off and replicas (which rotate with their primary) are left out.
pub fn rotation_ages(events: &[Event]) -> Vec<(&'static str, &'static str, f64)> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by(|a, b| b.days_ago.total_cmp(&a.days_ago));
    let mut ages: Vec<(&'static str, &'static str, f64, bool)> = Vec::new();
    for event in sorted {
        let entry = ages
            .iter_mut()
            .find(|(region, alias, ..)| *region == event.region && *alias == event.alias);
        match (event.action, entry) {
            (Action::CreateKey(_), None) => {
                ages.push((event.region, event.alias, event.days_ago, false));
            }
            (Action::EnableRotation, Some(entry)) => entry.3 = true,
            (Action::RotateOnDemand, Some(entry)) => entry.2 = event.days_ago,
            (
                Action::DisableRotation | Action::DisableKey | Action::ScheduleDeletion { .. },
                Some(entry),
            ) => entry.3 = false,
            _ => {}
        }
    }
    ages.into_iter()
        .filter(|(.., rotating)| *rotating)
        .map(|(region, alias, days_ago, _)| (region, alias, days_ago))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estate_holds_every_rotation_verdict_and_only_the_alarm_region_is_past_85_days() {
        let ages = rotation_ages(&estate());
        assert!(ages.iter().any(|(.., age)| *age < 85.0));
        assert!(ages.iter().any(|(.., age)| *age > 86.0 && *age < 90.0));
        assert!(ages.iter().any(|(.., age)| *age > 91.0));
        for (region, alias, age) in &ages {
            assert!(
                *region == ALARM_REGION || *age < ALARM_THRESHOLD_DAYS,
                "{region} {alias} is {age} days old but its alarm stays OK"
            );
        }
        assert!(
            !ages
                .iter()
                .any(|(_, alias, _)| *alias == "alias/legacy-reporting")
        );
    }

    #[test]
    fn nothing_happens_to_a_key_before_it_exists() {
        let events = estate();
        for event in &events {
            if event.alias.is_empty() || matches!(event.action, Action::TouchAwsManaged) {
                continue;
            }
            let created = events
                .iter()
                .find(|e| {
                    e.region == event.region
                        && e.alias == event.alias
                        && matches!(e.action, Action::CreateKey(_))
                })
                .unwrap_or_else(|| panic!("{} {} is never created", event.region, event.alias));
            assert!(event.days_ago <= created.days_ago, "{event:?}");
        }
    }
}
