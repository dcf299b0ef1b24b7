//! Per-edge totals: everything the audit needs of the flows from one host to another on one
//! service, folded together.
//!
//! An edge is (transport, originator address, responder address, responder port). Ended flows are
//! folded into their edge and dropped from the flow table, so that an audit of a week of traffic
//! holds one record per edge and the flows still open, never one per connection. Totals are kept
//! per outcome, so that a blocked finding counts only the failed attempts and an ok finding only
//! the answered ones.

use super::{ConnState, Flow, Outcome};
use crate::decode::IcmpError;
use crate::model::{Addr, IpProto};
use rustc_hash::FxHashMap;

/// The key of an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EdgeKey {
    /// Transport.
    pub proto: IpProto,
    /// Who opened the flows.
    pub orig: Addr,
    /// Who answered (or should have).
    pub resp: Addr,
    /// The responder's port (ICMP: request type).
    pub port: u16,
}

/// Totals of the flows of one outcome (or one TLS class).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Flows.
    pub flows: u64,
    /// Packets, both directions.
    pub packets: u64,
    /// Wire bytes, both directions.
    pub bytes: u64,
    /// First packet of the first flow (`i64::MAX` when there is none).
    first: i64,
    /// Last packet of the last flow (`i64::MIN` when there is none).
    last: i64,
}

impl Default for Totals {
    fn default() -> Totals {
        Totals {
            flows: 0,
            packets: 0,
            bytes: 0,
            first: i64::MAX,
            last: i64::MIN,
        }
    }
}

impl Totals {
    /// First packet of the first flow.
    pub fn first_ns(&self) -> Option<i64> {
        (self.flows > 0).then_some(self.first)
    }

    /// Last packet of the last flow.
    pub fn last_ns(&self) -> Option<i64> {
        (self.flows > 0).then_some(self.last)
    }

    fn add_flow(&mut self, f: &Flow) {
        self.flows += 1;
        self.packets += f.total_packets();
        self.bytes += f.total_bytes();
        self.first = self.first.min(f.first_ns);
        self.last = self.last.max(f.last_ns);
    }

    /// Adds other totals.
    pub fn merge(&mut self, o: &Totals) {
        self.flows += o.flows;
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
    }
}

/// How one failed attempt failed: kept for a few flows per edge, as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Refused, unanswered or unreachable.
    pub outcome: Outcome,
    /// Zeek state of the flow.
    pub state: ConnState,
    /// First packet.
    pub first_ns: i64,
    /// Last packet.
    pub last_ns: i64,
    /// Packets the originator sent (attempts).
    pub orig_packets: u64,
    /// The ICMP error, if one came back.
    pub icmp: Option<IcmpError>,
}

/// TLS versions against which hellos are classed: flows whose ClientHello offered nothing at or
/// above 1.1, 1.2, 1.3.
pub const TLS_CLASSES: [u16; 3] = [0x0302, 0x0303, 0x0304];

/// Failures kept per edge.
const FAILURE_SAMPLES: usize = 4;

/// One edge's totals.
#[derive(Debug, Clone)]
pub struct Edge {
    /// The key.
    pub key: EdgeKey,
    /// Totals by outcome, indexed by [`Outcome`] order (answered, refused, unanswered,
    /// unreachable, midstream).
    pub by_outcome: [Totals; 5],
    /// Flows in which the responder sent something back.
    pub answered_flows: u64,
    /// Totals of flows whose hello offered nothing at or above each of [`TLS_CLASSES`].
    pub tls_below: [Totals; 3],
    /// The lowest "highest version offered" among the flows' ClientHellos (0: none seen).
    pub tls_lowest: u16,
    /// The earliest few failed attempts, as evidence (allocated only for edges that failed).
    pub failures: Vec<Failure>,
}

fn outcome_index(o: Outcome) -> usize {
    match o {
        Outcome::Answered => 0,
        Outcome::Refused => 1,
        Outcome::Unanswered => 2,
        Outcome::Unreachable => 3,
        Outcome::Midstream => 4,
    }
}

/// Outcomes in index order.
pub const OUTCOMES: [Outcome; 5] = [
    Outcome::Answered,
    Outcome::Refused,
    Outcome::Unanswered,
    Outcome::Unreachable,
    Outcome::Midstream,
];

impl Edge {
    fn new(key: EdgeKey) -> Edge {
        Edge {
            key,
            by_outcome: [Totals::default(); 5],
            answered_flows: 0,
            tls_below: [Totals::default(); 3],
            tls_lowest: 0,
            failures: Vec::new(),
        }
    }

    /// The edge key of a flow.
    pub fn key_of(f: &Flow) -> EdgeKey {
        let (orig, _) = f.src();
        let (resp, port) = f.dst();
        EdgeKey {
            proto: f.key.proto,
            orig,
            resp,
            port,
        }
    }

    /// Folds one flow in.
    pub fn absorb(&mut self, f: &Flow) {
        let o = f.outcome();
        self.by_outcome[outcome_index(o)].add_flow(f);
        if f.packets[f.resp_side()] > f.icmp_count as u64 && o != Outcome::Refused {
            self.answered_flows += 1;
        }
        if f.tls_max != 0 {
            self.tls_lowest = if self.tls_lowest == 0 {
                f.tls_max
            } else {
                self.tls_lowest.min(f.tls_max)
            };
            for (i, &c) in TLS_CLASSES.iter().enumerate() {
                if f.tls_max < c {
                    self.tls_below[i].add_flow(f);
                }
            }
        }
        if o.is_failure() {
            self.keep_failure(Failure {
                outcome: o,
                state: f.conn_state(),
                first_ns: f.first_ns,
                last_ns: f.last_ns,
                orig_packets: f.packets[f.orig_side()],
                icmp: f.icmp,
            });
        }
    }

    /// Keeps the earliest failures (by time, then outcome and attempts), whatever order flows are
    /// folded in, so that results never depend on when or where a flow was folded.
    fn keep_failure(&mut self, new: Failure) {
        let rank = |f: &Failure| {
            (
                f.first_ns,
                f.last_ns,
                outcome_index(f.outcome),
                f.orig_packets,
            )
        };
        if self.failures.len() == FAILURE_SAMPLES
            && self.failures.last().is_some_and(|l| rank(l) <= rank(&new))
        {
            return;
        }
        let at = self.failures.partition_point(|f| rank(f) <= rank(&new));
        self.failures.insert(at, new);
        self.failures.truncate(FAILURE_SAMPLES);
    }

    /// Totals of one outcome.
    pub fn outcome(&self, o: Outcome) -> &Totals {
        &self.by_outcome[outcome_index(o)]
    }

    /// Totals of every flow.
    pub fn all(&self) -> Totals {
        let mut t = Totals::default();
        for x in &self.by_outcome {
            t.merge(x);
        }
        t
    }

    /// Totals of the failed flows (refused, unanswered, unreachable).
    pub fn failed(&self) -> Totals {
        let mut t = Totals::default();
        for o in [Outcome::Refused, Outcome::Unanswered, Outcome::Unreachable] {
            t.merge(self.outcome(o));
        }
        t
    }

    /// Totals of the flows that did not fail (answered, midstream).
    pub fn succeeded(&self) -> Totals {
        let mut t = *self.outcome(Outcome::Answered);
        t.merge(self.outcome(Outcome::Midstream));
        t
    }

    /// Totals of flows whose hello offered nothing at or above `version` (one of [`TLS_CLASSES`]).
    pub fn tls_below(&self, version: u16) -> Option<&Totals> {
        TLS_CLASSES
            .iter()
            .position(|&c| c == version)
            .map(|i| &self.tls_below[i])
    }

    /// Adds another edge's totals (same key).
    pub fn merge(&mut self, o: &Edge) {
        for (a, b) in self.by_outcome.iter_mut().zip(&o.by_outcome) {
            a.merge(b);
        }
        for (a, b) in self.tls_below.iter_mut().zip(&o.tls_below) {
            a.merge(b);
        }
        self.answered_flows += o.answered_flows;
        if o.tls_lowest != 0 && (self.tls_lowest == 0 || o.tls_lowest < self.tls_lowest) {
            self.tls_lowest = o.tls_lowest;
        }
        for f in &o.failures {
            self.keep_failure(*f);
        }
    }
}

/// Edges by key.
#[derive(Debug, Default, Clone)]
pub struct EdgeTable {
    edges: FxHashMap<EdgeKey, Edge>,
}

impl EdgeTable {
    /// An empty table.
    pub fn new() -> EdgeTable {
        EdgeTable::default()
    }

    /// Folds a flow into its edge.
    pub fn absorb(&mut self, f: &Flow) {
        let k = Edge::key_of(f);
        self.edges
            .entry(k)
            .or_insert_with(|| Edge::new(k))
            .absorb(f);
    }

    /// Number of edges.
    pub fn len(&self) -> usize {
        self.edges.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// The edges, sorted by key. Keys are sorted apart from the (large) edges, which then move
    /// into place once each, without a second buffer.
    pub fn into_sorted(self) -> Vec<Edge> {
        let mut v: Vec<Edge> = self.edges.into_values().collect();
        let mut order: Vec<(EdgeKey, u32)> = v
            .iter()
            .enumerate()
            .map(|(i, e)| (e.key, i as u32))
            .collect();
        order.sort_unstable();
        // `order[i].1` is where the edge that belongs at `i` sits now; follow each cycle.
        let mut src: Vec<u32> = order.into_iter().map(|(_, i)| i).collect();
        for i in 0..src.len() {
            let mut cur = i;
            while src[cur] as usize != i {
                let next = src[cur] as usize;
                v.swap(cur, next);
                src[cur] = cur as u32;
                cur = next;
            }
            src[cur] = cur as u32;
        }
        v
    }

    /// Adds another table's edges (the totals of the same edge are summed).
    pub fn merge(&mut self, other: EdgeTable) {
        for (k, e) in other.edges {
            match self.edges.get_mut(&k) {
                Some(mine) => mine.merge(&e),
                None => {
                    self.edges.insert(k, e);
                }
            }
        }
    }

    /// Folds every flow of a list.
    pub fn from_flows(flows: &[Flow]) -> EdgeTable {
        let mut t = EdgeTable::new();
        for f in flows {
            t.absorb(f);
        }
        t
    }
}
