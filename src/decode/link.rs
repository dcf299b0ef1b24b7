//! Link layers: everything between the start of a frame and its first IP header.
//!
//! Each function takes the bytes at the start of its layer and either reaches IP (handing over to
//! [`super::ip`]) or says why not. Offsets come from the formats' definitions; every read goes
//! through `get`, so short frames end in [`Reason::TruncatedLink`], never in a panic.

use super::ip;
use super::{be16, Cx, Packet, Reason};
use crate::model::LinkType;

/// Ethertypes we act on.
mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const QINQ_OLD: u16 = 0x9100;
    pub const QINQ_OLD2: u16 = 0x9200;
    pub const MPLS: u16 = 0x8847;
    pub const MPLS_MC: u16 = 0x8848;
    pub const PPPOE_SESSION: u16 = 0x8864;
    pub const PBB: u16 = 0x88e7;
    pub const FABRICPATH: u16 = 0x8903;
    pub const TEB: u16 = 0x6558;
    pub const ERSPAN2: u16 = 0x88be;
    pub const ERSPAN3: u16 = 0x22eb;
    pub const PPP: u16 = 0x880b;
}

/// Decodes a frame of the given link type.
#[inline]
pub(crate) fn decode_link<'a>(
    cx: &mut Cx<'_>,
    link: LinkType,
    d: &'a [u8],
) -> Result<Packet<'a>, Reason> {
    match link.0 {
        1 => ethernet(cx, d),
        0 => null(cx, d, false),
        108 => null(cx, d, true),
        12 | 14 | 101 | 228 | 229 => ip::ip_any(cx, d),
        9 | 50 => ppp(cx, d),
        51 => pppoe(cx, d),
        113 => sll(cx, d),
        276 => sll2(cx, d),
        239 => nflog(cx, d),
        104 => c_hdlc(cx, d),
        105 => ieee802_11(cx, d),
        127 => radiotap(cx, d),
        192 => ppi(cx, d),
        149 | 258 => pktap(cx, d),
        178 => juniper_ether(cx, d),
        226 => ipnet(cx, d),
        129 => arcnet_linux(cx, d),
        8 => d
            .get(16..)
            .map_or(Err(Reason::TruncatedLink), |r| ip::ip_any(cx, r)),
        100 => llc(cx, d),
        107 => frame_relay(cx, d),
        // Link types whose frames never carry IP: counted as such rather than as unsupported.
        231 | 271 | 195 | 230 | 215 => Err(Reason::NotIp),
        _ => Err(Reason::UnsupportedLinkType),
    }
}

/// Dispatches on an ethertype to the next layer.
#[inline]
pub(crate) fn by_ethertype<'a>(
    cx: &mut Cx<'_>,
    et: u16,
    d: &'a [u8],
) -> Result<Packet<'a>, Reason> {
    match et {
        ethertype::IPV4 => ip::ipv4(cx, d),
        ethertype::IPV6 => ip::ipv6(cx, d),
        ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD | ethertype::QINQ_OLD2 => {
            cx.deeper()?;
            let inner = be16(d, 2).ok_or(Reason::TruncatedLink)?;
            let rest = d.get(4..).ok_or(Reason::TruncatedLink)?;
            by_ethertype_or_llc(cx, inner, rest)
        }
        ethertype::MPLS | ethertype::MPLS_MC => mpls(cx, d),
        ethertype::PPPOE_SESSION => pppoe(cx, d),
        ethertype::PBB => {
            // I-TAG (4 bytes), then the customer's destination and source addresses and type.
            cx.deeper()?;
            ethernet(cx, d.get(4..).ok_or(Reason::TruncatedLink)?)
        }
        ethertype::TEB => {
            cx.deeper()?;
            ethernet(cx, d)
        }
        ethertype::PPP => {
            cx.deeper()?;
            ppp(cx, d)
        }
        _ => Err(Reason::NotIp),
    }
}

/// Like [`by_ethertype`], but a value up to 1500 is an 802.3 length followed by LLC.
#[inline]
fn by_ethertype_or_llc<'a>(cx: &mut Cx<'_>, et: u16, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    if et <= 1500 {
        llc(cx, d)
    } else {
        by_ethertype(cx, et, d)
    }
}

/// Ethernet II / 802.3.
#[inline]
pub(crate) fn ethernet<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let et = be16(d, 12).ok_or(Reason::TruncatedLink)?;
    let rest = &d[14.min(d.len())..];
    if et == ethertype::FABRICPATH {
        // Cisco FabricPath: the outer header's tag continues with 2 bytes (ftag, ttl), then the
        // classic Ethernet frame.
        cx.deeper()?;
        return ethernet(cx, d.get(16..).ok_or(Reason::TruncatedLink)?);
    }
    by_ethertype_or_llc(cx, et, rest)
}

/// IEEE 802.2 LLC, with SNAP.
fn llc<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    match d.get(..3) {
        Some([0xaa, 0xaa, 0x03]) => {
            let et = be16(d, 6).ok_or(Reason::TruncatedLink)?;
            by_ethertype(cx, et, d.get(8..).ok_or(Reason::TruncatedLink)?)
        }
        // RFC 1483 routed IP without SNAP has no LLC at all: the IP header starts right away.
        Some([b, ..]) if *b >> 4 == 4 || *b >> 4 == 6 => ip::ip_any(cx, d),
        Some(_) => Err(Reason::NotIp),
        None => Err(Reason::TruncatedLink),
    }
}

/// An MPLS label stack; after the bottom label, IPv4, IPv6 or a pseudowire control word and
/// Ethernet, told apart by the first nibble.
fn mpls<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    cx.deeper()?;
    let mut at = 0;
    loop {
        let b = d.get(at + 2).ok_or(Reason::TruncatedLink)?;
        at += 4;
        if b & 0x01 != 0 {
            break;
        }
        if at > 64 {
            return Err(Reason::MalformedIp);
        }
    }
    let rest = d.get(at..).ok_or(Reason::TruncatedLink)?;
    match rest.first().map(|b| b >> 4) {
        Some(4) | Some(6) => ip::ip_any(cx, rest),
        Some(0) => ethernet(cx, rest.get(4..).ok_or(Reason::TruncatedLink)?),
        Some(_) => Err(Reason::NotIp),
        None => Err(Reason::TruncatedLink),
    }
}

/// PPPoE session stage: 6 bytes of header, then a PPP protocol number.
fn pppoe<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    cx.deeper()?;
    ppp_proto(cx, d.get(6..).ok_or(Reason::TruncatedLink)?)
}

/// PPP, with or without the HDLC-like address and control bytes.
fn ppp<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    match d.get(..2) {
        Some([0xff, 0x03]) => ppp_proto(cx, &d[2..]),
        Some(_) => ppp_proto(cx, d),
        None => Err(Reason::TruncatedLink),
    }
}

/// A PPP protocol field (1 byte when compressed, i.e. odd) and what follows.
fn ppp_proto<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let first = *d.first().ok_or(Reason::TruncatedLink)?;
    let (proto, rest) = if first & 1 == 1 {
        (u16::from(first), &d[1..])
    } else {
        (
            be16(d, 0).ok_or(Reason::TruncatedLink)?,
            d.get(2..).ok_or(Reason::TruncatedLink)?,
        )
    };
    match proto {
        0x0021 => ip::ipv4(cx, rest),
        0x0057 => ip::ipv6(cx, rest),
        0x0281 | 0x0283 => mpls(cx, rest),
        _ => Err(Reason::NotIp),
    }
}

/// BSD loopback: a 4-byte address family in the writer's byte order (`LOOP`: network order).
fn null<'a>(cx: &mut Cx<'_>, d: &'a [u8], network_order: bool) -> Result<Packet<'a>, Reason> {
    let b = d.get(..4).ok_or(Reason::TruncatedLink)?;
    let raw = [b[0], b[1], b[2], b[3]];
    let fam = if network_order {
        u32::from_be_bytes(raw)
    } else {
        // The writer's byte order is unknown: a family is small, so the order that gives a
        // small number is the right one.
        let le = u32::from_le_bytes(raw);
        if le <= 0xffff {
            le
        } else {
            u32::from_be_bytes(raw)
        }
    };
    let rest = &d[4..];
    match fam {
        2 => ip::ipv4(cx, rest),
        // AF_INET6 differs between systems: 10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS.
        10 | 24 | 28 | 30 => ip::ipv6(cx, rest),
        _ => Err(Reason::NotIp),
    }
}

/// Linux cooked capture v1: 16 bytes, the protocol in the last two.
fn sll<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let hatype = be16(d, 2).ok_or(Reason::TruncatedLink)?;
    let proto = be16(d, 14).ok_or(Reason::TruncatedLink)?;
    cooked(cx, hatype, proto, &d[16..])
}

/// Linux cooked capture v2: 20 bytes, the protocol first.
fn sll2<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let proto = be16(d, 0).ok_or(Reason::TruncatedLink)?;
    let hatype = be16(d, 8).ok_or(Reason::TruncatedLink)?;
    cooked(cx, hatype, proto, d.get(20..).ok_or(Reason::TruncatedLink)?)
}

fn cooked<'a>(cx: &mut Cx<'_>, hatype: u16, proto: u16, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    match hatype {
        // Netlink messages carry no IP.
        824 => Err(Reason::NotIp),
        // IP over GRE devices: the protocol is a GRE protocol type, i.e. an ethertype.
        _ => match proto {
            // 802.2 LLC frames.
            0x0004 => llc(cx, d),
            // Novell 802.3 without LLC, CAN, and other non-IP payloads.
            0x0001 | 0x000c | 0x000d | 0x0003 => Err(Reason::NotIp),
            et => by_ethertype(cx, et, d),
        },
    }
}

/// Linux NFLOG: a 4-byte header (family, version, resource id), then TLVs; type 9 is the packet.
fn nflog<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let family = *d.first().ok_or(Reason::TruncatedLink)?;
    let mut at = 4;
    loop {
        let hdr = d.get(at..at + 4).ok_or(Reason::TruncatedLink)?;
        // TLV lengths are in the host's byte order (little-endian on every host that writes these
        // in practice); the length includes the 4-byte TLV header.
        let len = usize::from(u16::from_le_bytes([hdr[0], hdr[1]]));
        let typ = u16::from_le_bytes([hdr[2], hdr[3]]) & 0x7fff;
        if len < 4 {
            return Err(Reason::MalformedIp);
        }
        if typ == 9 {
            let payload = d
                .get(at + 4..(at + len).min(d.len()))
                .ok_or(Reason::TruncatedLink)?;
            return match family {
                2 => ip::ipv4(cx, payload),
                10 => ip::ipv6(cx, payload),
                _ => ip::ip_any(cx, payload),
            };
        }
        at += (len + 3) & !3;
    }
}

/// Cisco HDLC: address, control, then an ethertype.
fn c_hdlc<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let et = be16(d, 2).ok_or(Reason::TruncatedLink)?;
    by_ethertype(cx, et, &d[4..])
}

/// Frame relay: a 2-byte Q.922 address, then NLPID-encapsulated IP (RFC 2427) or SNAP.
fn frame_relay<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    match d.get(2..4) {
        Some([0x03, 0xcc]) => ip::ipv4(cx, &d[4..]),
        Some([0x03, 0x8e]) => ip::ipv6(cx, &d[4..]),
        Some([0x03, 0x00]) => llc_snap_after_pad(cx, &d[4..]),
        Some(_) => Err(Reason::NotIp),
        None => Err(Reason::TruncatedLink),
    }
}

fn llc_snap_after_pad<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    // NLPID 0x80 (SNAP) then OUI (3) and ethertype (2).
    match d.first() {
        Some(0x80) => {
            let et = be16(d, 4).ok_or(Reason::TruncatedLink)?;
            by_ethertype(cx, et, d.get(6..).ok_or(Reason::TruncatedLink)?)
        }
        Some(_) => Err(Reason::NotIp),
        None => Err(Reason::TruncatedLink),
    }
}

/// IEEE 802.11: only data frames carry IP, behind LLC/SNAP.
fn ieee802_11<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let fc0 = *d.first().ok_or(Reason::TruncatedLink)?;
    let fc1 = *d.get(1).ok_or(Reason::TruncatedLink)?;
    let ftype = (fc0 >> 2) & 0x3;
    let subtype = fc0 >> 4;
    if ftype != 2 || subtype & 0x4 != 0 {
        // Management, control, and data frames without a body (null function).
        return Err(Reason::NotIp);
    }
    if fc1 & 0x40 != 0 {
        return Err(Reason::Encrypted);
    }
    let mut hdr = 24;
    if fc1 & 0x03 == 0x03 {
        hdr += 6;
    }
    if subtype & 0x8 != 0 {
        hdr += 2;
        if fc1 & 0x80 != 0 {
            hdr += 4;
        }
    }
    llc(cx, d.get(hdr..).ok_or(Reason::TruncatedLink)?)
}

/// Radiotap: a little-endian header length, then 802.11.
fn radiotap<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let b = d.get(2..4).ok_or(Reason::TruncatedLink)?;
    let len = usize::from(u16::from_le_bytes([b[0], b[1]]));
    ieee802_11(cx, d.get(len..).ok_or(Reason::TruncatedLink)?)
}

/// Per-Packet Information: a little-endian header length and the inner link type.
fn ppi<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let b = d.get(2..8).ok_or(Reason::TruncatedLink)?;
    let len = usize::from(u16::from_le_bytes([b[0], b[1]]));
    let dlt = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    cx.deeper()?;
    decode_link(
        cx,
        LinkType(dlt),
        d.get(len..).ok_or(Reason::TruncatedLink)?,
    )
}

/// Apple PKTAP: a little-endian header length and the inner link type.
fn pktap<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let b = d.get(..8).ok_or(Reason::TruncatedLink)?;
    let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let dlt = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    if dlt == 149 || dlt == 258 || len < 8 {
        return Err(Reason::MalformedIp);
    }
    cx.deeper()?;
    decode_link(
        cx,
        LinkType(dlt),
        d.get(len..).ok_or(Reason::TruncatedLink)?,
    )
}

/// Juniper Ethernet: magic `MGC`, flags, optional extension TLVs, then Ethernet.
fn juniper_ether<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    if d.get(..3) != Some(b"MGC") {
        return Err(if d.len() < 3 {
            Reason::TruncatedLink
        } else {
            Reason::NotIp
        });
    }
    let flags = *d.get(3).ok_or(Reason::TruncatedLink)?;
    let mut at = 4;
    if flags & 0x80 != 0 {
        at += 2 + usize::from(be16(d, 4).ok_or(Reason::TruncatedLink)?);
    }
    // "No L2" flag: the payload is IP.
    let rest = d.get(at..).ok_or(Reason::TruncatedLink)?;
    if flags & 0x02 != 0 {
        // The IP header may be preceded by a 4-byte protocol word on some PICs.
        return ip::ip_any(cx, rest);
    }
    ethernet(cx, rest)
}

/// Solaris IPNET: a 24-byte header whose family byte says IPv4 (2) or IPv6 (26).
fn ipnet<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let fam = *d.get(1).ok_or(Reason::TruncatedLink)?;
    let rest = d.get(24..).ok_or(Reason::TruncatedLink)?;
    match fam {
        2 => ip::ipv4(cx, rest),
        26 => ip::ipv6(cx, rest),
        _ => Err(Reason::NotIp),
    }
}

/// Linux ARCNET: source, destination, a 2-byte offset, a protocol id, and for RFC 1201 framing a
/// split flag and sequence number.
fn arcnet_linux<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let proto = *d.get(4).ok_or(Reason::TruncatedLink)?;
    match proto {
        // RFC 1051 IP / RFC 1201 IP and IPv6.
        0xf0 => ip::ipv4(cx, &d[5..]),
        0xd4 | 0xc4 => {
            let split = *d.get(5).ok_or(Reason::TruncatedLink)?;
            // An exception packet repeats the header after 4 filler bytes.
            let at = if split == 0xff { 12 } else { 8 };
            ip::ip_any(cx, d.get(at..).ok_or(Reason::TruncatedLink)?)
        }
        _ => Err(Reason::NotIp),
    }
}

/// GRE protocol types that continue as a link layer (used by [`super::ip`]).
pub(crate) fn gre_payload<'a>(
    cx: &mut Cx<'_>,
    proto: u16,
    seq_present: bool,
    d: &'a [u8],
) -> Result<Packet<'a>, Reason> {
    match proto {
        ethertype::ERSPAN2 => {
            // ERSPAN type I has no header (and no GRE sequence number); type II has 8 bytes.
            if seq_present {
                ethernet(cx, d.get(8..).ok_or(Reason::TruncatedLink)?)
            } else {
                ethernet(cx, d)
            }
        }
        ethertype::ERSPAN3 => {
            // 12 bytes, then an 8-byte platform subheader when the O flag is set.
            let o = d.get(11).ok_or(Reason::TruncatedLink)? & 0x01 != 0;
            ethernet(
                cx,
                d.get(if o { 20 } else { 12 }..)
                    .ok_or(Reason::TruncatedLink)?,
            )
        }
        et => by_ethertype(cx, et, d),
    }
}
