//! The flow table: who opened what to whom, and what became of it.
//!
//! A flow is a bidirectional 5-tuple. Its key is canonical (the lower address/port pair first) so
//! that both directions find the same entry with one hash lookup; counters are kept per side of
//! the key and turned into originator/responder terms only when the flow is read out. The
//! originator is the side that sent the first SYN, or for UDP and connections already open when the
//! capture began, the sender of the first packet, unless that packet was clearly a reply (from a
//! service port to an ephemeral one, or a SYN-ACK).
//!
//! TCP outcomes follow Zeek's `conn_state` (S0, S1, SF, REJ, ...), from a per-endpoint state machine
//! written from Zeek's documented behaviour, and a Zeek-style `history`. A SYN with a new sequence
//! number on a 5-tuple that already carried traffic from that side starts a new flow (port reuse);
//! a retransmitted SYN does not.
//!
//! Memory grows with the number of flows only: each flow is a fixed-size record, found through an
//! Fx-hashed index.

pub mod edge;
mod state;

use crate::decode::{tcp_flags, IcmpError, Packet};
use crate::model::{Addr, IpProto};
use rustc_hash::FxHashMap;
pub use state::{ConnState, EndpointState, Outcome};
use std::collections::hash_map::Entry;

/// A canonical bidirectional flow key: `(a, pa) <= (b, pb)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// Transport protocol.
    pub proto: IpProto,
    /// The lower endpoint's address.
    pub a: Addr,
    /// The higher endpoint's address.
    pub b: Addr,
    /// The lower endpoint's port (ICMP: request type).
    pub pa: u16,
    /// The higher endpoint's port (ICMP: code).
    pub pb: u16,
}

/// Hashes the key as five words: the derived hash would feed the addresses byte array by byte
/// array with length prefixes, which costs more on the per-packet path than the lookup itself.
impl std::hash::Hash for FlowKey {
    #[inline(always)]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let (a0, a1) = self.a.words();
        let (b0, b1) = self.b.words();
        let tail = u64::from(self.proto.0)
            | u64::from(self.a.is_v6()) << 8
            | u64::from(self.b.is_v6()) << 9
            | u64::from(self.pa) << 16
            | u64::from(self.pb) << 32;
        h.write_u64(a0);
        h.write_u64(a1);
        h.write_u64(b0);
        h.write_u64(b1);
        h.write_u64(tail);
    }
}

impl FlowKey {
    /// The key of a packet and the side (0 = `a`, 1 = `b`) that sent it.
    #[inline]
    pub fn of(proto: IpProto, src: Addr, sport: u16, dst: Addr, dport: u16) -> (FlowKey, usize) {
        if (src, sport) <= (dst, dport) {
            (
                FlowKey {
                    proto,
                    a: src,
                    b: dst,
                    pa: sport,
                    pb: dport,
                },
                0,
            )
        } else {
            (
                FlowKey {
                    proto,
                    a: dst,
                    b: src,
                    pa: dport,
                    pb: sport,
                },
                1,
            )
        }
    }

    /// Address and port of a side.
    pub fn side(&self, s: usize) -> (Addr, u16) {
        if s == 0 {
            (self.a, self.pa)
        } else {
            (self.b, self.pb)
        }
    }
}

/// One flow, as kept in the table. Fixed size; no heap.
#[derive(Debug, Clone)]
pub struct Flow {
    /// The canonical key.
    pub key: FlowKey,
    /// Which side of the key opened the flow (0 = `a`, 1 = `b`).
    pub orig: u8,
    /// First packet, nanoseconds since the epoch.
    pub first_ns: i64,
    /// Last packet.
    pub last_ns: i64,
    /// Packets sent by each side of the key (ICMP errors count for the side they were sent to).
    pub packets: [u64; 2],
    /// Wire bytes sent by each side.
    pub bytes: [u64; 2],
    /// Transport payload bytes sent by each side.
    pub payload: [u64; 2],
    /// TCP flags seen from each side (OR of all).
    pub flags: [u8; 2],
    /// TCP endpoint states of each side.
    pub ep: [EndpointState; 2],
    /// The sequence number of each side's first SYN, when seen.
    syn_seq: [Option<u32>; 2],
    /// History events (side, letter), in order, each at most once.
    history: state::History,
    /// The first ICMP unreachable (or other error) that quoted this flow.
    pub icmp: Option<IcmpError>,
    /// ICMP errors that quoted this flow.
    pub icmp_count: u32,
    /// The highest TLS version a ClientHello from the originator offered (wire code, 0 = none
    /// seen), from the legacy version and the supported_versions extension.
    pub tls_max: u16,
}

impl Flow {
    fn new(key: FlowKey, orig: u8, ts: i64) -> Flow {
        Flow {
            key,
            orig,
            first_ns: ts,
            last_ns: ts,
            packets: [0; 2],
            bytes: [0; 2],
            payload: [0; 2],
            flags: [0; 2],
            ep: [EndpointState::Inactive; 2],
            syn_seq: [None; 2],
            history: state::History::default(),
            icmp: None,
            icmp_count: 0,
            tls_max: 0,
        }
    }

    /// The originator's side index.
    pub fn orig_side(&self) -> usize {
        usize::from(self.orig)
    }

    /// The responder's side index.
    pub fn resp_side(&self) -> usize {
        1 - usize::from(self.orig)
    }

    /// Originator address and port.
    pub fn src(&self) -> (Addr, u16) {
        self.key.side(self.orig_side())
    }

    /// Responder address and port.
    pub fn dst(&self) -> (Addr, u16) {
        self.key.side(self.resp_side())
    }

    /// Packets in both directions.
    pub fn total_packets(&self) -> u64 {
        self.packets[0] + self.packets[1]
    }

    /// Wire bytes in both directions.
    pub fn total_bytes(&self) -> u64 {
        self.bytes[0] + self.bytes[1]
    }

    /// Zeek's `history` string: upper case for the originator, lower case for the responder.
    pub fn history(&self) -> String {
        self.history.render(self.orig)
    }

    /// Zeek's `conn_state`.
    pub fn conn_state(&self) -> ConnState {
        state::conn_state(self)
    }

    /// What happened, in plain words.
    pub fn outcome(&self) -> Outcome {
        state::outcome(self)
    }

    #[inline]
    fn count(&mut self, side: usize, ts: i64, wire: u32, payload: u32) {
        self.packets[side] += 1;
        self.bytes[side] += u64::from(wire);
        self.payload[side] += u64::from(payload);
        if ts < self.first_ns {
            self.first_ns = ts;
        }
        if ts > self.last_ns {
            self.last_ns = ts;
        }
    }
}

/// Ports on which a service listens: a packet from one of these to a port that is not one is a
/// reply, so its receiver opened the flow.
pub fn is_service_port(port: u16) -> bool {
    port < 1024
        || matches!(
            port,
            1433 | 1434
                | 1521
                | 1701
                | 1723
                | 1812
                | 1813
                | 1900
                | 2049
                | 2152
                | 3268
                | 3269
                | 3306
                | 3386
                | 3389
                | 3478
                | 3544
                | 4500
                | 4789
                | 5060
                | 5061
                | 5353
                | 5355
                | 5432
                | 5671
                | 5672
                | 5985
                | 5986
                | 6081
                | 6379
                | 8080
                | 8443
                | 9389
                | 11211
                | 27017
                | 49443
        )
}

/// How long a TCP flow lingers after both sides closed (or one reset) before a packet on its
/// 5-tuple starts a new flow, in folding mode.
pub const CLOSED_LINGER_NS: i64 = 5_000_000_000;
/// How long a TCP flow may be idle before it is taken as ended, in folding mode.
pub const TCP_IDLE_NS: i64 = 300_000_000_000;
/// How long a UDP (or other) flow may be idle before it is taken as ended, in folding mode.
pub const UDP_IDLE_NS: i64 = 120_000_000_000;
/// How far behind the latest packet a sweep looks, in folding mode.
const SWEEP_MARGIN_NS: i64 = 60_000_000_000;
/// Packets between two sweeps for ended flows, in folding mode.
const SWEEP_EVERY: u32 = 1 << 16;

/// Whether a flow has ended by time `now` (folding mode): closed and lingered, or idle too long.
pub fn has_ended(f: &Flow, now: i64) -> bool {
    let idle = now.saturating_sub(f.last_ns);
    if f.key.proto == IpProto::TCP {
        let closed = f.ep.contains(&EndpointState::Reset)
            || f.ep.iter().all(|e| *e == EndpointState::Closed);
        idle > if closed {
            CLOSED_LINGER_NS
        } else {
            TCP_IDLE_NS
        }
    } else {
        idle > UDP_IDLE_NS
    }
}

/// Folding mode: ended flows go into per-edge totals.
#[derive(Debug, Default)]
struct Folding {
    edges: edge::EdgeTable,
    now: i64,
    since_sweep: u32,
    /// Capture time of the last sweep.
    last_sweep: i64,
}

/// One packet as the flow table needs it: small, owned, and the same whether it comes straight
/// from the decoder or through the parallel engine's partitions (which keep these, not frames).
#[derive(Debug, Clone, Copy)]
pub struct FlowInput {
    /// The flow's canonical key.
    pub key: FlowKey,
    /// The side of the key that sent it (for an ICMP error: the sender of the quoted packet).
    pub side: u8,
    /// Who opened the flow, should this packet start one.
    pub orig_hint: u8,
    /// Timestamp, nanoseconds.
    pub ts: i64,
    /// Frame length on the wire.
    pub wire_len: u32,
    /// Transport payload length.
    pub payload_len: u32,
    /// TCP sequence number.
    pub seq: u32,
    /// TCP flags.
    pub flags: u8,
    /// The highest TLS version a ClientHello in this packet offered (0: none).
    pub tls: u16,
    /// Set when the packet is an ICMP error quoting the flow.
    pub icmp: Option<IcmpError>,
}

impl FlowInput {
    /// The flow table's view of a decoded packet.
    #[inline]
    pub fn new(p: &Packet<'_>, ts: i64, wire_len: u32) -> FlowInput {
        let (key, side) = FlowKey::of(p.proto, p.src, p.sport, p.dst, p.dport);
        FlowInput {
            key,
            side: side as u8,
            orig_hint: initial_originator(p, side),
            ts,
            wire_len,
            payload_len: p.payload_len,
            seq: p.seq,
            flags: p.tcp_flags,
            tls: 0,
            icmp: p.icmp_error,
        }
    }
}

/// The flow table.
///
/// Open flows live in the hash map itself, so that a packet costs one lookup that lands on its
/// flow (no second indirection through an index). A flow replaced by port reuse moves to a list of
/// ended flows. In the default mode every flow is kept until the end (the `flows` command lists
/// them all, and agrees with tshark's conversations). In folding mode (the audit, live capture) a
/// flow that has ended is folded into its edge's totals and dropped, so memory follows the number
/// of flows open at once plus the number of edges; a packet on the 5-tuple of an ended flow starts
/// a new flow.
#[derive(Debug, Default)]
pub struct FlowTable {
    open: FxHashMap<FlowKey, Flow>,
    ended: Vec<Flow>,
    folding: Option<Folding>,
}

impl FlowTable {
    /// An empty table that keeps every flow.
    pub fn new() -> FlowTable {
        FlowTable::default()
    }

    /// An empty table that folds ended flows into per-edge totals.
    pub fn folding() -> FlowTable {
        FlowTable {
            folding: Some(Folding::default()),
            ..FlowTable::default()
        }
    }

    /// Folds every flow that has ended by `now` into its edge (folding mode only).
    pub fn sweep(&mut self, now: i64) {
        let Some(fold) = self.folding.as_mut() else {
            return;
        };
        fold.last_sweep = fold.now;
        let edges = &mut fold.edges;
        self.open.retain(|_, f| {
            if has_ended(f, now) {
                edges.absorb(f);
                false
            } else {
                true
            }
        });
        fold.since_sweep = 0;
    }

    /// Ends the table in folding mode: every flow folded, the edges sorted by key. In the default
    /// mode, the flows are folded all the same.
    pub fn into_edges(self) -> Vec<edge::Edge> {
        self.into_edge_table().into_sorted()
    }

    /// Like [`FlowTable::into_edges`], unsorted, for merging with other tables.
    pub fn into_edge_table(mut self) -> edge::EdgeTable {
        let mut edges = self.folding.take().map(|f| f.edges).unwrap_or_default();
        for f in self.ended.iter().chain(self.open.values()) {
            edges.absorb(f);
        }
        edges
    }

    /// The flows, unsorted, for merging with other tables. Flows of one key come in the order
    /// they were made.
    pub fn into_flows(self) -> Vec<Flow> {
        let mut v = self.ended;
        v.extend(self.open.into_values());
        v
    }

    /// Number of flows held (open, and ended ones kept in the default mode).
    pub fn len(&self) -> usize {
        self.open.len() + self.ended.len()
    }

    /// Whether no flow is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the flows out, sorted by first seen, then key (the documented output order). Flows
    /// of one key never share a first-seen time and originator, so the order is total.
    pub fn into_sorted(self) -> Vec<Flow> {
        let mut v = self.into_flows();
        v.sort_by_key(|f| (f.first_ns, f.key, f.orig));
        v
    }

    /// Accounts one decoded packet of `wire_len` bytes seen at `ts`.
    #[inline]
    pub fn add(&mut self, p: &Packet<'_>, ts: i64, wire_len: u32) {
        self.add_input(&FlowInput::new(p, ts, wire_len))
    }

    /// Accounts one packet in the flow table's own terms.
    #[inline]
    pub fn add_input(&mut self, p: &FlowInput) {
        let ts = p.ts;
        if let Some(fold) = self.folding.as_mut() {
            fold.now = fold.now.max(ts);
            fold.since_sweep += 1;
            // Sweeping costs a pass over the open flows, so it waits for at least as many
            // packets as there are open flows (amortised, a constant per packet), and for capture
            // time to move on by the shortest linger (before that, nothing new can have ended).
            if fold.since_sweep >= SWEEP_EVERY.max(self.open.len() as u32)
                && fold.now.saturating_sub(fold.last_sweep) >= CLOSED_LINGER_NS
            {
                // Sweep as of a minute ago: a flow folded then would also have ended for any
                // packet less than a minute out of order, so when (and in which partition) sweeps
                // happen never changes the results, even where timestamps step back (overlapping
                // interfaces or files).
                let now = fold.now.saturating_sub(SWEEP_MARGIN_NS);
                self.sweep(now);
            }
        }
        let key = p.key;
        let side = usize::from(p.side);
        let is_tcp = key.proto == IpProto::TCP;
        let bare_syn = p.icmp.is_none()
            && is_tcp
            && p.flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
        // The flow this packet belongs to: the open one, unless it has ended (folding mode) or
        // this SYN starts a new connection on the same 5-tuple. One hash lookup either way.
        let f = match self.open.entry(key) {
            Entry::Occupied(o) => {
                let o = o.into_mut();
                let ended = self.folding.is_some() && has_ended(o, ts);
                if ended || (bare_syn && is_reuse(o, side, p.seq)) {
                    // A new connection by port reuse is opened by the SYN's sender; a flow after
                    // an ended one is judged from its first packet, like any new flow.
                    let orig = if ended { p.orig_hint } else { p.side };
                    let old = std::mem::replace(o, Flow::new(key, orig, ts));
                    match self.folding.as_mut() {
                        Some(fold) => fold.edges.absorb(&old),
                        None => self.ended.push(old),
                    }
                }
                o
            }
            // An ICMP error that opens a flow is judged from the header it quotes, so a late
            // reply met by port unreachable stays the client's flow.
            Entry::Vacant(v) => v.insert(Flow::new(key, p.orig_hint, ts)),
        };
        if let Some(err) = p.icmp {
            // The error travels towards the quoted packet's sender.
            f.count(1 - side, ts, p.wire_len, 0);
            f.icmp_count += 1;
            if f.icmp.is_none()
                || (err.is_unreachable() && !f.icmp.is_some_and(|e| e.is_unreachable()))
            {
                f.icmp = Some(err);
            }
            return;
        }
        f.count(side, ts, p.wire_len, p.payload_len);
        if is_tcp {
            if bare_syn && f.syn_seq[side].is_none() {
                f.syn_seq[side] = Some(p.seq);
            }
            f.flags[side] |= p.flags;
            state::tcp_packet(f, side, p.flags, p.payload_len);
        } else {
            state::other_packet(f, side);
        }
        if p.tls != 0 {
            f.tls_max = f.tls_max.max(p.tls);
        }
    }
}

/// Whether a bare SYN from `side` starts a new connection on the 5-tuple of flow `f`: that side
/// already sent something, and not this same SYN (a retransmission keeps its sequence number).
fn is_reuse(f: &Flow, side: usize, seq: u32) -> bool {
    if f.packets[side] == 0 {
        return false;
    }
    match f.syn_seq[side] {
        Some(s) => s != seq,
        None => true,
    }
}

/// Who opened a flow, judged from its first packet (sent by `side`).
fn initial_originator(p: &Packet<'_>, side: usize) -> u8 {
    let sender = side as u8;
    let receiver = 1 - sender;
    if p.proto == IpProto::TCP {
        let syn = p.tcp_flags & tcp_flags::SYN != 0;
        let ack = p.tcp_flags & tcp_flags::ACK != 0;
        if syn && !ack {
            return sender;
        }
        if syn && ack {
            return receiver;
        }
    }
    if p.proto.has_ports() && is_service_port(p.sport) && !is_service_port(p.dport) {
        return receiver;
    }
    sender
}

#[cfg(test)]
mod tests;
