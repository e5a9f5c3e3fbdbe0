//! The key table across regions, its filter line, and the detail view of one key, which
//! scrolls when it is longer than the pane (a long rotation history, many tags).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, Table};

use super::{block, table_rows};
use crate::estate::{Key, MultiRegionRole, ON_DEMAND_ROTATION_LIMIT, RotationKind};
use crate::inventory::truncate;
use crate::plural;
use crate::rotation::{PeriodSource, RotationView};
use crate::tui::app::App;
use crate::tui::keytable::{key_of, scroll_offset};
use crate::tui::theme::Theme;
use crate::tui::view::date;

/// Draws the table, or the selected key's detail; returns how far the detail can scroll.
pub fn render(app: &App, theme: Theme, area: Rect, frame: &mut Frame) -> u16 {
    if app.keys.detail
        && let Some(key) = app.keys.selected_key(&app.estate)
    {
        // Rows keep their verdict without its sentence; the key shown is judged in full.
        let view = crate::rotation::evaluate(key, &app.rotation_policy, app.now);
        return render_detail(app, key, &view, theme, area, frame);
    }
    let show_filter = app.keys.editing_filter || !app.keys.filter.is_empty();
    let [table, filter] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(u16::from(show_filter)),
    ])
    .areas(area);
    render_table(app, theme, table, frame);
    if show_filter {
        let cursor = if app.keys.editing_filter { "_" } else { "" };
        frame.render_widget(
            Line::from(vec![
                Span::styled("filter /", theme.title()),
                Span::raw(format!("{}{cursor}", app.keys.filter)),
                Span::styled(
                    if app.keys.editing_filter {
                        "   Enter keeps it, Esc clears it"
                    } else {
                        "   / edits it"
                    },
                    theme.dim(),
                ),
            ]),
            filter,
        );
    }
    0
}

fn render_table(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let table = &app.keys;
    let wide = area.width >= 110;
    let title = format!(
        "Keys: {} of {}, by {}",
        table.visible.len(),
        table.rows.len(),
        table.sort.label()
    );
    if table.rows.is_empty() {
        let loading = app.estate.iter().any(|(_, s)| s.keys.loading);
        let text = if loading {
            "Reading the keys of every region…"
        } else {
            "No keys: no region has been read, or the regions hold none."
        };
        super::message(vec![text.into()], title, theme, area, frame);
        return;
    }
    let height = table_rows(area);
    let offset = scroll_offset(table.selected, height, table.visible.len());
    let mut header = vec!["REGION", "KEY", "MR", "STATE", "ROTATION", "NEXT"];
    if wide {
        header.insert(2, "SPEC");
    }
    let rows = (offset..table.visible.len().min(offset + height)).filter_map(|position| {
        let row = table.visible_row(position)?;
        let key = key_of(&app.estate, row)?;
        let mr = match key.multi_region.as_ref().map(|m| m.role) {
            Some(MultiRegionRole::Primary) => "P",
            Some(MultiRegionRole::Replica) => "R",
            None => "-",
        };
        let next = match key.errors.first() {
            Some(err) => format!("ERR {}", err.code),
            None => row.view.countdown(),
        };
        let mut cells = vec![
            Span::raw(key.region.clone()),
            Span::raw(key.display_name().to_owned()),
            Span::raw(mr),
            Span::raw(key.state.clone()),
            Span::styled(row.view.status.label(), theme.rotation(row.view.status)),
            Span::styled(
                next,
                if key.errors.is_empty() {
                    Style::new()
                } else {
                    theme.bad()
                },
            ),
        ];
        if wide {
            cells.insert(2, Span::raw(key.key_spec.clone()));
        }
        let style = if position == table.selected {
            theme.selected()
        } else {
            Style::new()
        };
        Some(Row::new(cells).style(style))
    });
    let mut widths = vec![
        Constraint::Length(14),
        Constraint::Fill(1),
        Constraint::Length(2),
        Constraint::Length(13),
        Constraint::Length(8),
        Constraint::Length(12),
    ];
    if wide {
        widths.insert(2, Constraint::Length(19));
    }
    frame.render_widget(
        Table::new(rows, widths)
            .header(Row::new(header).style(theme.title()))
            .block(block(title, theme)),
        area,
    );
}

fn render_detail(
    app: &App,
    key: &Key,
    view: &RotationView,
    theme: Theme,
    area: Rect,
    frame: &mut Frame,
) -> u16 {
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{name:<13}"), theme.dim()),
            Span::raw(value),
        ])
    };
    let mut lines = vec![
        field("ARN", key.arn.clone()),
        field(
            "Aliases",
            if key.aliases.is_empty() {
                "none".into()
            } else {
                key.aliases.join(", ")
            },
        ),
        field(
            "Kind",
            format!(
                "{} {} origin {} managed by {}",
                key.key_spec,
                key.key_usage,
                key.origin,
                match key.manager {
                    crate::estate::KeyManager::Aws => "AWS",
                    crate::estate::KeyManager::Customer => "the customer",
                }
            ),
        ),
        field(
            "State",
            match key.deletion_date {
                Some(at) => format!("{}, deleted on {}", key.state, date(Some(at))),
                None => key.state.clone(),
            },
        ),
        field("Created", date(key.created)),
    ];
    if !key.description.is_empty() {
        lines.push(field("Description", truncate(&key.description, 120)));
    }
    if let Some(store) = &key.custom_key_store_id {
        lines.push(field("Key store", store.clone()));
    }
    if let Some(mr) = &key.multi_region {
        let replicas: Vec<String> = mr
            .replica_regions
            .iter()
            .map(|region| {
                let state = app
                    .estate
                    .keys()
                    .find(|k| &k.region == region && k.key_id == key.key_id)
                    .map_or("not read", |k| k.state.as_str());
                format!("{region} ({state})")
            })
            .collect();
        let role = match mr.role {
            MultiRegionRole::Primary => "primary",
            MultiRegionRole::Replica => "replica",
        };
        lines.push(field(
            "Multi-region",
            format!("{role}; primary in {}", mr.primary_region),
        ));
        lines.push(field(
            "Replicas",
            if replicas.is_empty() {
                "none".into()
            } else {
                replicas.join(", ")
            },
        ));
    }
    let period = match (view.period_days, view.period_source) {
        (Some(days), Some(PeriodSource::Policy)) => {
            format!(
                "{} (the endpoint reports none; the policy's period is assumed)",
                plural::days(days)
            )
        }
        (Some(days), _) => plural::days(days),
        (None, _) => "-".into(),
    };
    lines.push(Line::from(vec![
        Span::styled(format!("{:<13}", "Rotation"), theme.dim()),
        Span::styled(view.status.label(), theme.rotation(view.status)),
        Span::raw(format!("  {}  {}", view.countdown(), view.detail)),
    ]));
    lines.push(field(
        "Schedule",
        format!(
            "automatic {}, period {period}",
            match key.rotation.enabled {
                Some(true) => "on",
                Some(false) => "off",
                None => "not asked",
            }
        ),
    ));
    lines.push(field(
        "Rotated",
        format!(
            "last {}, next {}; on-demand {} of {ON_DEMAND_ROTATION_LIMIT} used",
            date(view.last_rotated),
            date(view.next_rotation),
            key.rotation.on_demand_used()
        ),
    ));
    // One rotation and one tag a row, newest rotation first, each list under its label.
    for (n, record) in key.rotation.history.iter().rev().enumerate() {
        let kind = match record.kind {
            RotationKind::Automatic => "automatic",
            RotationKind::OnDemand => "on demand",
        };
        let label = if n == 0 { "History" } else { "" };
        lines.push(field(
            label,
            format!("{} {kind}", record.date.format("%Y-%m-%d %H:%M")),
        ));
    }
    for (n, (name, value)) in key.tags.iter().enumerate() {
        let label = if n == 0 { "Tags" } else { "" };
        lines.push(field(label, format!("{name}={value}")));
    }
    for err in &key.errors {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<13}", "Error"), theme.bad()),
            Span::raw(err.to_string()),
        ]));
    }
    let hint = if app.read_only {
        "Esc back"
    } else {
        "Esc back, a actions"
    };
    let title = format!("{} in {}  ({hint})", key.display_name(), key.region);
    crate::tui::scroll::render_text(
        lines,
        title,
        Some(app.keys.detail_scroll),
        theme,
        area,
        frame,
    )
}
