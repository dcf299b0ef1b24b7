//! Reading configuration files (rules, inventories) with every error reported at its file, line and
//! column, not just the first.
//!
//! Files are parsed into a spanned tree and checked by hand: unknown keys, wrong types and bad
//! values each become a [`Diagnostic`], and checking goes on past them, so that one run of
//! `flowaudit rules check` lists everything to fix.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::Diagnostic;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// A spanned TOML table.
pub type Table<'i> = DeTable<'i>;
/// A spanned TOML value.
pub type Value<'i> = Spanned<DeValue<'i>>;

/// One file being checked, and the problems found in it.
pub struct Doc<'i> {
    file: PathBuf,
    text: &'i str,
    /// Byte offsets where lines start, for positions in O(log n).
    line_starts: Vec<usize>,
    /// Problems found so far.
    pub diags: Vec<Diagnostic>,
}

impl<'i> Doc<'i> {
    /// Parses `text`; syntax errors become diagnostics and `None`.
    pub fn parse(file: &Path, text: &'i str) -> (Doc<'i>, Option<Spanned<Table<'i>>>) {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut doc = Doc {
            file: file.to_path_buf(),
            text,
            line_starts,
            diags: Vec::new(),
        };
        match DeTable::parse(text) {
            Ok(t) => (doc, Some(t)),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let msg = e.message().trim().to_string();
                doc.err(span, format!("TOML syntax: {msg}"));
                (doc, None)
            }
        }
    }

    /// The 1-based line and column of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line.saturating_sub(1)];
        let col = self
            .text
            .get(start..offset)
            .map_or(0, |l| l.chars().count())
            + 1;
        (line, col)
    }

    /// Records a problem at a span.
    pub fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, col) = self.position(span.start);
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            line,
            col,
            message: message.into(),
        });
    }

    /// Reports every key of `table` that is not in `allowed`.
    pub fn check_keys(&mut self, table: &Table<'_>, allowed: &[&str], what: &str) {
        for k in table.keys() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                self.err(
                    k.span(),
                    format!(
                        "unknown key '{}' in {what} (expected one of: {})",
                        k.get_ref(),
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    /// A string value; reports a missing (when `required`) or non-string value.
    pub fn string(
        &mut self,
        table: &Table<'_>,
        at: Range<usize>,
        key: &str,
        required: bool,
    ) -> Option<(String, Range<usize>)> {
        match get(table, key) {
            Some(v) => match v.get_ref() {
                DeValue::String(s) => Some((s.to_string(), v.span())),
                _ => {
                    self.err(v.span(), format!("'{key}' must be a string"));
                    None
                }
            },
            None => {
                if required {
                    self.err(at, format!("missing key '{key}'"));
                }
                None
            }
        }
    }

    /// A string or an array of strings.
    pub fn strings(
        &mut self,
        table: &Table<'_>,
        at: Range<usize>,
        key: &str,
        required: bool,
    ) -> Option<Vec<(String, Range<usize>)>> {
        match get(table, key) {
            Some(v) => match v.get_ref() {
                DeValue::String(s) => Some(vec![(s.to_string(), v.span())]),
                DeValue::Array(items) => {
                    let mut out = Vec::new();
                    for it in items.iter() {
                        match it.get_ref() {
                            DeValue::String(s) => out.push((s.to_string(), it.span())),
                            _ => self.err(it.span(), format!("'{key}' must hold strings")),
                        }
                    }
                    Some(out)
                }
                _ => {
                    self.err(
                        v.span(),
                        format!("'{key}' must be a string or an array of strings"),
                    );
                    None
                }
            },
            None => {
                if required {
                    self.err(at, format!("missing key '{key}'"));
                }
                None
            }
        }
    }

    /// A boolean value.
    pub fn boolean(&mut self, table: &Table<'_>, key: &str) -> Option<bool> {
        let v = get(table, key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.err(v.span(), format!("'{key}' must be true or false"));
                None
            }
        }
    }

    /// The tables of an array of tables (`[[name]]`); reports anything else.
    pub fn tables<'t, 'j>(
        &mut self,
        root: &'t Table<'j>,
        key: &str,
    ) -> Vec<(&'t Table<'j>, Range<usize>)> {
        let Some(v) = get(root, key) else {
            return Vec::new();
        };
        match v.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for it in items.iter() {
                    match it.get_ref() {
                        DeValue::Table(t) => out.push((t, it.span())),
                        _ => self.err(it.span(), format!("'{key}' entries must be tables")),
                    }
                }
                out
            }
            _ => {
                self.err(
                    v.span(),
                    format!("'{key}' must be an array of tables ([[{key}]])"),
                );
                Vec::new()
            }
        }
    }

    /// A single table (`[name]`).
    pub fn table<'t, 'j>(
        &mut self,
        root: &'t Table<'j>,
        key: &str,
    ) -> Option<(&'t Table<'j>, Range<usize>)> {
        let v = get(root, key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some((t, v.span())),
            _ => {
                self.err(v.span(), format!("'{key}' must be a table ([{key}])"));
                None
            }
        }
    }
}

/// The value of a key.
pub fn get<'t, 'i>(table: &'t Table<'i>, key: &str) -> Option<&'t Value<'i>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}
