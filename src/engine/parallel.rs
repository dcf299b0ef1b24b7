//! Reading with several threads, with results identical to one thread's.
//!
//! Memory-mapped captures are cut into chunks at record boundaries (found by walking the record
//! headers). Work goes in waves of a few chunks:
//! 1. the chunks of a wave are decoded in parallel; each packet becomes a small [`FlowInput`]
//!    record, put in one of N partitions by the hash of its flow key, with its position in the
//!    chunk; names (DNS, SNI) are collected per chunk; fragments are handed out, not reassembled;
//! 2. one thread merges the chunks' names and counts in chunk order and reassembles the fragments
//!    in capture order (a datagram split across chunks completes exactly where it would in one
//!    pass), putting each completed datagram back at its frame's position;
//! 3. the partitions are applied to their own flow tables in parallel, each in capture order.
//!
//! Every flow key lives in exactly one partition and sees its packets in capture order, so every
//! flow comes out as a single pass would make it; the tables are then concatenated and sorted by
//! the documented output order. Memory stays bounded by the wave, not the file.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use rustc_hash::FxHasher;

use super::{inspect_payload, Analysis, CaptureReport};
use crate::capture::CaptureSummary;
use crate::capture::{Chunk, ChunkReader, OpenCapture};
use crate::decode::names::{NameSource, NameTable};
use crate::decode::{DecodeStats, Decoder, FragEvent, Reassembler};
use crate::flow::edge::EdgeTable;
use crate::flow::{FlowInput, FlowKey, FlowTable};

/// What decoding one chunk gives.
struct ChunkOut {
    /// Per partition: (frame position in the chunk, record), in position order.
    recs: Vec<Vec<(u32, FlowInput)>>,
    /// Fragments handed out, with their frame positions.
    frags: Vec<(u32, FragEvent)>,
    names: NameTable,
    stats: DecodeStats,
    summary: CaptureSummary,
}

#[inline]
fn partition(key: &FlowKey, parts: usize) -> usize {
    let mut h = FxHasher::default();
    key.hash(&mut h);
    (h.finish() % parts as u64) as usize
}

fn decode_chunk(cap: ChunkReader<'_>, chunk: &Chunk, parts: usize) -> ChunkOut {
    let mut dec = Decoder::deferring();
    let mut names = NameTable::new();
    let mut recs: Vec<Vec<(u32, FlowInput)>> = (0..parts).map(|_| Vec::new()).collect();
    let mut frags = Vec::new();
    let mut pos: u32 = 0;
    let summary = cap.read(chunk, |frame| {
        if let Some(p) = dec.decode(frame) {
            let mut input = FlowInput::new(&p, frame.ts_ns, frame.orig_len);
            input.tls = inspect_payload(&p, &mut names);
            recs[partition(&input.key, parts)].push((pos, input));
        }
        // Whatever the frame gave, the fragments it held are taken at its own position.
        if dec.fragments_waiting() > 0 {
            for ev in dec.take_fragments() {
                frags.push((pos, ev));
            }
        }
        pos += 1;
    });
    ChunkOut {
        recs,
        frags,
        names,
        stats: dec.finish(),
        summary,
    }
}

/// Reads mapped captures with `threads` threads (at least 2). The caller has checked that every
/// capture is mapped.
pub(super) fn read(
    opened: Vec<OpenCapture>,
    a: &mut Analysis,
    fold: bool,
    threads: usize,
    chunk_bytes: usize,
    progress: Option<&AtomicU64>,
) {
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        Err(_) => return super::read_sequential(opened, a, fold, progress),
    };
    let parts = threads;
    let mut tables: Vec<FlowTable> = (0..parts)
        .map(|_| {
            if fold {
                FlowTable::folding()
            } else {
                FlowTable::new()
            }
        })
        .collect();
    let mut names = NameTable::new();
    for cap in opened {
        let (Some(plan), Some(reader)) = (cap.plan_chunks(chunk_bytes), cap.chunk_reader()) else {
            continue;
        };
        let mut reasm = Reassembler::new();
        let mut released = 0usize;
        let mut stats = DecodeStats::default();
        let mut parts_summary = Vec::with_capacity(plan.chunks.len());
        for wave in plan.chunks.chunks(threads * 2) {
            let mut outs: Vec<ChunkOut> = pool.install(|| {
                wave.par_iter()
                    .map(|c| decode_chunk(reader, c, parts))
                    .collect()
            });
            for out in &mut outs {
                names.merge(&out.names);
                stats.merge(&out.stats);
                parts_summary.push(std::mem::take(&mut out.summary));
                for (pos, ev) in std::mem::take(&mut out.frags) {
                    let (ts, wire) = (ev_ts(&ev), ev.wire_len);
                    if let Some(p) = reasm.add(ev) {
                        let input = FlowInput::new(&p, ts, wire);
                        let list = &mut out.recs[partition(&input.key, parts)];
                        let at = list.partition_point(|(q, _)| *q < pos);
                        list.insert(at, (pos, input));
                    }
                }
            }
            pool.install(|| {
                tables.par_iter_mut().enumerate().for_each(|(pi, t)| {
                    for out in &outs {
                        for (_, rec) in &out.recs[pi] {
                            t.add_input(rec);
                        }
                    }
                });
            });
            // The wave's bytes are done: count them and let their pages go.
            if let (Some(first), Some(last)) = (wave.first(), wave.last()) {
                if let Some(p) = progress {
                    p.fetch_add((last.end() - first.start()) as u64, Ordering::Relaxed);
                }
                released = cap.release(released, last.end());
            }
        }
        stats.merge(&reasm.finish());
        let summary = cap.summarize(plan, &parts_summary);
        for (addr, name) in &summary.names {
            names.insert(*addr, name, NameSource::Capture);
        }
        a.captures.push(CaptureReport {
            summary,
            decode: stats,
        });
    }
    a.names.merge(&names);
    if fold {
        let mut edges = EdgeTable::new();
        for t in tables {
            edges.merge(t.into_edge_table());
        }
        a.edges = edges.into_sorted();
    } else {
        let mut flows = Vec::new();
        for t in tables {
            flows.extend(t.into_flows());
        }
        flows.sort_by_key(|f| (f.first_ns, f.key, f.orig));
        a.flows = flows;
    }
}

fn ev_ts(ev: &FragEvent) -> i64 {
    ev.ts_ns()
}
