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

/// One key and its verdict (without the verdict's sentence), pointing into the estate.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Position of the region in the estate's order.
    pub region: usize,
    /// Position of the key in that region's key list.
    pub index: usize,
    pub view: RotationView,
    /// Where the row's search text lies in [`KeyTable`]'s search buffer.
    search: std::ops::Range<usize>,
}

/// Every key, the current filter and sort, and the selection.
#[derive(Debug, Default)]
pub struct KeyTable {
    pub rows: Vec<KeyRow>,
    /// Every row's search text (what the filter matches, lowercased once when the row is
    /// built) in row order, rows apart by a NUL no filter can hold: a keystroke is one
    /// substring scan through a single buffer, however many keys there are.
    search: String,
    /// Indexes into `rows` in the current sort order, filter aside.
    order: Vec<usize>,
    /// Indexes into `rows` that pass the filter, in display order.
    pub visible: Vec<usize>,
    /// The filter (lowercased) that `visible` was made with.
    applied: String,
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
    /// The operator has chosen a row; until then the selection stays on the first.
    pub chosen: bool,
    /// The selected key's ARN, noted before the estate changes under the rows.
    remembered: Option<String>,
}

impl KeyTable {
    /// Judges every key at `now` and rebuilds the visible order, keeping the selected key
    /// selected where it still exists.
    pub fn rebuild(&mut self, estate: &Estate, policy: &RotationPolicy, now: DateTime<Utc>) {
        // The rows point into the estate by position: the selected key is the one noted
        // before the estate changed, or (nothing noted) the one they point at now.
        let keep = self
            .remembered
            .take()
            .or_else(|| self.selected_arn(estate).map(str::to_owned));
        self.rows.clear();
        self.search.clear();
        for (region, (_, state)) in estate.iter().enumerate() {
            for (index, key) in state.key_list().iter().enumerate() {
                let mut view = evaluate(key, policy, now);
                let start = self.search.len();
                push_search_text(&mut self.search, key, &view);
                let search = start..self.search.len();
                self.search.push(ROW_SEPARATOR);
                // The sentence is for the detail view, which judges its one key afresh; a
                // hundred thousand rows need not carry one each.
                view.detail = String::new();
                self.rows.push(KeyRow {
                    region,
                    index,
                    view,
                    search,
                });
            }
        }
        self.search.shrink_to_fit();
        self.resort(estate);
        match keep {
            Some(arn) if self.chosen || self.detail => self.select_arn(estate, &arn),
            // Nobody chose a row yet: the most urgent key, first, stays selected.
            _ => self.selected = 0,
        }
    }

    /// Notes which key is selected, before the estate changes under the rows; the next
    /// rebuild selects it again wherever it moved.
    pub fn remember_selection(&mut self, estate: &Estate) {
        if self.remembered.is_none() {
            self.remembered = self.selected_arn(estate).map(str::to_owned);
        }
    }

    /// Sorts the rows again, after the sort changed, and applies the filter.
    pub fn resort(&mut self, estate: &Estate) {
        let lists: Vec<&[Key]> = estate.iter().map(|(_, s)| s.key_list()).collect();
        let key = |row: &KeyRow| lists.get(row.region).and_then(|keys| keys.get(row.index));
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&self.rows[a], &self.rows[b]);
            match (key(a), key(b)) {
                (Some(ka), Some(kb)) => self.compare(a, ka, b, kb),
                _ => Ordering::Equal,
            }
        });
        self.order = order;
        self.applied.clear();
        self.visible.clear();
        self.refilter();
    }

    /// Applies the filter again, after it changed. A filter that only grew narrows the rows
    /// already shown instead of searching every key.
    pub fn refilter(&mut self) {
        // Separators typed or pasted into the filter match nothing, as no field holds them.
        let needle: String = self
            .filter
            .to_lowercase()
            .chars()
            .filter(|&c| c != ROW_SEPARATOR && c != FIELD_SEPARATOR)
            .collect();
        let narrowing = !self.applied.is_empty() && needle.contains(self.applied.as_str());
        self.visible = if needle.is_empty() {
            self.order.clone()
        } else if narrowing {
            let rows = &self.rows;
            let search = &self.search;
            std::mem::take(&mut self.visible)
                .into_iter()
                .filter(|&i| search[rows[i].search.clone()].contains(&needle))
                .collect()
        } else {
            let matched = self.matching_rows(&needle);
            self.order.iter().copied().filter(|&i| matched[i]).collect()
        };
        self.applied = needle;
        self.selected = self.selected.min(self.visible.len().saturating_sub(1));
    }

    /// Which rows' search text holds `needle`: one scan through the buffer, skipping to the
    /// next row after each match.
    fn matching_rows(&self, needle: &str) -> Vec<bool> {
        let mut matched = vec![false; self.rows.len()];
        let (mut from, mut row) = (0, 0);
        while let Some(found) = self.search[from..].find(needle) {
            let at = from + found;
            // Rows are in buffer order: move on to the row the match lies in.
            while self.rows[row].search.end < at {
                row += 1;
            }
            matched[row] = true;
            from = self.rows[row].search.end;
            row += 1;
            if row == self.rows.len() {
                break;
            }
        }
        matched
    }

    fn compare(&self, a: &KeyRow, ka: &Key, b: &KeyRow, kb: &Key) -> Ordering {
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

/// Ends each row's search text in the buffer.
const ROW_SEPARATOR: char = '\0';
/// Ends each field, so no match spans two fields.
const FIELD_SEPARATOR: char = '\n';

/// Appends the fields the filter looks in, lowercased and separated: aliases, key id, region,
/// spec, state, description and the rotation status.
fn push_search_text(buffer: &mut String, key: &Key, view: &RotationView) {
    let fields = key.aliases.iter().map(String::as_str).chain([
        key.key_id.as_str(),
        key.region.as_str(),
        key.key_spec.as_str(),
        key.state.as_str(),
        key.description.as_str(),
        view.status.label(),
    ]);
    for (n, field) in fields.enumerate() {
        if n > 0 {
            buffer.push(FIELD_SEPARATOR);
        }
        // Separators inside a field (a description may hold a newline) become spaces.
        buffer.extend(field.chars().flat_map(char::to_lowercase).map(|c| {
            if c == ROW_SEPARATOR || c == FIELD_SEPARATOR {
                ' '
            } else {
                c
            }
        }));
    }
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
    fn the_single_scan_finds_exactly_the_rows_whose_own_text_matches() {
        let table = crate::tui::fixture::app().keys;
        let text = |i: usize| &table.search[table.rows[i].search.clone()];
        let mut needles: Vec<String> = vec!["pay".into(), "e".into(), "zzz".into()];
        // Needles made of the end of one row and the start of the next, and of two fields.
        for i in 0..table.rows.len() - 1 {
            let (a, b) = (text(i), text(i + 1));
            needles.push(format!("{}{}", &a[a.len() - 2..], &b[..2]));
        }
        needles.push(text(0).replace(FIELD_SEPARATOR, ""));
        for needle in needles {
            let scanned = table.matching_rows(&needle);
            for (i, &found) in scanned.iter().enumerate() {
                assert_eq!(
                    found,
                    text(i).contains(needle.as_str()),
                    "{needle:?} row {i}"
                );
            }
        }
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
