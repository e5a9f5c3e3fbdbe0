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

/// The commented-out `[[rotation.*]]` examples of the example file, uncommented.
fn example_rules_and_exemptions() -> String {
    let text = include_str!("../../config/keyward.toml");
    let start = text.find("# [[rotation.rules]]").unwrap();
    let end = text.find("\n[pkcs11]").unwrap();
    text[start..end]
        .lines()
        .filter_map(|line| line.strip_prefix("# "))
        .filter(|line| line.starts_with("[[") || line.contains(" = "))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn the_example_rules_and_exemptions_parse_when_uncommented() {
    let text = example_rules_and_exemptions();
    let s = parse(&text, Path::new("k.toml")).unwrap();
    assert_eq!(s.rotation_rules.len(), 2, "{text}");
    let card = &s.rotation_rules[0];
    assert_eq!(card.name, "card data in us-east-1");
    assert_eq!(card.alias_prefix.as_deref(), Some("alias/payments-"));
    assert_eq!(card.tag, Some(("data-class".into(), "pci".into())));
    assert_eq!(card.region.as_deref(), Some("us-east-1"));
    assert_eq!(
        card.policy,
        RotationPolicy {
            period_days: 90,
            warn_after_days: 80
        }
    );
    // Without its own warning age a rule keeps the default's 5-day gap before its deadline.
    assert_eq!(
        s.rotation_rules[1].policy,
        RotationPolicy {
            period_days: 365,
            warn_after_days: 360
        }
    );
    assert_eq!(s.exemptions.len(), 1);
    assert_eq!(s.exemptions[0].key, "alias/legacy-signing");
    assert!(s.exemptions[0].reason.starts_with("CHG-4211"));
    assert_eq!(
        s.exemptions[0].expires,
        chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
    );
}

#[test]
fn a_rule_without_a_name_is_named_by_its_matchers_and_keeps_file_order() {
    let text = "[rotation]\nperiod_days = 120\nwarn_after_days = 100\n\n\
                [[rotation.rules]]\nregion = \"eu-west-1\"\n\n\
                [[rotation.rules]]\nalias_prefix = \"alias/hr-\"\ntag = \"team = people\"\n";
    let s = parse(text, Path::new("k.toml")).unwrap();
    assert_eq!(s.rotation_rules[0].name, "in eu-west-1");
    assert_eq!(
        s.rotation_rules[0].policy,
        RotationPolicy {
            period_days: 120,
            warn_after_days: 100
        }
    );
    assert_eq!(s.rotation_rules[1].name, "alias/hr-*, tag team=people");
    assert_eq!(
        s.rotation_rules[1].tag,
        Some(("team".into(), "people".into()))
    );
}

#[test]
fn a_rule_with_no_matcher_is_refused_at_its_table() {
    let err = parse_err("[rotation]\n\n[[rotation.rules]]\nperiod_days = 180\n");
    assert!(err.contains("line 3") || err.contains("line 4"), "{err}");
    assert!(err.contains("rotation.rules[1] matches every key"), "{err}");
    assert!(err.contains("alias_prefix, tag or region"), "{err}");
}

#[test]
fn rule_values_are_checked_where_they_are_written() {
    let err = parse_err("[[rotation.rules]]\nalias_prefix = \"payments-\"\n");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("invalid alias_prefix \"payments-\"") && err.contains("alias/payments-"));

    let err = parse_err("[[rotation.rules]]\nregion = \"us-east-1\"\ntag = \"pci\"\n");
    assert!(
        err.contains("line 3") && err.contains("expected KEY=VALUE"),
        "{err}"
    );

    let err = parse_err("[[rotation.rules]]\nregion = \"Virginia\"\n");
    assert!(
        err.contains("line 2") && err.contains("invalid region name"),
        "{err}"
    );

    let err = parse_err("[[rotation.rules]]\nregion = \"us-east-1\"\nperiod_days = 30\n");
    assert!(
        err.contains("line 3") && err.contains("from 90 to 2560"),
        "{err}"
    );

    let err = parse_err("[[rotation.rules]]\nregion = \"us-east-1\"\nspeed = 3\n");
    assert!(
        err.contains("line 3") && err.contains("unknown field `speed`"),
        "{err}"
    );
    assert!(err.contains("alias_prefix"), "{err}");
}

#[test]
fn a_rule_warning_age_must_be_below_its_period() {
    let text =
        "[[rotation.rules]]\nregion = \"us-east-1\"\nperiod_days = 100\nwarn_after_days = 100\n";
    let err = parse_err(text);
    assert!(err.contains("line 4"), "{err}");
    assert!(
        err.contains(
            "rotation.rules[1]: warn_after_days = 100 must be less than period_days = 100"
        )
    );
}

#[test]
fn exemption_values_are_checked_where_they_are_written() {
    let exemption = |key: &str, reason: &str, expires: &str| {
        format!("[[rotation.exemptions]]\nkey = {key}\nreason = {reason}\nexpires = {expires}\n")
    };
    let err = parse_err(&exemption("\"legacy-signing\"", "\"x\"", "2026-12-31"));
    assert!(
        err.contains("line 2") && err.contains("invalid key \"legacy-signing\""),
        "{err}"
    );
    assert!(
        err.contains("alias/legacy-signing") && err.contains("key ARN"),
        "{err}"
    );

    let err = parse_err(&exemption("\"alias/a\"", "\"  \"", "2026-12-31"));
    assert!(
        err.contains("line 3") && err.contains("the reason is empty"),
        "{err}"
    );

    let err = parse_err(&exemption("\"alias/a\"", "\"x\"", "\"next year\""));
    assert!(
        err.contains("line 4") && err.contains("expected a date such as 2026-12-31"),
        "{err}"
    );

    let err = parse_err(&exemption("\"alias/a\"", "\"x\"", "2026-12-31T10:00:00Z"));
    assert!(
        err.contains("line 4") && err.contains("without a time"),
        "{err}"
    );

    let err = parse_err("[[rotation.exemptions]]\nkey = \"alias/a\"\nexpires = 2026-12-31\n");
    assert!(err.contains("missing field `reason`"), "{err}");
}

#[test]
fn exemption_keys_may_be_aliases_ids_or_arns_and_dates_strings() {
    let text = r#"
[[rotation.exemptions]]
key = "1234abcd-12ab-34cd-56ef-1234567890ab"
reason = "r1"
expires = "2027-01-15"

[[rotation.exemptions]]
key = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
reason = "r2"
expires = 2027-02-01
"#;
    let s = parse(text, Path::new("k.toml")).unwrap();
    assert_eq!(s.exemptions.len(), 2);
    assert_eq!(
        s.exemptions[0].expires,
        chrono::NaiveDate::from_ymd_opt(2027, 1, 15).unwrap()
    );
    assert!(
        s.exemptions[1]
            .key
            .ends_with("key/mrk-1234abcd12ab34cd56ef1234567890ab")
    );
    // Emulators write a UUID after `mrk-`.
    let moto_mrk = "[[rotation.exemptions]]\nkey = \"mrk-9ef506e9-4de7-466d-822d-26e07589572e\"\n\
                    reason = \"r\"\nexpires = 2027-01-01\n";
    assert!(parse(moto_mrk, Path::new("k.toml")).is_ok());

    for bad in [
        "1234abcd",
        "arn:aws:kms:us-east-1:1111:key/x",
        "mrk-12",
        "alias/",
    ] {
        let err = parse_err(&format!(
            "[[rotation.exemptions]]\nkey = \"{bad}\"\nreason = \"r\"\nexpires = 2027-01-01\n"
        ));
        assert!(err.contains("invalid key"), "{bad}: {err}");
    }
}

#[test]
fn a_wrong_type_names_the_field_and_what_would_be_valid() {
    let err = parse_err("refresh_interval_secs = \"sixty\"\n");
    assert!(err.contains("refresh_interval_secs:"), "{err}");
    assert!(err.contains("a whole number from 5 to 86400"), "{err}");
    let err = parse_err("read_only = 3\n");
    assert!(
        err.contains("read_only:") && err.contains("a boolean"),
        "{err}"
    );
}

#[test]
fn an_unknown_region_is_refused_with_the_file_line_field_and_its_neighbours() {
    let err = parse_err("regions = [\n  \"us-east-1\",\n  \"eu-west-9\",\n]\n");
    assert!(
        err.starts_with("config file /etc/keyward.toml, line 3, column 3: regions:"),
        "{err}"
    );
    assert!(err.contains("unknown region \"eu-west-9\""), "{err}");
    assert!(
        err.contains("expected one such as eu-west-1, eu-west-2 or eu-west-3"),
        "{err}"
    );

    let err = parse_err("[[rotation.rules]]\nregion = \"us-east-7\"\n");
    assert!(err.contains("line 2") && err.contains("region:"), "{err}");
    assert!(err.contains("us-east-1 or us-east-2"), "{err}");

    let err = parse_err("[aws]\nendpoints.\"xx-east-1\" = \"http://127.0.0.1:5000\"\n");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("unknown region \"xx-east-1\""), "{err}");
    // No region starts like it: every region is named.
    assert!(
        err.contains("us-gov-west-1") && err.contains("cn-north-1"),
        "{err}"
    );

    let overrides = Overrides {
        regions: vec!["us-east-1,eu-west-9".into()],
        ..Overrides::default()
    };
    let err = apply(&mut Settings::default(), &overrides)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("--region: unknown region \"eu-west-9\""),
        "{err}"
    );
}

#[test]
fn loopback_endpoints_are_reached_with_real_region_names() {
    let text = "regions = [\"us-east-1\", \"cn-north-1\", \"us-gov-west-1\"]\n\
                endpoint_url = \"http://127.0.0.1:5000\"\n\n\
                [aws]\nendpoints.\"eu-west-1\" = \"http://127.0.0.1:5001\"\n";
    let s = parse(text, Path::new("k.toml")).unwrap();
    assert_eq!(s.regions, vec!["us-east-1", "cn-north-1", "us-gov-west-1"]);
    assert_eq!(
        s.aws.region_endpoints.get("eu-west-1").map(String::as_str),
        Some("http://127.0.0.1:5001")
    );
}

#[test]
fn every_known_region_has_the_shape_of_a_region_name() {
    for name in regions::KNOWN_REGIONS {
        assert!(Region::try_from(name.to_string()).is_ok(), "{name}");
    }
}
