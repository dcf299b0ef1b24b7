//! Bytes to headers: from a captured frame to the innermost IP packet and its transport header.
//!
//! The decoder peels the link layer (Ethernet with VLAN/QinQ/MPLS/PPPoE/PBB, Linux cooked SLL and
//! SLL2, BSD loopback, raw IP, PPP, NFLOG, 802.11 behind radiotap or PPI, PKTAP, and a few more),
//! then IPv4 (options, fragments) or IPv6 (extension headers), then tunnels that hide the real
//! endpoints (IP-in-IP, GRE with ERSPAN, VXLAN, Geneve, GTP-U, Teredo, AYIYA), until it reaches the
//! innermost IP header and the TCP, UDP or ICMP header after it. An ICMP error is decoded as a packet
//! of the flow it quotes.
//!
//! The promise, kept the smoltcp way: every length read from the wire is checked before it is used,
//! so no byte sequence can make the decoder panic (a fuzz target and property tests hold us to it).
//! A frame that yields no IP packet is counted by [`Reason`], never dropped silently. Truncated frames
//! give what they can: a TCP header cut short still gives its ports.
//!
//! The decoder does not keep flows; it allocates only in the bounded fragment table.

pub mod dns;
mod frag;
mod ip;
mod link;
pub mod names;
pub mod tls;

use crate::capture::Frame;
use crate::model::{Addr, IpProto, LinkType};
use rustc_hash::FxHashMap;

pub use frag::FragStats;

/// TCP flag bits.
pub mod tcp_flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field significant.
    pub const URG: u8 = 0x20;
}

/// An ICMP or ICMPv6 error that quotes a packet of another flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    /// True for ICMPv6.
    pub v6: bool,
    /// The ICMP type (3 destination unreachable, 11 time exceeded, ...).
    pub kind: u8,
    /// The ICMP code (3 port unreachable, 13 administratively prohibited, ...).
    pub code: u8,
    /// Who sent the error (a router or the destination host).
    pub reporter: Addr,
}

impl IcmpError {
    /// Whether this is "destination unreachable" (ICMP type 3, ICMPv6 type 1).
    pub fn is_unreachable(&self) -> bool {
        (!self.v6 && self.kind == 3) || (self.v6 && self.kind == 1)
    }
}

/// The innermost IP packet of a frame, as the flow table needs it.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// The transport protocol of the innermost IP header.
    pub proto: IpProto,
    /// Source address (for an ICMP error: the source of the quoted packet).
    pub src: Addr,
    /// Destination address (for an ICMP error: the destination of the quoted packet).
    pub dst: Addr,
    /// Source port; for ICMP, the type of the request this message belongs to.
    pub sport: u16,
    /// Destination port; for ICMP, the code.
    pub dport: u16,
    /// TCP flags (0 for other protocols or when the header was cut before them).
    pub tcp_flags: u8,
    /// TCP sequence number, when present.
    pub seq: u32,
    /// Transport payload bytes that were captured (may be fewer than `payload_len`).
    pub payload: &'a [u8],
    /// Transport payload length according to the IP header.
    pub payload_len: u32,
    /// Set when this frame is an ICMP error quoting the packet described by the fields above.
    pub icmp_error: Option<IcmpError>,
    /// Whether the transport header was complete.
    pub complete_header: bool,
}

/// Why a frame gave no packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// A link type we do not decode.
    UnsupportedLinkType,
    /// A frame that carries no IP (ARP, LLDP, spanning tree, 802.11 management, ...).
    NotIp,
    /// The frame was cut before the IP header was complete.
    TruncatedLink,
    /// The IP header was cut short.
    TruncatedIp,
    /// The transport header was cut before its ports.
    TruncatedTransport,
    /// The IP header is invalid (bad version, header length, ...).
    MalformedIp,
    /// An encrypted 802.11 frame.
    Encrypted,
    /// A non-final fragment of a datagram that was reassembled in a later frame.
    FragmentReassembled,
    /// A fragment of a datagram that never completed.
    IncompleteFragment,
}

impl Reason {
    /// Every reason, in report order.
    pub const ALL: [Reason; 9] = [
        Reason::UnsupportedLinkType,
        Reason::NotIp,
        Reason::TruncatedLink,
        Reason::TruncatedIp,
        Reason::TruncatedTransport,
        Reason::MalformedIp,
        Reason::Encrypted,
        Reason::FragmentReassembled,
        Reason::IncompleteFragment,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Reason::UnsupportedLinkType => "unsupported-link-type",
            Reason::NotIp => "not-ip",
            Reason::TruncatedLink => "truncated-link",
            Reason::TruncatedIp => "truncated-ip",
            Reason::TruncatedTransport => "truncated-transport",
            Reason::MalformedIp => "malformed-ip",
            Reason::Encrypted => "encrypted",
            Reason::FragmentReassembled => "fragment-reassembled-later",
            Reason::IncompleteFragment => "incomplete-fragment",
        }
    }

    /// Whether this reason is a problem (as opposed to a frame that rightly has no flow).
    pub fn is_problem(self) -> bool {
        !matches!(self, Reason::NotIp | Reason::FragmentReassembled)
    }
}

/// Counts of frames that gave no packet, by reason, and of unsupported link types.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {
    counts: [u64; Reason::ALL.len()],
    /// Frames of link types we do not decode, by link type.
    pub unsupported_links: FxHashMap<LinkType, u64>,
}

impl DecodeStats {
    /// Frames that gave no packet for this reason.
    pub fn get(&self, r: Reason) -> u64 {
        self.counts[r as usize]
    }

    #[inline]
    fn add(&mut self, r: Reason, n: u64) {
        self.counts[r as usize] += n;
    }

    /// Every reason with a non-zero count.
    pub fn nonzero(&self) -> impl Iterator<Item = (Reason, u64)> + '_ {
        Reason::ALL
            .iter()
            .map(|&r| (r, self.get(r)))
            .filter(|&(_, n)| n > 0)
    }

    /// Frames that gave no packet, all reasons together.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds another capture's counts.
    pub fn merge(&mut self, other: &DecodeStats) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        for (l, n) in &other.unsupported_links {
            *self.unsupported_links.entry(*l).or_default() += n;
        }
    }
}

/// Decodes frames. Holds the (bounded) IP fragment reassembly table and the counts of what could
/// not be decoded.
#[derive(Debug, Default)]
pub struct Decoder {
    frags: frag::FragTable,
    stats: DecodeStats,
    /// In deferring mode, fragments are not reassembled here but handed out in order, for a
    /// [`Reassembler`] that sees the fragments of every chunk of a capture (the parallel engine).
    deferred: Option<Vec<FragEvent>>,
}

/// A fragment, as the decoder saw it, for reassembly elsewhere.
#[derive(Debug, Clone)]
pub struct FragEvent {
    key: frag::FragKey,
    ts_ns: i64,
    offset: u32,
    len: u32,
    more: bool,
    head: Option<Result<Packet<'static>, Reason>>,
    /// The frame's length on the wire.
    pub wire_len: u32,
}

impl FragEvent {
    /// The frame's timestamp.
    pub fn ts_ns(&self) -> i64 {
        self.ts_ns
    }
}

/// Reassembles fragments handed out by deferring decoders, in the order of the capture, exactly as
/// a single decoder would.
#[derive(Debug, Default)]
pub struct Reassembler {
    frags: frag::FragTable,
    stats: DecodeStats,
}

impl Reassembler {
    /// An empty reassembler.
    pub fn new() -> Reassembler {
        Reassembler::default()
    }

    /// Adds a fragment; returns the datagram's packet (without payload) when this fragment
    /// completes it.
    pub fn add(&mut self, ev: FragEvent) -> Option<Packet<'static>> {
        match self.frags.add(ev.key, ev.offset, ev.len, ev.more, ev.head) {
            frag::FragVerdict::Held => None,
            frag::FragVerdict::Complete(Ok(p)) => Some(frag::detach(p)),
            frag::FragVerdict::Complete(Err(r)) => {
                self.stats.add(r, 1);
                None
            }
        }
    }

    /// Ends a capture: what never completed is counted, and the counts returned.
    pub fn finish(&mut self) -> DecodeStats {
        close_fragments(&mut self.frags, &mut self.stats)
    }
}

/// The deepest nesting of tunnels and encapsulations we follow.
const MAX_DEPTH: u8 = 8;

impl Decoder {
    /// A decoder with empty state.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A decoder that hands fragments out (see [`Decoder::take_fragments`]) instead of
    /// reassembling them.
    pub fn deferring() -> Decoder {
        Decoder {
            deferred: Some(Vec::new()),
            ..Decoder::default()
        }
    }

    /// The fragments handed out so far, in order (deferring mode).
    pub fn take_fragments(&mut self) -> Vec<FragEvent> {
        self.deferred
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Whether fragments are waiting to be taken (deferring mode).
    #[inline]
    pub fn fragments_waiting(&self) -> usize {
        self.deferred.as_ref().map_or(0, |v| v.len())
    }

    /// Decodes one frame. Returns the innermost IP packet, or `None` after counting the reason.
    #[inline]
    pub fn decode<'a>(&mut self, frame: &Frame<'a>) -> Option<Packet<'a>> {
        let before = self.fragments_waiting();
        let mut cx = Cx {
            ts_ns: frame.ts_ns,
            frags: &mut self.frags,
            deferred: self.deferred.as_mut(),
            depth: 0,
        };
        let result = link::decode_link(&mut cx, frame.link, frame.data);
        if let Some(v) = self.deferred.as_mut() {
            for ev in &mut v[before..] {
                ev.wire_len = frame.orig_len;
            }
        }
        match result {
            Ok(p) => Some(p),
            // Fragments are accounted for when the input ends (see `finish`).
            Err(Reason::FragmentReassembled) => None,
            Err(r) => {
                if r == Reason::UnsupportedLinkType {
                    *self.stats.unsupported_links.entry(frame.link).or_default() += 1;
                }
                self.stats.add(r, 1);
                None
            }
        }
    }

    /// The counts so far. Call [`Decoder::finish`] first to count fragments that never completed.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Ends the input: fragments still waiting are counted as incomplete, and the counts returned.
    pub fn finish(&mut self) -> DecodeStats {
        close_fragments(&mut self.frags, &mut self.stats)
    }
}

/// Ends a capture's fragment accounting: datagrams still waiting or given up count as incomplete
/// fragments, frames absorbed into completed datagrams as reassembled; the counts are returned and
/// reset.
fn close_fragments(frags: &mut frag::FragTable, stats: &mut DecodeStats) -> DecodeStats {
    let pending = frags.drain_pending();
    stats.add(Reason::IncompleteFragment, pending);
    let fs = frags.stats();
    stats.add(Reason::FragmentReassembled, fs.absorbed_frames);
    stats.add(Reason::IncompleteFragment, fs.evicted_frames);
    frags.reset_stats();
    std::mem::take(stats)
}

/// Per-frame decoding context.
pub(crate) struct Cx<'t> {
    pub ts_ns: i64,
    pub frags: &'t mut frag::FragTable,
    pub deferred: Option<&'t mut Vec<FragEvent>>,
    pub depth: u8,
}

impl Cx<'_> {
    /// Enters one more level of encapsulation, refusing to go deeper than [`MAX_DEPTH`].
    #[inline]
    pub fn deeper(&mut self) -> Result<(), Reason> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(Reason::MalformedIp)
        } else {
            Ok(())
        }
    }
}

/// Reads a big-endian u16 at `at`, if present.
#[inline(always)]
pub(crate) fn be16(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// Reads a big-endian u32 at `at`, if present.
#[inline(always)]
pub(crate) fn be32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests;
