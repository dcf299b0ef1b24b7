//! IPv4, IPv6, the transport headers after them, and the tunnels that carry IP inside IP.
//!
//! A packet is keyed by its innermost IP header: when a tunnel's inner packet decodes, it wins;
//! when it does not (a GRE keepalive, a VXLAN frame carrying ARP), the outer packet stands, as
//! Wireshark's conversation tables count it.

use super::frag::{FragKey, FragVerdict};
use super::link;
use super::{be16, be32, Cx, IcmpError, Packet, Reason};
use crate::model::{Addr, IpProto};

/// UDP ports of tunnels whose inner packet we follow.
mod port {
    pub const VXLAN: u16 = 4789;
    pub const GENEVE: u16 = 6081;
    pub const GTP_U: u16 = 2152;
    pub const GTP_V0: u16 = 3386;
    pub const TEREDO: u16 = 3544;
    pub const AYIYA: u16 = 5072;
}

/// IP of either version, told apart by the first nibble.
#[inline]
pub(crate) fn ip_any<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    match d.first().map(|b| b >> 4) {
        Some(4) => ipv4(cx, d),
        Some(6) => ipv6(cx, d),
        Some(_) => Err(Reason::MalformedIp),
        None => Err(Reason::TruncatedLink),
    }
}

/// IPv4, with options and fragments.
#[inline]
pub(crate) fn ipv4<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let b0 = *d.first().ok_or(Reason::TruncatedIp)?;
    if b0 >> 4 != 4 {
        return Err(Reason::MalformedIp);
    }
    let ihl = usize::from(b0 & 0x0f) * 4;
    if ihl < 20 {
        return Err(Reason::MalformedIp);
    }
    let h = d.get(..ihl).ok_or(Reason::TruncatedIp)?;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    // A total length of 0 is what TCP segmentation offload leaves: the captured length rules.
    let (end, payload_len) = if total == 0 {
        (d.len(), d.len() - ihl)
    } else if total < ihl {
        return Err(Reason::MalformedIp);
    } else {
        (total.min(d.len()), total - ihl)
    };
    let frag = u16::from_be_bytes([h[6], h[7]]);
    let proto = h[9];
    let src = Addr::v4([h[12], h[13], h[14], h[15]]);
    let dst = Addr::v4([h[16], h[17], h[18], h[19]]);
    let payload = &d[ihl..end];
    let more = frag & 0x2000 != 0;
    let offset = u32::from(frag & 0x1fff) * 8;
    if more || offset != 0 {
        // Reassemble only fragments captured whole (as Wireshark does); a first fragment cut short
        // is read as it is, a later one cut short is lost.
        if total == 0 || d.len() < total {
            return if offset == 0 {
                transport(cx, proto, src, dst, payload, payload_len as u32)
            } else {
                Err(Reason::IncompleteFragment)
            };
        }
        let key = FragKey {
            src,
            dst,
            id: u32::from(u16::from_be_bytes([h[4], h[5]])),
            proto,
        };
        return fragment(cx, key, offset, payload_len as u32, more, |cx| {
            transport(cx, proto, src, dst, payload, payload_len as u32)
        });
    }
    transport(cx, proto, src, dst, payload, payload_len as u32)
}

/// IPv6 with its extension headers.
#[inline]
pub(crate) fn ipv6<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let b0 = *d.first().ok_or(Reason::TruncatedIp)?;
    if b0 >> 4 != 6 {
        return Err(Reason::MalformedIp);
    }
    let h = d.get(..40).ok_or(Reason::TruncatedIp)?;
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let mut nh = h[6];
    let mut s = [0u8; 16];
    s.copy_from_slice(&h[8..24]);
    let mut t = [0u8; 16];
    t.copy_from_slice(&h[24..40]);
    let (src, dst) = (Addr::v6(s), Addr::v6(t));
    // Payload length 0 means a jumbogram (or offload): the captured length rules.
    let (end, mut remaining) = if plen == 0 {
        (d.len(), d.len() - 40)
    } else {
        ((40 + plen).min(d.len()), plen)
    };
    let mut rest = &d[40..end];
    for _ in 0..16 {
        match nh {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
            0 | 43 | 60 | 135 | 139 | 140 => {
                let next = *rest.first().ok_or(Reason::TruncatedIp)?;
                let len = (usize::from(*rest.get(1).ok_or(Reason::TruncatedIp)?) + 1) * 8;
                rest = rest.get(len..).ok_or(Reason::TruncatedIp)?;
                remaining = remaining.saturating_sub(len);
                nh = next;
            }
            // Authentication header: length in 4-byte units, minus 2.
            51 => {
                let next = *rest.first().ok_or(Reason::TruncatedIp)?;
                let len = (usize::from(*rest.get(1).ok_or(Reason::TruncatedIp)?) + 2) * 4;
                rest = rest.get(len..).ok_or(Reason::TruncatedIp)?;
                remaining = remaining.saturating_sub(len);
                nh = next;
            }
            44 => {
                let f = rest.get(..8).ok_or(Reason::TruncatedIp)?;
                let next = f[0];
                let off_flags = u16::from_be_bytes([f[2], f[3]]);
                let id = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
                let offset = u32::from(off_flags >> 3) * 8;
                let more = off_flags & 1 != 0;
                let body = &rest[8..];
                let body_len = remaining.saturating_sub(8) as u32;
                if !more && offset == 0 {
                    // An atomic fragment: a whole datagram.
                    rest = body;
                    remaining = body_len as usize;
                    nh = next;
                    continue;
                }
                if rest.len() < remaining {
                    return if offset == 0 {
                        transport(cx, next, src, dst, body, body_len)
                    } else {
                        Err(Reason::IncompleteFragment)
                    };
                }
                let key = FragKey {
                    src,
                    dst,
                    id,
                    proto: 0,
                };
                return fragment(cx, key, offset, body_len, more, |cx| {
                    transport(cx, next, src, dst, body, body_len)
                });
            }
            _ => return transport(cx, nh, src, dst, rest, remaining as u32),
        }
    }
    Err(Reason::MalformedIp)
}

/// Hands a fragment to the reassembly table. The first fragment's transport header is decoded
/// (by `first`) and kept until the datagram completes; the frame that completes it gives the
/// packet.
#[inline(never)]
fn fragment<'a, F>(
    cx: &mut Cx<'_>,
    key: FragKey,
    offset: u32,
    len: u32,
    more: bool,
    first: F,
) -> Result<Packet<'a>, Reason>
where
    F: FnOnce(&mut Cx<'_>) -> Result<Packet<'a>, Reason>,
{
    let head = if offset == 0 {
        Some(first(cx).map(|p| Packet { payload: &[], ..p }))
    } else {
        None
    };
    let ts = cx.ts_ns;
    if let Some(v) = cx.deferred.as_deref_mut() {
        v.push(super::FragEvent {
            key,
            ts_ns: ts,
            offset,
            len,
            more,
            head: head.map(|h| h.map(super::frag::detach)),
            wire_len: 0,
        });
        return Err(Reason::FragmentReassembled);
    }
    match cx.frags.add(key, offset, len, more, head) {
        FragVerdict::Held => Err(Reason::FragmentReassembled),
        FragVerdict::Complete(r) => r,
    }
}

/// The transport header after the innermost IP header.
#[inline]
pub(crate) fn transport<'a>(
    cx: &mut Cx<'_>,
    proto: u8,
    src: Addr,
    dst: Addr,
    d: &'a [u8],
    payload_len: u32,
) -> Result<Packet<'a>, Reason> {
    let bare = Packet {
        proto: IpProto(proto),
        src,
        dst,
        sport: 0,
        dport: 0,
        tcp_flags: 0,
        seq: 0,
        payload: d,
        payload_len,
        icmp_error: None,
        complete_header: true,
    };
    match proto {
        6 => {
            let sport = be16(d, 0).ok_or(Reason::TruncatedTransport)?;
            let dport = be16(d, 2).ok_or(Reason::TruncatedTransport)?;
            let seq = be32(d, 4).unwrap_or(0);
            let flags = d.get(13).copied().unwrap_or(0);
            let doff = usize::from(d.get(12).copied().unwrap_or(0) >> 4) * 4;
            let complete = doff >= 20 && d.len() >= doff;
            let payload = if complete { &d[doff..] } else { &[][..] };
            Ok(Packet {
                sport,
                dport,
                seq,
                tcp_flags: flags,
                payload,
                payload_len: payload_len.saturating_sub(doff.max(20) as u32),
                complete_header: complete,
                ..bare
            })
        }
        17 => {
            let sport = be16(d, 0).ok_or(Reason::TruncatedTransport)?;
            let dport = be16(d, 2).ok_or(Reason::TruncatedTransport)?;
            let complete = d.len() >= 8;
            let ulen = be16(d, 4).map_or(0, usize::from);
            let body_end = if ulen >= 8 {
                ulen.min(d.len())
            } else {
                d.len()
            };
            let payload = d.get(8..body_end).unwrap_or(&[]);
            let outer = Packet {
                sport,
                dport,
                payload,
                payload_len: payload_len.saturating_sub(8),
                complete_header: complete,
                ..bare
            };
            match udp_tunnel(cx, sport, dport, payload) {
                Some(Ok(inner)) => Ok(inner),
                // The inner packet is a fragment held for reassembly: it is counted (once) when
                // its datagram completes, not as a packet of the tunnel.
                Some(Err(Reason::FragmentReassembled)) => Err(Reason::FragmentReassembled),
                _ => Ok(outer),
            }
        }
        132 => {
            let sport = be16(d, 0).ok_or(Reason::TruncatedTransport)?;
            let dport = be16(d, 2).ok_or(Reason::TruncatedTransport)?;
            Ok(Packet {
                sport,
                dport,
                payload: d.get(12..).unwrap_or(&[]),
                complete_header: d.len() >= 12,
                ..bare
            })
        }
        1 | 58 => icmp(cx, proto == 58, src, dst, d, bare),
        4 | 41 | 47 => {
            cx.deeper()?;
            let inner = match proto {
                4 => ipv4(cx, d),
                41 => ipv6(cx, d),
                _ => gre(cx, d),
            };
            match inner {
                Ok(p) => Ok(p),
                Err(Reason::FragmentReassembled) => Err(Reason::FragmentReassembled),
                Err(_) => Ok(bare),
            }
        }
        _ => Ok(bare),
    }
}

/// Follows a UDP tunnel when one of the ports is a tunnel's (the lower port first, as Wireshark
/// tries them). Returns `None` when the payload is not a tunnel, else what its inner packet gave.
#[inline]
fn udp_tunnel<'a>(
    cx: &mut Cx<'_>,
    sport: u16,
    dport: u16,
    d: &'a [u8],
) -> Option<Result<Packet<'a>, Reason>> {
    let (lo, hi) = if sport <= dport {
        (sport, dport)
    } else {
        (dport, sport)
    };
    let tunnel = if is_tunnel_port(lo) {
        lo
    } else if is_tunnel_port(hi) && lo >= 1024 {
        hi
    } else {
        return None;
    };
    if cx.deeper().is_err() {
        return None;
    }
    let r = match tunnel {
        port::VXLAN => d.get(8..).map(|r| link::ethernet(cx, r)),
        port::GENEVE => geneve(cx, d),
        port::GTP_U => gtp_u(cx, d),
        port::GTP_V0 => match d.get(1) {
            Some(0xff) => d.get(20..).map(|r| ip_any(cx, r)),
            _ => None,
        },
        port::TEREDO => teredo(cx, d),
        port::AYIYA => ayiya(cx, d),
        _ => None,
    };
    cx.depth -= 1;
    r
}

fn is_tunnel_port(p: u16) -> bool {
    matches!(
        p,
        port::VXLAN | port::GENEVE | port::GTP_U | port::GTP_V0 | port::TEREDO | port::AYIYA
    )
}

fn geneve<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Option<Result<Packet<'a>, Reason>> {
    let optlen = usize::from(d.first()? & 0x3f) * 4;
    let proto = be16(d, 2)?;
    let rest = d.get(8 + optlen..)?;
    Some(link::gre_payload(cx, proto, false, rest))
}

fn gtp_u<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Option<Result<Packet<'a>, Reason>> {
    let flags = *d.first()?;
    if flags >> 5 != 1 || *d.get(1)? != 0xff {
        return None;
    }
    let mut at = 8;
    if flags & 0x07 != 0 {
        at = 12;
        let mut next = *d.get(11)?;
        let mut guard = 0;
        while next != 0 {
            let units = usize::from(*d.get(at)?);
            if units == 0 || guard > 16 {
                return None;
            }
            at += units * 4;
            next = *d.get(at - 1)?;
            guard += 1;
        }
    }
    Some(ip_any(cx, d.get(at..)?))
}

fn teredo<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Option<Result<Packet<'a>, Reason>> {
    let mut at = 0;
    // Authentication indicator: 0x0001, id length, auth length, id, auth, nonce (8), confirmation (1).
    if d.get(..2)? == [0x00, 0x01] {
        let idl = usize::from(*d.get(2)?);
        let al = usize::from(*d.get(3)?);
        at += 4 + idl + al + 9;
    }
    // Origin indication: 0x0000, port (2), address (4).
    if d.get(at..at + 2)? == [0x00, 0x00] {
        at += 8;
    }
    let rest = d.get(at..)?;
    if rest.first()? >> 4 != 6 {
        return None;
    }
    Some(ipv6(cx, rest))
}

fn ayiya<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Option<Result<Packet<'a>, Reason>> {
    let idlen = 1usize << (d.first()? >> 4);
    let siglen = usize::from(d.get(1)? >> 4) * 4;
    let opcode = d.get(2)? & 0x0f;
    let next = *d.get(3)?;
    if opcode != 1 {
        return None;
    }
    let rest = d.get(8 + idlen + siglen..)?;
    match next {
        4 => Some(ipv4(cx, rest)),
        41 => Some(ipv6(cx, rest)),
        _ => None,
    }
}

/// GRE, versions 0 (RFC 2784/2890) and 1 (PPTP).
fn gre<'a>(cx: &mut Cx<'_>, d: &'a [u8]) -> Result<Packet<'a>, Reason> {
    let flags = be16(d, 0).ok_or(Reason::TruncatedTransport)?;
    let proto = be16(d, 2).ok_or(Reason::TruncatedTransport)?;
    let version = flags & 0x7;
    let mut at = 4;
    let seq = flags & 0x1000 != 0;
    if version == 0 {
        if flags & 0xc000 != 0 {
            at += 4;
        }
        if flags & 0x2000 != 0 {
            at += 4;
        }
        if seq {
            at += 4;
        }
        if flags & 0x4000 != 0 {
            // Source routing (RFC 1701): a list of entries ending with an empty one.
            loop {
                let sre_len = usize::from(*d.get(at + 3).ok_or(Reason::TruncatedTransport)?);
                at += 4 + sre_len;
                if sre_len == 0 {
                    break;
                }
            }
        }
    } else if version == 1 {
        at += 4;
        if seq {
            at += 4;
        }
        if flags & 0x0080 != 0 {
            at += 4;
        }
    } else {
        return Err(Reason::MalformedIp);
    }
    link::gre_payload(
        cx,
        proto,
        seq,
        d.get(at..).ok_or(Reason::TruncatedTransport)?,
    )
}

/// ICMP and ICMPv6. Errors become packets of the flow they quote; other messages are packets of
/// an ICMP flow keyed by the request type and code (replies map to their request's type).
fn icmp<'a>(
    _cx: &mut Cx<'_>,
    v6: bool,
    src: Addr,
    _dst: Addr,
    d: &'a [u8],
    bare: Packet<'a>,
) -> Result<Packet<'a>, Reason> {
    let kind = *d.first().ok_or(Reason::TruncatedTransport)?;
    let code = d.get(1).copied().unwrap_or(0);
    let is_error = if v6 {
        (1..=4).contains(&kind)
    } else {
        matches!(kind, 3 | 4 | 5 | 11 | 12)
    };
    if is_error {
        if let Some(q) = d.get(8..).and_then(|q| quoted(q, v6)) {
            return Ok(Packet {
                icmp_error: Some(IcmpError {
                    v6,
                    kind,
                    code,
                    reporter: src,
                }),
                payload: &[],
                payload_len: 0,
                tcp_flags: 0,
                ..q
            });
        }
    }
    let request = match (v6, kind) {
        (false, 0) => 8,
        (false, 14) => 13,
        (false, 16) => 15,
        (false, 18) => 17,
        (true, 129) => 128,
        (true, 136) => 135,
        (_, k) => k,
    };
    Ok(Packet {
        sport: u16::from(request),
        dport: u16::from(code),
        payload: d.get(8..).unwrap_or(&[]),
        complete_header: d.len() >= 8,
        ..bare
    })
}

/// The packet an ICMP error quotes: its IP header and the start of its transport header.
fn quoted(q: &[u8], v6: bool) -> Option<Packet<'static>> {
    let (src, dst, proto, t) = if v6 {
        let h = q.get(..40)?;
        if h[0] >> 4 != 6 {
            return None;
        }
        let mut s = [0u8; 16];
        s.copy_from_slice(&h[8..24]);
        let mut d = [0u8; 16];
        d.copy_from_slice(&h[24..40]);
        (Addr::v6(s), Addr::v6(d), h[6], &q[40..])
    } else {
        let b0 = *q.first()?;
        if b0 >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(b0 & 0x0f) * 4;
        if ihl < 20 {
            return None;
        }
        let h = q.get(..ihl)?;
        if u16::from_be_bytes([h[6], h[7]]) & 0x1fff != 0 {
            // A non-first fragment has no transport header to quote.
            return None;
        }
        (
            Addr::v4([h[12], h[13], h[14], h[15]]),
            Addr::v4([h[16], h[17], h[18], h[19]]),
            h[9],
            q.get(ihl..)?,
        )
    };
    let (sport, dport) = match proto {
        6 | 17 | 132 => (be16(t, 0)?, be16(t, 2)?),
        _ => return None,
    };
    Some(Packet {
        proto: IpProto(proto),
        src,
        dst,
        sport,
        dport,
        tcp_flags: 0,
        seq: be32(t, 4).unwrap_or(0),
        payload: &[],
        payload_len: 0,
        icmp_error: None,
        complete_header: true,
    })
}
