//! Decoder tests on hand-built frames: each layer, each tunnel, truncation at every length.

use super::*;
use proptest::prelude::*;

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    ipv4_frag(proto, src, dst, payload, 0, false, 1)
}

fn ipv4_frag(
    proto: u8,
    src: [u8; 4],
    dst: [u8; 4],
    payload: &[u8],
    offset: u16,
    more: bool,
    id: u16,
) -> Vec<u8> {
    let mut v = vec![0x45, 0];
    v.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    let fl = (offset / 8) | if more { 0x2000 } else { 0 };
    v.extend_from_slice(&fl.to_be_bytes());
    v.extend_from_slice(&[64, proto, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(payload);
    v
}

fn ipv6(nh: u8, src: u8, dst: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[nh, 64]);
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[15] = src;
    v.extend_from_slice(&a);
    a[15] = dst;
    v.extend_from_slice(&a);
    v.extend_from_slice(payload);
    v
}

fn tcp(sport: u16, dport: u16, flags: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&1000u32.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    v.extend_from_slice(data);
    v
}

fn udp(sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(data);
    v
}

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn vlan(id: u16, tpid: u16, inner_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&inner_type.to_be_bytes());
    v.extend_from_slice(payload);
    eth(tpid, &v)
}

const A: [u8; 4] = [10, 1, 0, 10];
const B: [u8; 4] = [10, 1, 0, 2];

fn dec(link: u32, data: &[u8]) -> (Option<Packet<'_>>, DecodeStats) {
    let mut d = Decoder::new();
    let f = Frame {
        ts_ns: 0,
        data,
        orig_len: data.len() as u32,
        link: LinkType(link),
        iface: 0,
    };
    let p = d.decode(&f);
    (p, d.finish())
}

fn ports(p: &Option<Packet<'_>>) -> Option<(u8, String, u16, String, u16)> {
    p.as_ref().map(|p| {
        (
            p.proto.0,
            p.src.to_string(),
            p.sport,
            p.dst.to_string(),
            p.dport,
        )
    })
}

fn v4tcp() -> (u8, String, u16, String, u16) {
    (6, "10.1.0.10".into(), 50000, "10.1.0.2".into(), 389)
}

#[test]
fn ethernet_ipv4_tcp_gives_ports_flags_and_payload() {
    let f = eth(0x0800, &ipv4(6, A, B, &tcp(50000, 389, 0x18, b"hello")));
    let (p, _) = dec(1, &f);
    assert_eq!(ports(&p), Some(v4tcp()));
    let p = p.unwrap();
    assert_eq!(p.tcp_flags, 0x18);
    assert_eq!(p.payload, b"hello");
    assert_eq!(p.payload_len, 5);
    assert!(p.complete_header);
}

#[test]
fn vlan_and_qinq_tags_are_peeled() {
    let inner = ipv4(6, A, B, &tcp(50000, 389, 0x02, b""));
    assert_eq!(
        ports(&dec(1, &vlan(20, 0x8100, 0x0800, &inner)).0),
        Some(v4tcp())
    );
    let mut q = Vec::new();
    q.extend_from_slice(&30u16.to_be_bytes());
    q.extend_from_slice(&0x0800u16.to_be_bytes());
    q.extend_from_slice(&inner);
    assert_eq!(
        ports(&dec(1, &vlan(10, 0x88a8, 0x8100, &q)).0),
        Some(v4tcp())
    );
}

#[test]
fn linux_cooked_v1_and_v2() {
    let inner = ipv4(6, A, B, &tcp(50000, 389, 0x02, b""));
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    sll.extend_from_slice(&0x0800u16.to_be_bytes());
    sll.extend_from_slice(&inner);
    assert_eq!(ports(&dec(113, &sll).0), Some(v4tcp()));
    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
    sll2.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
    sll2.extend_from_slice(&inner);
    assert_eq!(ports(&dec(276, &sll2).0), Some(v4tcp()));
}

#[test]
fn bsd_loopback_in_both_byte_orders_and_ipv6_families() {
    let inner = ipv4(6, A, B, &tcp(50000, 389, 0x02, b""));
    for fam in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
        let mut f = fam.to_vec();
        f.extend_from_slice(&inner);
        assert_eq!(ports(&dec(0, &f).0), Some(v4tcp()));
    }
    let v6 = ipv6(17, 1, 2, &udp(5353, 53, b"x"));
    for fam in [24u32, 28, 30] {
        let mut f = fam.to_le_bytes().to_vec();
        f.extend_from_slice(&v6);
        assert_eq!(dec(0, &f).0.map(|p| p.dport), Some(53));
    }
}

#[test]
fn raw_ip_reads_the_version_nibble() {
    let v4 = ipv4(17, A, B, &udp(50000, 53, b""));
    let v6 = ipv6(17, 1, 2, &udp(50000, 53, b""));
    for link in [101, 228, 229, 12, 14] {
        assert_eq!(dec(link, &v4).0.map(|p| p.dport), Some(53));
        assert_eq!(dec(link, &v6).0.map(|p| p.dport), Some(53));
    }
}

#[test]
fn ipv6_extension_headers_are_skipped() {
    // Hop-by-hop (8 bytes) then destination options (8 bytes) then TCP.
    let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    ext.extend_from_slice(&tcp(50000, 389, 0x02, b""));
    let f = eth(0x86dd, &ipv6(0, 0x10, 0x02, &ext));
    let p = dec(1, &f).0.unwrap();
    assert_eq!((p.proto, p.sport, p.dport), (IpProto::TCP, 50000, 389));
    assert_eq!(p.src.to_string(), "fd00::10");
}

#[test]
fn tcp_header_cut_short_still_gives_ports() {
    let mut f = eth(0x0800, &ipv4(6, A, B, &tcp(50000, 389, 0x02, b"")));
    f.truncate(14 + 20 + 6);
    let p = dec(1, &f).0.unwrap();
    assert_eq!((p.sport, p.dport), (50000, 389));
    assert!(!p.complete_header);
    // Two bytes of TCP: no ports, counted as truncated transport.
    f.truncate(14 + 20 + 2);
    let (p, s) = dec(1, &f);
    assert!(p.is_none());
    assert_eq!(s.get(Reason::TruncatedTransport), 1);
}

#[test]
fn icmp_unreachable_is_a_packet_of_the_flow_it_quotes() {
    let original = ipv4(17, A, B, &udp(50008, 123, b"ntp request"));
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&original[..28]);
    let f = eth(0x0800, &ipv4(1, B, A, &icmp));
    let p = dec(1, &f).0.unwrap();
    assert_eq!(p.proto, IpProto::UDP);
    assert_eq!((p.src.to_string(), p.sport), ("10.1.0.10".into(), 50008));
    assert_eq!((p.dst.to_string(), p.dport), ("10.1.0.2".into(), 123));
    let e = p.icmp_error.unwrap();
    assert!(e.is_unreachable());
    assert_eq!(
        (e.kind, e.code, e.reporter.to_string()),
        (3, 3, "10.1.0.2".into())
    );
}

#[test]
fn icmpv6_unreachable_quotes_ipv6() {
    let original = ipv6(17, 0x10, 0x03, &udp(50017, 123, b"x"));
    let mut icmp = vec![1, 4, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&original);
    let f = ipv6(58, 0x03, 0x10, &icmp);
    let p = dec(229, &f).0.unwrap();
    assert_eq!((p.proto, p.sport, p.dport), (IpProto::UDP, 50017, 123));
    assert_eq!(
        p.icmp_error.map(|e| (e.v6, e.kind, e.code)),
        Some((true, 1, 4))
    );
}

#[test]
fn echo_request_and_reply_share_a_flow_key() {
    let req = ipv4(1, A, B, &[8, 0, 0, 0, 0, 1, 0, 1]);
    let rep = ipv4(1, B, A, &[0, 0, 0, 0, 0, 1, 0, 1]);
    let p = dec(101, &req).0.unwrap();
    let q = dec(101, &rep).0.unwrap();
    assert_eq!((p.sport, p.dport), (8, 0));
    assert_eq!((q.sport, q.dport), (8, 0));
}

#[test]
fn fragments_count_once_in_the_frame_that_completes_the_datagram() {
    let whole = udp(50000, 53, &[7u8; 40]);
    let f1 = ipv4_frag(17, A, B, &whole[..24], 0, true, 77);
    let f2 = ipv4_frag(17, A, B, &whole[24..], 24, false, 77);
    let mut d = Decoder::new();
    fn frame(data: &[u8]) -> Frame<'_> {
        Frame {
            ts_ns: 0,
            data,
            orig_len: data.len() as u32,
            link: LinkType::RAW,
            iface: 0,
        }
    }
    // Out of order: the last fragment first.
    let f2_data = f2.clone();
    assert!(d.decode(&frame(&f2_data)).is_none());
    let p = d.decode(&frame(&f1)).unwrap();
    assert_eq!((p.sport, p.dport), (50000, 53));
    let s = d.finish();
    assert_eq!(s.get(Reason::FragmentReassembled), 1);
    assert_eq!(s.get(Reason::IncompleteFragment), 0);

    // A datagram that never completes is counted as incomplete when the input ends.
    let mut d = Decoder::new();
    assert!(d.decode(&frame(&f1)).is_none());
    let s = d.finish();
    assert_eq!(s.get(Reason::IncompleteFragment), 1);
}

#[test]
fn gre_vxlan_and_ip_in_ip_are_keyed_by_the_innermost_header() {
    let inner = ipv4(6, A, B, &tcp(50000, 389, 0x02, b""));
    // GRE v0 with a key.
    let mut gre = vec![0x20, 0x00, 0x08, 0x00, 0, 0, 0, 9];
    gre.extend_from_slice(&inner);
    let outer = ipv4(47, [192, 0, 2, 1], [192, 0, 2, 2], &gre);
    assert_eq!(ports(&dec(101, &outer).0), Some(v4tcp()));
    // VXLAN carrying Ethernet.
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
    vx.extend_from_slice(&eth(0x0800, &inner));
    let outer = ipv4(17, [192, 0, 2, 1], [192, 0, 2, 2], &udp(49152, 4789, &vx));
    assert_eq!(ports(&dec(101, &outer).0), Some(v4tcp()));
    // 4in6.
    let outer = ipv6(4, 1, 2, &inner);
    assert_eq!(ports(&dec(101, &outer).0), Some(v4tcp()));
    // A VXLAN frame that carries no IP leaves the outer UDP packet.
    let mut arp = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
    arp.extend_from_slice(&eth(0x0806, &[0; 28]));
    let outer = ipv4(17, [192, 0, 2, 1], [192, 0, 2, 2], &udp(49152, 4789, &arp));
    assert_eq!(dec(101, &outer).0.map(|p| p.dport), Some(4789));
}

#[test]
fn non_ip_and_unsupported_link_types_are_counted_by_reason() {
    let arp = eth(0x0806, &[0; 28]);
    let (p, s) = dec(1, &arp);
    assert!(p.is_none());
    assert_eq!(s.get(Reason::NotIp), 1);
    let (p, s) = dec(147, &[1, 2, 3]);
    assert!(p.is_none());
    assert_eq!(s.get(Reason::UnsupportedLinkType), 1);
    assert_eq!(s.unsupported_links.get(&LinkType(147)), Some(&1));
}

#[test]
fn every_truncation_of_valid_frames_is_safe_and_consistent() {
    let frames: Vec<(u32, Vec<u8>)> = vec![
        (
            1,
            eth(0x0800, &ipv4(6, A, B, &tcp(50000, 389, 0x18, b"data"))),
        ),
        (
            1,
            vlan(5, 0x8100, 0x86dd, &ipv6(17, 1, 2, &udp(1, 53, b"q"))),
        ),
        (
            101,
            ipv4(47, A, B, &{
                let mut g = vec![0, 0, 0x08, 0];
                g.extend_from_slice(&ipv4(17, A, B, &udp(1, 2, b"")));
                g
            }),
        ),
    ];
    for (link, f) in frames {
        let full = dec(link, &f).0.map(|p| (p.proto, p.sport, p.dport));
        for n in 0..f.len() {
            let (p, s) = dec(link, &f[..n]);
            match p {
                // Whatever a cut frame gives must not contradict the whole frame (a tunnel cut
                // short may leave its outer packet).
                Some(p) => assert!(
                    Some((p.proto, p.sport, p.dport)) == full || link == 101,
                    "cut at {n}"
                ),
                None => assert_eq!(s.total(), 1, "a frame with no packet is counted"),
            }
        }
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(link in prop::sample::select(vec![0u32, 1, 9, 101, 105, 113, 127, 129, 149, 178, 192, 226, 239, 276]), data in prop::collection::vec(any::<u8>(), 0..200)) {
        let (p, s) = dec(link, &data);
        prop_assert!(p.is_some() || s.total() == 1);
    }

    #[test]
    fn mutated_frames_never_panic(pos in 0usize..60, val in any::<u8>(), cut in 0usize..80) {
        let mut f = eth(0x0800, &ipv4(17, A, B, &udp(4789, 4789, &{
            let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
            vx.extend_from_slice(&eth(0x0800, &ipv4(6, A, B, &tcp(1, 2, 2, b""))));
            vx
        })));
        if pos < f.len() { f[pos] = val; }
        f.truncate(f.len().saturating_sub(cut));
        let _ = dec(1, &f);
    }
}

#[test]
fn a_fragmented_datagram_inside_vxlan_counts_once_and_not_on_the_tunnel() {
    let whole = udp(50000, 53, &[7u8; 40]);
    let inner1 = eth(0x0800, &ipv4_frag(17, A, B, &whole[..24], 0, true, 9));
    let inner2 = eth(0x0800, &ipv4_frag(17, A, B, &whole[24..], 24, false, 9));
    let wrap = |inner: &[u8]| {
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
        vx.extend_from_slice(inner);
        ipv4(17, [192, 0, 2, 1], [192, 0, 2, 2], &udp(49152, 4789, &vx))
    };
    let (f1, f2) = (wrap(&inner1), wrap(&inner2));
    fn frame(data: &[u8]) -> Frame<'_> {
        Frame {
            ts_ns: 0,
            data,
            orig_len: data.len() as u32,
            link: LinkType::RAW,
            iface: 0,
        }
    }
    let mut d = Decoder::new();
    assert!(d.decode(&frame(&f1)).is_none(), "held, not a tunnel packet");
    let p = d.decode(&frame(&f2)).unwrap();
    assert_eq!((p.sport, p.dport), (50000, 53));
    assert_eq!(d.finish().get(Reason::FragmentReassembled), 1);
}

#[test]
fn an_icmp_error_quoting_a_header_shorter_than_twenty_bytes_is_not_a_flow_packet() {
    let mut quoted = ipv4(17, A, B, &udp(50008, 123, b"x"));
    quoted[0] = 0x40; // IHL 0
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&quoted[..28]);
    let frame = ipv4(1, B, A, &icmp);
    let p = dec(101, &frame).0.unwrap();
    assert!(p.icmp_error.is_none(), "read as a plain ICMP message");
    assert_eq!(p.proto, IpProto::ICMP);
}
