//! The `flows` command's output: one record per flow in table, CSV, JSON or JSON Lines.

use super::{CaptureJson, Format};
use crate::engine::Analysis;
use crate::flow::Flow;
use crate::model::format_rfc3339_ns;
use serde::Serialize;
use std::io::{self, Write};

/// The columns, in order. `src` is the originator; `packets`/`bytes` count both directions.
pub const COLUMNS: [&str; 17] = [
    "proto",
    "src_addr",
    "src_port",
    "dst_addr",
    "dst_port",
    "state",
    "outcome",
    "history",
    "packets",
    "bytes",
    "orig_packets",
    "orig_bytes",
    "resp_packets",
    "resp_bytes",
    "first_seen",
    "last_seen",
    "icmp",
];

/// One flow as written out.
#[derive(Debug, Serialize)]
pub struct FlowRecord {
    /// Transport protocol name.
    pub proto: String,
    /// Originator address.
    pub src_addr: String,
    /// Originator port.
    pub src_port: u16,
    /// Responder address.
    pub dst_addr: String,
    /// Responder port.
    pub dst_port: u16,
    /// Zeek `conn_state`.
    pub state: &'static str,
    /// Plain-words outcome.
    pub outcome: &'static str,
    /// Zeek-style history.
    pub history: String,
    /// Packets, both directions.
    pub packets: u64,
    /// Wire bytes, both directions.
    pub bytes: u64,
    /// Packets from the originator.
    pub orig_packets: u64,
    /// Wire bytes from the originator.
    pub orig_bytes: u64,
    /// Packets towards the originator (replies and ICMP errors).
    pub resp_packets: u64,
    /// Wire bytes towards the originator.
    pub resp_bytes: u64,
    /// First packet (RFC 3339, UTC, nanoseconds).
    pub first_seen: String,
    /// Last packet.
    pub last_seen: String,
    /// First packet, nanoseconds since the epoch.
    pub first_seen_ns: i64,
    /// Last packet, nanoseconds since the epoch.
    pub last_seen_ns: i64,
    /// The ICMP error that quoted this flow, as `type/code from ADDR`, if any.
    pub icmp: Option<String>,
}

impl From<&Flow> for FlowRecord {
    fn from(f: &Flow) -> FlowRecord {
        let (sa, sp) = f.src();
        let (da, dp) = f.dst();
        let (o, r) = (f.orig_side(), f.resp_side());
        FlowRecord {
            proto: f.key.proto.name().into_owned(),
            src_addr: sa.to_string(),
            src_port: sp,
            dst_addr: da.to_string(),
            dst_port: dp,
            state: f.conn_state().as_str(),
            outcome: f.outcome().as_str(),
            history: f.history(),
            packets: f.total_packets(),
            bytes: f.total_bytes(),
            orig_packets: f.packets[o],
            orig_bytes: f.bytes[o],
            resp_packets: f.packets[r],
            resp_bytes: f.bytes[r],
            first_seen: format_rfc3339_ns(f.first_ns),
            last_seen: format_rfc3339_ns(f.last_ns),
            first_seen_ns: f.first_ns,
            last_seen_ns: f.last_ns,
            icmp: f.icmp.map(|e| {
                format!(
                    "{}{}/{} from {}",
                    if e.v6 { "icmpv6 " } else { "" },
                    e.kind,
                    e.code,
                    e.reporter
                )
            }),
        }
    }
}

impl FlowRecord {
    fn cells(&self) -> [String; 17] {
        [
            self.proto.clone(),
            self.src_addr.clone(),
            self.src_port.to_string(),
            self.dst_addr.clone(),
            self.dst_port.to_string(),
            self.state.to_string(),
            self.outcome.to_string(),
            self.history.clone(),
            self.packets.to_string(),
            self.bytes.to_string(),
            self.orig_packets.to_string(),
            self.orig_bytes.to_string(),
            self.resp_packets.to_string(),
            self.resp_bytes.to_string(),
            self.first_seen.clone(),
            self.last_seen.clone(),
            self.icmp.clone().unwrap_or_default(),
        ]
    }
}

/// Quotes a CSV field when it needs it.
pub fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        std::borrow::Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Writes the flows of an analysis in the chosen format.
pub fn write(a: &Analysis, format: Format, w: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Csv => {
            writeln!(w, "{}", COLUMNS.join(","))?;
            for f in &a.flows {
                let cells = FlowRecord::from(f).cells();
                let line: Vec<_> = cells.iter().map(|c| csv_field(c)).collect();
                writeln!(w, "{}", line.join(","))?;
            }
        }
        Format::Table => {
            let rows: Vec<[String; 17]> = a
                .flows
                .iter()
                .map(|f| FlowRecord::from(f).cells())
                .collect();
            // The table leaves out the per-direction split and last_seen to stay readable.
            let shown = [0usize, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 16];
            let mut width = [0usize; 17];
            for &i in &shown {
                width[i] = COLUMNS[i].len();
                for r in &rows {
                    width[i] = width[i].max(r[i].len());
                }
            }
            let line = |cells: &[&str]| {
                let mut s = String::new();
                for (k, &i) in shown.iter().enumerate() {
                    let c = cells[i];
                    if k + 1 == shown.len() {
                        s.push_str(c);
                    } else {
                        s.push_str(&format!("{c:<w$}  ", w = width[i]));
                    }
                }
                s.trim_end().to_string()
            };
            writeln!(w, "{}", line(&COLUMNS))?;
            for r in &rows {
                let cells: Vec<&str> = r.iter().map(|s| s.as_str()).collect();
                writeln!(w, "{}", line(&cells))?;
            }
        }
        Format::Json => {
            #[derive(Serialize)]
            struct Doc {
                version: u32,
                captures: Vec<CaptureJson>,
                errors: Vec<String>,
                flows: Vec<FlowRecord>,
            }
            let doc = Doc {
                version: 1,
                captures: a.captures.iter().map(CaptureJson::from).collect(),
                errors: a.input_errors.iter().map(|e| e.to_string()).collect(),
                flows: a.flows.iter().map(FlowRecord::from).collect(),
            };
            serde_json::to_writer_pretty(&mut *w, &doc)?;
            writeln!(w)?;
        }
        Format::Jsonl => {
            for f in &a.flows {
                #[derive(Serialize)]
                struct Line<'a> {
                    r#type: &'static str,
                    #[serde(flatten)]
                    flow: &'a FlowRecord,
                }
                let rec = FlowRecord::from(f);
                serde_json::to_writer(
                    &mut *w,
                    &Line {
                        r#type: "flow",
                        flow: &rec,
                    },
                )?;
                writeln!(w)?;
            }
            for c in &a.captures {
                #[derive(Serialize)]
                struct Line {
                    r#type: &'static str,
                    #[serde(flatten)]
                    capture: CaptureJson,
                }
                serde_json::to_writer(
                    &mut *w,
                    &Line {
                        r#type: "capture",
                        capture: CaptureJson::from(c),
                    },
                )?;
                writeln!(w)?;
            }
            for e in &a.input_errors {
                serde_json::to_writer(
                    &mut *w,
                    &serde_json::json!({"type": "error", "error": e.to_string()}),
                )?;
                writeln!(w)?;
            }
        }
    }
    Ok(())
}
