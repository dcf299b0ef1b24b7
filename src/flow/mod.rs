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

/// A canonical bidirectional flow key: `(a, pa) <= (b, pb)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
/// In the default mode every flow is kept until the end (the `flows` command lists them all, and
/// agrees with tshark's conversations). In folding mode (the audit, live capture) a flow that has
/// ended is folded into its edge's totals and dropped, so memory follows the number of flows open
/// at once plus the number of edges; a packet on the 5-tuple of an ended flow starts a new flow.
#[derive(Debug, Default)]
pub struct FlowTable {
    index: FxHashMap<FlowKey, u32>,
    flows: Vec<Flow>,
    folding: Option<Folding>,
    /// A slot freed by a folded flow, for the next insert to reuse.
    free_slot: Option<usize>,
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
        let mut i = self.flows.len();
        while i > 0 {
            i -= 1;
            if !has_ended(&self.flows[i], now) {
                continue;
            }
            fold.edges.absorb(&self.flows[i]);
            let gone = self.flows.swap_remove(i);
            if self.index.get(&gone.key) == Some(&(i as u32)) {
                self.index.remove(&gone.key);
            }
            if let Some(moved) = self.flows.get(i) {
                let last = self.flows.len() as u32;
                if let Some(slot) = self.index.get_mut(&moved.key) {
                    if *slot == last {
                        *slot = i as u32;
                    }
                }
            }
        }
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
        for f in &self.flows {
            edges.absorb(f);
        }
        edges
    }

    /// The flows in creation order (unsorted), for merging with other tables.
    pub fn into_flows(self) -> Vec<Flow> {
        self.flows
    }

    /// Number of flows (ended and live).
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether no flow was seen.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Every flow, in order of creation.
    pub fn flows(&self) -> &[Flow] {
        &self.flows
    }

    /// Takes the flows out, sorted by first seen, then key (the documented output order).
    pub fn into_sorted(self) -> Vec<Flow> {
        let mut v = self.flows;
        v.sort_by_key(|f| (f.first_ns, f.key, f.orig));
        v
    }

    /// Accounts one decoded packet of `wire_len` bytes seen at `ts`; returns the index of its flow.
    #[inline]
    pub fn add(&mut self, p: &Packet<'_>, ts: i64, wire_len: u32) -> usize {
        self.add_input(&FlowInput::new(p, ts, wire_len))
    }

    /// Accounts one packet in the flow table's own terms; returns the index of its flow.
    #[inline]
    pub fn add_input(&mut self, p: &FlowInput) -> usize {
        let ts = p.ts;
        if let Some(fold) = self.folding.as_mut() {
            fold.now = fold.now.max(ts);
            fold.since_sweep += 1;
            // Sweeping costs a pass over the open flows, so it waits for at least as many
            // packets as there are open flows: amortised, a constant per packet.
            if fold.since_sweep >= SWEEP_EVERY.max(self.flows.len() as u32) {
                let now = fold.now;
                self.sweep(now);
            }
        }
        let key = p.key;
        let side = usize::from(p.side);
        if let Some(err) = p.icmp {
            // The error travels towards the quoted packet's sender.
            let idx = match self.live_index(&key, ts) {
                Some(i) => i,
                None => self.insert(key, p.side, ts),
            };
            let f = &mut self.flows[idx];
            f.count(1 - side, ts, p.wire_len, 0);
            f.icmp_count += 1;
            if f.icmp.is_none()
                || (err.is_unreachable() && !f.icmp.is_some_and(|e| e.is_unreachable()))
            {
                f.icmp = Some(err);
            }
            return idx;
        }
        let is_tcp = key.proto == IpProto::TCP;
        let bare_syn = is_tcp && p.flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
        let idx = match self.live_index(&key, ts) {
            Some(i) => {
                if bare_syn && self.is_reuse(i, side, p.seq) {
                    self.insert(key, p.side, ts)
                } else {
                    i
                }
            }
            None => self.insert(key, p.orig_hint, ts),
        };
        let f = &mut self.flows[idx];
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
        idx
    }

    /// Whether a bare SYN from `side` starts a new connection on the 5-tuple of flow `i`: that side
    /// already sent something, and not this same SYN (a retransmission keeps its sequence number).
    fn is_reuse(&self, i: usize, side: usize, seq: u32) -> bool {
        let f = &self.flows[i];
        if f.packets[side] == 0 {
            return false;
        }
        match f.syn_seq[side] {
            Some(s) => s != seq,
            None => true,
        }
    }

    /// The flow a packet of `key` at `ts` belongs to, if one is open. In folding mode a flow that
    /// has ended is folded first, so the packet starts a new one.
    #[inline]
    fn live_index(&mut self, key: &FlowKey, ts: i64) -> Option<usize> {
        let i = *self.index.get(key)? as usize;
        if let Some(fold) = self.folding.as_mut() {
            if has_ended(&self.flows[i], ts) {
                fold.edges.absorb(&self.flows[i]);
                self.index.remove(key);
                // The slot is reused by the flow `insert` is about to create.
                self.free_slot = Some(i);
                return None;
            }
        }
        Some(i)
    }

    fn insert(&mut self, key: FlowKey, orig: u8, ts: i64) -> usize {
        let flow = Flow::new(key, orig, ts);
        let idx = if let Some(fold) = self.folding.as_mut() {
            // Folding mode keeps one flow per key: a flow replaced by port reuse is folded now.
            if let Some(&old) = self.index.get(&key) {
                fold.edges.absorb(&self.flows[old as usize]);
                self.flows[old as usize] = flow;
                old as usize
            } else if let Some(slot) = self.free_slot.take() {
                self.flows[slot] = flow;
                slot
            } else {
                self.flows.push(flow);
                self.flows.len() - 1
            }
        } else {
            self.flows.push(flow);
            self.flows.len() - 1
        };
        self.index.insert(key, idx as u32);
        idx
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
