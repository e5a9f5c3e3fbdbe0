//! The report formats read back, the metric points, the alarm comparison, and `--as-of`.

use super::*;
use crate::aws::AlarmDefinition;
use crate::policy::command::as_of_moment;
use crate::policy::metrics::{self, Change};
use crate::policy::report;

/// An RFC 4180 reader: quoted fields may hold commas, doubled quotes and line breaks.
pub(crate) fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

/// An estate with a violation, an exemption whose reason needs quoting, and a region unread.
fn sample() -> Evaluation {
    let mut off = key("alias/off");
    off.rotation.enabled = Some(false);
    let legacy = key("alias/legacy");
    let mut policy = Policy::default();
    policy.exemptions.push(Exemption {
        key: "alias/legacy".into(),
        reason: "CHG-7, \"vendor\" cut-over\nsecond line".into(),
        expires: chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
    });
    let unread = RegionSnapshot {
        keys: Err(SourceError {
            operation: "ListKeys".into(),
            code: "ConnectionFailed".into(),
            message: "refused".into(),
            request_id: None,
        }),
        ..snapshot("eu-west-1", Vec::new())
    };
    let snapshots = [
        snapshot("us-east-1", vec![key("alias/ok"), off, legacy]),
        unread,
    ];
    evaluate(&snapshots, &policy, at(100, 12))
}

#[test]
fn csv_reads_back_with_one_row_per_key_and_one_per_unread_region() {
    let mut out = Vec::new();
    report::write_csv(&sample(), at(100, 13), &mut out).unwrap();
    let rows = parse_csv(std::str::from_utf8(&out).unwrap());
    assert_eq!(rows[0], report::CSV_COLUMNS);
    assert!(
        rows.iter().all(|r| r.len() == report::CSV_COLUMNS.len()),
        "{rows:?}"
    );
    let column = |name: &str| report::CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    let row = |alias: &str| rows.iter().find(|r| r[column("alias")] == alias).unwrap();

    assert_eq!(rows.len(), 5);
    let unread = rows
        .iter()
        .find(|r| r[column("status")] == "unread")
        .unwrap();
    assert_eq!(unread[column("region")], "eu-west-1");
    assert!(unread[column("detail")].contains("ConnectionFailed"));

    let off = row("alias/off");
    assert_eq!(off[column("status")], "rotation_disabled");
    assert_eq!(off[column("violation")], "true");
    assert_eq!(off[column("days_overdue")], "10");
    assert_eq!(off[column("rule")], "default");
    assert_eq!(off[column("age_from")], "2026-01-01T12:00:00Z");
    assert_eq!(off[column("generated_at")], "2026-04-11T13:00:00Z");

    let legacy = row("alias/legacy");
    assert_eq!(legacy[column("status")], "exempt");
    assert_eq!(
        legacy[column("exemption_reason")],
        "CHG-7, \"vendor\" cut-over\nsecond line"
    );
    assert_eq!(legacy[column("exemption_expires")], "2027-01-01");
    assert_eq!(row("alias/ok")[column("status")], "overdue");
}

#[test]
fn json_holds_the_evaluation_with_its_exit_code() {
    let mut out = Vec::new();
    report::write_json(&sample(), at(100, 13), &mut out).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["exit_code"], 1);
    assert_eq!(doc["outcome"], "violations");
    assert_eq!(doc["as_of"], "2026-04-11T12:00:00Z");
    assert_eq!(doc["regions"][1]["error"]["code"], "ConnectionFailed");
    assert_eq!(doc["regions"][0]["counts"]["rotation_disabled"], 1);
    let statuses: Vec<&str> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["overdue", "rotation_disabled", "exempt"]);
    assert_eq!(doc["exemptions"][0]["active"], true);
    assert!(doc["forecast"]["within_7_days"].is_array());
}

#[test]
fn markdown_has_every_section_an_auditor_reads() {
    let mut out = Vec::new();
    report::write_markdown(&sample(), at(100, 13), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    for section in [
        "# Key rotation compliance report",
        "## Policy",
        "## Per region",
        "## Violations",
        "## Exemptions",
        "## Forecast",
        "## Multi-region coverage",
        "## Every key",
    ] {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
    assert!(
        text.contains("- Generated at: 2026-04-11 13:00:00 UTC"),
        "{text}"
    );
    assert!(
        text.contains("| eu-west-1 | NOT READ: ListKeys: ConnectionFailed: refused"),
        "{text}"
    );
    assert!(text.contains("| us-east-1 | id-off | alias/off | rotation_disabled | never (created 2026-01-01) | 10 | default |"), "{text}");
    // A line break inside a cell would end the table row.
    assert!(
        text.contains("CHG-7, \"vendor\" cut-over second line | 2027-01-01 | active | 1 |"),
        "{text}"
    );
}

#[test]
fn the_check_table_names_each_violation_and_each_unread_region() {
    let mut out = Vec::new();
    report::write_table(&sample(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with(
            "VIOLATIONS: 2 of 2 judged keys violate the policy; regions not read: eu-west-1"
        ),
        "{text}"
    );
    assert!(
        text.contains("alias/off") && text.contains("rotation_disabled"),
        "{text}"
    );
    assert!(text.contains("eu-west-1: NOT READ"), "{text}");
    assert!(
        text.contains("Exemption alias/legacy (active, until 2027-01-01)"),
        "{text}"
    );
}

#[test]
fn metric_points_cover_judged_keys_and_the_region_maximum() {
    let mut unaliased = key("alias/x");
    unaliased.aliases.clear();
    unaliased.created = Some(at(40, 12));
    let mut disabled = key("alias/disabled");
    disabled.state = "Disabled".into();
    let keys = vec![key("alias/a"), unaliased, disabled];
    let evaluation = evaluate(&[snapshot("us-east-1", keys)], &policy(), at(100, 12));
    let points = metrics::points(&evaluation, "us-east-1");
    assert_eq!(points.len(), 3, "{points:?}");
    assert!(points.iter().any(|p| p.dimensions
        == [
            ("KeyId".into(), "id-a".into()),
            ("Alias".into(), "alias/a".into())
        ]
        && p.value == 100.0));
    assert!(points.iter().any(|p| p.dimensions[1]
        == ("Alias".to_owned(), metrics::NO_ALIAS.to_owned())
        && p.value == 60.0));
    let region = points.last().unwrap();
    assert!(region.dimensions.is_empty());
    assert_eq!(region.value, 100.0);

    let empty = evaluate(&[snapshot("eu-west-1", Vec::new())], &policy(), at(100, 12));
    let points = metrics::points(&empty, "eu-west-1");
    assert_eq!((points.len(), points[0].value), (1, 0.0));
}

#[test]
fn an_alarm_is_changed_only_where_it_differs_and_keeps_its_actions() {
    let desired = metrics::desired_alarm(85, None);
    assert_eq!(desired.threshold, Some(85.0));
    assert_eq!(desired.statistic.as_deref(), Some("Maximum"));
    assert_eq!(
        (desired.period_secs, desired.evaluation_periods),
        (Some(86_400), Some(1))
    );
    assert!(metrics::differences(&desired, &desired).is_empty());

    let existing = AlarmDefinition {
        threshold: Some(90.0),
        statistic: Some("Average".into()),
        alarm_actions: vec!["arn:aws:sns:us-east-1:111122223333:oncall".into()],
        description: Some("paged to on-call".into()),
        ..desired.clone()
    };
    let wanted = metrics::desired_alarm(85, Some(&existing));
    assert_eq!(wanted.alarm_actions, existing.alarm_actions);
    assert_eq!(wanted.description.as_deref(), Some("paged to on-call"));
    assert_eq!(
        metrics::differences(&existing, &wanted),
        [
            Change {
                field: "Statistic",
                from: "Average".into(),
                to: "Maximum".into()
            },
            Change {
                field: "Threshold",
                from: "90.0".into(),
                to: "85.0".into()
            },
        ]
    );
}

#[test]
fn as_of_judges_the_end_of_the_day_and_refuses_the_past() {
    let now = at(10, 9);
    assert_eq!(as_of_moment(None, now).unwrap(), now);
    let day = |d: i64| (now + Duration::days(d)).date_naive();
    assert_eq!(
        as_of_moment(Some(day(0)), now).unwrap(),
        at(10, 23) + Duration::minutes(59) + Duration::seconds(59)
    );
    assert_eq!(
        as_of_moment(Some(day(30)), now).unwrap().date_naive(),
        day(30)
    );
    let err = as_of_moment(Some(day(-1)), now).unwrap_err();
    assert!(err.contains("is in the past"), "{err}");
}
