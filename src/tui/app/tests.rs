//! The console's behaviour, driven through `update` as the event loop drives it.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::*;
use crate::action::plan::Target;
use crate::action::plan::{Call, KeyRef, Step};
use crate::action::{Confirmation, Outcome, Plan, Request, Risk, StepOutcome};
use crate::aws::KeyProgress;
use crate::estate::DESCRIBING;
use crate::rotation::evaluate;
use crate::tui::fixture;
use crate::tui::keytable::key_of;

fn key_event(code: KeyCode) -> Message {
    Message::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(key_event(code))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn plan(confirm_phrase: Option<&str>) -> Plan {
    Plan {
        title: "Rotate alias/payments-data now".into(),
        risk: if confirm_phrase.is_some() {
            Risk::Destructive
        } else {
            Risk::Routine
        },
        account: Some("111122223333".into()),
        targets: vec![Target {
            region: "us-east-1".into(),
            arn: "arn:aws:kms:us-east-1:111122223333:key/k-ok-0".into(),
            key_id: "k-ok-0".into(),
            aliases: vec!["alias/payments-data".into()],
        }],
        steps: vec![Step::new(
            "us-east-1",
            Call::RotateKeyOnDemand {
                key: KeyRef::Existing("k-ok-0".into()),
            },
        )],
        afterwards: Vec::new(),
        notes: Vec::new(),
        confirm_phrase: confirm_phrase.map(str::to_owned),
    }
}

fn confirming(confirm_phrase: Option<&str>) -> App {
    let mut app = fixture::app();
    app.overlay = Some(Overlay::Planning("planning".into()));
    app.update(Message::PlanReady(Ok(plan(confirm_phrase))));
    assert!(matches!(app.overlay, Some(Overlay::Confirm(_))));
    app
}

#[test]
fn the_first_effects_read_every_region_the_token_and_the_journal() {
    let mut app = App::new(&fixture::settings(), fixture::now());
    let effects = app.start();
    assert!(matches!(&effects[0], Effect::Refresh(r) if r.len() == 3));
    assert!(effects.iter().any(|e| matches!(e, Effect::ListHsm)));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::LoadJournal { .. }))
    );
    assert!(app.animating(), "the spinner runs while regions load");
}

#[test]
fn a_refresh_is_never_started_twice_for_a_region() {
    let mut app = fixture::app();
    let first = press(&mut app, KeyCode::Char('r'));
    assert!(matches!(&first[0], Effect::Refresh(r) if r.len() == 3));
    let second = press(&mut app, KeyCode::Char('r'));
    assert!(second.is_empty(), "{second:?}");
    app.update(Message::Region(fixture::snapshot("eu-west-1").into()));
    let third = press(&mut app, KeyCode::Char('r'));
    assert!(matches!(&third[0], Effect::Refresh(r) if r.len() == 1 && r[0].region == "eu-west-1"));
}

#[test]
fn a_failed_refresh_keeps_the_last_good_keys() {
    let mut app = fixture::app();
    let before = app.keys.rows.len();
    let mut failed = fixture::snapshot("us-east-1");
    failed.keys = Err(SourceError {
        operation: "ListKeys".into(),
        code: "ThrottlingException".into(),
        message: "Rate exceeded".into(),
        request_id: None,
    });
    app.update(Message::Region(failed.into()));
    assert_eq!(app.keys.rows.len(), before);
    let state = &app.estate.regions["us-east-1"];
    assert_eq!(
        state.keys.error.as_ref().unwrap().code,
        "ThrottlingException"
    );
    assert_eq!(state.keys.fetched_at, Some(fixture::now()));
}

#[test]
fn tab_and_digits_move_between_panes() {
    let mut app = fixture::app();
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.pane, Pane::Keys);
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.pane, Pane::Log);
    press(&mut app, KeyCode::Char('5'));
    assert_eq!(app.pane, Pane::Hsm);
}

#[test]
fn q_and_ctrl_c_quit_and_key_releases_do_nothing() {
    let mut app = fixture::app();
    let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    app.update(Message::Input(Event::Key(release)));
    assert!(!app.quit);
    press(&mut app, KeyCode::Char('q'));
    assert!(app.quit);

    let mut app = fixture::app();
    app.pane = Pane::Keys;
    press(&mut app, KeyCode::Char('/'));
    app.update(Message::Input(Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    ))));
    assert!(app.quit, "Ctrl-C quits even while the filter is typed");
}

#[test]
fn pasted_text_is_never_a_command() {
    let mut app = fixture::app();
    app.pane = Pane::Keys;
    app.update(Message::Input(Event::Paste("q2a".into())));
    assert!(!app.quit);
    assert_eq!(app.pane, Pane::Keys);
    assert!(app.overlay.is_none());
}

#[test]
fn the_filter_narrows_the_keys_and_esc_clears_it() {
    let mut app = fixture::app();
    app.pane = Pane::Keys;
    let all = app.keys.visible.len();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "ledger");
    assert_eq!(app.keys.visible.len(), 3);
    // While typing, letters are text: q does not quit.
    type_text(&mut app, "q");
    assert!(!app.quit);
    assert_eq!(app.keys.visible.len(), 0);
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.keys.visible.len(), 3);
    // Ctrl-U clears what is typed, as in the confirmation input.
    press(&mut app, KeyCode::Char('/'));
    app.update(Message::Input(Event::Key(KeyEvent::new(
        KeyCode::Char('u'),
        KeyModifiers::CONTROL,
    ))));
    assert_eq!(app.keys.filter, "");
    assert_eq!(app.keys.visible.len(), all);
    type_text(&mut app, "ledger");
    press(&mut app, KeyCode::Enter);
    app.update(Message::Input(Event::Paste("x".into())));
    assert_eq!(app.keys.filter, "ledger", "a paste lands only while typing");
    press(&mut app, KeyCode::Char('/'));
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.keys.visible.len(), all);
}

#[test]
fn the_sort_cycles_and_the_selection_follows_the_key() {
    let mut app = fixture::app();
    app.pane = Pane::Keys;
    press(&mut app, KeyCode::Down);
    let selected = app.keys.selected_key(&app.estate).unwrap().arn.clone();
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.keys.sort, crate::tui::keytable::SortBy::Name);
    let first = app.keys.selected_key(&app.estate).unwrap();
    assert!(
        first.display_name() <= "alias/b",
        "sorted by name: {}",
        first.display_name()
    );
    // A refresh keeps the same key selected wherever it moves.
    app.keys.select_arn(&app.estate, &selected);
    app.update(Message::Region(fixture::snapshot("us-east-1").into()));
    assert_eq!(app.keys.selected_key(&app.estate).unwrap().arn, selected);
}

#[test]
fn typing_the_filter_shows_what_the_whole_filter_shows_in_every_order() {
    let mut app = fixture::app();
    app.pane = Pane::Keys;
    let arns = |app: &App| -> Vec<String> {
        (0..app.keys.visible.len())
            .map(|i| {
                let row = app.keys.visible_row(i).unwrap();
                key_of(&app.estate, row).unwrap().arn.clone()
            })
            .collect()
    };
    for _ in 0..4 {
        for filter in ["pay", "us-east", "Enabled", "a"] {
            // Letter by letter, each narrowing what the one before showed...
            press(&mut app, KeyCode::Char('/'));
            type_text(&mut app, filter);
            let typed = arns(&app);
            // ...then the same filter applied to the whole table at once.
            app.keys.filter = filter.into();
            app.keys.resort(&app.estate);
            assert_eq!(
                typed,
                arns(&app),
                "filter {filter:?}, sort {:?}",
                app.keys.sort
            );
            assert!(!typed.is_empty(), "filter {filter:?} matches nothing");
            press(&mut app, KeyCode::Esc);
        }
        press(&mut app, KeyCode::Char('s'));
    }
}

#[test]
fn choosing_an_available_action_asks_for_its_plan() {
    let mut app = fixture::app();
    app.pane = Pane::Keys;
    app.keys.filter = "payments-data".into();
    app.keys.refilter();
    press(&mut app, KeyCode::Char('a'));
    let Some(Overlay::Menu(menu)) = &app.overlay else {
        panic!("no menu");
    };
    assert!(matches!(menu.items[0], (Request::RotateNow, Ok(()))));
    let effects = press(&mut app, KeyCode::Enter);
    match &effects[..] {
        [Effect::BuildPlan(PlanRequest::Key { key, request }, ctx)] => {
            assert_eq!(*request, Request::RotateNow);
            assert_eq!(key.display_name(), "alias/payments-data");
            assert_eq!(ctx.account.as_deref(), Some("111122223333"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(app.overlay, Some(Overlay::Planning(_))));
}

#[test]
fn a_refused_action_says_why_and_asks_nothing() {
    let mut app = fixture::app();
    app.pane = Pane::Keys;
    app.keys.filter = "document-signing".into();
    app.keys.refilter();
    press(&mut app, KeyCode::Char('a'));
    let Some(Overlay::Menu(menu)) = &app.overlay else {
        panic!("no menu");
    };
    let rotate_now = menu
        .items
        .iter()
        .position(|(r, _)| *r == Request::RotateNow)
        .unwrap();
    for _ in 0..rotate_now {
        press(&mut app, KeyCode::Down);
    }
    let effects = press(&mut app, KeyCode::Enter);
    assert!(effects.is_empty());
    let Some(Overlay::Menu(menu)) = &app.overlay else {
        panic!("the menu closed");
    };
    assert!(menu.message.as_deref().unwrap().contains("asymmetric"));
}

#[test]
fn a_rotation_period_outside_90_to_2560_days_is_refused_before_any_call() {
    let mut app = fixture::app();
    app.pane = Pane::Keys;
    app.keys.filter = "payments-data".into();
    app.keys.refilter();
    press(&mut app, KeyCode::Char('a'));
    let Some(Overlay::Menu(menu)) = &app.overlay else {
        panic!("no menu");
    };
    let enable = menu
        .items
        .iter()
        .position(|(r, _)| matches!(r, Request::EnableRotation { .. }))
        .unwrap();
    for _ in 0..enable {
        press(&mut app, KeyCode::Down);
    }
    for _ in 0..2 {
        press(&mut app, KeyCode::Backspace);
    }
    // "90" became "" and then "30".
    type_text(&mut app, "30");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    type_text(&mut app, "0");
    match &press(&mut app, KeyCode::Enter)[..] {
        [Effect::BuildPlan(PlanRequest::Key { request, .. }, _)] => {
            assert_eq!(*request, Request::EnableRotation { period_days: 300 });
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_routine_plan_runs_on_y_and_esc_cancels_it() {
    let mut app = confirming(None);
    match &press(&mut app, KeyCode::Char('y'))[..] {
        [Effect::Run { confirmation, .. }] => assert_eq!(*confirmation, Confirmation::KeyPress),
        other => panic!("{other:?}"),
    }
    assert!(matches!(app.overlay, Some(Overlay::Running(_))));

    let mut app = confirming(None);
    assert!(matches!(
        &press(&mut app, KeyCode::Esc)[..],
        [Effect::Cancelled(_)]
    ));
    assert!(app.overlay.is_none());
}

#[test]
fn a_destructive_plan_needs_the_alias_typed_and_a_paste_does_not_count() {
    let mut app = confirming(Some("alias/payments-data"));
    assert!(press(&mut app, KeyCode::Char('y')).is_empty());
    app.update(Message::Input(Event::Paste("alias/payments-data".into())));
    assert!(
        press(&mut app, KeyCode::Enter).is_empty(),
        "a paste confirmed"
    );
    let Some(Overlay::Confirm(confirm)) = &mut app.overlay else {
        panic!("the dialog closed");
    };
    assert!(confirm.message.is_some());
    confirm.typed.clear();
    type_text(&mut app, "alias/payments-data");
    match &press(&mut app, KeyCode::Enter)[..] {
        [Effect::Run { confirmation, .. }] => assert_eq!(*confirmation, Confirmation::TypedName),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_destructive_plan_about_one_key_takes_its_key_id_too_and_ctrl_u_clears_the_line() {
    let ctrl_u = || {
        Message::Input(Event::Key(KeyEvent::new(
            KeyCode::Char('u'),
            KeyModifiers::CONTROL,
        )))
    };
    let typed = |app: &App| match &app.overlay {
        Some(Overlay::Confirm(confirm)) => confirm.typed.clone(),
        other => panic!("the dialog closed: {other:?}"),
    };

    let mut app = confirming(Some("alias/payments-data"));
    type_text(&mut app, "alias/pay");
    app.update(ctrl_u());
    assert_eq!(typed(&app), "", "Ctrl-U clears the line");
    app.update(Message::Input(Event::Paste("k-ok-0".into())));
    assert_eq!(typed(&app), "", "a paste is ignored");
    type_text(&mut app, "k-ok-");
    assert!(
        press(&mut app, KeyCode::Enter).is_empty(),
        "a part confirmed"
    );
    type_text(&mut app, "0");
    match &press(&mut app, KeyCode::Enter)[..] {
        [Effect::Run { confirmation, .. }] => assert_eq!(*confirmation, Confirmation::TypedName),
        other => panic!("{other:?}"),
    }

    // A plan about two keys names neither: only its phrase confirms.
    let mut two = plan(Some("2 keys"));
    let mut second = two.targets[0].clone();
    second.key_id = "k-due-0".into();
    two.targets.push(second);
    let mut app = fixture::app();
    app.overlay = Some(Overlay::Planning("planning".into()));
    app.update(Message::PlanReady(Ok(two)));
    type_text(&mut app, "k-ok-0");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    app.update(ctrl_u());
    type_text(&mut app, "2 keys");
    assert!(matches!(
        &press(&mut app, KeyCode::Enter)[..],
        [Effect::Run { .. }]
    ));
}

#[test]
fn a_long_plan_scrolls_no_further_than_the_frame_showed_and_letters_stay_text() {
    let mut app = confirming(Some("alias/payments-data"));
    let scroll = |app: &App| match &app.overlay {
        Some(Overlay::Confirm(confirm)) => confirm.scroll,
        other => panic!("the dialog closed: {other:?}"),
    };
    press(&mut app, KeyCode::Down);
    assert_eq!(scroll(&app), 0, "nothing drawn yet, nothing to scroll");
    app.update(Message::Drawn { scroll_limit: 3 });
    for _ in 0..5 {
        press(&mut app, KeyCode::Down);
    }
    assert_eq!(scroll(&app), 3);
    press(&mut app, KeyCode::Up);
    assert_eq!(scroll(&app), 2);
    type_text(&mut app, "jk");
    assert_eq!(scroll(&app), 2);
    let Some(Overlay::Confirm(confirm)) = &app.overlay else {
        panic!("the dialog closed");
    };
    assert_eq!(confirm.typed, "jk");
    // A smaller window: the next frame clamps the offset.
    app.update(Message::Drawn { scroll_limit: 1 });
    assert_eq!(scroll(&app), 1);
}

#[test]
fn a_finished_run_shows_its_steps_and_refreshes() {
    let mut app = confirming(None);
    press(&mut app, KeyCode::Char('y'));
    let step = StepOutcome {
        index: 0,
        region: "us-east-1".into(),
        operation: "RotateKeyOnDemand",
        status: crate::action::StepStatus::Succeeded,
        request_id: Some("req-42".into()),
        created_key: None,
        note: None,
        error: None,
    };
    app.update(Message::StepDone(step.clone()));
    assert!(press(&mut app, KeyCode::Esc).is_empty());
    assert!(
        matches!(app.overlay, Some(Overlay::Running(_))),
        "a running plan stays"
    );
    app.update(Message::StepDone(step.clone()));
    let effects = app.update(Message::ActionFinished {
        outcome: Outcome { steps: vec![step] },
        journal: Ok(7),
    });
    assert!(effects.iter().any(|e| matches!(e, Effect::Refresh(_))));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::LoadJournal { .. }))
    );
    press(&mut app, KeyCode::Enter);
    assert!(app.overlay.is_none());
}

#[test]
fn read_only_mode_offers_no_action() {
    let mut settings = fixture::settings();
    settings.read_only = true;
    let mut app = App::new(&settings, fixture::now());
    app.update(Message::Region(fixture::snapshot("us-east-1").into()));
    app.pane = Pane::Keys;
    assert!(press(&mut app, KeyCode::Char('a')).is_empty());
    assert!(app.overlay.is_none());
    app.pane = Pane::Rotation;
    press(&mut app, KeyCode::Char(' '));
    assert!(app.marked.is_empty());
    assert!(press(&mut app, KeyCode::Char('A')).is_empty());
}

#[test]
fn due_keys_are_marked_and_approved_as_one_plan() {
    let mut app = fixture::app();
    app.pane = Pane::Rotation;
    // The queue is sorted by days left: the overdue key first, then the three due soon.
    let queue: Vec<String> = app
        .rotation_queue()
        .iter()
        .filter_map(|r| crate::tui::keytable::key_of(&app.estate, r))
        .map(|k| k.display_name().to_owned())
        .collect();
    assert_eq!(queue[0], "alias/customer-pii");
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(app.marked.len(), 2);
    match &press(&mut app, KeyCode::Char('A'))[..] {
        [Effect::BuildPlan(PlanRequest::Approve(items), _)] => {
            assert_eq!(items.len(), 2);
            assert!(items.iter().all(|(_, v)| v.status.is_due()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_approval_lists_the_most_overdue_key_first_and_the_keys_due_soon_last() {
    let mut app = fixture::app();
    app.pane = Pane::Rotation;
    // Marked in the order of their ARNs, which puts a key due soon (ap-southeast-2) first.
    let arn = |alias: &str, region: &str| {
        let key = app
            .estate
            .keys()
            .find(|k| k.display_name() == alias && k.region == region);
        key.unwrap().arn.clone()
    };
    app.marked = [
        arn("alias/ledger-data", "us-east-1"),
        arn("alias/ledger-data", "ap-southeast-2"),
        arn("alias/customer-pii", "eu-west-1"),
        arn("alias/legacy-reporting", "eu-west-1"),
    ]
    .into();
    let [Effect::BuildPlan(PlanRequest::Approve(items), _)] =
        &press(&mut app, KeyCode::Char('A'))[..]
    else {
        panic!("no approval plan");
    };
    let order: Vec<(String, i64, &str)> = items
        .iter()
        .map(|(key, v)| {
            (
                v.name().to_owned(),
                v.days_left.unwrap(),
                key.region.as_str(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            // 200 days since its rotation, with rotation off: 110 past the 90-day rule.
            ("alias/legacy-reporting".to_owned(), -110, "eu-west-1"),
            ("alias/customer-pii".to_owned(), -15, "eu-west-1"),
            ("alias/ledger-data".to_owned(), 3, "ap-southeast-2"),
            ("alias/ledger-data".to_owned(), 3, "us-east-1"),
        ]
    );
}

#[test]
fn a_key_that_is_not_due_cannot_be_marked() {
    let mut app = fixture::app();
    app.pane = Pane::Rotation;
    let ok = app
        .rotation_queue()
        .iter()
        .position(|r| r.view.status == crate::rotation::RotationStatus::Ok)
        .unwrap();
    app.rotation_selected = ok;
    press(&mut app, KeyCode::Char(' '));
    assert!(app.marked.is_empty());
}

#[test]
fn the_log_pane_redraws_on_log_events_only_when_open() {
    let mut app = fixture::app();
    app.dirty = false;
    app.update(Message::Logged);
    assert!(!app.dirty);
    app.pane = Pane::Log;
    app.update(Message::Logged);
    assert!(app.dirty);
}

#[test]
fn a_drill_asks_which_region_to_lose_runs_and_ends_only_after_its_verdict() {
    let mut app = fixture::app();
    press(&mut app, KeyCode::Char('d'));
    assert!(matches!(app.overlay, Some(Overlay::DrillSetup { .. })));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    match &press(&mut app, KeyCode::Enter)[..] {
        [Effect::Drill(options)] => {
            assert_eq!(options.lose.as_deref(), Some("eu-west-1"));
            assert_eq!(options.required_regions, app.regions);
        }
        other => panic!("{other:?}"),
    }
    assert!(app.animating(), "the stopwatch runs");
    press(&mut app, KeyCode::Char('d'));
    assert!(app.drill.is_some(), "a running drill cannot be dismissed");

    let report = crate::drill::Report {
        started_at: fixture::now(),
        lost_region: Some("eu-west-1".into()),
        regions: app.regions.clone(),
        keys_drilled: vec!["alias/settlements-data".into()],
        checks: Vec::new(),
        verdict_after_ms: 1200,
        passed: true,
    };
    app.update(Message::DrillFinished {
        report: Box::new(report),
        journal: Ok(3),
    });
    assert!(!app.animating());
    press(&mut app, KeyCode::Char('d'));
    assert!(app.drill.is_none());
}

#[test]
fn a_new_multi_region_key_is_planned_from_the_typed_alias() {
    let mut app = fixture::app();
    app.pane = Pane::Keys;
    press(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "fx-rates");
    match &press(&mut app, KeyCode::Enter)[..] {
        [
            Effect::BuildPlan(
                PlanRequest::NewMultiRegionKey {
                    alias,
                    primary,
                    replicas,
                    period_days,
                },
                _,
            ),
        ] => {
            assert_eq!(alias, "alias/fx-rates");
            assert_eq!(primary, "us-east-1");
            assert_eq!(
                replicas,
                &["eu-west-1".to_owned(), "ap-southeast-2".to_owned()]
            );
            assert_eq!(*period_days, 90);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_interval_refresh_is_incremental_and_r_reads_every_key() {
    let mut app = fixture::app();
    let interval = app.update(Message::RefreshDue);
    match &interval[0] {
        Effect::Refresh(regions) => {
            assert!(regions.iter().all(|r| {
                r.previous
                    .as_ref()
                    .is_some_and(|(keys, _)| !keys.is_empty())
            }));
        }
        other => panic!("{other:?}"),
    }
    for region in fixture::REGIONS {
        app.update(Message::Region(fixture::snapshot(region).into()));
    }
    match &press(&mut app, KeyCode::Char('r'))[0] {
        Effect::Refresh(regions) => assert!(regions.iter().all(|r| r.previous.is_none())),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_cache_shows_marked_stale_until_read_live_and_is_saved_once_all_have_answered() {
    let mut app = App::new(&fixture::settings(), fixture::now());
    app.start();
    app.update(Message::Cached(vec![fixture::snapshot("us-east-1")]));
    assert!(app.stale.contains("us-east-1"));
    assert!(!app.keys.rows.is_empty(), "the cached keys are shown");
    assert!(
        app.estate.regions["us-east-1"].is_loading(),
        "and still being read"
    );

    let first = app.update(Message::Region(fixture::snapshot("us-east-1").into()));
    assert!(first.is_empty(), "saved before every region answered");
    assert!(app.stale.is_empty());
    app.update(Message::Region(fixture::snapshot("eu-west-1").into()));
    let last = app.update(Message::Region(fixture::snapshot("ap-southeast-2").into()));
    match &last[..] {
        [Effect::SaveCache(snapshots)] => {
            assert_eq!(snapshots.len(), 3);
            assert!(
                snapshots
                    .iter()
                    .all(|s| s.clusters.as_ref().is_ok_and(|c| !c.is_empty()))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn enter_on_an_alarm_shows_its_whole_reason() {
    let mut app = fixture::app();
    app.pane = Pane::Alarms;
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    let Some(Overlay::Notice { title, lines, .. }) = &app.overlay else {
        panic!("no alarm detail");
    };
    assert_eq!(title, "Alarm KeyRotationDelay");
    assert!(
        lines.iter().any(|l| l.contains("ALARM for the fixture")),
        "{lines:?}"
    );
}

#[test]
fn a_failed_live_read_keeps_the_cached_data_marked_stale() {
    let mut app = App::new(&fixture::settings(), fixture::now());
    app.update(Message::Cached(vec![fixture::snapshot("us-east-1")]));
    app.start();
    let mut failed = fixture::snapshot("us-east-1");
    failed.keys = Err(SourceError {
        operation: "ListKeys".into(),
        code: "ConnectionFailed".into(),
        message: "connection refused".into(),
        request_id: None,
    });
    app.update(Message::Region(failed.into()));
    assert!(app.stale.contains("us-east-1"));
    assert!(!app.keys.rows.is_empty());
}

fn listing(region: &str, keys: &[Key]) -> Message {
    Message::RegionProgress {
        region: region.into(),
        progress: KeyProgress::Listed {
            keys: keys
                .iter()
                .map(|k| Key::listed(region, &k.key_id, k.aliases.clone()))
                .collect(),
            describing: keys.iter().map(|k| k.key_id.clone()).collect(),
        },
    }
}

fn status_of(app: &App, key_id: &str) -> crate::rotation::RotationStatus {
    app.keys
        .rows
        .iter()
        .find(|row| key_of(&app.estate, row).unwrap().key_id == key_id)
        .unwrap()
        .view
        .status
}

#[test]
fn a_region_under_way_shows_its_listed_keys_then_each_as_it_is_described() {
    use crate::rotation::RotationStatus;
    let mut app = App::new(&fixture::settings(), fixture::now());
    let effects = app.start();
    let Some(Effect::Refresh(regions)) = effects.first() else {
        panic!("{effects:?}");
    };
    assert!(
        regions.iter().all(|r| r.progressive),
        "nothing is shown yet"
    );
    let read = fixture::snapshot("us-east-1");
    let keys = read.keys.clone().unwrap();

    app.update(listing("us-east-1", &keys));
    assert_eq!(app.keys.rows.len(), keys.len());
    assert!(
        app.keys
            .rows
            .iter()
            .all(|r| r.view.status == RotationStatus::Unknown)
    );
    assert_eq!(app.estate.regions["us-east-1"].describing.len(), keys.len());

    // A described key replaces its placeholder; the table catches up by the next tick.
    let described = keys
        .iter()
        .find(|k| evaluate(k, &app.rotation_policy, app.now).status != RotationStatus::Unknown)
        .unwrap();
    app.update(Message::RegionProgress {
        region: "us-east-1".into(),
        progress: KeyProgress::Described(vec![described.clone()]),
    });
    app.update(Message::Tick);
    assert_ne!(status_of(&app, &described.key_id), RotationStatus::Unknown);
    assert_eq!(
        app.estate.regions["us-east-1"].describing.len(),
        keys.len() - 1
    );

    // The finished read takes over; a report arriving after it changes nothing.
    app.update(Message::Region(read.into()));
    assert!(app.estate.regions["us-east-1"].describing.is_empty());
    app.update(listing("us-east-1", &keys[..1]));
    assert_eq!(app.keys.rows.len(), keys.len());
    assert!(app.estate.regions["us-east-1"].describing.is_empty());
}

#[test]
fn a_listing_keeps_the_cached_facts_of_known_keys_and_drops_the_gone() {
    let mut app = App::new(&fixture::settings(), fixture::now());
    let cached = fixture::snapshot("us-east-1");
    let keys = cached.keys.clone().unwrap();
    app.update(Message::Cached(vec![cached]));
    let effects = app.start();
    assert!(matches!(&effects[0], Effect::Refresh(r) if r.iter().all(|r| r.progressive)));

    // One key gone elsewhere, one new.
    let (gone, kept) = keys.split_last().unwrap();
    let mut listed = kept.to_vec();
    listed.push(Key::listed("us-east-1", "new-key", Vec::new()));
    app.update(listing("us-east-1", &listed));
    let shown = app.estate.regions["us-east-1"].key_list();
    assert_eq!(shown.len(), keys.len());
    assert!(!shown.iter().any(|k| k.key_id == gone.key_id));
    for key in kept {
        let now_shown = shown.iter().find(|k| k.key_id == key.key_id).unwrap();
        assert_eq!(now_shown, key, "cached facts are kept until described");
    }
    let new = shown.iter().find(|k| k.key_id == "new-key").unwrap();
    assert_eq!(new.state, DESCRIBING);
    assert!(app.stale.contains("us-east-1"), "still cached until read");
}

#[test]
fn a_finished_progressive_read_completes_the_reported_keys_in_list_order() {
    use crate::estate::{RegionFetch, RegionSnapshot};
    let mut app = App::new(&fixture::settings(), fixture::now());
    app.start();
    let read = fixture::snapshot("us-east-1");
    let keys = read.keys.clone().unwrap();
    app.update(listing("us-east-1", &keys));
    // Half the keys came in reports; the finished read carries only the others.
    let (reported, rest) = keys.split_at(keys.len() / 2);
    app.update(Message::RegionProgress {
        region: "us-east-1".into(),
        progress: KeyProgress::Described(reported.to_vec()),
    });
    let mut fetch = RegionFetch::from(RegionSnapshot {
        keys: Ok(rest.to_vec()),
        ..read
    });
    fetch.reported = true;
    app.update(Message::Region(fetch));

    let shown = app.estate.regions["us-east-1"].key_list();
    let mut expected = keys.clone();
    expected.sort_by(Key::list_order);
    assert_eq!(shown, expected.as_slice());
    assert!(app.estate.regions["us-east-1"].describing.is_empty());
    assert_eq!(
        app.keys.rows.len(),
        app.estate.keys().count(),
        "the table holds every key once"
    );
}

#[test]
fn the_key_shown_stays_shown_when_keys_before_it_come_and_go() {
    let mut app = fixture::app();
    app.pane = Pane::Keys;
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    let shown = app.keys.selected_key(&app.estate).unwrap().arn.clone();
    // A successor appears in the region, listed before every other key.
    let mut read = fixture::snapshot("us-east-1");
    let mut keys = read.keys.unwrap();
    keys.insert(
        0,
        fixture::key("us-east-1", "k-new", "alias/aaa-successor", Some(1)),
    );
    read.keys = Ok(keys);
    app.update(Message::Region(read.into()));
    assert!(app.keys.detail);
    assert_eq!(app.keys.selected_key(&app.estate).unwrap().arn, shown);
}

#[test]
fn until_a_row_is_chosen_the_most_urgent_key_stays_selected() {
    let mut app = App::new(&fixture::settings(), fixture::now());
    app.start();
    let read = fixture::snapshot("us-east-1");
    let keys = read.keys.clone().unwrap();
    // Listed first (all alike, by name), then described: the urgency order changes.
    app.update(listing("us-east-1", &keys));
    app.update(Message::Region(read.into()));
    let mut by_name = keys.clone();
    by_name.sort_by(Key::list_order);
    let most_urgent = key_of(&app.estate, app.keys.visible_row(0).unwrap())
        .unwrap()
        .arn
        .clone();
    assert_ne!(
        by_name[0].arn, most_urgent,
        "the orders differ, or this shows nothing"
    );
    assert_eq!(app.keys.selected_key(&app.estate).unwrap().arn, most_urgent);
}

#[test]
fn an_action_menu_opened_on_a_key_being_read_offers_its_actions_once_it_is_described() {
    let mut app = App::new(&fixture::settings(), fixture::now());
    app.start();
    let read = fixture::snapshot("us-east-1");
    let keys = read.keys.clone().unwrap();
    app.update(listing("us-east-1", &keys));
    app.pane = Pane::Keys;
    app.keys.filter = "payments-data".into();
    app.keys.refilter();
    press(&mut app, KeyCode::Char('a'));
    let available = |app: &App| match &app.overlay {
        Some(Overlay::Menu(menu)) => menu.items.iter().filter(|(_, v)| v.is_ok()).count(),
        other => panic!("{other:?}"),
    };
    assert_eq!(available(&app), 0, "nothing while the key is being read");
    app.update(Message::Region(read.into()));
    assert!(
        available(&app) > 0,
        "the menu follows the key's description"
    );
}

#[test]
fn an_action_chosen_from_a_key_detail_is_planned() {
    let mut app = fixture::app();
    app.pane = Pane::Keys;
    app.keys.filter = "payments-data".into();
    app.keys.refilter();
    press(&mut app, KeyCode::Enter);
    assert!(app.keys.detail);
    press(&mut app, KeyCode::Char('a'));
    assert!(matches!(app.overlay, Some(Overlay::Menu(_))));
    let effects = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(app.overlay, Some(Overlay::Planning(_))),
        "{:?}",
        app.overlay.is_some()
    );
    assert!(matches!(effects[..], [Effect::BuildPlan(..)]));
}

#[test]
fn a_hang_up_while_a_plan_waits_for_confirmation_journals_it_cancelled() {
    let mut app = confirming(Some("alias/payments-data"));
    type_text(&mut app, "alias/pay");
    let effects = app.update(Message::Shutdown);
    assert!(app.quit);
    assert!(
        matches!(&effects[..], [Effect::Cancelled(_)]),
        "{effects:?}"
    );
    // Without a plan open, a hang-up only quits.
    let mut app = fixture::app();
    assert!(app.update(Message::Shutdown).is_empty());
    assert!(app.quit);
}
