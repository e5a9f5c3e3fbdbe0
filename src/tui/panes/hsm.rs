//! Tier 1: the CloudHSM clusters of every region, and the PKCS#11 module's slots and tokens
//! with the flags an officer checks before a ceremony.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, Wrap};

use super::block;
use crate::estate::{ObjectView, SlotView, TokenView};
use crate::tui::app::App;
use crate::tui::keytable::scroll_offset;
use crate::tui::theme::Theme;
use crate::tui::view::{date, error_lines};

pub fn render(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let clusters = app.estate.clusters().count() as u16;
    let [top, bottom] = Layout::vertical([
        Constraint::Length((clusters + 3).clamp(4, area.height / 2)),
        Constraint::Fill(1),
    ])
    .areas(area);
    render_clusters(app, theme, top, frame);
    render_tokens(app, theme, bottom, frame);
}

fn render_clusters(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let clusters: Vec<_> = app.estate.clusters().collect();
    let mut errors = Vec::new();
    for (region, state) in app.estate.iter() {
        if let Some(err) = &state.clusters.error {
            errors.push(super::error_row(
                region,
                err,
                state.clusters.fetched_at,
                app.now,
                6,
                theme,
            ));
        }
    }
    let title = format!("CloudHSM clusters: {}", clusters.len());
    let height = usize::from(area.height.saturating_sub(3)).saturating_sub(errors.len());
    let offset = scroll_offset(app.hsm_selected, height, clusters.len());
    let rows = clusters
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(position, cluster)| {
            let hsms = if cluster.hsms.is_empty() {
                "no HSMs".to_owned()
            } else {
                let mut zones: Vec<&str> = cluster
                    .hsms
                    .iter()
                    .map(|h| h.availability_zone.as_str())
                    .collect();
                zones.dedup();
                format!("{} in {}", cluster.hsms.len(), zones.join(","))
            };
            let backup = cluster.latest_backup.as_ref().map_or_else(
                || "none".to_owned(),
                |b| format!("{} {}", date(b.created), b.state),
            );
            let retention = cluster
                .backup_retention_days
                .map_or_else(|| "-".to_owned(), |d| format!("{d}d"));
            let style = if position == app.hsm_selected && app.pane == crate::tui::app::Pane::Hsm {
                theme.selected()
            } else {
                Style::new()
            };
            let state_style = if cluster.state == "ACTIVE" {
                theme.good()
            } else {
                theme.warn()
            };
            Row::new(vec![
                Span::raw(cluster.region.clone()),
                Span::raw(cluster.id.clone()),
                Span::styled(cluster.state.clone(), state_style),
                Span::raw(hsms),
                Span::raw(retention),
                Span::raw(backup),
            ])
            .style(style)
        })
        .chain(errors);
    let widths = [
        Constraint::Length(14),
        Constraint::Length(20),
        Constraint::Length(8),
        Constraint::Length(14),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    let header = Row::new([
        "REGION",
        "CLUSTER",
        "STATE",
        "HSMS",
        "KEEP",
        "LATEST BACKUP",
    ])
    .style(theme.title());
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block(title, theme)),
        area,
    );
}

fn render_tokens(app: &App, theme: Theme, area: Rect, frame: &mut Frame) {
    let title = "PKCS#11 module".to_owned();
    let mut lines: Vec<Line> = Vec::new();
    if let Some(err) = &app.hsm.error {
        for line in error_lines("PKCS#11", err, app.hsm.fetched_at, app.now) {
            lines.push(Line::styled(line, theme.bad()));
        }
    }
    // What the officer just logged in for comes first, where 80x24 still shows it.
    if let Some((token, objects)) = &app.objects {
        lines.extend(object_lines(token, objects, theme));
    }
    match &app.hsm.data {
        Some(snapshot) => {
            let lib = &snapshot.library;
            lines.push(Line::from(vec![
                Span::styled("Library ", theme.dim()),
                Span::raw(format!(
                    "{} ({} {}, Cryptoki {}, library {})",
                    lib.path,
                    lib.manufacturer,
                    lib.description,
                    lib.cryptoki_version,
                    lib.library_version
                )),
            ]));
            for slot in &snapshot.slots {
                lines.extend(slot_lines(slot, theme));
            }
            if snapshot.slots.is_empty() {
                lines.push(Line::raw("The module reports no slots."));
            }
        }
        None if app.hsm.loading => lines.push(Line::styled("Listing the module…", theme.dim())),
        None => {}
    }

    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(title, theme)),
        area,
    );
}

fn slot_lines(slot: &SlotView, theme: Theme) -> Vec<Line<'static>> {
    let Some(token) = &slot.token else {
        return vec![Line::from(vec![
            Span::styled(format!("slot {:<10} ", slot.slot_id), theme.dim()),
            Span::raw(format!("no token ({})", slot.description.trim())),
        ])];
    };
    if !token.initialized {
        return vec![Line::from(vec![
            Span::styled(format!("slot {:<10} ", slot.slot_id), theme.dim()),
            Span::raw(format!(
                "free: no initialized token ({} {})",
                token.manufacturer.trim(),
                token.model.trim(),
            )),
        ])];
    }
    vec![
        Line::from(vec![
            Span::styled(format!("token {:<9} ", "label"), theme.dim()),
            Span::styled(format!("{:?}", token.label.trim()), theme.title()),
            Span::raw(format!(
                "  serial {}  {} {}  (slot {} in this listing)",
                token.serial.trim(),
                token.manufacturer.trim(),
                token.model.trim(),
                slot.slot_id
            )),
        ]),
        Line::from(vec![
            Span::styled(format!("{:<16}", "  flags"), theme.dim()),
            Span::raw(flags(token).join(", ")),
        ]),
        Line::from(vec![
            Span::styled(format!("{:<16}", "  PIN, memory"), theme.dim()),
            Span::raw(format!(
                "PIN length {} to {}; {}",
                token.min_pin_len,
                token.max_pin_len,
                memory(token)
            )),
        ]),
    ]
}

/// The flags that matter to an officer, in words; the worrying ones in capitals.
fn flags(token: &TokenView) -> Vec<&'static str> {
    let mut flags = vec!["initialized"];
    if token.login_required {
        flags.push("login required");
    }
    flags.extend(token.pin_flags());
    flags
}

fn memory(token: &TokenView) -> String {
    match (token.free_private_memory, token.total_private_memory) {
        (Some(free), Some(total)) => format!("private memory {free} of {total} bytes free"),
        _ => "free memory not reported".into(),
    }
}

/// The objects a logged-in user sees on `token`, each with the attributes that make a root key
/// trustworthy and its key check value.
fn object_lines(
    token: &crate::hsm::TokenRef,
    objects: &crate::estate::Fetched<Vec<ObjectView>>,
    theme: Theme,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(format!("Objects on {token}"), theme.title())];
    let objects = match objects {
        Ok(objects) => objects,
        Err(err) => {
            lines.push(Line::styled(
                format!("{}: {} {}", err.operation, err.code, err.message),
                theme.bad(),
            ));
            return lines;
        }
    };
    if objects.is_empty() {
        lines.push(Line::raw("  none"));
    }
    for object in objects {
        let kind = match (&object.key_type, object.size_bits) {
            (Some(kind), Some(bits)) => format!("{} {kind}-{bits}", object.class),
            (Some(kind), None) => format!("{} {kind}", object.class),
            _ => object.class.clone(),
        };
        let kcv = object.kcv.as_ref().map_or_else(String::new, |k| {
            format!(
                "  KCV {} ({})",
                k.value.as_deref().unwrap_or("none"),
                k.method
            )
        });
        lines.push(Line::from(vec![
            Span::styled(
                format!("  {:?} id {} ", object.label, object.id),
                theme.title(),
            ),
            Span::raw(format!("{kind}{kcv}")),
        ]));
        lines.push(Line::from(vec![
            Span::raw("    "),
            Span::raw(trust_flags(object).join(", ")),
        ]));
    }
    lines
}

/// The trust attributes in words; an extractable or non-sensitive key says so in capitals.
fn trust_flags(object: &ObjectView) -> Vec<String> {
    let flag = |value: Option<bool>, yes: &str, no: &str| match value {
        Some(true) => yes.to_owned(),
        Some(false) => no.to_owned(),
        None => format!("{yes}: not reported"),
    };
    vec![
        flag(object.token, "on the token", "session object"),
        flag(object.private, "private", "PUBLIC"),
        flag(object.sensitive, "sensitive", "NOT SENSITIVE"),
        flag(object.extractable, "EXTRACTABLE", "not extractable"),
        flag(
            object.never_extractable,
            "never extractable",
            "was extractable once",
        ),
        flag(object.local, "generated on the token", "imported"),
    ]
}
