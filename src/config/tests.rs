//! Config parsing: every error names the file, the line and the field, and says what is valid.

use super::*;

fn parse_err(text: &str) -> String {
    parse(text, Path::new("/etc/keyward.toml"))
        .unwrap_err()
        .to_string()
}

#[test]
fn empty_file_gives_the_defaults() {
    let settings = parse("", Path::new("k.toml")).unwrap();
    assert_eq!(settings.regions, DEFAULT_REGIONS.map(String::from).to_vec());
    assert_eq!(
        settings.rotation,
        RotationPolicy {
            period_days: 90,
            warn_after_days: 85
        }
    );
    assert_eq!(settings.refresh_interval, Duration::from_secs(60));
    assert_eq!(settings.source.as_deref(), Some(Path::new("k.toml")));
}

#[test]
fn the_example_file_parses_to_the_defaults_it_documents() {
    let text = include_str!("../../config/keyward.toml");
    let settings = parse(text, Path::new("config/keyward.toml")).unwrap();
    assert_eq!(settings.regions, DEFAULT_REGIONS.map(String::from).to_vec());
    assert_eq!(settings.rotation, RotationPolicy::default());
    assert_eq!(settings.pkcs11_module, PathBuf::from(DEFAULT_PKCS11_MODULE));
}

#[test]
fn a_full_file_is_read() {
    let text = r#"
regions = ["eu-central-1", "us-west-2", "eu-central-1"]
profile = "estate-ro"
endpoint_url = "http://127.0.0.1:5000/"
refresh_interval_secs = 30
read_only = true

[rotation]
period_days = 180
warn_after_days = 170

[pkcs11]
module = "/opt/cloudhsm/lib/libcloudhsm_pkcs11.so"

[aws]
connect_timeout_secs = 2
operation_timeout_secs = 10
max_attempts = 5
max_concurrency = 4
emulator_account_id = "123456789012"
"#;
    let s = parse(text, Path::new("k.toml")).unwrap();
    assert_eq!(s.regions, vec!["eu-central-1", "us-west-2"]);
    assert_eq!(s.aws.profile.as_deref(), Some("estate-ro"));
    assert_eq!(s.aws.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
    assert_eq!(s.refresh_interval, Duration::from_secs(30));
    assert!(s.read_only);
    assert_eq!(
        s.rotation,
        RotationPolicy {
            period_days: 180,
            warn_after_days: 170
        }
    );
    assert_eq!(
        s.pkcs11_module,
        PathBuf::from("/opt/cloudhsm/lib/libcloudhsm_pkcs11.so")
    );
    assert_eq!(s.aws.connect_timeout, Duration::from_secs(2));
    assert_eq!(s.aws.operation_timeout, Duration::from_secs(10));
    assert_eq!(s.aws.max_attempts, 5);
    assert_eq!(s.aws.max_concurrency, 4);
    assert_eq!(s.aws.emulator_account_id.as_deref(), Some("123456789012"));
}

#[test]
fn unknown_field_names_file_line_and_the_valid_fields() {
    let err = parse_err("regions = [\"us-east-1\"]\n\n[rotation]\nperiod = 90\n");
    assert!(
        err.starts_with("config file /etc/keyward.toml, line 4, column 1:"),
        "{err}"
    );
    assert!(err.contains("unknown field `period`"), "{err}");
    assert!(err.contains("period_days"), "{err}");
}

#[test]
fn wrong_type_names_the_line() {
    let err = parse_err("refresh_interval_secs = \"fast\"\n");
    assert!(err.contains("line 1"), "{err}");
    assert!(err.contains("invalid type"), "{err}");
}

#[test]
fn invalid_region_is_quoted_with_an_example() {
    let err = parse_err("regions = [\"us-east-1\", \"Europe\"]\n");
    assert!(err.contains("line 1"), "{err}");
    assert!(err.contains("invalid region name \"Europe\""), "{err}");
    assert!(err.contains("us-east-1"), "{err}");
}

#[test]
fn out_of_range_values_say_the_range() {
    let err = parse_err("[rotation]\nperiod_days = 30\n");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("from 90 to 2560"), "{err}");

    let err = parse_err("refresh_interval_secs = 0\n");
    assert!(err.contains("from 5 to 86400"), "{err}");
}

#[test]
fn warn_threshold_must_be_below_the_period() {
    let err = parse_err("[rotation]\nperiod_days = 90\nwarn_after_days = 95\n");
    assert!(err.contains("line 3"), "{err}");
    assert!(
        err.contains("must be less than rotation.period_days = 90"),
        "{err}"
    );
}

#[test]
fn empty_region_list_is_refused() {
    let err = parse_err("\nregions = []\n");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("name at least one region"), "{err}");
}

#[test]
fn bad_endpoint_and_account_are_explained() {
    let err = parse_err("endpoint_url = \"localhost:5000\"\n");
    assert!(err.contains("expected http:// or https://"), "{err}");
    let err = parse_err("[aws]\nemulator_account_id = \"12\"\n");
    assert!(err.contains("line 2") && err.contains("12 digits"), "{err}");
}

#[test]
fn a_named_file_that_is_missing_is_an_error() {
    let err = load(
        Some(Path::new("/nonexistent/keyward.toml")),
        &Overrides::default(),
    );
    let err = err.unwrap_err().to_string();
    assert!(
        err.contains("/nonexistent/keyward.toml: not found"),
        "{err}"
    );
}

#[test]
fn flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    std::fs::write(&path, "regions = [\"us-east-1\"]\nprofile = \"file\"\n").unwrap();
    let overrides = Overrides {
        regions: vec!["eu-west-1,ap-southeast-2".into()],
        profile: Some("flag".into()),
        endpoint_url: Some("http://127.0.0.1:1".into()),
        read_only: true,
        ..Overrides::default()
    };
    let s = load(Some(&path), &overrides).unwrap();
    assert_eq!(s.regions, vec!["eu-west-1", "ap-southeast-2"]);
    assert_eq!(s.aws.profile.as_deref(), Some("flag"));
    assert_eq!(s.aws.endpoint_url.as_deref(), Some("http://127.0.0.1:1"));
    assert!(s.read_only);
}

#[test]
fn bad_region_flag_names_the_flag() {
    let overrides = Overrides {
        regions: vec!["us_east_1".into()],
        ..Overrides::default()
    };
    let mut settings = Settings::default();
    let err = apply(&mut settings, &overrides).unwrap_err().to_string();
    assert!(
        err.starts_with("--region: invalid region name \"us_east_1\""),
        "{err}"
    );
}

#[test]
fn region_names_are_checked_for_shape() {
    for good in [
        "us-east-1",
        "ap-southeast-2",
        "us-gov-west-1",
        "eu-central-2",
        "il-central-1",
    ] {
        assert!(Region::try_from(good.to_owned()).is_ok(), "{good}");
    }
    for bad in [
        "",
        "us",
        "us-east",
        "US-EAST-1",
        "us-east-x",
        "useast1",
        "u-east-1",
    ] {
        assert!(Region::try_from(bad.to_owned()).is_err(), "{bad}");
    }
}
