//! A moto server of the test's own and settings that reach it, each test in its own account.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_credential_types::Credentials;
use keyward::aws::Clients;
use keyward::config::Settings;
use keyward::sandbox::moto::{MotoOptions, MotoServer};

/// Starts moto on a free loopback port; `movable_clock` runs it under libfaketime.
pub async fn moto(movable_clock: bool) -> MotoServer {
    MotoServer::start(MotoOptions {
        movable_clock,
        ..MotoOptions::default()
    })
    .await
    .expect("start moto server (run scripts/install-deps if it is missing)")
}

/// A 12-digit account id no other test in this run uses.
pub fn fresh_account() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:06}{:06}", std::process::id() % 1_000_000, n)
}

/// Settings for `regions` on `moto`, in a fresh account, with the emulator's credentials.
pub fn settings(moto: &MotoServer, regions: &[&str]) -> Settings {
    let mut settings = Settings {
        regions: regions.iter().map(|r| r.to_string()).collect(),
        ..Settings::default()
    };
    settings.aws.endpoint_url = Some(moto.endpoint_url().to_owned());
    settings.aws.emulator_account_id = Some(fresh_account());
    settings.aws.static_credentials = Some(Credentials::new(
        "testing",
        "testing",
        None,
        None,
        "keyward-tests",
    ));
    settings
}

pub async fn clients(settings: &Settings) -> Clients {
    Clients::new(&settings.aws, &settings.regions).await
}

/// The environment that points the keyward binary at the same estate.
pub fn binary_env(settings: &Settings) -> Vec<(&'static str, String)> {
    vec![
        (
            "KEYWARD_ENDPOINT_URL",
            settings.aws.endpoint_url.clone().unwrap_or_default(),
        ),
        ("KEYWARD_REGIONS", settings.regions.join(",")),
        (
            "KEYWARD_EMULATOR_ACCOUNT",
            settings.aws.emulator_account_id.clone().unwrap_or_default(),
        ),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", settings.regions[0].clone()),
        ("KEYWARD_CONFIG", "/dev/null".into()),
    ]
}
