//! Screen snapshots of every pane and overlay at the smallest supported size and at a large
//! one, drawn from the fixture estate with the clock fixed.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::render;
use crate::tui::app::{App, Message, Pane};
use crate::tui::fixture;
use crate::tui::theme::Theme;

fn screen(app: &App, width: u16, height: u16) -> String {
    drawn(app, width, height).0
}

/// Draws the app as the console loop does, telling it afterwards how far its text scrolls.
fn frame(app: &mut App, width: u16, height: u16) -> String {
    let (text, scroll_limit) = drawn(app, width, height);
    app.update(Message::Drawn { scroll_limit });
    text
}

/// The screen's text and how far the text in focus can scroll.
fn drawn(app: &App, width: u16, height: u16) -> (String, u16) {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let mut scroll_limit = 0;
    terminal
        .draw(|frame| scroll_limit = render(app, Theme { color: false }, frame))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..height {
        let line: String = (0..width)
            .map(|x| buffer[(x, y)].symbol().to_owned())
            .collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    (text, scroll_limit)
}

fn press(app: &mut App, code: KeyCode) {
    app.update(Message::Input(Event::Key(KeyEvent::new(
        code,
        KeyModifiers::NONE,
    ))));
}

fn on(pane: Pane) -> App {
    let mut app = fixture::app();
    app.pane = pane;
    app
}

macro_rules! pane_snapshots {
    ($($name:ident => $pane:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let app = on($pane);
                insta::assert_snapshot!(concat!(stringify!($name), "_80x24"), screen(&app, 80, 24));
                insta::assert_snapshot!(concat!(stringify!($name), "_160x48"), screen(&app, 160, 48));
            }
        )*
    };
}

pane_snapshots! {
    overview => Pane::Overview,
    keys => Pane::Keys,
    rotation => Pane::Rotation,
    compliance => Pane::Compliance,
    hsm => Pane::Hsm,
    alarms => Pane::Alarms,
    audit => Pane::Audit,
}

#[test]
fn key_detail() {
    let mut app = on(Pane::Keys);
    app.keys.filter = "settlements-data".into();
    app.keys.refilter();
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("key_detail_80x24", screen(&app, 80, 24));
    insta::assert_snapshot!("key_detail_160x48", screen(&app, 160, 48));
}

/// The fixture with one more key in us-east-1: six years of rotations every 90 days (three of
/// them on demand), the latest 20 days ago, and a dozen tags.
fn with_a_long_history() -> App {
    let mut app = fixture::app();
    let mut key = fixture::key("us-east-1", "k-archive-0", "alias/archive-data", Some(20));
    key.created = Some(fixture::now() - chrono::Duration::days(2180));
    key.rotation.history = (0..24)
        .map(|n| crate::estate::RotationRecord {
            date: fixture::now() - chrono::Duration::days(2090 - 90 * n),
            kind: if n % 8 == 3 {
                crate::estate::RotationKind::OnDemand
            } else {
                crate::estate::RotationKind::Automatic
            },
        })
        .collect();
    for (name, value) in [
        ("application", "archive"),
        ("cost-centre", "4711"),
        ("data-class", "confidential"),
        ("environment", "production"),
        ("owner", "records-team"),
        ("retention", "10y"),
        ("backup", "daily"),
        ("compliance", "sox"),
        ("ticket", "CHG-2041"),
        ("region-role", "primary"),
        ("on-call", "records-oncall"),
    ] {
        key.tags.insert(name.into(), value.into());
    }
    let mut snapshot = fixture::snapshot("us-east-1");
    if let Ok(keys) = &mut snapshot.keys {
        keys.push(key);
    }
    app.update(Message::Region(snapshot.into()));
    app.pane = Pane::Keys;
    app.keys.filter = "archive-data".into();
    app.keys.refilter();
    app
}

#[test]
fn a_long_key_detail_scrolls_at_80x24() {
    let mut app = with_a_long_history();
    press(&mut app, KeyCode::Enter);
    let top = frame(&mut app, 80, 24);
    assert!(top.contains("more below"), "{top}");
    assert!(
        top.contains("History      2026-11-14 12:00 automatic"),
        "{top}"
    );
    assert!(!top.contains("on-call=records-oncall"), "{top}");
    assert_eq!(
        footer(&top),
        "? help  q quit  r refresh  ↓ j scroll  a actions  n new"
    );

    // Down and PgDn scroll the detail; the selection stays on the key.
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::PageDown);
    let scrolled = frame(&mut app, 80, 24);
    assert!(
        !scrolled.contains("ARN "),
        "scrolled past the top:
{scrolled}"
    );
    assert!(scrolled.contains("above"), "{scrolled}");
    insta::assert_snapshot!("key_detail_scrolled_80x24", scrolled);
    assert_eq!(
        app.keys.selected_key(&app.estate).unwrap().display_name(),
        "alias/archive-data"
    );

    // End shows the last tag; Up from there moves one row, not back from past the end.
    press(&mut app, KeyCode::End);
    let bottom = frame(&mut app, 80, 24);
    assert!(bottom.contains("on-call=records-oncall"), "{bottom}");
    assert!(bottom.contains(" end "), "{bottom}");
    let end = app.keys.detail_scroll;
    assert_eq!(end, app.scroll_limit);
    press(&mut app, KeyCode::Char('k'));
    assert_eq!(app.keys.detail_scroll, end - 1);
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(app.keys.detail_scroll, 0);

    // The help lists the keys that scroll, and fits.
    press(&mut app, KeyCode::Char('?'));
    let help = screen(&app, 80, 24);
    assert!(help.contains("scroll down a line"), "{help}");
    assert!(!help.contains("select next row"), "{help}");
    assert!(help.contains("Ctrl-C  quit"), "{help}");
    press(&mut app, KeyCode::Esc);

    // Esc closes the detail and the same keys move through the table again.
    press(&mut app, KeyCode::Esc);
    assert!(!app.keys.detail);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.keys.detail_scroll, 0, "a detail opens at its top");
}

#[test]
fn the_overview_scrolls_what_needs_attention() {
    let mut app = fixture::app();
    let mut snapshot = fixture::snapshot("eu-west-1");
    if let Ok(keys) = &mut snapshot.keys {
        for n in 0..30 {
            let alias = format!("alias/tenant-{n:02}");
            keys.push(fixture::key(
                "eu-west-1",
                &format!("k-t{n}"),
                &alias,
                Some(100 + n),
            ));
        }
    }
    app.update(Message::Region(snapshot.into()));
    let top = frame(&mut app, 80, 24);
    assert!(top.contains("more below"), "{top}");
    assert!(
        top.contains("alias/tenant-29 in eu-west-1: 39d overdue"),
        "{top}"
    );
    press(&mut app, KeyCode::Char('G'));
    let bottom = frame(&mut app, 80, 24);
    assert!(bottom.contains(" end "), "{bottom}");
    assert!(bottom.contains("ALARM    KeyRotationDelay"), "{bottom}");
    assert!(!bottom.contains("alias/tenant-29"), "{bottom}");
}

#[test]
fn a_long_notice_scrolls_and_any_other_key_closes_it() {
    let mut app = fixture::app();
    let mut snapshot = fixture::snapshot("eu-west-1");
    if let Ok(alarms) = &mut snapshot.alarms {
        alarms[0].reason = (1..=40)
            .map(|n| format!("datapoint {n} was greater than the threshold."))
            .collect::<Vec<_>>()
            .join(" ");
    }
    app.update(Message::Region(snapshot.into()));
    app.pane = Pane::Alarms;
    let alarm = app
        .estate
        .alarms()
        .position(|a| a.region == "eu-west-1")
        .unwrap();
    app.alarms_selected = alarm;
    press(&mut app, KeyCode::Enter);
    let top = frame(&mut app, 80, 24);
    assert!(top.contains("more below"), "{top}");
    press(&mut app, KeyCode::PageDown);
    let page = frame(&mut app, 80, 24);
    assert!(page.contains("↑ 10 above"), "{page}");
    press(&mut app, KeyCode::End);
    let down = frame(&mut app, 80, 24);
    assert!(down.contains("datapoint 40 was"), "{down}");
    assert!(down.contains("Any key closes."), "{down}");
    press(&mut app, KeyCode::Char('x'));
    assert!(app.overlay.is_none());
}

/// The footer: the last line.
fn footer(text: &str) -> &str {
    text.lines().last().unwrap()
}

#[test]
fn help_overlay_lists_every_key_of_the_pane() {
    let mut app = on(Pane::Keys);
    press(&mut app, KeyCode::Char('?'));
    let text = screen(&app, 80, 24);
    insta::assert_snapshot!("help_keys_80x24", text);
}

#[test]
fn action_menu_and_plan() {
    let mut app = on(Pane::Keys);
    app.keys.filter = "payments-data".into();
    app.keys.refilter();
    press(&mut app, KeyCode::Char('a'));
    insta::assert_snapshot!("action_menu_80x24", screen(&app, 80, 24));
}

#[test]
fn a_destructive_plan_asks_for_the_alias_or_the_key_id() {
    let mut app = on(Pane::Keys);
    let key = app
        .estate
        .keys()
        .find(|k| k.display_name() == "alias/payments-data")
        .unwrap()
        .clone();
    let plan = crate::action::plan(
        &crate::action::Request::ScheduleDeletion { days: 7 },
        &key,
        &crate::action::KeyExtras::default(),
        &app.context(),
    )
    .unwrap();
    app.overlay = Some(crate::tui::dialog::Overlay::Planning("planning".into()));
    app.update(Message::PlanReady(Ok(plan)));
    for c in "alias/pay".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    let text = screen(&app, 80, 24);
    assert!(
        text.contains("Type alias/payments-data or its key id"),
        "{text}"
    );
    assert!(text.contains("Ctrl-U clears"), "{text}");
    insta::assert_snapshot!("confirm_destructive_80x24", text);
}

#[test]
fn a_failing_region_shows_its_error_and_the_age_of_its_data() {
    let app = failing(&["eu-west-1"]);
    let text = screen(&app, 80, 24);
    assert!(text.contains("ConnectionFailed"), "{text}");
    assert!(
        text.contains("last good data 7m"),
        "the age of the last good data:\n{text}"
    );
    // The failed region's last good keys are still listed.
    assert!(text.contains("alias/customer-pii"), "{text}");
    insta::assert_snapshot!("failing_region_80x24", text);
}

/// The fixture seven minutes on, with `regions` failing to connect since.
fn failing(regions: &[&str]) -> App {
    let mut app = fixture::app();
    app.now = fixture::now() + chrono::Duration::minutes(7);
    for region in regions {
        let mut failed = fixture::snapshot(region);
        failed.fetched_at = app.now;
        let err = crate::estate::SourceError {
            operation: "ListKeys".into(),
            code: "ConnectionFailed".into(),
            message: "connection refused".into(),
            request_id: None,
        };
        failed.keys = Err(err.clone());
        failed.clusters = Err(err.clone());
        failed.alarms = Err(err);
        app.update(Message::Region(failed.into()));
    }
    app
}

/// The region line: the last line but one.
fn region_line_of(text: &str) -> &str {
    text.lines().rev().nth(1).unwrap()
}

#[test]
fn three_failing_regions_fit_in_80_columns_and_point_at_the_overview() {
    let mut app = failing(&fixture::REGIONS);
    app.pane = Pane::Keys;
    let keys = screen(&app, 80, 24);
    assert_eq!(
        region_line_of(&keys),
        "us-east-1 ERROR  eu-west-1 ERROR  ap-southeast-2 ERROR  see Overview"
    );
    insta::assert_snapshot!("three_failing_regions_80x24", keys);

    // The overview has the errors in full, so the line does not point at it.
    app.pane = Pane::Overview;
    let overview = screen(&app, 80, 24);
    assert_eq!(
        region_line_of(&overview),
        "us-east-1 ERROR  eu-west-1 ERROR  ap-southeast-2 ERROR"
    );
    for region in fixture::REGIONS {
        assert!(
            overview.contains(&format!("{region} NOT READ ConnectionFailed")),
            "{overview}"
        );
    }

    // Wide enough, each error keeps its code and the age of the last good data.
    let wide = screen(&app, 160, 48);
    assert!(
        region_line_of(&wide).contains("ap-southeast-2 ERROR ConnectionFailed (data 7m ago)"),
        "{wide}"
    );
}

#[test]
fn the_region_line_shortens_errors_to_their_code_before_the_word() {
    let mut app = failing(&["eu-west-1"]);
    app.pane = Pane::Keys;
    let text = screen(&app, 80, 24);
    assert_eq!(
        region_line_of(&text),
        "us-east-1 12:00:00  eu-west-1 ERROR ConnectionFailed  ap-southeast-2 12:00:00"
    );
}

#[test]
fn with_no_room_for_every_region_the_line_counts_them() {
    let line = |app: &App, width| {
        let line = super::region_line(app, Theme { color: false }, width);
        line.spans
            .iter()
            .map(|s| s.content.as_ref())
            .collect::<String>()
    };
    let mut app = failing(&fixture::REGIONS);
    app.pane = Pane::Keys;
    assert_eq!(line(&app, 40), "3 regions: 3 failing (see Overview)");

    let mut app = failing(&["eu-west-1"]);
    app.pane = Pane::Keys;
    assert_eq!(
        line(&app, 40),
        "3 regions: 1 failing (see Overview), 2 read (the oldest at 12:00:00)"
    );
}

#[test]
fn a_terminal_below_80x24_gets_a_message() {
    let app = fixture::app();
    let text = screen(&app, 60, 20);
    assert!(text.contains("too small"), "{text}");
    assert!(text.contains("60x20"), "{text}");
}

#[test]
fn read_only_mode_shows_no_action_anywhere() {
    let mut settings = fixture::settings();
    settings.read_only = true;
    let mut app = App::new(&settings, fixture::now());
    for region in fixture::REGIONS {
        app.update(Message::Region(fixture::snapshot(region).into()));
    }
    for pane in Pane::ALL {
        app.pane = pane;
        let text = screen(&app, 160, 48);
        assert!(
            !text.contains("actions"),
            "{pane:?} offers actions:\n{text}"
        );
        assert!(
            !text.contains("approve"),
            "{pane:?} offers approvals:\n{text}"
        );
    }
    app.pane = Pane::Keys;
    press(&mut app, KeyCode::Char('?'));
    let help = screen(&app, 160, 48);
    assert!(help.contains("Read-only mode"), "{help}");
    assert!(!help.contains("actions on the selected key"), "{help}");
}

#[test]
fn drill_mode_shows_its_banner_and_what_survives() {
    let mut app = fixture::app();
    app.drill = Some(crate::tui::app::DrillView {
        lose: Some("eu-west-1".into()),
        started: fixture::now(),
        finished: None,
    });
    app.now = fixture::now() + chrono::Duration::seconds(75);
    let running = screen(&app, 80, 24);
    assert!(
        running.contains("DR DRILL  losing eu-west-1  01:15 running"),
        "{running}"
    );

    let check = |kind, subject: &str, passed, reason: &str| crate::drill::Check {
        kind,
        subject: subject.into(),
        region: Some("eu-west-1".into()),
        passed,
        reason: reason.into(),
        duration_ms: 40,
    };
    let report = crate::drill::Report {
        started_at: fixture::now(),
        lost_region: Some("eu-west-1".into()),
        regions: fixture::REGIONS.iter().map(|r| r.to_string()).collect(),
        keys_drilled: vec!["alias/settlements-data".into()],
        checks: vec![
            check(
                "replica",
                "alias/settlements-data",
                true,
                "Enabled and agrees with its primary",
            ),
            check(
                "loss",
                "alias/customer-pii",
                false,
                "single-region key: no copy outside eu-west-1",
            ),
        ],
        verdict_after_ms: 2800,
        passed: false,
    };
    app.drill.as_mut().unwrap().finished = Some((report, Ok(4)));
    let done = screen(&app, 80, 24);
    assert!(done.contains("verdict FAILED after 2.8 s"), "{done}");
    assert!(done.contains("LOST"), "{done}");
    // Failures come first.
    let fail = done.find("FAIL loss").expect("the failed check");
    let pass = done.find("pass replica").expect("the passed check");
    assert!(fail < pass, "{done}");
    insta::assert_snapshot!("drill_80x24", done);
}
