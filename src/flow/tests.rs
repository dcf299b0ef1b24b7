//! Flow table tests: originator, splitting, Zeek states and outcomes on scripted packet sequences.

use super::*;
use crate::decode::tcp_flags::{ACK, FIN, PSH, RST, SYN};

const C: [u8; 4] = [10, 1, 0, 10];
const S: [u8; 4] = [10, 1, 0, 2];

/// A scripted packet: from the client (`true`) or the server, flags, payload length, seq.
fn pkt(from_client: bool, proto: IpProto, flags: u8, len: u32, seq: u32) -> Packet<'static> {
    let (src, dst, sport, dport) = if from_client {
        (Addr::v4(C), Addr::v4(S), 50000, 389)
    } else {
        (Addr::v4(S), Addr::v4(C), 389, 50000)
    };
    Packet {
        proto,
        src,
        dst,
        sport,
        dport,
        tcp_flags: flags,
        seq,
        payload: &[],
        payload_len: len,
        icmp_error: None,
        complete_header: true,
    }
}

fn run(script: &[(bool, u8, u32)]) -> Vec<Flow> {
    run_seq(
        &script
            .iter()
            .map(|&(c, f, l)| (c, f, l, if c { 1000 } else { 9000 }))
            .collect::<Vec<_>>(),
    )
}

fn run_seq(script: &[(bool, u8, u32, u32)]) -> Vec<Flow> {
    let mut t = FlowTable::new();
    for (i, &(c, f, l, seq)) in script.iter().enumerate() {
        t.add(&pkt(c, IpProto::TCP, f, l, seq), i as i64 * 1000, 60 + l);
    }
    t.into_sorted()
}

fn summary(f: &Flow) -> (String, u16, &'static str, &'static str, String) {
    (
        f.src().0.to_string(),
        f.dst().1,
        f.conn_state().as_str(),
        f.outcome().as_str(),
        f.history(),
    )
}

#[test]
fn full_connection_is_sf_and_answered() {
    let f = run(&[
        (true, SYN, 0),
        (false, SYN | ACK, 0),
        (true, ACK, 0),
        (true, PSH | ACK, 100),
        (false, PSH | ACK, 300),
        (true, FIN | ACK, 0),
        (false, FIN | ACK, 0),
        (true, ACK, 0),
    ]);
    assert_eq!(f.len(), 1);
    assert_eq!(
        summary(&f[0]),
        ("10.1.0.10".into(), 389, "SF", "answered", "ShADdFf".into())
    );
    assert_eq!(f[0].total_packets(), 8);
    assert_eq!(f[0].packets[f[0].orig_side()], 5);
    assert_eq!(f[0].total_bytes(), 8 * 60 + 400);
}

#[test]
fn syn_answered_by_rst_is_rej_refused() {
    let f = run(&[(true, SYN, 0), (false, RST | ACK, 0)]);
    assert_eq!(summary(&f[0]).2, "REJ");
    assert_eq!(f[0].outcome(), Outcome::Refused);
}

#[test]
fn retransmitted_syns_are_one_unanswered_flow() {
    let f = run(&[(true, SYN, 0), (true, SYN, 0), (true, SYN, 0)]);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].total_packets(), 3);
    assert_eq!(summary(&f[0]).2, "S0");
    assert_eq!(f[0].outcome(), Outcome::Unanswered);
}

#[test]
fn a_new_syn_after_close_starts_a_new_flow() {
    let f = run_seq(&[
        (true, SYN, 0, 1000),
        (false, SYN | ACK, 0, 9000),
        (true, ACK, 0, 1001),
        (true, FIN | ACK, 0, 1001),
        (false, FIN | ACK, 0, 9001),
        (true, SYN, 0, 555_000),
        (false, RST | ACK, 0, 0),
    ]);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].conn_state(), ConnState::SF);
    assert_eq!(f[1].conn_state(), ConnState::REJ);
    assert_eq!(f[1].total_packets(), 2);
}

#[test]
fn midstream_reply_first_is_attributed_to_the_client() {
    let f = run(&[
        (false, ACK | PSH, 200),
        (true, ACK, 0),
        (false, ACK | PSH, 100),
    ]);
    assert_eq!(f[0].src().0.to_string(), "10.1.0.10");
    assert_eq!(f[0].dst().1, 389);
    assert_eq!(f[0].conn_state(), ConnState::OTH);
    assert_eq!(f[0].outcome(), Outcome::Midstream);
}

#[test]
fn syn_ack_first_makes_its_receiver_the_originator() {
    let f = run(&[(false, SYN | ACK, 0), (true, ACK, 0)]);
    assert_eq!(f[0].src().0.to_string(), "10.1.0.10");
}

#[test]
fn syn_then_originator_rst_is_rstos0() {
    let f = run(&[(true, SYN, 0), (true, RST, 0)]);
    assert_eq!(f[0].conn_state(), ConnState::RSTOS0);
    assert_eq!(f[0].outcome(), Outcome::Unanswered);
}

#[test]
fn responder_fin_only_after_handshake_is_s3() {
    let f = run(&[
        (true, SYN, 0),
        (false, SYN | ACK, 0),
        (true, ACK, 0),
        (false, FIN | ACK, 0),
    ]);
    assert_eq!(f[0].conn_state(), ConnState::S3);
}

#[test]
fn open_connection_is_s1_and_originator_abort_is_rsto() {
    let hs = [(true, SYN, 0), (false, SYN | ACK, 0), (true, ACK, 0)];
    assert_eq!(run(&hs)[0].conn_state(), ConnState::S1);
    let mut abort = hs.to_vec();
    abort.push((true, RST | ACK, 0));
    assert_eq!(run(&abort)[0].conn_state(), ConnState::RSTO);
    let mut rstr = hs.to_vec();
    rstr.push((false, RST | ACK, 0));
    assert_eq!(run(&rstr)[0].conn_state(), ConnState::RSTR);
}

#[test]
fn udp_reply_seen_alone_belongs_to_the_client_as_shr() {
    let mut t = FlowTable::new();
    t.add(&pkt(false, IpProto::UDP, 0, 40, 0), 0, 82);
    let f = t.into_sorted();
    assert_eq!(f[0].src().0.to_string(), "10.1.0.10");
    assert_eq!(f[0].conn_state(), ConnState::SHR);
}

#[test]
fn udp_request_and_reply_is_sf_answered() {
    let mut t = FlowTable::new();
    t.add(&pkt(true, IpProto::UDP, 0, 40, 0), 0, 82);
    t.add(&pkt(false, IpProto::UDP, 0, 80, 0), 5, 122);
    let f = t.into_sorted();
    assert_eq!(
        (f[0].conn_state(), f[0].outcome()),
        (ConnState::SF, Outcome::Answered)
    );
    assert_eq!(f[0].total_bytes(), 204);
}

#[test]
fn icmp_unreachable_makes_a_udp_flow_unreachable_and_counts_as_a_packet() {
    let mut t = FlowTable::new();
    t.add(&pkt(true, IpProto::UDP, 0, 40, 0), 0, 82);
    let mut e = pkt(true, IpProto::UDP, 0, 0, 0);
    e.icmp_error = Some(IcmpError {
        v6: false,
        kind: 3,
        code: 3,
        reporter: Addr::v4(S),
    });
    t.add(&e, 10, 110);
    let f = t.into_sorted();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].total_packets(), 2);
    assert_eq!(f[0].packets[f[0].resp_side()], 1);
    assert_eq!(f[0].outcome(), Outcome::Unreachable);
    assert_eq!(f[0].conn_state(), ConnState::S0);
}

#[test]
fn an_icmp_error_alone_creates_the_flow_it_quotes() {
    let mut t = FlowTable::new();
    let mut e = pkt(true, IpProto::TCP, 0, 0, 0);
    e.icmp_error = Some(IcmpError {
        v6: false,
        kind: 3,
        code: 13,
        reporter: Addr::v4([10, 1, 0, 1]),
    });
    t.add(&e, 10, 70);
    let f = t.into_sorted();
    assert_eq!(f[0].src().0.to_string(), "10.1.0.10");
    assert_eq!(f[0].outcome(), Outcome::Unreachable);
}

#[test]
fn flows_come_out_in_first_seen_order() {
    let mut t = FlowTable::new();
    let mut late = pkt(true, IpProto::UDP, 0, 1, 0);
    late.sport = 1;
    t.add(&late, 500, 60);
    t.add(&pkt(true, IpProto::UDP, 0, 1, 0), 100, 60);
    let f = t.into_sorted();
    assert_eq!(f[0].first_ns, 100);
    assert_eq!(f[1].first_ns, 500);
}

#[test]
fn folding_mode_starts_a_new_flow_after_a_closed_connection_lingered() {
    let script = [
        (true, SYN, 0u32, 1000u32),
        (false, SYN | ACK, 0, 9000),
        (true, ACK, 0, 1001),
        (true, FIN | ACK, 0, 1001),
        (false, FIN | ACK, 0, 9001),
    ];
    let mut t = FlowTable::folding();
    for (i, &(c, f, l, seq)) in script.iter().enumerate() {
        t.add(&pkt(c, IpProto::TCP, f, l, seq), i as i64, 60);
    }
    // A late ACK ten seconds later: a new (mid-stream) flow, the old one folded.
    t.add(&pkt(true, IpProto::TCP, ACK, 0, 1002), 10_000_000_000, 60);
    assert_eq!(t.len(), 1, "one flow open");
    let edges = t.into_edges();
    assert_eq!(edges.len(), 1);
    let e = &edges[0];
    assert_eq!(e.all().flows, 2);
    assert_eq!(e.all().packets, 6);
    assert_eq!(e.outcome(Outcome::Answered).flows, 1);
    assert_eq!(e.key.port, 389);
    assert_eq!(e.key.orig.to_string(), "10.1.0.10");
}

#[test]
fn sweeping_folds_idle_flows_and_keeps_the_index_right() {
    let mut t = FlowTable::folding();
    let mk = |sport: u16| {
        let mut p = pkt(true, IpProto::UDP, 0, 10, 0);
        p.sport = sport;
        p
    };
    t.add(&mk(1000), 0, 60);
    t.add(&mk(1001), 200_000_000_000, 60);
    t.add(&mk(1002), 0, 60);
    // At 250 s the flows last seen at 0 s have been idle beyond the UDP timeout.
    t.sweep(250_000_000_000);
    assert_eq!(t.len(), 1);
    // The survivor is still found: one more packet joins it rather than making a new flow.
    t.add(&mk(1001), 250_000_000_000, 60);
    assert_eq!(t.len(), 1);
    let edges = t.into_edges();
    let total: u64 = edges.iter().map(|e| e.all().flows).sum();
    assert_eq!(total, 3);
    let packets: u64 = edges.iter().map(|e| e.all().packets).sum();
    assert_eq!(packets, 4);
}

#[test]
fn folded_edges_equal_the_sum_of_their_flows() {
    let script = [(true, SYN, 0u32), (false, RST | ACK, 0), (true, SYN, 0)];
    let flows = run(&script);
    let mut t = FlowTable::folding();
    for (i, &(c, f, l)) in script.iter().enumerate() {
        t.add(
            &pkt(c, IpProto::TCP, f, l, if c { 1000 } else { 9000 }),
            i as i64 * 1000,
            60 + l,
        );
    }
    let edges = t.into_edges();
    let from_flows = edge::EdgeTable::from_flows(&flows).into_sorted();
    assert_eq!(edges.len(), from_flows.len());
    assert_eq!(edges[0].all(), from_flows[0].all());
    assert_eq!(edges[0].failed().flows, 1);
}

#[test]
fn records_stay_small() {
    // Memory grows with flows and edges: keep their records compact.
    eprintln!(
        "Flow {} bytes, Edge {} bytes, FlowInput {} bytes",
        std::mem::size_of::<Flow>(),
        std::mem::size_of::<edge::Edge>(),
        std::mem::size_of::<FlowInput>()
    );
    assert!(std::mem::size_of::<Flow>() <= 256);
}

#[test]
fn edges_come_out_sorted_by_key() {
    let mut t = edge::EdgeTable::new();
    let mut flows = Vec::new();
    for sport in [7u16, 3, 9, 1, 5, 2, 8] {
        let mut ft = FlowTable::new();
        let mut p = pkt(true, IpProto::UDP, 0, 1, 0);
        p.dport = 1000 + sport * 7 % 11;
        p.sport = 40000 + sport;
        ft.add(&p, i64::from(sport), 60);
        flows.extend(ft.into_sorted());
    }
    for f in &flows {
        t.absorb(f);
    }
    let v = t.into_sorted();
    assert_eq!(v.len(), flows.len());
    assert!(v.windows(2).all(|w| w[0].key < w[1].key));
}

#[test]
fn an_icmp_error_about_a_late_reply_keeps_the_client_as_originator() {
    // The DC's DNS reply (53 -> 50000) reaches a closed port; the client answers port unreachable.
    let mut t = FlowTable::new();
    let mut e = pkt(false, IpProto::UDP, 0, 0, 0);
    e.sport = 53;
    e.dport = 50000;
    e.icmp_error = Some(IcmpError {
        v6: false,
        kind: 3,
        code: 3,
        reporter: Addr::v4(C),
    });
    t.add(&e, 10, 70);
    let f = t.into_sorted();
    assert_eq!(f[0].src(), (Addr::v4(C), 50000));
    assert_eq!(f[0].dst(), (Addr::v4(S), 53));
}
