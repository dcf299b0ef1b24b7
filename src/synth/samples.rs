//! Named sample captures shipped in `samples/`.
//!
//! Why: the repository ships small captures that documentation, examples and
//! integration tests rely on. They are generated, never hand-edited, so
//! they can be re-created bit for bit (`flowaudit-gen samples`) and their
//! content is known exactly: [`sample_flows`] lists every conversation with
//! its expected shape.
//!
//! Sample `basic` writes the same traffic twice:
//! * `basic.pcap`: Ethernet, microsecond timestamps, little endian;
//! * `basic.pcapng`: nanosecond timestamps on two interfaces, 0 = Ethernet
//!   (`eth0`) and 1 = Linux cooked v2 (`any`); flows alternate between them
//!   (the VLAN-tagged flow stays on Ethernet), plus a Name Resolution Block.
//!
//! Timestamps are whole microseconds, so both files carry identical
//! timestamps and identical IP packets: only the link layer differs.
//!
//! The audit samples ([`super::audit_samples`]: `healthy-phs-sso`,
//! `blocked-paths`, `servicebus-5671`, `unexpected-traffic`,
//! `federation-missing-wap-adfs`) each write `<name>.pcap` and the inventory
//! `<name>.inventory.toml`; `samples/README.md` lists their flows and the
//! verdicts the audit should give.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::audit_samples;
use super::frame::{Encap, Unreachable, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2};
use super::payload::{DnsAnswer, TlsVersion};
use super::scenario::{Close, ConvSummary, Profile, Traffic};
use super::writer::{
    Endian, InterfaceSpec, NameRecord, Output, PcapOptions, PcapWriter, PcapngWriter, TsResolution,
};

/// Timestamp of the first packet of sample `basic`: 2026-01-15T09:00:00Z.
pub const BASIC_BASE_NS: i64 = 1_768_467_600_000_000_000;

const BASIC_SEED: u64 = 0x0ba5_1c5a_3e1e;

/// Names accepted by [`write_sample`].
pub fn sample_names() -> &'static [&'static str] {
    &[
        "basic",
        "healthy-phs-sso",
        "blocked-paths",
        "servicebus-5671",
        "unexpected-traffic",
        "federation-missing-wap-adfs",
    ]
}

/// Writes sample `name` into `out_dir` (which must exist) and returns the
/// paths written. Unknown names are an error listing the valid ones.
pub fn write_sample(name: &str, out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    match name {
        "basic" => write_basic(out_dir),
        _ if audit_samples::AUDIT_SAMPLES.contains(&name) => audit_samples::write(name, out_dir),
        _ => bail!(
            "unknown sample {name:?} (available: {})",
            sample_names().join(", ")
        ),
    }
}

/// The conversations of sample `name`, as written to its classic pcap file
/// (in the pcapng file of `basic`, `iface`/`encap` differ for every second
/// flow).
pub fn sample_flows(name: &str) -> anyhow::Result<Vec<ConvSummary>> {
    match name {
        "basic" => Ok(build_basic(Variant::Pcap)?.1),
        _ if audit_samples::AUDIT_SAMPLES.contains(&name) => match audit_samples::build(name) {
            Some(built) => Ok(built?.flows),
            None => bail!("audit sample {name:?} has no builder"),
        },
        _ => bail!(
            "unknown sample {name:?} (available: {})",
            sample_names().join(", ")
        ),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Pcap,
    Pcapng,
}

/// Chooses the link of each successive flow.
struct Layout {
    variant: Variant,
    n: usize,
}

impl Layout {
    fn next(&mut self, t: &mut Traffic) {
        let odd = self.n % 2 == 1;
        self.n += 1;
        match self.variant {
            Variant::Pcapng if odd => t.set_link(Encap::Sll2 { if_index: 2 }, 1),
            _ => t.set_link(Encap::Ethernet, 0),
        }
    }

    fn vlan(&mut self, t: &mut Traffic, id: u16) {
        self.n += 1;
        t.set_link(Encap::Vlan(id), 0);
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

const fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, last))
}

const CLIENT: IpAddr = v4(10, 1, 0, 10);
const DC: IpAddr = v4(10, 1, 0, 2);
const FILE_SERVER: IpAddr = v4(10, 1, 0, 3);
const WINRM_HOST: IpAddr = v4(10, 1, 0, 4);
const ADFS: IpAddr = v4(10, 1, 0, 5);
const ROUTER: IpAddr = v4(10, 1, 0, 1);
const VLAN_CLIENT: IpAddr = v4(10, 1, 20, 15);
const LOGIN_IP: Ipv4Addr = Ipv4Addr::new(20, 190, 128, 10);
const SSO_IP: Ipv4Addr = Ipv4Addr::new(40, 126, 0, 5);
const CLIENT6: IpAddr = v6(0x10);
const DC6: IpAddr = v6(2);
const FILE_SERVER6: IpAddr = v6(3);

fn at(ms: i64) -> i64 {
    BASIC_BASE_NS + ms * 1_000_000
}

fn sa(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

/// Builds the traffic of sample `basic` (about two dozen flows around a
/// Windows network 10.1.0.0/24) and returns it with the flow summaries.
fn build_basic(variant: Variant) -> anyhow::Result<(Traffic, Vec<ConvSummary>)> {
    let mut t = Traffic::new(BASIC_SEED);
    t.set_profile(Profile {
        tls_server_flight_len: 440,
        ..Profile::default()
    });
    let mut l = Layout { variant, n: 0 };
    let mut f = Vec::new();
    let c = |port| sa(CLIENT, port);

    l.next(&mut t);
    f.push(t.dns_lookup(
        c(50001),
        sa(DC, 53),
        "dc01.corp.example",
        &[DnsAnswer::A(Ipv4Addr::new(10, 1, 0, 2))],
        at(0),
    )?);
    l.next(&mut t);
    f.push(t.udp_exchange(c(50002), sa(DC, 88), at(20), 160, 220)?);
    l.next(&mut t);
    f.push(t.tcp_session(c(50003), sa(DC, 389), at(40), &[(90, 180)], Close::Fin)?);
    l.next(&mut t);
    f.push(t.udp_exchange(c(50004), sa(DC, 389), at(60), 120, 110)?);
    l.next(&mut t);
    f.push(t.tcp_session(c(50005), sa(DC, 88), at(80), &[(160, 220)], Close::Fin)?);
    l.next(&mut t);
    f.push(t.tcp_refused(c(50006), sa(DC, 636), at(100))?);
    l.next(&mut t);
    f.push(t.tcp_unanswered(c(50007), sa(FILE_SERVER, 445), at(120), 2)?);
    l.next(&mut t);
    f.push(t.udp_icmp_port_unreachable(c(50008), sa(DC, 123), at(140), 48)?);
    l.next(&mut t);
    let dns = t.dns_lookup(
        c(50009),
        sa(DC, 53),
        "login.microsoftonline.com",
        &[DnsAnswer::A(LOGIN_IP)],
        at(160),
    )?;
    let tls_start = dns.end_ns + 1_000_000;
    f.push(dns);
    l.next(&mut t);
    f.push(t.tls_session(
        c(50010),
        sa(IpAddr::V4(LOGIN_IP), 443),
        Some("login.microsoftonline.com"),
        TlsVersion::Tls13,
        tls_start,
        &[(120, 260)],
        Close::Fin,
    )?);
    l.next(&mut t);
    f.push(t.tcp_session(
        sa(CLIENT6, 50011),
        sa(DC6, 389),
        at(400),
        &[(90, 150)],
        Close::Fin,
    )?);
    l.vlan(&mut t, 20);
    f.push(t.tcp_session(
        sa(VLAN_CLIENT, 51000),
        sa(DC, 3268),
        at(420),
        &[(80, 160)],
        Close::Fin,
    )?);
    l.next(&mut t);
    f.push(t.tcp_icmp_unreachable(
        c(50012),
        sa(WINRM_HOST, 5985),
        ROUTER,
        Unreachable::AdminProhibited,
        at(440),
    )?);
    l.next(&mut t);
    f.push(t.tcp_session(c(50013), sa(DC, 135), at(460), &[(72, 92)], Close::Fin)?);
    l.next(&mut t);
    f.push(t.tcp_session(c(50014), sa(DC, 49668), at(480), &[(110, 90)], Close::Open)?);
    l.next(&mut t);
    f.push(t.tcp_session(c(50015), sa(DC, 9389), at(500), &[(100, 70)], Close::Rst)?);
    l.next(&mut t);
    f.push(t.dns_lookup(
        sa(CLIENT6, 50016),
        sa(DC6, 53),
        "dc01.corp.example",
        &[DnsAnswer::Aaaa(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2))],
        at(520),
    )?);
    l.next(&mut t);
    f.push(t.udp_icmp_port_unreachable(sa(CLIENT6, 50017), sa(FILE_SERVER6, 123), at(540), 48)?);
    l.next(&mut t);
    let dns = t.dns_lookup(
        c(50018),
        sa(DC, 53),
        "autologon.microsoftazuread-sso.com",
        &[
            DnsAnswer::Cname("aadsso.trafficmanager.net".into()),
            DnsAnswer::Cname("aadsso-weu.cloudapp.net".into()),
            DnsAnswer::A(SSO_IP),
        ],
        at(560),
    )?;
    let tls_start = dns.end_ns + 1_000_000;
    f.push(dns);
    l.next(&mut t);
    f.push(t.tls_session(
        c(50019),
        sa(IpAddr::V4(SSO_IP), 443),
        Some("autologon.microsoftazuread-sso.com"),
        TlsVersion::Tls12,
        tls_start,
        &[],
        Close::Fin,
    )?);
    l.next(&mut t);
    f.push(t.tls_session(
        c(50020),
        sa(ADFS, 443),
        Some("sts.corp.example"),
        TlsVersion::Tls10,
        at(700),
        &[],
        Close::Fin,
    )?);
    l.next(&mut t);
    f.push(t.udp_exchange(c(50021), sa(DC, 464), at(720), 160, 120)?);
    l.next(&mut t);
    f.push(t.udp_unanswered(c(50022), sa(FILE_SERVER, 137), at(740), 40, 3)?);
    l.next(&mut t);
    f.push(t.tcp_session(c(50023), sa(DC, 445), at(760), &[(100, 120)], Close::Fin)?);
    Ok((t, f))
}

fn basic_names() -> Vec<NameRecord> {
    vec![
        NameRecord::Ipv4(Ipv4Addr::new(10, 1, 0, 2), vec!["dc01.corp.example".into()]),
        NameRecord::Ipv4(Ipv4Addr::new(10, 1, 0, 3), vec!["fs01.corp.example".into()]),
        NameRecord::Ipv4(
            Ipv4Addr::new(10, 1, 0, 5),
            vec!["adfs01.corp.example".into(), "sts.corp.example".into()],
        ),
        NameRecord::Ipv4(LOGIN_IP, vec!["login.microsoftonline.com".into()]),
        NameRecord::Ipv6(
            Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2),
            vec!["dc01.corp.example".into()],
        ),
    ]
}

fn write_basic(out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let pcap_path = out_dir.join("basic.pcap");
    let (mut traffic, _) = build_basic(Variant::Pcap)?;
    let out =
        Output::create(&pcap_path).with_context(|| format!("creating {}", pcap_path.display()))?;
    let mut w = PcapWriter::new(out, PcapOptions::default())?;
    traffic.write_all(&mut w)?;
    w.into_inner()?
        .finish()
        .with_context(|| format!("writing {}", pcap_path.display()))?;

    let ng_path = out_dir.join("basic.pcapng");
    let (mut traffic, _) = build_basic(Variant::Pcapng)?;
    let out =
        Output::create(&ng_path).with_context(|| format!("creating {}", ng_path.display()))?;
    let ifaces = [
        InterfaceSpec::new(LINKTYPE_ETHERNET, TsResolution::Nano).named("eth0"),
        InterfaceSpec::new(LINKTYPE_LINUX_SLL2, TsResolution::Nano).named("any"),
    ];
    let mut w = PcapngWriter::new(out, Endian::Little, &ifaces)?;
    w.write_name_resolution(&basic_names())?;
    traffic.write_all(&mut w)?;
    w.into_inner()?
        .finish()
        .with_context(|| format!("writing {}", ng_path.display()))?;
    Ok(vec![pcap_path, ng_path])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::scenario::Outcome;
    use pcap_parser::pcapng::Block;
    use pcap_parser::traits::PcapNGPacketBlock;

    fn tmpdir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("flowaudit-samples-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Strips the link header: Ethernet (optionally VLAN-tagged) or SLL2.
    fn ip_of(link_type: u32, frame: &[u8]) -> &[u8] {
        match link_type {
            1 if frame[12..14] == [0x81, 0x00] => &frame[18..],
            1 => &frame[14..],
            276 => &frame[20..],
            other => panic!("unexpected link type {other}"),
        }
    }

    #[test]
    fn basic_is_deterministic_small_and_consistent() {
        let (a, b) = (tmpdir("a"), tmpdir("b"));
        let pa = write_sample("basic", &a).unwrap();
        let pb = write_sample("basic", &b).unwrap();
        assert_eq!(pa.len(), 2);
        for (x, y) in pa.iter().zip(&pb) {
            let (bx, by) = (std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
            assert_eq!(bx, by, "{} is deterministic", x.display());
            assert!(
                bx.len() < 20 * 1024,
                "{} is {} bytes",
                x.display(),
                bx.len()
            );
        }
        let pcap = std::fs::read(&pa[0]).unwrap();
        let ng = std::fs::read(&pa[1]).unwrap();
        std::fs::remove_dir_all(&a).unwrap();
        std::fs::remove_dir_all(&b).unwrap();

        // Classic pcap: little endian, microseconds, Ethernet.
        assert_eq!(&pcap[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        let cap = pcap_parser::PcapCapture::from_file(&pcap).unwrap();
        assert_eq!(cap.header.network.0, 1);
        let flows = sample_flows("basic").unwrap();
        let total: u32 = flows.iter().map(|f| f.packets).sum();
        assert_eq!(cap.blocks.len(), total as usize);
        let pcap_pkts: Vec<(i64, &[u8])> = cap
            .blocks
            .iter()
            .map(|b| {
                assert_eq!(b.caplen, b.origlen);
                let ts = i64::from(b.ts_sec) * 1_000_000_000 + i64::from(b.ts_usec) * 1_000;
                (ts, ip_of(1, b.data))
            })
            .collect();
        assert_eq!(pcap_pkts[0].0, BASIC_BASE_NS);

        // pcapng: two nanosecond interfaces, an NRB, the same packets.
        let (rest, section) = pcap_parser::pcapng::parse_section(&ng).unwrap();
        assert!(rest.is_empty());
        let idbs: Vec<_> = section.iter_interfaces().collect();
        assert_eq!(
            idbs.iter().map(|i| i.linktype.0).collect::<Vec<_>>(),
            [1, 276]
        );
        assert!(idbs.iter().all(|i| i.if_tsresol == 9));
        let mut ng_pkts = Vec::new();
        let mut per_iface = [0usize; 2];
        let mut nrb = 0;
        for blk in &section.blocks {
            match blk {
                Block::EnhancedPacket(epb) => {
                    let lt = idbs[epb.if_id as usize].linktype.0 as u32;
                    per_iface[epb.if_id as usize] += 1;
                    let ts = ((u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low)) as i64;
                    ng_pkts.push((ts, ip_of(lt, epb.packet_data())));
                }
                Block::NameResolution(n) => nrb += n.nr.len(),
                _ => {}
            }
        }
        assert_eq!(nrb, basic_names().len() + 1);
        assert!(per_iface[0] > 20 && per_iface[1] > 20, "{per_iface:?}");
        assert_eq!(
            ng_pkts, pcap_pkts,
            "same timestamps and IP packets in both encodings"
        );
    }

    #[test]
    fn basic_flow_list() {
        let flows = sample_flows("basic").unwrap();
        assert!((22..=28).contains(&flows.len()), "{}", flows.len());
        let has = |o: Outcome| flows.iter().any(|f| f.outcome == o);
        for o in [
            Outcome::TcpClosed,
            Outcome::TcpReset,
            Outcome::TcpOpen,
            Outcome::TcpRefused,
            Outcome::TcpUnanswered,
            Outcome::TcpIcmpUnreachable(Unreachable::AdminProhibited),
            Outcome::UdpAnswered,
            Outcome::UdpUnanswered,
            Outcome::UdpIcmpUnreachable(Unreachable::Port),
        ] {
            assert!(has(o), "{o:?}");
        }
        let find = |ip: IpAddr, port: u16| flows.iter().find(|f| f.server == sa(ip, port)).unwrap();
        assert_eq!(find(DC, 636).outcome, Outcome::TcpRefused);
        assert_eq!(find(FILE_SERVER, 445).outcome, Outcome::TcpUnanswered);
        assert_eq!(find(FILE_SERVER, 445).packets, 3);
        assert_eq!(find(DC, 445).outcome, Outcome::TcpClosed);
        assert_eq!(
            find(DC, 123).outcome,
            Outcome::UdpIcmpUnreachable(Unreachable::Port)
        );
        let tls = flows
            .iter()
            .find(|f| f.server.ip() == IpAddr::V4(LOGIN_IP))
            .unwrap();
        let dns = flows
            .iter()
            .position(|f| f.server.port() == 53 && f.end_ns < tls.start_ns)
            .unwrap();
        assert!(flows[dns].end_ns < tls.start_ns);
        assert!(flows.iter().any(|f| f.client.is_ipv6() && f.protocol == 6));
        assert_eq!(
            flows
                .iter()
                .filter(|f| matches!(f.encap, Encap::Vlan(20)))
                .count(),
            1
        );
        // Distinct 5-tuples.
        let mut keys: Vec<_> = flows
            .iter()
            .map(|f| (f.protocol, f.client, f.server))
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), flows.len());
    }

    #[test]
    fn unknown_sample_is_an_error() {
        let err = write_sample("nope", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("basic"), "{err}");
        assert!(sample_flows("nope").is_err());
        assert_eq!(sample_names()[0], "basic");
        assert_eq!(&sample_names()[1..], audit_samples::AUDIT_SAMPLES);
    }
}
