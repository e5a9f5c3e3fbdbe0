//! The keys across every region as the console lists them: each key's rotation verdict worked
//! out once per refresh, then filtered and sorted into the order the table shows.
//!
//! Rows point into the estate by region and position rather than copying keys, and the
//! visible order is rebuilt only when the data, the filter or the sort changes, so drawing a
//! frame touches only the rows on screen however large the estate is.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use crate::config::RotationPolicy;
use crate::estate::{Estate, Key};
use crate::rotation::{RotationView, evaluate};

/// The orders the key table can be sorted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Overdue first, then due soon, then by days left.
    #[default]
    Urgency,
    Name,
    Region,
    NextRotation,
}

impl SortBy {
    pub fn next(self) -> SortBy {
        match self {
            SortBy::Urgency => SortBy::Name,
            SortBy::Name => SortBy::Region,
            SortBy::Region => SortBy::NextRotation,
            SortBy::NextRotation => SortBy::Urgency,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortBy::Urgency => "urgency",
            SortBy::Name => "name",
            SortBy::Region => "region",
            SortBy::NextRotation => "next rotation",
        }
    }
}

/// One key and its verdict, pointing into the estate.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Position of the region in the estate's order.
    pub region: usize,
    /// Position of the key in that region's key list.
    pub index: usize,
    pub view: RotationView,
    /// Everything the filter matches, lowercased once when the row is built, so a keystroke
    /// in the filter costs one substring search per key.
    pub search: String,
}

/// Every key, the current filter and sort, and the selection.
#[derive(Debug, Default)]
pub struct KeyTable {
    pub rows: Vec<KeyRow>,
    /// Indexes into `rows` that pass the filter, in display order.
    pub visible: Vec<usize>,
    pub sort: SortBy,
    pub filter: String,
    /// The filter is being typed.
    pub editing_filter: bool,
    /// Position in `visible` of the selected row.
    pub selected: usize,
    /// The detail view of the selected key is open.
    pub detail: bool,
    /// How far the detail is scrolled, in rows.
    pub detail_scroll: u16,
}

impl KeyTable {
    /// Judges every key at `now` and rebuilds the visible order, keeping the selected key
    /// selected where it still exists.
    pub fn rebuild(&mut self, estate: &Estate, policy: &RotationPolicy, now: DateTime<Utc>) {
        let keep = self.selected_arn(estate).map(str::to_owned);
        self.rows.clear();
        for (region, (_, state)) in estate.iter().enumerate() {
            for (index, key) in state.keys.data.iter().flatten().enumerate() {
                let view = evaluate(key, policy, now);
                let search = search_text(key, &view);
                self.rows.push(KeyRow {
                    region,
                    index,
                    view,
                    search,
                });
            }
        }
        self.refilter(estate);
        if let Some(arn) = keep {
            self.select_arn(estate, &arn);
        }
    }

    /// Applies the filter and the sort again, after either changed.
    pub fn refilter(&mut self, estate: &Estate) {
        let needle = self.filter.to_lowercase();
        let mut visible: Vec<usize> = (0..self.rows.len())
            .filter(|&i| needle.is_empty() || self.rows[i].search.contains(&needle))
            .collect();
        visible.sort_by(|&a, &b| self.compare(estate, &self.rows[a], &self.rows[b]));
        self.visible = visible;
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
    }

    fn compare(&self, estate: &Estate, a: &KeyRow, b: &KeyRow) -> Ordering {
        let (Some(ka), Some(kb)) = (key_of(estate, a), key_of(estate, b)) else {
            return Ordering::Equal;
        };
        let by_name = || {
            ka.display_name()
                .cmp(kb.display_name())
                .then(a.region.cmp(&b.region))
        };
        // Keys without a countdown sort after those with one.
        let by_days = || match (a.view.days_left, b.view.days_left) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        match self.sort {
            SortBy::Urgency => a
                .view
                .status
                .urgency()
                .cmp(&b.view.status.urgency())
                .then_with(by_days)
                .then_with(by_name),
            SortBy::Name => by_name(),
            SortBy::Region => a.region.cmp(&b.region).then_with(by_name),
            SortBy::NextRotation => by_days().then_with(by_name),
        }
    }

    /// The row at display position `position`.
    pub fn visible_row(&self, position: usize) -> Option<&KeyRow> {
        self.visible.get(position).map(|&i| &self.rows[i])
    }

    pub fn selected_row(&self) -> Option<&KeyRow> {
        self.visible_row(self.selected)
    }

    pub fn selected_key<'e>(&self, estate: &'e Estate) -> Option<&'e Key> {
        self.selected_row().and_then(|row| key_of(estate, row))
    }

    fn selected_arn<'e>(&self, estate: &'e Estate) -> Option<&'e str> {
        self.selected_key(estate).map(|k| k.arn.as_str())
    }

    /// Selects the key with `arn` if it is visible.
    pub fn select_arn(&mut self, estate: &Estate, arn: &str) {
        if let Some(position) = self
            .visible
            .iter()
            .position(|&i| key_of(estate, &self.rows[i]).is_some_and(|k| k.arn == arn))
        {
            self.selected = position;
        }
    }

    /// The row of the key with `arn`, visible or not.
    pub fn row_of(&self, estate: &Estate, arn: &str) -> Option<&KeyRow> {
        self.rows
            .iter()
            .find(|row| key_of(estate, row).is_some_and(|k| k.arn == arn))
    }
}

/// The fields the filter looks in: aliases, key id, region, spec, state, description and the
/// rotation status, lowercased and separated so no match spans two fields.
fn search_text(key: &Key, view: &RotationView) -> String {
    let mut fields: Vec<&str> = key.aliases.iter().map(String::as_str).collect();
    fields.extend([
        key.key_id.as_str(),
        key.region.as_str(),
        key.key_spec.as_str(),
        key.state.as_str(),
        key.description.as_str(),
        view.status.label(),
    ]);
    fields.join("\n").to_lowercase()
}

/// The key a row points at; `None` only if the estate changed without a rebuild.
pub fn key_of<'e>(estate: &'e Estate, row: &KeyRow) -> Option<&'e Key> {
    let region = estate.order.get(row.region)?;
    estate
        .regions
        .get(region)?
        .keys
        .data
        .as_ref()?
        .get(row.index)
}

/// Moves a selection within `len` rows by `delta`, clamped to the ends.
pub fn step(selected: usize, delta: isize, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    selected.saturating_add_signed(delta).min(len - 1)
}

/// The first row to draw so that `selected` stays visible in `height` rows, scrolling
/// smoothly with the selection kept near the middle.
pub fn scroll_offset(selected: usize, height: usize, len: usize) -> usize {
    if height == 0 || len <= height {
        return 0;
    }
    selected.saturating_sub(height / 2).min(len - height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_steps_stay_inside_the_list() {
        assert_eq!(step(0, -1, 5), 0);
        assert_eq!(step(3, 10, 5), 4);
        assert_eq!(step(2, 1, 0), 0);
    }

    #[test]
    fn scrolling_keeps_the_selection_on_screen() {
        assert_eq!(scroll_offset(3, 10, 5), 0);
        assert_eq!(scroll_offset(0, 10, 100), 0);
        assert_eq!(scroll_offset(50, 10, 100), 45);
        assert_eq!(scroll_offset(99, 10, 100), 90);
        for selected in 0..100 {
            let offset = scroll_offset(selected, 10, 100);
            assert!((offset..offset + 10).contains(&selected));
        }
    }
}
