//! IP fragment reassembly, just enough to count a fragmented datagram once, in the frame that
//! completes it (as Wireshark and Zeek do), with the ports its first fragment carried.
//!
//! We never copy payload bytes: an entry remembers which byte ranges arrived, the decoded transport
//! header of the first fragment, and how many frames it absorbed. The table is bounded: when it is
//! full the oldest datagram is given up and its frames counted as incomplete fragments.

use super::{Packet, Reason};
use crate::model::Addr;
use rustc_hash::FxHashMap;

/// Datagrams waiting for fragments, at most.
const MAX_PENDING: usize = 4096;
/// Disjoint byte ranges tracked per datagram; more means a pathological stream, given up.
const MAX_RANGES: usize = 16;

/// Identifies one datagram: addresses, identification, and (for IPv4) protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: Addr,
    pub dst: Addr,
    pub id: u32,
    pub proto: u8,
}

#[derive(Debug)]
struct Entry {
    ranges: [(u32, u32); MAX_RANGES],
    nranges: usize,
    /// End of the datagram, known once the last fragment arrived.
    total: Option<u32>,
    frames: u64,
    head: Option<Result<Packet<'static>, Reason>>,
    broken: bool,
}

impl Entry {
    fn add_range(&mut self, start: u32, end: u32) {
        if start >= end {
            return;
        }
        let (mut s, mut e) = (start, end);
        let mut kept = [(0u32, 0u32); MAX_RANGES];
        let mut n = 0;
        for &(a, b) in &self.ranges[..self.nranges] {
            if b < s || a > e {
                kept[n] = (a, b);
                n += 1;
            } else {
                s = s.min(a);
                e = e.max(b);
            }
        }
        if n == MAX_RANGES {
            self.broken = true;
            return;
        }
        kept[n] = (s, e);
        n += 1;
        self.ranges = kept;
        self.nranges = n;
    }

    fn complete(&self) -> bool {
        match self.total {
            Some(t) => {
                !self.broken
                    && self.ranges[..self.nranges]
                        .iter()
                        .any(|&(a, b)| a == 0 && b >= t)
            }
            None => false,
        }
    }
}

/// The same packet without its borrowed payload, so that it can outlive its frame.
pub(crate) fn detach(p: Packet<'_>) -> Packet<'static> {
    Packet {
        proto: p.proto,
        src: p.src,
        dst: p.dst,
        sport: p.sport,
        dport: p.dport,
        tcp_flags: p.tcp_flags,
        seq: p.seq,
        payload: &[],
        payload_len: p.payload_len,
        icmp_error: p.icmp_error,
        complete_header: p.complete_header,
    }
}

/// What became of a fragment.
pub(crate) enum FragVerdict<'a> {
    /// Kept, waiting for the rest.
    Held,
    /// This frame completed the datagram: its packet (or why the first fragment gave none).
    Complete(Result<Packet<'a>, Reason>),
}

/// Counters of the reassembly table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragStats {
    /// Frames that were fragments of a datagram completed in a later frame.
    pub absorbed_frames: u64,
    /// Frames of datagrams given up because the table was full.
    pub evicted_frames: u64,
}

/// The reassembly table.
#[derive(Debug, Default)]
pub(crate) struct FragTable {
    pending: FxHashMap<FragKey, Entry>,
    /// Keys in the order their datagrams started (completed ones are skipped when met), so that
    /// giving up the oldest costs no scan of the table.
    order: std::collections::VecDeque<FragKey>,
    stats: FragStats,
}

impl FragTable {
    /// Adds a fragment covering `[offset, offset + len)`; `head` is the decoded first fragment.
    pub fn add<'a>(
        &mut self,
        key: FragKey,
        offset: u32,
        len: u32,
        more: bool,
        head: Option<Result<Packet<'a>, Reason>>,
    ) -> FragVerdict<'a> {
        if !self.pending.contains_key(&key) {
            if self.pending.len() >= MAX_PENDING {
                self.evict_oldest();
            }
            self.order.push_back(key);
            if self.order.len() > 4 * MAX_PENDING {
                let pending = &self.pending;
                self.order.retain(|k| pending.contains_key(k));
            }
        }
        let e = self.pending.entry(key).or_insert_with(|| Entry {
            ranges: [(0, 0); MAX_RANGES],
            nranges: 0,
            total: None,
            frames: 0,
            head: None,
            broken: false,
        });
        e.frames += 1;
        e.add_range(offset, offset.saturating_add(len));
        if !more {
            e.total = Some(offset.saturating_add(len));
        }
        if let Some(h) = head {
            // Keep the decoded head without its borrowed payload.
            e.head = Some(h.map(detach));
        }
        if e.complete() {
            let Some(e) = self.pending.remove(&key) else {
                return FragVerdict::Held;
            };
            self.stats.absorbed_frames += e.frames - 1;
            return FragVerdict::Complete(e.head.unwrap_or(Err(Reason::IncompleteFragment)));
        }
        FragVerdict::Held
    }

    fn evict_oldest(&mut self) {
        while let Some(k) = self.order.pop_front() {
            if let Some(e) = self.pending.remove(&k) {
                self.stats.evicted_frames += e.frames;
                return;
            }
        }
    }

    /// Frames of datagrams still waiting; empties the table.
    pub fn drain_pending(&mut self) -> u64 {
        let n = self.pending.values().map(|e| e.frames).sum();
        self.pending.clear();
        self.order.clear();
        n
    }

    /// Counters since the last reset.
    pub fn stats(&self) -> FragStats {
        self.stats
    }

    /// Clears the counters.
    pub fn reset_stats(&mut self) {
        self.stats = FragStats::default();
    }
}
