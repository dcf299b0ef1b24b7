//! Frame encoders: link layer, IPv4/IPv6, TCP/UDP/ICMP, with real checksums.
//!
//! Why: flowaudit's decoder must cope with every link type and tagging it
//! meets in real captures (Ethernet with 802.1Q or QinQ tags, Linux cooked
//! captures v1 and v2 from `tcpdump -i any`, raw IP from tunnels and
//! firewalls). Tests need frames of each kind whose headers are exactly
//! right: correct lengths, IPv4 header checksums, TCP/UDP/ICMP checksums over
//! the pseudo-header, and ICMP errors that quote the offending packet the way
//! routers do. Builders append to a caller-supplied `Vec<u8>` so one buffer
//! can be reused for millions of packets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::BitOr;

use super::{Result, SynthError};

/// Link type: Ethernet II (`LINKTYPE_ETHERNET`).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Link type: raw IPv4/IPv6, no link header (`LINKTYPE_RAW`).
pub const LINKTYPE_RAW: u32 = 101;
/// Link type: Linux cooked capture v1 (`LINKTYPE_LINUX_SLL`).
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// Link type: Linux cooked capture v2 (`LINKTYPE_LINUX_SLL2`).
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// TPID of an 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// TPID of an 802.1ad (QinQ) service tag.
pub const ETHERTYPE_QINQ: u16 = 0x88a8;

/// IP protocol number of ICMP.
pub const IPPROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// IP protocol number (next header) of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;

/// A 48-bit MAC address.
pub type Mac = [u8; 6];

/// Deterministic, locally administered MAC address for a host address.
///
/// IPv4 `a.b.c.d` maps to `02:00:a:b:c:d`; IPv6 maps to `02:06` followed by
/// the last four address bytes. Two IPv6 hosts sharing their low 32 bits
/// share a MAC, which is harmless for synthetic traffic.
pub fn mac_for_ip(ip: IpAddr) -> Mac {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            [0x02, 0x00, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            [0x02, 0x06, o[12], o[13], o[14], o[15]]
        }
    }
}

/// The Ethernet broadcast address.
pub const BROADCAST_MAC: Mac = [0xff; 6];

/// Destination MAC of a frame sent to a broadcast or multicast address.
///
/// IPv4 multicast maps to `01:00:5e` plus the group's low 23 bits (RFC
/// 1112), IPv6 multicast to `33:33` plus its low 32 bits (RFC 2464); any
/// other address (the limited broadcast or a subnet's directed broadcast,
/// which only the caller can recognise) gets [`BROADCAST_MAC`].
pub fn group_mac(ip: IpAddr) -> Mac {
    match ip {
        IpAddr::V4(a) if a.is_multicast() => {
            let o = a.octets();
            [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
        }
        IpAddr::V6(a) if a.is_multicast() => {
            let o = a.octets();
            [0x33, 0x33, o[12], o[13], o[14], o[15]]
        }
        _ => BROADCAST_MAC,
    }
}

/// How frames are encapsulated below IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Encap {
    /// Plain Ethernet II.
    Ethernet,
    /// Ethernet with one 802.1Q tag (VLAN id, 12 bits).
    Vlan(u16),
    /// Ethernet with an 802.1ad outer tag (TPID 0x88a8) and an 802.1Q inner tag.
    QinQ {
        /// Service (outer) VLAN id.
        outer: u16,
        /// Customer (inner) VLAN id.
        inner: u16,
    },
    /// Linux cooked capture v1 (16-byte header).
    Sll,
    /// Linux cooked capture v2 (20-byte header) with this interface index.
    Sll2 {
        /// Interface index written in the header.
        if_index: u32,
    },
    /// No link header at all.
    RawIp,
}

impl Encap {
    /// Link type of frames built with this encapsulation.
    pub fn link_type(self) -> u32 {
        match self {
            Encap::Ethernet | Encap::Vlan(_) | Encap::QinQ { .. } => LINKTYPE_ETHERNET,
            Encap::Sll => LINKTYPE_LINUX_SLL,
            Encap::Sll2 { .. } => LINKTYPE_LINUX_SLL2,
            Encap::RawIp => LINKTYPE_RAW,
        }
    }

    /// Length of the link header in bytes.
    pub fn header_len(self) -> usize {
        match self {
            Encap::Ethernet => 14,
            Encap::Vlan(_) => 18,
            Encap::QinQ { .. } => 22,
            Encap::Sll => 16,
            Encap::Sll2 { .. } => 20,
            Encap::RawIp => 0,
        }
    }
}

/// Direction of a frame relative to the capturing host (Linux cooked
/// captures record it as the packet type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the capturing host (`PACKET_OUTGOING`, 4).
    Outgoing,
    /// Addressed to the capturing host (`PACKET_HOST`, 0).
    Incoming,
}

impl Direction {
    fn packet_type(self) -> u8 {
        match self {
            Direction::Outgoing => 4,
            Direction::Incoming => 0,
        }
    }
}

/// Link-layer parameters of one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// Encapsulation.
    pub encap: Encap,
    /// Source MAC (also the SLL/SLL2 link-layer address).
    pub src_mac: Mac,
    /// Destination MAC (Ethernet only).
    pub dst_mac: Mac,
    /// Direction, for the SLL/SLL2 packet type.
    pub direction: Direction,
}

/// Appends the link header for `link` carrying `ethertype`.
pub fn write_link_header(buf: &mut Vec<u8>, link: &LinkInfo, ethertype: u16) {
    fn tag(buf: &mut Vec<u8>, tpid: u16, vid: u16) {
        buf.extend_from_slice(&tpid.to_be_bytes());
        buf.extend_from_slice(&(vid & 0x0fff).to_be_bytes()); // PCP 0, DEI 0
    }
    match link.encap {
        Encap::Ethernet | Encap::Vlan(_) | Encap::QinQ { .. } => {
            buf.extend_from_slice(&link.dst_mac);
            buf.extend_from_slice(&link.src_mac);
            match link.encap {
                Encap::Vlan(id) => tag(buf, ETHERTYPE_VLAN, id),
                Encap::QinQ { outer, inner } => {
                    tag(buf, ETHERTYPE_QINQ, outer);
                    tag(buf, ETHERTYPE_VLAN, inner);
                }
                _ => {}
            }
            buf.extend_from_slice(&ethertype.to_be_bytes());
        }
        Encap::Sll => {
            buf.extend_from_slice(&u16::from(link.direction.packet_type()).to_be_bytes());
            buf.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            buf.extend_from_slice(&6u16.to_be_bytes()); // address length
            buf.extend_from_slice(&link.src_mac);
            buf.extend_from_slice(&[0, 0]); // address padded to 8 bytes
            buf.extend_from_slice(&ethertype.to_be_bytes());
        }
        Encap::Sll2 { if_index } => {
            buf.extend_from_slice(&ethertype.to_be_bytes());
            buf.extend_from_slice(&[0, 0]); // reserved
            buf.extend_from_slice(&if_index.to_be_bytes());
            buf.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            buf.push(link.direction.packet_type());
            buf.push(6); // address length
            buf.extend_from_slice(&link.src_mac);
            buf.extend_from_slice(&[0, 0]);
        }
        Encap::RawIp => {}
    }
}

/// Internet checksum (RFC 1071) accumulator; data may arrive in pieces of
/// any length (odd-length pieces are handled).
#[derive(Clone, Copy, Debug, Default)]
pub struct Checksum {
    sum: u64,
    odd: Option<u8>,
}

impl Checksum {
    /// Empty accumulator.
    pub fn new() -> Self {
        Checksum::default()
    }

    /// Adds bytes as if they followed the previously added ones.
    pub fn add(&mut self, mut data: &[u8]) -> &mut Self {
        if let Some(hi) = self.odd.take() {
            match data.split_first() {
                Some((&lo, rest)) => {
                    self.sum += u64::from(u16::from_be_bytes([hi, lo]));
                    data = rest;
                }
                None => {
                    self.odd = Some(hi);
                    return self;
                }
            }
        }
        let mut chunks = data.chunks_exact(2);
        for c in &mut chunks {
            self.sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            self.odd = Some(*last);
        }
        self
    }

    /// The one's complement of the folded one's complement sum.
    pub fn finish(&self) -> u16 {
        let mut s = self.sum;
        if let Some(hi) = self.odd {
            s += u64::from(hi) << 8;
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }
}

/// Internet checksum of one buffer. Recomputing it over data that already
/// contains a correct checksum yields 0.
pub fn internet_checksum(data: &[u8]) -> u16 {
    Checksum::new().add(data).finish()
}

fn pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Checksum {
    let mut c = Checksum::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            c.add(&s.octets()).add(&d.octets());
            c.add(&[0, proto]).add(&(len as u16).to_be_bytes());
        }
        _ => {
            c.add(&ip_octets16(src)).add(&ip_octets16(dst));
            c.add(&(len as u32).to_be_bytes()).add(&[0, 0, 0, proto]);
        }
    }
    c
}

fn ip_octets16(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

/// Checksum of a transport segment including its pseudo-header; 0 means a
/// segment whose checksum field is correct.
pub fn transport_checksum(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    pseudo_header(src, dst, proto, segment.len())
        .add(segment)
        .finish()
}

/// TCP flag bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronise sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// Acknowledgment field significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// Urgent pointer significant.
    pub const URG: TcpFlags = TcpFlags(0x20);

    /// True if every bit of `other` is set.
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// TCP options written on SYN segments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Maximum segment size option.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub window_scale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
}

impl TcpOptions {
    /// Options of a typical Windows SYN: MSS, NOP, WS, NOP, NOP, SACK_PERM.
    pub fn syn(mss: u16) -> Self {
        TcpOptions {
            mss: Some(mss),
            window_scale: Some(8),
            sack_permitted: true,
        }
    }

    fn encoded_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.window_scale.is_some() {
            n += 4;
        }
        if self.sack_permitted {
            n += 4;
        }
        n
    }

    fn write(&self, buf: &mut Vec<u8>) {
        if let Some(mss) = self.mss {
            buf.extend_from_slice(&[2, 4]);
            buf.extend_from_slice(&mss.to_be_bytes());
        }
        if let Some(ws) = self.window_scale {
            buf.extend_from_slice(&[1, 3, 3, ws]);
        }
        if self.sack_permitted {
            buf.extend_from_slice(&[1, 1, 4, 2]);
        }
    }
}

/// TCP header fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Receive window (unscaled field value).
    pub window: u16,
    /// Options (normally only on SYN segments).
    pub options: TcpOptions,
}

/// ICMP destination-unreachable reasons, with their ICMPv4 and ICMPv6 codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Unreachable {
    /// Network unreachable (v4 code 0; v6 code 0 "no route").
    Net,
    /// Host unreachable (v4 code 1; v6 code 3 "address unreachable").
    Host,
    /// Port unreachable (v4 code 3; v6 code 4).
    Port,
    /// Communication administratively prohibited (v4 code 13; v6 code 1).
    AdminProhibited,
}

impl Unreachable {
    /// ICMPv4 code (type 3).
    pub fn icmpv4_code(self) -> u8 {
        match self {
            Unreachable::Net => 0,
            Unreachable::Host => 1,
            Unreachable::Port => 3,
            Unreachable::AdminProhibited => 13,
        }
    }

    /// ICMPv6 code (type 1).
    pub fn icmpv6_code(self) -> u8 {
        match self {
            Unreachable::Net => 0,
            Unreachable::Host => 3,
            Unreachable::Port => 4,
            Unreachable::AdminProhibited => 1,
        }
    }

    /// Maps an ICMPv4 destination-unreachable code (0, 1, 3, 13).
    pub fn from_icmpv4_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Unreachable::Net),
            1 => Some(Unreachable::Host),
            3 => Some(Unreachable::Port),
            13 => Some(Unreachable::AdminProhibited),
            _ => None,
        }
    }
}

/// Transport-layer content of an IP packet.
#[derive(Clone, Copy, Debug)]
pub enum Transport<'a> {
    /// A TCP segment.
    Tcp {
        /// Header fields.
        header: TcpHeader,
        /// Segment payload.
        payload: &'a [u8],
    },
    /// A UDP datagram.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Datagram payload.
        payload: &'a [u8],
    },
    /// ICMP (IPv4) or ICMPv6 (IPv6) destination unreachable.
    DestUnreachable {
        /// Reason.
        reason: Unreachable,
        /// Quoted bytes of the offending packet (see [`icmp_quote`]).
        quoted: &'a [u8],
    },
}

impl Transport<'_> {
    fn len(&self) -> usize {
        match self {
            Transport::Tcp { header, payload } => 20 + header.options.encoded_len() + payload.len(),
            Transport::Udp { payload, .. } => 8 + payload.len(),
            Transport::DestUnreachable { quoted, .. } => 8 + quoted.len(),
        }
    }

    fn protocol(&self, v6: bool) -> u8 {
        match self {
            Transport::Tcp { .. } => IPPROTO_TCP,
            Transport::Udp { .. } => IPPROTO_UDP,
            Transport::DestUnreachable { .. } if v6 => IPPROTO_ICMPV6,
            Transport::DestUnreachable { .. } => IPPROTO_ICMP,
        }
    }
}

/// IP-layer parameters of one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpInfo {
    /// Source address.
    pub src: IpAddr,
    /// Destination address (same family as `src`).
    pub dst: IpAddr,
    /// TTL / hop limit.
    pub ttl: u8,
    /// IPv4 identification (ignored for IPv6).
    pub ident: u16,
    /// IPv4 don't-fragment flag (ignored for IPv6).
    pub dont_fragment: bool,
    /// IPv6 flow label (20 bits; ignored for IPv4).
    pub flow_label: u32,
}

impl IpInfo {
    /// Parameters with TTL 64, identification 0, DF set, flow label 0.
    pub fn new(src: IpAddr, dst: IpAddr) -> Self {
        IpInfo {
            src,
            dst,
            ttl: 64,
            ident: 0,
            dont_fragment: true,
            flow_label: 0,
        }
    }
}

/// How much of an offending IP packet an ICMP error quotes: for IPv4 the IP
/// header plus the first 8 payload bytes (RFC 792), for IPv6 as much as fits
/// in a 1280-byte error (RFC 4443).
pub fn icmp_quote(ip_packet: &[u8]) -> &[u8] {
    match ip_packet.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = usize::from(ip_packet[0] & 0x0f) * 4;
            &ip_packet[..ip_packet.len().min(ihl + 8)]
        }
        _ => &ip_packet[..ip_packet.len().min(1280 - 48)],
    }
}

/// Appends an IP packet (header, transport header, payload) to `buf`.
///
/// Errors: `src`/`dst` of different families, or a packet too large for the
/// IP length fields.
pub fn write_ip_packet(buf: &mut Vec<u8>, ip: &IpInfo, transport: &Transport<'_>) -> Result<()> {
    let tlen = transport.len();
    match (ip.src, ip.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            if tlen + 20 > usize::from(u16::MAX) {
                return Err(SynthError::PacketTooLarge(tlen));
            }
            write_ipv4_header(buf, s, d, transport.protocol(false), tlen, ip);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            if tlen > usize::from(u16::MAX) {
                return Err(SynthError::PacketTooLarge(tlen));
            }
            write_ipv6_header(buf, s, d, transport.protocol(true), tlen, ip);
        }
        (a, b) => return Err(SynthError::FamilyMismatch(a, b)),
    }
    let start = buf.len();
    let v6 = ip.src.is_ipv6();
    match transport {
        Transport::Tcp { header, payload } => {
            let hlen = 20 + header.options.encoded_len();
            buf.extend_from_slice(&header.src_port.to_be_bytes());
            buf.extend_from_slice(&header.dst_port.to_be_bytes());
            buf.extend_from_slice(&header.seq.to_be_bytes());
            buf.extend_from_slice(&header.ack.to_be_bytes());
            buf.push(((hlen / 4) as u8) << 4);
            buf.push(header.flags.0);
            buf.extend_from_slice(&header.window.to_be_bytes());
            buf.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
            header.options.write(buf);
            buf.extend_from_slice(payload);
            let ck = transport_checksum(ip.src, ip.dst, IPPROTO_TCP, &buf[start..]);
            buf[start + 16..start + 18].copy_from_slice(&ck.to_be_bytes());
        }
        Transport::Udp {
            src_port,
            dst_port,
            payload,
        } => {
            buf.extend_from_slice(&src_port.to_be_bytes());
            buf.extend_from_slice(&dst_port.to_be_bytes());
            buf.extend_from_slice(&(tlen as u16).to_be_bytes());
            buf.extend_from_slice(&[0, 0]);
            buf.extend_from_slice(payload);
            let mut ck = transport_checksum(ip.src, ip.dst, IPPROTO_UDP, &buf[start..]);
            if ck == 0 {
                ck = 0xffff; // 0 means "no checksum" in UDP
            }
            buf[start + 6..start + 8].copy_from_slice(&ck.to_be_bytes());
        }
        Transport::DestUnreachable { reason, quoted } => {
            if v6 {
                buf.extend_from_slice(&[1, reason.icmpv6_code(), 0, 0, 0, 0, 0, 0]);
            } else {
                buf.extend_from_slice(&[3, reason.icmpv4_code(), 0, 0, 0, 0, 0, 0]);
            }
            buf.extend_from_slice(quoted);
            let ck = if v6 {
                transport_checksum(ip.src, ip.dst, IPPROTO_ICMPV6, &buf[start..])
            } else {
                internet_checksum(&buf[start..])
            };
            buf[start + 2..start + 4].copy_from_slice(&ck.to_be_bytes());
        }
    }
    Ok(())
}

fn write_ipv4_header(
    buf: &mut Vec<u8>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    tlen: usize,
    ip: &IpInfo,
) {
    let start = buf.len();
    buf.push(0x45); // version 4, IHL 5
    buf.push(0); // DSCP/ECN
    buf.extend_from_slice(&((20 + tlen) as u16).to_be_bytes());
    buf.extend_from_slice(&ip.ident.to_be_bytes());
    let frag: u16 = if ip.dont_fragment { 0x4000 } else { 0 };
    buf.extend_from_slice(&frag.to_be_bytes());
    buf.push(ip.ttl);
    buf.push(proto);
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(&src.octets());
    buf.extend_from_slice(&dst.octets());
    let ck = internet_checksum(&buf[start..start + 20]);
    buf[start + 10..start + 12].copy_from_slice(&ck.to_be_bytes());
}

fn write_ipv6_header(
    buf: &mut Vec<u8>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    tlen: usize,
    ip: &IpInfo,
) {
    let first: u32 = (6 << 28) | (ip.flow_label & 0x000f_ffff);
    buf.extend_from_slice(&first.to_be_bytes());
    buf.extend_from_slice(&(tlen as u16).to_be_bytes());
    buf.push(next);
    buf.push(ip.ttl);
    buf.extend_from_slice(&src.octets());
    buf.extend_from_slice(&dst.octets());
}

/// Clears `buf` and writes a complete frame: link header, then IP packet.
pub fn build_frame(
    buf: &mut Vec<u8>,
    link: &LinkInfo,
    ip: &IpInfo,
    transport: &Transport<'_>,
) -> Result<()> {
    buf.clear();
    let ethertype = if ip.src.is_ipv6() {
        ETHERTYPE_IPV6
    } else {
        ETHERTYPE_IPV4
    };
    write_link_header(buf, link, ethertype);
    write_ip_packet(buf, ip, transport)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn link(encap: Encap) -> LinkInfo {
        LinkInfo {
            encap,
            src_mac: [2, 0, 10, 1, 0, 10],
            dst_mac: [2, 0, 10, 1, 0, 2],
            direction: Direction::Outgoing,
        }
    }

    fn syn() -> TcpHeader {
        TcpHeader {
            src_port: 50000,
            dst_port: 389,
            seq: 0x0102_0304,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 64240,
            options: TcpOptions::syn(1460),
        }
    }

    #[test]
    fn textbook_ipv4_checksum() {
        // The classic worked example: header with checksum zeroed -> 0xb861.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(internet_checksum(&hdr), 0xb861);
        let mut ip = Vec::new();
        let info = IpInfo {
            ttl: 64,
            ..IpInfo::new(v4(192, 168, 0, 1), v4(192, 168, 0, 199))
        };
        let payload = [0u8; 0x73 - 28];
        write_ip_packet(
            &mut ip,
            &info,
            &Transport::Udp {
                src_port: 1,
                dst_port: 2,
                payload: &payload,
            },
        )
        .unwrap();
        assert_eq!(&ip[..10], &hdr[..10]);
        assert_eq!(&ip[10..12], &[0xb8, 0x61]);
    }

    #[test]
    fn checksum_accumulator_handles_odd_pieces() {
        let data: Vec<u8> = (0u8..=200).collect();
        let whole = internet_checksum(&data);
        let mut c = Checksum::new();
        c.add(&data[..3])
            .add(&[])
            .add(&data[3..4])
            .add(&data[4..101])
            .add(&data[101..]);
        assert_eq!(c.finish(), whole);
        assert_eq!(internet_checksum(&[0x12]), !0x1200);
    }

    #[test]
    fn ethernet_tcp_syn_layout_and_checksums() {
        let mut f = Vec::new();
        let ip = IpInfo {
            ttl: 128,
            ident: 0x1234,
            ..IpInfo::new(v4(10, 1, 0, 10), v4(10, 1, 0, 2))
        };
        build_frame(
            &mut f,
            &link(Encap::Ethernet),
            &ip,
            &Transport::Tcp {
                header: syn(),
                payload: &[],
            },
        )
        .unwrap();
        assert_eq!(f.len(), 14 + 20 + 32);
        assert_eq!(&f[0..6], &[2, 0, 10, 1, 0, 2]);
        assert_eq!(&f[6..12], &[2, 0, 10, 1, 0, 10]);
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        let iph = &f[14..34];
        assert_eq!(iph[0], 0x45);
        assert_eq!(u16::from_be_bytes([iph[2], iph[3]]), 52);
        assert_eq!(&iph[4..6], &[0x12, 0x34]);
        assert_eq!(&iph[6..8], &[0x40, 0x00]); // DF
        assert_eq!(iph[8], 128);
        assert_eq!(iph[9], IPPROTO_TCP);
        assert_eq!(internet_checksum(iph), 0, "IPv4 header checksum verifies");
        let tcp = &f[34..];
        assert_eq!(tcp[12] >> 4, 8, "data offset 32 bytes");
        assert_eq!(tcp[13], 0x02);
        assert_eq!(&tcp[20..32], &[2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2]);
        assert_eq!(transport_checksum(ip.src, ip.dst, IPPROTO_TCP, tcp), 0);
    }

    #[test]
    fn vlan_qinq_sll_sll2_raw_headers() {
        let ip = IpInfo::new(v4(10, 1, 0, 10), v4(10, 1, 0, 2));
        let t = Transport::Udp {
            src_port: 5,
            dst_port: 53,
            payload: b"x",
        };
        let mut f = Vec::new();
        build_frame(&mut f, &link(Encap::Vlan(20)), &ip, &t).unwrap();
        assert_eq!(&f[12..18], &[0x81, 0x00, 0x00, 20, 0x08, 0x00]);
        build_frame(
            &mut f,
            &link(Encap::QinQ {
                outer: 300,
                inner: 20,
            }),
            &ip,
            &t,
        )
        .unwrap();
        assert_eq!(
            &f[12..22],
            &[0x88, 0xa8, 0x01, 0x2c, 0x81, 0x00, 0x00, 20, 0x08, 0x00]
        );
        assert_eq!(f[22], 0x45);
        build_frame(&mut f, &link(Encap::Sll), &ip, &t).unwrap();
        assert_eq!(
            &f[..16],
            &[0, 4, 0, 1, 0, 6, 2, 0, 10, 1, 0, 10, 0, 0, 0x08, 0x00]
        );
        let mut l = link(Encap::Sll2 { if_index: 3 });
        l.direction = Direction::Incoming;
        let v6 = IpInfo::new("fd00::10".parse().unwrap(), "fd00::2".parse().unwrap());
        build_frame(&mut f, &l, &v6, &t).unwrap();
        assert_eq!(
            &f[..20],
            &[0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 10, 1, 0, 10, 0, 0]
        );
        assert_eq!(f[20] >> 4, 6);
        build_frame(&mut f, &link(Encap::RawIp), &ip, &t).unwrap();
        assert_eq!(f[0], 0x45);
        for e in [
            Encap::Ethernet,
            Encap::Vlan(1),
            Encap::QinQ { outer: 1, inner: 2 },
            Encap::Sll,
            Encap::Sll2 { if_index: 1 },
            Encap::RawIp,
        ] {
            build_frame(&mut f, &link(e), &ip, &t).unwrap();
            assert_eq!(f.len(), e.header_len() + 20 + 9, "{e:?}");
        }
        assert_eq!(Encap::Sll2 { if_index: 0 }.link_type(), 276);
        assert_eq!(Encap::Sll.link_type(), 113);
        assert_eq!(Encap::RawIp.link_type(), 101);
        assert_eq!(Encap::QinQ { outer: 1, inner: 1 }.link_type(), 1);
    }

    #[test]
    fn ipv6_udp_and_tcp_checksums() {
        let ip = IpInfo {
            flow_label: 0xabcde,
            ttl: 128,
            ..IpInfo::new("fd00::10".parse().unwrap(), "fd00::2".parse().unwrap())
        };
        let mut p = Vec::new();
        write_ip_packet(
            &mut p,
            &ip,
            &Transport::Udp {
                src_port: 5353,
                dst_port: 53,
                payload: b"hello",
            },
        )
        .unwrap();
        assert_eq!(&p[0..4], &[0x60, 0x0a, 0xbc, 0xde]);
        assert_eq!(u16::from_be_bytes([p[4], p[5]]), 13);
        assert_eq!(p[6], IPPROTO_UDP);
        assert_eq!(p[7], 128);
        assert_eq!(transport_checksum(ip.src, ip.dst, IPPROTO_UDP, &p[40..]), 0);
        p.clear();
        write_ip_packet(
            &mut p,
            &ip,
            &Transport::Tcp {
                header: syn(),
                payload: b"abc",
            },
        )
        .unwrap();
        assert_eq!(transport_checksum(ip.src, ip.dst, IPPROTO_TCP, &p[40..]), 0);
    }

    #[test]
    fn icmp_unreachable_quotes_offending_packet() {
        let client = v4(10, 1, 0, 10);
        let mut syn_pkt = Vec::new();
        write_ip_packet(
            &mut syn_pkt,
            &IpInfo::new(client, v4(10, 1, 0, 4)),
            &Transport::Tcp {
                header: syn(),
                payload: &[],
            },
        )
        .unwrap();
        let quoted = icmp_quote(&syn_pkt);
        assert_eq!(quoted.len(), 28);
        let mut p = Vec::new();
        let ip = IpInfo::new(v4(10, 1, 0, 1), client);
        write_ip_packet(
            &mut p,
            &ip,
            &Transport::DestUnreachable {
                reason: Unreachable::AdminProhibited,
                quoted,
            },
        )
        .unwrap();
        assert_eq!(p[9], IPPROTO_ICMP);
        assert_eq!(internet_checksum(&p[..20]), 0);
        let icmp = &p[20..];
        assert_eq!(&icmp[..2], &[3, 13]);
        assert_eq!(internet_checksum(icmp), 0);
        assert_eq!(&icmp[8..], &syn_pkt[..28]);
        assert_eq!(
            &icmp[8 + 20..8 + 24],
            &[0xc3, 0x50, 0x01, 0x85],
            "quoted ports"
        );

        // IPv6 quotes the whole (short) packet, ICMPv6 checksum uses the pseudo-header.
        let c6: IpAddr = "fd00::10".parse().unwrap();
        let s6: IpAddr = "fd00::3".parse().unwrap();
        let mut udp = Vec::new();
        write_ip_packet(
            &mut udp,
            &IpInfo::new(c6, s6),
            &Transport::Udp {
                src_port: 1,
                dst_port: 123,
                payload: &[0; 48],
            },
        )
        .unwrap();
        assert_eq!(icmp_quote(&udp).len(), udp.len());
        p.clear();
        write_ip_packet(
            &mut p,
            &IpInfo::new(s6, c6),
            &Transport::DestUnreachable {
                reason: Unreachable::Port,
                quoted: icmp_quote(&udp),
            },
        )
        .unwrap();
        assert_eq!(p[6], IPPROTO_ICMPV6);
        assert_eq!(&p[40..42], &[1, 4]);
        assert_eq!(transport_checksum(s6, c6, IPPROTO_ICMPV6, &p[40..]), 0);
        assert_eq!(
            Unreachable::from_icmpv4_code(13),
            Some(Unreachable::AdminProhibited)
        );
        assert_eq!(Unreachable::from_icmpv4_code(2), None);
        assert_eq!(Unreachable::Host.icmpv6_code(), 3);
    }

    #[test]
    fn errors_instead_of_panics() {
        let mut p = Vec::new();
        let mixed = IpInfo::new(v4(1, 2, 3, 4), "::1".parse().unwrap());
        let t = Transport::Udp {
            src_port: 1,
            dst_port: 2,
            payload: &[],
        };
        assert!(matches!(
            write_ip_packet(&mut p, &mixed, &t),
            Err(SynthError::FamilyMismatch(..))
        ));
        let big = vec![0u8; 65_600];
        let t = Transport::Udp {
            src_port: 1,
            dst_port: 2,
            payload: &big,
        };
        assert!(matches!(
            write_ip_packet(&mut p, &IpInfo::new(v4(1, 2, 3, 4), v4(5, 6, 7, 8)), &t),
            Err(SynthError::PacketTooLarge(_))
        ));
        assert!(icmp_quote(&[]).is_empty());
    }

    #[test]
    fn mac_derivation() {
        assert_eq!(mac_for_ip(v4(10, 1, 0, 2)), [2, 0, 10, 1, 0, 2]);
        assert_eq!(mac_for_ip("fd00::2".parse().unwrap()), [2, 6, 0, 0, 0, 2]);
        assert_eq!(group_mac(v4(224, 0, 0, 252)), [1, 0, 0x5e, 0, 0, 0xfc]);
        assert_eq!(
            group_mac(v4(239, 255, 255, 250)),
            [1, 0, 0x5e, 0x7f, 0xff, 0xfa]
        );
        assert_eq!(
            group_mac("ff02::1:3".parse().unwrap()),
            [0x33, 0x33, 0, 1, 0, 3]
        );
        assert_eq!(group_mac(v4(10, 1, 0, 255)), BROADCAST_MAC);
        let flags = TcpFlags::SYN | TcpFlags::ACK;
        assert!(flags.contains(TcpFlags::ACK) && !flags.contains(TcpFlags::FIN));
    }

    proptest! {
        #[test]
        fn checksums_always_verify(
            payload in proptest::collection::vec(any::<u8>(), 0..1500),
            sport in any::<u16>(), dport in any::<u16>(), seq in any::<u32>(),
            a in any::<u32>(), b in any::<u32>(), v6 in any::<bool>(), udp in any::<bool>(),
        ) {
            let (src, dst) = if v6 {
                (IpAddr::V6(Ipv6Addr::from(u128::from(a) << 64 | 1)), IpAddr::V6(Ipv6Addr::from(u128::from(b))))
            } else {
                (IpAddr::V4(Ipv4Addr::from(a)), IpAddr::V4(Ipv4Addr::from(b)))
            };
            let t = if udp {
                Transport::Udp { src_port: sport, dst_port: dport, payload: &payload }
            } else {
                Transport::Tcp { header: TcpHeader { src_port: sport, dst_port: dport, seq, ack: !seq,
                    flags: TcpFlags::PSH | TcpFlags::ACK, window: 1024, options: TcpOptions::default() },
                    payload: &payload }
            };
            let mut p = Vec::new();
            write_ip_packet(&mut p, &IpInfo::new(src, dst), &t).unwrap();
            let hl = if v6 { 40 } else { 20 };
            if !v6 {
                prop_assert_eq!(internet_checksum(&p[..20]), 0);
            }
            let proto = if udp { IPPROTO_UDP } else { IPPROTO_TCP };
            prop_assert_eq!(transport_checksum(src, dst, proto, &p[hl..]), 0);
            prop_assert_eq!(p.len(), hl + if udp { 8 } else { 20 } + payload.len());
        }
    }
}
