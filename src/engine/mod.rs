//! Drives the pipeline: capture -> decode -> flow over a set of inputs, then names and roles,
//! rules and verdicts for an audit.
//!
//! Captures given together are one run: they are put in the order of their first timestamp (ties by
//! path), so that a connection split across rotated files comes out as one flow, and the result
//! never depends on the order of the arguments. This is the one place that decides how inputs are
//! scheduled.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::capture::{self, CaptureSummary, Input};
use crate::classify::{classify, HostTable, Inventory};
use crate::decode::names::{NameSource, NameTable};
use crate::decode::{dns, tls, DecodeStats, Decoder, Packet};
use crate::error::CaptureError;
use crate::flow::edge::{Edge, EdgeTable};
use crate::flow::{Flow, FlowInput, FlowTable};
use crate::model::{Addr, Feature, IpProto};
use crate::rules::eval::{evaluate, AuditResult};
use crate::rules::RuleSet;

mod parallel;

/// Captures whose first records average more bytes than this are read by one thread.
pub const PARALLEL_MAX_MEAN_RECORD: usize = 256;

/// Bytes per chunk when a capture is read by several threads.
pub const CHUNK_BYTES: usize = 8 << 20;

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Worker threads (`None`: all cores).
    pub threads: Option<usize>,
    /// Fold ended flows into per-edge totals (the audit) instead of keeping every flow.
    pub fold: bool,
    /// Chunk size for parallel reading (`None`: [`CHUNK_BYTES`]); tests make it small.
    pub chunk_bytes: Option<usize>,
    /// Bytes of capture consumed so far, for a progress display (the library never prints).
    pub progress: Option<Arc<AtomicU64>>,
    /// Read with several threads even where one is faster (large frames, small inputs), when
    /// every input is mapped: the tests that prove results never depend on threads use it.
    pub force_parallel: bool,
}

/// What was read from one capture and what could not be decoded in it.
#[derive(Debug, Clone)]
pub struct CaptureReport {
    /// Format, link types, counts, timestamps, damage.
    pub summary: CaptureSummary,
    /// Frames that gave no packet, by reason.
    pub decode: DecodeStats,
}

/// The result of reading a set of inputs.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Every capture that could be opened, in the order it was read.
    pub captures: Vec<CaptureReport>,
    /// Inputs that could not be read at all (missing, not a capture, damaged header).
    pub input_errors: Vec<CaptureError>,
    /// Files inside folders that were skipped because they are not captures.
    pub skipped: Vec<PathBuf>,
    /// Every flow, sorted by first seen, then key (empty when flows were folded).
    pub flows: Vec<Flow>,
    /// Per-edge totals, sorted by key (only when flows were folded).
    pub edges: Vec<Edge>,
    /// Host names from DNS answers, TLS server names and pcapng name resolution blocks.
    pub names: NameTable,
}

impl Analysis {
    /// Packets read over all captures.
    pub fn packets(&self) -> u64 {
        self.captures.iter().map(|c| c.summary.packets).sum()
    }
}

/// Reads captures held in memory, each twice: walked in place and streamed. Both readings must
/// agree; this is what the fuzz target and property tests drive. Returns the in-place analysis.
pub fn analyze_bytes(data: &[u8]) -> Analysis {
    let run = |c: Result<capture::OpenCapture, CaptureError>| {
        let mut a = Analysis::default();
        match c {
            Ok(c) => read_sequential(vec![c], &mut a, false, None),
            Err(e) => a.input_errors.push(e),
        }
        a
    };
    let mapped = run(capture::open_memory("memory", data.to_vec()));
    let streamed = run(capture::open_reader(
        "memory",
        Box::new(std::io::Cursor::new(data.to_vec())),
    ));
    assert_eq!(
        mapped.packets(),
        streamed.packets(),
        "in-place and streamed readings differ"
    );
    assert_eq!(
        mapped.flows.len(),
        streamed.flows.len(),
        "in-place and streamed readings differ"
    );
    mapped
}

/// Reads already opened captures, in the given order, into one flow table: with several threads
/// when every capture is memory-mapped and there is more than one chunk of work.
fn read_in_order(opened: Vec<capture::OpenCapture>, a: &mut Analysis, opts: &Options) {
    let threads = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let chunk = opts.chunk_bytes.unwrap_or(CHUNK_BYTES).max(1);
    let total: u64 = opened.iter().filter_map(|c| c.mapped_len()).sum();
    let all_mapped = opened.iter().all(|c| c.mapped_len().is_some());
    let progress = opts.progress.as_deref();
    // Several threads pay off where the flow table is the work (small frames: measured 1.15x
    // faster with 2 threads on 64-byte frames); on large frames reading is the work, one thread
    // reads faster through buffered reads than several through the mapping (measured 1.7x
    // slower with 2 threads on the 1 GiB mix), so those are read by one thread.
    let small_frames = opened
        .iter()
        .filter_map(|c| c.mean_record_len(1000))
        .max()
        .is_some_and(|m| m <= PARALLEL_MAX_MEAN_RECORD);
    let parallel = threads > 1
        && all_mapped
        && (opts.force_parallel || (total > chunk as u64 && small_frames));
    if parallel {
        parallel::read(opened, a, opts.fold, threads, chunk, progress);
    } else {
        read_sequential(opened, a, opts.fold, progress);
    }
}

/// The bytes the inputs hold, for a progress display: mapped lengths, or file sizes for
/// compressed files (whose progress counts decompressed bytes, so the estimate is rough).
pub fn total_input_bytes(paths: &[PathBuf]) -> u64 {
    let (inputs, _, _) = capture::expand_paths(paths);
    inputs
        .iter()
        .filter_map(|i| match i {
            Input::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Stdin => None,
        })
        .sum()
}

/// Reads captures in order with one thread.
fn read_sequential(
    opened: Vec<capture::OpenCapture>,
    a: &mut Analysis,
    fold: bool,
    progress: Option<&AtomicU64>,
) {
    let mut session = if fold {
        Session::folding()
    } else {
        Session::new()
    };
    for c in opened {
        let summary = c.read_with_progress(progress, |frame| session.push(frame));
        a.captures.push(session.end_capture(summary));
    }
    if fold {
        let (edges, names) = session.finish_edges();
        a.edges = edges;
        a.names.merge(&names);
    } else {
        let (flows, names) = session.finish();
        a.flows = flows;
        a.names.merge(&names);
    }
}

/// The per-packet work, frame by frame: decode, account in the flow table, look for names. File
/// readers and live capture both feed a session, so both give the same results.
#[derive(Debug, Default)]
pub struct Session {
    decoder: Decoder,
    table: FlowTable,
    names: NameTable,
}

impl Session {
    /// An empty session that keeps every flow.
    pub fn new() -> Session {
        Session::default()
    }

    /// An empty session that folds ended flows into per-edge totals (bounded memory).
    pub fn folding() -> Session {
        Session {
            table: FlowTable::folding(),
            ..Session::default()
        }
    }

    /// Accounts one frame.
    #[inline]
    pub fn push(&mut self, frame: &capture::Frame<'_>) {
        if let Some(p) = self.decoder.decode(frame) {
            let mut input = FlowInput::new(&p, frame.ts_ns, frame.orig_len);
            input.tls = inspect_payload(&p, &mut self.names);
            self.table.add_input(&input);
        }
    }

    /// Flows so far (for status lines).
    pub fn flow_count(&self) -> usize {
        self.table.len()
    }

    /// Closes one capture's accounting: its decode counts, and the names its file carried.
    pub fn end_capture(&mut self, summary: CaptureSummary) -> CaptureReport {
        for (addr, name) in &summary.names {
            self.names.insert(*addr, name, NameSource::Capture);
        }
        CaptureReport {
            summary,
            decode: self.decoder.finish(),
        }
    }

    /// The flows (sorted) and names.
    pub fn finish(self) -> (Vec<Flow>, NameTable) {
        (self.table.into_sorted(), self.names)
    }

    /// The per-edge totals (sorted) and names.
    pub fn finish_edges(self) -> (Vec<Edge>, NameTable) {
        (self.table.into_edges(), self.names)
    }
}

/// Looks into the few payloads that name hosts: DNS answers and TLS ClientHellos. Cheap checks
/// first, so that the ordinary packet pays one or two comparisons. Returns the highest TLS version
/// a ClientHello offered (0 when the packet holds none).
#[inline]
fn inspect_payload(p: &Packet<'_>, names: &mut NameTable) -> u16 {
    if p.payload.is_empty() || p.icmp_error.is_some() {
        return 0;
    }
    if p.proto == IpProto::UDP {
        if matches!(p.sport, 53 | 5353 | 5355) {
            let _ = dns::parse_answers(p.payload, &mut |name, ip| {
                names.insert(Addr::from(ip), name.as_str(), NameSource::Dns)
            });
        }
    } else if p.proto == IpProto::TCP {
        if p.sport == 53 {
            // DNS over TCP: a 2-byte length, then the message (first segment only).
            if let Some(msg) = p.payload.get(2..) {
                let _ = dns::parse_answers(msg, &mut |name, ip| {
                    names.insert(Addr::from(ip), name.as_str(), NameSource::Dns)
                });
            }
        } else if tls::looks_like_client_hello(p.payload) {
            if let Ok(hello) = tls::parse_client_hello(p.payload) {
                if let Some(sni) = hello.sni {
                    names.insert(p.dst, sni.as_str(), NameSource::Sni);
                }
                return hello.max_version;
            }
        }
    }
    0
}

/// Reads every input and builds the flow table.
pub fn analyze(paths: &[PathBuf], opts: &Options) -> Analysis {
    let (inputs, mut input_errors, skipped) = capture::expand_paths(paths);

    // Put the captures in time order. Files are opened once to find their first timestamp and
    // again to be read (so that a folder of thousands of files never holds thousands open);
    // standard input cannot be reopened and is kept.
    let mut order: Vec<(Option<i64>, usize, Input, Option<capture::OpenCapture>)> = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        match capture::open(&input) {
            Ok(mut c) => {
                let ts = c.first_timestamp();
                let keep = if input == Input::Stdin { Some(c) } else { None };
                order.push((ts, i, input, keep));
            }
            Err(e) => input_errors.push(e),
        }
    }
    order.sort_by(|a, b| {
        let ka = (a.0.is_none(), a.0.unwrap_or(0), a.1);
        let kb = (b.0.is_none(), b.0.unwrap_or(0), b.1);
        ka.cmp(&kb)
    });

    let mut a = Analysis {
        input_errors,
        skipped,
        ..Analysis::default()
    };
    let mut opened = Vec::new();
    for (_, _, input, kept) in order {
        let c = match kept {
            Some(c) => c,
            None => match capture::open(&input) {
                Ok(c) => c,
                Err(e) => {
                    a.input_errors.push(e);
                    continue;
                }
            },
        };
        opened.push(c);
    }
    read_in_order(opened, &mut a, opts);
    a
}

/// Everything an audit report needs.
#[derive(Debug)]
pub struct AuditReport {
    /// What was read.
    pub analysis: Analysis,
    /// Hosts and their roles.
    pub hosts: HostTable,
    /// The verdicts.
    pub result: AuditResult,
    /// Where the feature list came from (`inventory FILE`, `--features`, `none given`).
    pub features_from: String,
    /// The rule sets in effect, as `name (N rules)`.
    pub rulesets: Vec<String>,
}

/// Classifies the hosts of an analysis and judges its flows.
pub fn audit(
    analysis: Analysis,
    rules: &RuleSet,
    inventory: Option<&Inventory>,
    features: &[Feature],
    features_from: String,
) -> AuditReport {
    let mut analysis = analysis;
    if analysis.edges.is_empty() && !analysis.flows.is_empty() {
        analysis.edges = EdgeTable::from_flows(&analysis.flows).into_sorted();
    }
    let hosts = classify(
        &analysis.edges,
        &analysis.names,
        inventory,
        &rules.endpoints,
    );
    let result = evaluate(&analysis.edges, &hosts, rules, features);
    let rulesets = rules
        .sets
        .iter()
        .filter_map(|s| {
            let n = rules.rules.iter().filter(|r| r.set == s.name).count();
            (n > 0).then(|| format!("{} ({n} rules)", s.name))
        })
        .collect();
    AuditReport {
        analysis,
        hosts,
        result,
        features_from,
        rulesets,
    }
}
