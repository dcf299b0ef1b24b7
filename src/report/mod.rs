//! Writers: turning results into text, CSV and JSON.
//!
//! Standard output carries only the requested format; per-capture summaries go to standard error in
//! the human and CSV formats and into the document in JSON. Every writer takes an `io::Write`, so
//! the binary chooses where output goes and tests capture it in memory.

pub mod audit;
pub mod flows;
pub mod roles;
pub mod rules;

use crate::engine::{Analysis, CaptureReport};
use crate::model::format_rfc3339_ns;
use serde::Serialize;
use std::io::{self, Write};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people (`text` and `table` name the same format).
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON document.
    Json,
    /// One JSON object per line.
    Jsonl,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "table" | "text" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "jsonl" => Ok(Format::Jsonl),
            _ => Err(format!(
                "unknown format '{s}' (expected table, text, csv, json or jsonl)"
            )),
        }
    }
}

/// A capture's summary as it appears in JSON documents.
#[derive(Debug, Serialize)]
pub struct CaptureJson {
    /// The file, or `-`.
    pub path: String,
    /// Format and variant.
    pub format: String,
    /// Whether it was gzip-compressed.
    pub compressed: bool,
    /// Link type names.
    pub link_types: Vec<String>,
    /// Frames read.
    pub packets: u64,
    /// Sum of wire lengths.
    pub bytes: u64,
    /// First frame time (RFC 3339).
    pub first_seen: Option<String>,
    /// Last frame time (RFC 3339).
    pub last_seen: Option<String>,
    /// First frame time in nanoseconds.
    pub first_seen_ns: Option<i64>,
    /// Last frame time in nanoseconds.
    pub last_seen_ns: Option<i64>,
    /// Seconds between first and last frame.
    pub duration_s: f64,
    /// Frames not decoded, by reason.
    pub undecoded: std::collections::BTreeMap<String, u64>,
    /// Damage that stopped the reading early.
    pub error: Option<String>,
    /// What only a live capture has (interface, kernel counts, why it stopped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<crate::capture::LiveInfo>,
}

impl From<&CaptureReport> for CaptureJson {
    fn from(c: &CaptureReport) -> CaptureJson {
        let s = &c.summary;
        let mut undecoded = std::collections::BTreeMap::new();
        for (r, n) in c.decode.nonzero() {
            undecoded.insert(r.name().to_string(), n);
        }
        for (l, n) in &c.decode.unsupported_links {
            undecoded.insert(format!("unsupported-link-type:{l}"), *n);
        }
        undecoded.remove("unsupported-link-type");
        CaptureJson {
            path: s.path.display().to_string(),
            format: s.format.clone(),
            compressed: s.compressed,
            link_types: s.link_types.iter().map(|l| l.to_string()).collect(),
            packets: s.packets,
            bytes: s.wire_bytes,
            first_seen: s.first_ns.map(format_rfc3339_ns),
            last_seen: s.last_ns.map(format_rfc3339_ns),
            first_seen_ns: s.first_ns,
            last_seen_ns: s.last_ns,
            duration_s: match (s.first_ns, s.last_ns) {
                (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e9,
                _ => 0.0,
            },
            undecoded,
            error: s.error.as_ref().map(|e| e.to_string()),
            live: s.live.clone(),
        }
    }
}

/// Writes the per-capture summaries for people (to standard error).
pub fn write_capture_summaries(a: &Analysis, w: &mut dyn Write) -> io::Result<()> {
    for e in &a.input_errors {
        writeln!(w, "error: {e}")?;
    }
    for c in &a.captures {
        let j = CaptureJson::from(c);
        let comp = if j.compressed { "+gzip" } else { "" };
        write!(
            w,
            "{}: {}{comp}, {}, {} packets",
            j.path,
            j.format,
            if j.link_types.is_empty() {
                "no interfaces".to_string()
            } else {
                j.link_types.join("/")
            },
            j.packets
        )?;
        if let (Some(f), Some(l)) = (&j.first_seen, &j.last_seen) {
            write!(w, ", {f} .. {l} ({:.3} s)", j.duration_s)?;
        }
        if !j.undecoded.is_empty() {
            let parts: Vec<String> = j
                .undecoded
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            write!(w, "; not decoded: {}", parts.join(", "))?;
        }
        writeln!(w)?;
        if j.packets == 0 && j.error.is_none() {
            writeln!(w, "note: {} holds no packets", j.path)?;
        }
        if let Some(e) = &j.error {
            writeln!(w, "warning: {e} (the packets before it were read)")?;
        }
    }
    if !a.skipped.is_empty() {
        writeln!(
            w,
            "note: skipped {} file(s) in folders that are not captures",
            a.skipped.len()
        )?;
    }
    Ok(())
}
