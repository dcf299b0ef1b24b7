//! The audit samples: small captures of a hybrid identity deployment, each
//! shipped with the inventory that describes it.
//!
//! Why: the `audit` command judges flows against the rule files in `rules/`
//! using host roles from an inventory, and its documentation, examples and
//! end-to-end tests need captures whose verdicts are known in advance: one
//! healthy deployment and one for each kind of finding (blocked, deprecated,
//! unexpected, missing). `samples/README.md` lists every flow of every sample
//! and the verdicts expected from it.
//!
//! What they model: the Azure AD Connect server (10.1.0.10), domain
//! controllers (10.1.0.2, 10.1.0.3), an AD FS server (10.1.0.20) and a Web
//! Application Proxy in the perimeter (172.16.0.5), captured on a mirror port
//! of the server network. The traffic follows what these Windows hosts do: a
//! sync cycle (DC location over DNS and CLDAP, Kerberos over UDP then TCP,
//! LDAP import, password hash sync over the endpoint mapper and a dynamic RPC
//! port), cloud calls that always start with a DNS lookup through a DC and
//! carry the name in the TLS ClientHello, Windows' retry habits on failed
//! connections (a SYN answered by RST retried every 0.5 s; unanswered or
//! ICMP-rejected SYNs retried at +1 s and +3 s), and local-link background
//! (NetBIOS name queries to the subnet broadcast, LLMNR).
//!
//! Every sample is a classic pcap (Ethernet, microseconds, little endian)
//! starting at 2026-02-02T10:00:00Z, plus `<name>.inventory.toml`. Both are
//! written by the generator, never by hand.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::frame::Unreachable;
use super::payload::{self, DnsAnswer, TlsVersion};
use super::rng::Rng;
use super::scenario::{Close, ConvSummary, Profile, Rejection, Traffic};
use super::writer::{Output, PcapOptions, PcapWriter};

/// Timestamp of the first packet of every audit sample: 2026-02-02T10:00:00Z.
pub const AUDIT_BASE_NS: i64 = 1_770_026_400_000_000_000;

/// Names of the audit samples, in the order `flowaudit-gen samples` writes them.
pub const AUDIT_SAMPLES: [&str; 5] = [
    "healthy-phs-sso",
    "blocked-paths",
    "servicebus-5671",
    "unexpected-traffic",
    "federation-missing-wap-adfs",
];

const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// Azure AD Connect server.
const CONNECT: IpAddr = v4(10, 1, 0, 10);
/// First domain controller, also the DNS server of every host.
const DC1: IpAddr = v4(10, 1, 0, 2);
/// Second domain controller.
const DC2: IpAddr = v4(10, 1, 0, 3);
/// Firewall / default gateway of 10.1.0.0/24.
const FIREWALL: IpAddr = v4(10, 1, 0, 1);
/// Subnet broadcast of 10.1.0.0/24.
const BROADCAST: IpAddr = v4(10, 1, 0, 255);
/// LLMNR IPv4 group.
const LLMNR_GROUP: IpAddr = v4(224, 0, 0, 252);
/// AD FS server.
const ADFS: IpAddr = v4(10, 1, 0, 20);
/// Web Application Proxy in the perimeter network.
const WAP: IpAddr = v4(172, 16, 0, 5);
/// Users on the internet (documentation range).
const USERS: [IpAddr; 3] = [
    v4(198, 51, 100, 23),
    v4(198, 51, 100, 41),
    v4(198, 51, 100, 77),
];
/// A third-party agent's own DNS resolver on the internet (documentation range).
const PUBLIC_RESOLVER: IpAddr = v4(192, 0, 2, 53);
/// A third-party agent's server on the internet (documentation range).
const VENDOR: IpAddr = v4(203, 0, 113, 50);

// Cloud addresses: the Azure AD ones lie in the ranges of endpoints.toml
// (20.190.128.0/18, 40.126.0.0/18); the others are known only by name.
const LOGIN_IPS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(20, 190, 151, 68),
    Ipv4Addr::new(20, 190, 151, 131),
];
const ADMINWS_IP: Ipv4Addr = Ipv4Addr::new(40, 126, 32, 134);
const PROVISIONING_IP: Ipv4Addr = Ipv4Addr::new(20, 190, 151, 7);
const LOGIN_WINDOWS_IP: Ipv4Addr = Ipv4Addr::new(40, 126, 32, 76);
const HEALTH_IP: Ipv4Addr = Ipv4Addr::new(20, 50, 201, 194);
const BLOB_IP: Ipv4Addr = Ipv4Addr::new(52, 239, 140, 164);
const SERVICEBUS_IP: Ipv4Addr = Ipv4Addr::new(13, 69, 227, 48);
const OCSP_IP: Ipv4Addr = Ipv4Addr::new(204, 79, 197, 203);

const LOGIN: &str = "login.microsoftonline.com";
const ADMINWS: &str = "adminwebservice.microsoftonline.com";
const PROVISIONING: &str = "provisioningapi.microsoftonline.com";
const LOGIN_WINDOWS: &str = "login.windows.net";
const HEALTH: &str = "s1.aadconnecthealth.azure.com";
const BLOB: &str = "adhsprodweuehsyncia.blob.core.windows.net";
const SERVICEBUS: &str = "adhsprodweuaadsyncsb.servicebus.windows.net";
const OCSP: &str = "oneocsp.microsoft.com";
const STS: &str = "sts.corp.example";
const VENDOR_NAME: &str = "agent.vendor.example";

/// How the Azure AD front ends' names resolve: a CNAME chain, then addresses.
fn login_answers() -> Vec<DnsAnswer> {
    vec![
        DnsAnswer::Cname("login.mso.msidentity.com".into()),
        DnsAnswer::Cname("ak.privatelink.msidentity.com".into()),
        DnsAnswer::Cname("www.tm.ak.prd.aadg.trafficmanager.net".into()),
        DnsAnswer::A(LOGIN_IPS[0]),
        DnsAnswer::A(LOGIN_IPS[1]),
    ]
}

fn login_windows_answers() -> Vec<DnsAnswer> {
    vec![
        DnsAnswer::Cname("login.mso.msidentity.com".into()),
        DnsAnswer::Cname("ak.privatelink.msidentity.com".into()),
        DnsAnswer::Cname("www.tm.ak.prd.aadg.trafficmanager.net".into()),
        DnsAnswer::A(LOGIN_WINDOWS_IP),
    ]
}

fn at(ms: i64) -> i64 {
    AUDIT_BASE_NS + ms * 1_000_000
}

fn sa(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

/// An address a DNS answer in the capture gave for a name.
struct NameUse {
    name: String,
    addr: IpAddr,
    /// When the answer arrived.
    resolved_ns: i64,
}

/// Builder state of one sample: the traffic, its flows, a payload RNG and
/// per-host ephemeral ports.
struct Net {
    t: Traffic,
    flows: Vec<ConvSummary>,
    rng: Rng,
    ports: BTreeMap<IpAddr, u16>,
    names: Vec<NameUse>,
    /// TLS sessions: SNI, server address, first packet.
    tls: Vec<(String, IpAddr, i64)>,
}

impl Net {
    fn new(seed: u64) -> Self {
        let mut t = Traffic::new(seed);
        t.set_profile(Profile {
            tls_server_flight_len: 1_800,
            ..Profile::default()
        });
        Net {
            t,
            flows: Vec::new(),
            rng: Rng::new(seed ^ 0x5eed_9a71_0ad5),
            ports: BTreeMap::new(),
            names: Vec::new(),
            tls: Vec::new(),
        }
    }

    /// Next ephemeral port of `host` (Windows: 49152-65535, handed out in order).
    fn port(&mut self, host: IpAddr) -> u16 {
        let start = match host {
            IpAddr::V4(a) => 50_000 + u16::from(a.octets()[3]) * 37 % 4_000,
            IpAddr::V6(_) => 50_000,
        };
        let p = self.ports.entry(host).or_insert(start);
        *p += 1 + (*p % 3);
        *p
    }

    fn keep(&mut self, flow: super::Result<ConvSummary>) -> anyhow::Result<i64> {
        let flow = flow?;
        let end = flow.end_ns;
        self.flows.push(flow);
        Ok(end)
    }

    /// DNS lookup of `name` from `client` to `server`; returns the answer time.
    fn dns(
        &mut self,
        client: IpAddr,
        server: IpAddr,
        name: &str,
        answers: &[DnsAnswer],
        start: i64,
    ) -> anyhow::Result<i64> {
        let c = sa(client, self.port(client));
        let r = self.t.dns_lookup(c, sa(server, 53), name, answers, start);
        let end = self.keep(r)?;
        for a in answers {
            if let DnsAnswer::A(ip) = a {
                self.names.push(NameUse {
                    name: name.into(),
                    addr: IpAddr::V4(*ip),
                    resolved_ns: end,
                });
            }
        }
        Ok(end)
    }

    /// A TLS session from `client` to `server` with `sni` in the ClientHello.
    #[allow(clippy::too_many_arguments)]
    fn tls(
        &mut self,
        client: IpAddr,
        server: SocketAddr,
        sni: &str,
        version: TlsVersion,
        start: i64,
        apps: &[(usize, usize)],
        close: Close,
    ) -> anyhow::Result<i64> {
        let c = sa(client, self.port(client));
        self.tls.push((sni.into(), server.ip(), start));
        let r = self
            .t
            .tls_session(c, server, Some(sni), version, start, apps, close);
        self.keep(r)
    }

    /// A cloud call: DNS lookup of `name` through `dns_server`, then (after
    /// the client's think time) a TLS session to the first address answered.
    #[allow(clippy::too_many_arguments)]
    fn cloud(
        &mut self,
        client: IpAddr,
        dns_server: IpAddr,
        name: &str,
        answers: &[DnsAnswer],
        port: u16,
        version: TlsVersion,
        start: i64,
        apps: &[(usize, usize)],
        close: Close,
    ) -> anyhow::Result<i64> {
        let Some(addr) = answers.iter().find_map(|a| match a {
            DnsAnswer::A(ip) => Some(IpAddr::V4(*ip)),
            _ => None,
        }) else {
            bail!("no address for {name}");
        };
        let resolved = self.dns(client, dns_server, name, answers, start)?;
        self.tls(
            client,
            sa(addr, port),
            name,
            version,
            resolved + 1_200_000,
            apps,
            close,
        )
    }

    /// A UDP request answered (payload shaped by the server port).
    fn udp(
        &mut self,
        client: IpAddr,
        server: SocketAddr,
        start: i64,
        q: usize,
        r: usize,
    ) -> anyhow::Result<i64> {
        let c = sa(client, self.port(client));
        let f = self.t.udp_exchange(c, server, start, q, r);
        self.keep(f)
    }

    /// A TCP session with payloads shaped by the server port.
    fn tcp(
        &mut self,
        client: IpAddr,
        server: SocketAddr,
        start: i64,
        exchanges: &[(usize, usize)],
        close: Close,
    ) -> anyhow::Result<i64> {
        let c = sa(client, self.port(client));
        let f = self.t.tcp_session(c, server, start, exchanges, close);
        self.keep(f)
    }

    /// A TCP session carrying the given payloads.
    fn tcp_with(
        &mut self,
        client: IpAddr,
        server: SocketAddr,
        start: i64,
        exchanges: &[(Vec<u8>, Vec<u8>)],
        close: Close,
    ) -> anyhow::Result<i64> {
        let c = sa(client, self.port(client));
        let f = self.t.tcp_session_with(c, server, start, exchanges, close);
        self.keep(f)
    }

    /// A connection attempt that fails on every try (Windows retry timing).
    fn rejected(
        &mut self,
        client: IpAddr,
        server: SocketAddr,
        start: i64,
        how: Rejection,
    ) -> anyhow::Result<i64> {
        let offsets: &[i64] = match how {
            Rejection::Rst => &[0, 500_000_000, 1_000_000_000],
            Rejection::Icmp { .. } => &[0, 1_000_000_000, 3_000_000_000],
        };
        let c = sa(client, self.port(client));
        let f = self.t.tcp_rejected(c, server, start, how, offsets);
        self.keep(f)
    }

    /// SYN and two retransmissions (+1 s, +3 s), never answered.
    fn unanswered(
        &mut self,
        client: IpAddr,
        server: SocketAddr,
        start: i64,
    ) -> anyhow::Result<i64> {
        let c = sa(client, self.port(client));
        let f = self.t.tcp_unanswered(c, server, start, 2);
        self.keep(f)
    }

    // ----- protocol-shaped exchanges ---------------------------------------

    /// RPC endpoint mapper: bind / bind_ack, then ept_map request / response.
    fn rpc_epmap(&mut self, client: IpAddr, dc: IpAddr, start: i64) -> anyhow::Result<i64> {
        let ex = vec![
            (
                dcerpc(&mut self.rng, 11, 1, 116),
                dcerpc(&mut self.rng, 12, 1, 84),
            ),
            (
                dcerpc(&mut self.rng, 0, 2, 156),
                dcerpc(&mut self.rng, 2, 2, 152),
            ),
        ];
        self.tcp_with(client, sa(dc, 135), start, &ex, Close::Fin)
    }

    /// DRSUAPI on a dynamic RPC port, as password hash sync uses it: an
    /// authenticated bind, DRSBind, GetNCChanges with the secrets.
    fn rpc_drsuapi(
        &mut self,
        client: IpAddr,
        dc: IpAddr,
        port: u16,
        start: i64,
    ) -> anyhow::Result<i64> {
        let ex = vec![
            (
                dcerpc(&mut self.rng, 11, 1, 1_250),
                dcerpc(&mut self.rng, 12, 1, 236),
            ),
            (
                dcerpc(&mut self.rng, 0, 2, 372),
                dcerpc(&mut self.rng, 2, 2, 296),
            ),
            (
                dcerpc(&mut self.rng, 0, 3, 448),
                dcerpc(&mut self.rng, 2, 3, 1_100),
            ),
        ];
        self.tcp_with(client, sa(dc, port), start, &ex, Close::Fin)
    }

    /// SMB2 to a DC: negotiate, session setup, tree connect, read of a
    /// Group Policy file.
    fn smb(&mut self, client: IpAddr, dc: IpAddr, start: i64) -> anyhow::Result<i64> {
        // (command, request, response): NEGOTIATE, SESSION_SETUP, TREE_CONNECT, READ.
        let steps = [(0, 194, 252), (1, 1_220, 311), (3, 104, 84), (8, 116, 520)];
        let ex: Vec<(Vec<u8>, Vec<u8>)> = steps
            .iter()
            .zip(0u64..)
            .map(|(&(cmd, q, r), id)| {
                (
                    smb2(&mut self.rng, q, cmd, id, false),
                    smb2(&mut self.rng, r, cmd, id, true),
                )
            })
            .collect();
        self.tcp_with(client, sa(dc, 445), start, &ex, Close::Fin)
    }

    /// Windows Time: a client-mode NTP request from port 123, answered.
    fn ntp(&mut self, client: IpAddr, dc: IpAddr, start: i64) -> anyhow::Result<i64> {
        let q = ntp_packet(&mut self.rng, 0xdb);
        let r = ntp_packet(&mut self.rng, 0x1c);
        let f = self
            .t
            .udp_exchange_with(sa(client, 123), sa(dc, 123), start, &q, Some(&r));
        self.keep(f)
    }

    /// NetBIOS name queries for `name` to the subnet broadcast, three tries
    /// 750 ms apart (nobody answers).
    fn nbns_broadcast(&mut self, client: IpAddr, name: &str, start: i64) -> anyhow::Result<i64> {
        let id = self.rng.next_u32() as u16;
        let q = nbns_query(id, name);
        let f = self.t.udp_to_group(
            sa(client, 137),
            sa(BROADCAST, 137),
            start,
            &[q.clone(), q.clone(), q],
            750_000_000,
        );
        self.keep(f)
    }

    /// LLMNR query for `name` to 224.0.0.252, sent twice 100 ms apart.
    fn llmnr(&mut self, client: IpAddr, name: &str, start: i64) -> anyhow::Result<i64> {
        let id = self.rng.next_u32() as u16;
        let mut q = payload::dns_query(id, name, payload::DNS_TYPE_A)?;
        q[2] = 0; // LLMNR: no recursion-desired flag
        let c = sa(client, self.port(client));
        let f = self.t.udp_to_group(
            c,
            sa(LLMNR_GROUP, 5355),
            start,
            &[q.clone(), q],
            100_000_000,
        );
        self.keep(f)
    }

    /// The sync cycle of the Connect server against one DC: DC location
    /// (DNS, CLDAP), Kerberos (UDP, then TCP for the larger tickets), the
    /// LDAP import, then password hash sync (endpoint mapper, DRSUAPI on
    /// dynamic port 49668). Returns the end of the last flow.
    fn connect_cycle(&mut self, dc: IpAddr, start: i64) -> anyhow::Result<i64> {
        let ms = |n: i64| start + n * 1_000_000;
        let dc_name = if dc == DC1 {
            "dc01.corp.example"
        } else {
            "dc02.corp.example"
        };
        self.dns(CONNECT, DC1, dc_name, &host_answer(dc), ms(0))?;
        self.udp(CONNECT, sa(dc, 389), ms(3), 212, 168)?;
        self.udp(CONNECT, sa(dc, 88), ms(6), 236, 198)?;
        self.tcp(CONNECT, sa(dc, 88), ms(9), &[(298, 1_190)], Close::Fin)?;
        self.tcp(
            CONNECT,
            sa(dc, 389),
            ms(40),
            &[(1_420, 236), (232, 1_300), (96, 0)],
            Close::Fin,
        )?;
        self.rpc_epmap(CONNECT, dc, ms(120))?;
        self.rpc_drsuapi(CONNECT, dc, 49_668, ms(140))
    }

    /// The Connect server's calls to Azure AD: sign-in, then the admin web
    /// service (TLS 1.3 and 1.2, as .NET on Windows Server offers them).
    fn connect_aad(&mut self, start: i64) -> anyhow::Result<i64> {
        self.cloud(
            CONNECT,
            DC1,
            LOGIN,
            &login_answers(),
            443,
            TlsVersion::Tls13,
            start,
            &[(610, 940)],
            Close::Fin,
        )?;
        self.cloud(
            CONNECT,
            DC1,
            ADMINWS,
            &[DnsAnswer::A(ADMINWS_IP)],
            443,
            TlsVersion::Tls12,
            start + 600_000_000,
            &[(1_020, 610)],
            Close::Fin,
        )
    }

    /// Packets and flow list, ready to write, once every cloud flow is
    /// checked to be named in the capture: each TCP flow from an on-premises
    /// host to a public address starts after a DNS answer that gave that
    /// address, and a TLS session carries the looked-up name as SNI (the
    /// audit gives cloud hosts their roles from exactly these). Users on
    /// the internet are exempt: their lookups happen elsewhere.
    fn finish(self) -> anyhow::Result<Built> {
        for f in &self.flows {
            let outbound = is_private(f.client.ip())
                && !is_private(f.server.ip())
                && !f.server.ip().is_multicast();
            if f.protocol != 6 || !outbound {
                continue;
            }
            let sni = self
                .tls
                .iter()
                .find(|t| t.1 == f.server.ip() && t.2 == f.start_ns)
                .map(|t| t.0.as_str());
            let named = self.names.iter().any(|n| {
                n.addr == f.server.ip()
                    && n.resolved_ns < f.start_ns
                    && sni.is_none_or(|s| s == n.name)
            });
            if !named {
                bail!(
                    "flow to {} at {} ns (SNI {sni:?}) has no DNS answer before it",
                    f.server,
                    f.start_ns
                );
            }
        }
        Ok(Built {
            traffic: self.t,
            flows: self.flows,
        })
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_private(),
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// The DNS answer for an on-premises host: its address.
fn host_answer(ip: IpAddr) -> Vec<DnsAnswer> {
    match ip {
        IpAddr::V4(a) => vec![DnsAnswer::A(a)],
        IpAddr::V6(a) => vec![DnsAnswer::Aaaa(a)],
    }
}

// ----- payload shapes -------------------------------------------------------

/// A DCE/RPC connection-oriented PDU of `len` bytes (`len` >= 16): version
/// 5.0, `ptype` (0 request, 2 response, 11 bind, 12 bind_ack), first and
/// last fragment, little-endian data representation, then random body.
fn dcerpc(rng: &mut Rng, ptype: u8, call_id: u32, len: usize) -> Vec<u8> {
    let mut v = payload::opaque(len.max(16), rng);
    v[..8].copy_from_slice(&[5, 0, ptype, 0x03, 0x10, 0, 0, 0]);
    let frag_len = v.len() as u16;
    v[8..10].copy_from_slice(&frag_len.to_le_bytes());
    v[10..12].copy_from_slice(&[0, 0]);
    v[12..16].copy_from_slice(&call_id.to_le_bytes());
    v
}

/// An SMB2 message of `len` bytes (`len` >= 68) in its NetBIOS session
/// header: the 64-byte SMB2 header (`command`, message id `msg_id`, status
/// success, the response flag on answers), then a random body.
fn smb2(rng: &mut Rng, len: usize, command: u16, msg_id: u64, response: bool) -> Vec<u8> {
    let mut v = payload::opaque(len.max(68), rng);
    let body = (v.len() - 4) as u32;
    v[..4].copy_from_slice(&body.to_be_bytes());
    let h = &mut v[4..68];
    h[..8].copy_from_slice(&[0xfe, b'S', b'M', b'B', 64, 0, 0, 0]);
    h[8..12].copy_from_slice(&[0; 4]); // STATUS_SUCCESS
    h[12..14].copy_from_slice(&command.to_le_bytes());
    h[14..16].copy_from_slice(&1u16.to_le_bytes()); // credits
    h[16..20].copy_from_slice(&u32::from(response).to_le_bytes());
    h[20..24].copy_from_slice(&[0; 4]); // no compound
    h[24..32].copy_from_slice(&msg_id.to_le_bytes());
    if msg_id < 2 {
        h[36..48].copy_from_slice(&[0; 12]); // no tree or session yet
    }
    v
}

/// A 48-byte NTP packet whose first byte is `li_vn_mode` (0xdb: client,
/// version 3, unsynchronised, as Windows Time sends; 0x1c: server, version 3).
fn ntp_packet(rng: &mut Rng, li_vn_mode: u8) -> Vec<u8> {
    let mut v = payload::opaque(48, rng);
    v[0] = li_vn_mode;
    v[1] = if li_vn_mode & 7 == 4 { 2 } else { 0 }; // stratum
    v
}

/// A NetBIOS name service query (broadcast, recursion desired) for `name`
/// as a workstation name (suffix 0x00), first-level encoded (RFC 1002).
fn nbns_query(id: u16, name: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(50);
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&[0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0]);
    let mut raw = [b' '; 16];
    for (d, s) in raw.iter_mut().zip(name.bytes().take(15)) {
        *d = s.to_ascii_uppercase();
    }
    raw[15] = 0;
    v.push(32);
    for b in raw {
        v.push(b'A' + (b >> 4));
        v.push(b'A' + (b & 0x0f));
    }
    v.push(0);
    v.extend_from_slice(&[0, 0x20, 0, 1]); // type NB, class IN
    v
}

/// An HTTP/1.1 request with the given header lines and `body_len` bytes of
/// body (random).
fn http_request(rng: &mut Rng, head: &str, body_len: usize) -> Vec<u8> {
    let mut v = head.replace('\n', "\r\n").into_bytes();
    if body_len > 0 {
        v.extend_from_slice(format!("Content-Length: {body_len}\r\n").as_bytes());
    }
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(&payload::opaque(body_len, rng));
    v
}

/// An HTTP/1.1 response with `status`, `content_type` and a random body.
fn http_response(rng: &mut Rng, status: &str, content_type: &str, body_len: usize) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {body_len}\r\n\r\n"
    )
    .into_bytes();
    v.extend_from_slice(&payload::opaque(body_len, rng));
    v
}

/// A TPKT-framed X.224 connection request of an RDP client, and the
/// server's connection confirm selecting TLS (MS-RDPBCGR 2.2.1.1, 2.2.1.2).
fn rdp_x224() -> (Vec<u8>, Vec<u8>) {
    let cr = vec![
        3, 0, 0, 19, 14, 0xe0, 0, 0, 0, 0, 0, // TPKT, X.224 CR
        1, 0, 8, 0, 0x0b, 0, 0, 0, // RDP_NEG_REQ: TLS | CredSSP | RDSTLS
    ];
    let cc = vec![
        3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, // TPKT, X.224 CC
        2, 0x1f, 8, 0, 2, 0, 0, 0, // RDP_NEG_RSP: CredSSP
    ];
    (cr, cc)
}

/// Content type of WinRM messages encrypted with the Kerberos session key.
const KERBEROS_ENCRYPTED: &str = "multipart/encrypted;protocol=\"application/HTTP-Kerberos-session-encrypted\";boundary=\"Encrypted Boundary\"";

/// The fatal TLS alert `protocol_version` (70), as a server that accepts
/// nothing below TLS 1.2 answers a TLS 1.0 ClientHello.
const TLS10_PROTOCOL_VERSION_ALERT: [u8; 7] = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46];

// ----- the samples ----------------------------------------------------------

/// A built sample: its traffic (not yet written) and its flows.
pub(super) struct Built {
    pub traffic: Traffic,
    pub flows: Vec<ConvSummary>,
}

/// Builds audit sample `name`; `None` for a name that is not one.
pub(super) fn build(name: &str) -> Option<anyhow::Result<Built>> {
    let f: fn() -> anyhow::Result<Built> = match name {
        "healthy-phs-sso" => healthy_phs_sso,
        "blocked-paths" => blocked_paths,
        "servicebus-5671" => servicebus_5671,
        "unexpected-traffic" => unexpected_traffic,
        "federation-missing-wap-adfs" => federation_missing_wap_adfs,
        _ => return None,
    };
    Some(f())
}

/// Password hash sync and seamless SSO working: every required path used
/// and answered, plus member baseline traffic and local-link background.
fn healthy_phs_sso() -> anyhow::Result<Built> {
    let mut n = Net::new(0x0a0d_1700_0001);
    n.connect_cycle(DC1, at(0))?;
    n.smb(CONNECT, DC2, at(600))?;
    n.ntp(CONNECT, DC1, at(900))?;
    n.nbns_broadcast(CONNECT, "WPAD", at(1_200))?;
    n.llmnr(CONNECT, "wpad", at(1_210))?;
    n.connect_aad(at(2_000))?;
    n.cloud(
        CONNECT,
        DC1,
        PROVISIONING,
        &[DnsAnswer::A(PROVISIONING_IP)],
        443,
        TlsVersion::Tls12,
        at(3_400),
        &[(980, 560)],
        Close::Fin,
    )?;
    // Certificate revocation check of the Azure AD certificates (OCSP over HTTP).
    let resolved = n.dns(
        CONNECT,
        DC1,
        OCSP,
        &[
            DnsAnswer::Cname("oneocsp-microsoft-com.a-0003.a-msedge.net".into()),
            DnsAnswer::Cname("a-0003.a-msedge.net".into()),
            DnsAnswer::A(OCSP_IP),
        ],
        at(5_200),
    )?;
    let req = http_request(
        &mut n.rng,
        "GET /ocsp/MFQwUjBQME4wTDAJBgUrDgMCGgUABBQ50otx%2Fh0ztl%2Bz8SiPI7wEWVxDlQQU5XdGfoBPGb HTTP/1.1\n\
         Connection: Keep-Alive\n\
         Accept: */*\n\
         User-Agent: Microsoft-CryptoAPI/10.0\n\
         Host: oneocsp.microsoft.com\n",
        0,
    );
    let resp = http_response(&mut n.rng, "200 OK", "application/ocsp-response", 1_471);
    n.tcp_with(
        CONNECT,
        sa(IpAddr::V4(OCSP_IP), 80),
        resolved + 1_000_000,
        &[(req, resp)],
        Close::Fin,
    )?;
    // The second DC: DC locator ping and a lookup of the domain.
    n.dns(
        CONNECT,
        DC2,
        "corp.example",
        &[
            DnsAnswer::A(Ipv4Addr::new(10, 1, 0, 2)),
            DnsAnswer::A(Ipv4Addr::new(10, 1, 0, 3)),
        ],
        at(8_000),
    )?;
    n.udp(CONNECT, sa(DC2, 389), at(8_004), 212, 168)?;
    // The next password hash sync poll (every two minutes on a real server,
    // here one): endpoint mapper, then DRSUAPI.
    n.rpc_epmap(CONNECT, DC1, at(60_000))?;
    n.rpc_drsuapi(CONNECT, DC1, 49_668, at(60_020))?;
    n.finish()
}

/// The healthy deployment behind a firewall that gets in the way: LDAP
/// rejected by DC1 (RST on TCP, ICMP port unreachable on UDP) while DC2
/// answers, the endpoint mapper dropped on both DCs, a dynamic RPC port
/// rejected with ICMP administratively prohibited.
fn blocked_paths() -> anyhow::Result<Built> {
    let mut n = Net::new(0x0a0d_1700_0002);
    n.dns(CONNECT, DC1, "dc01.corp.example", &host_answer(DC1), at(0))?;
    // CLDAP ping to DC1: port unreachable (its host firewall rejects LDAP).
    let c = sa(CONNECT, n.port(CONNECT));
    let f = n.t.udp_icmp_port_unreachable(c, sa(DC1, 389), at(3), 212);
    n.keep(f)?;
    n.udp(CONNECT, sa(DC1, 88), at(6), 236, 198)?;
    // LDAP to DC1: refused, retried twice by Windows.
    n.rejected(CONNECT, sa(DC1, 389), at(40), Rejection::Rst)?;
    // DC locator falls back to DC2, which works.
    n.dns(
        CONNECT,
        DC1,
        "dc02.corp.example",
        &host_answer(DC2),
        at(1_100),
    )?;
    n.udp(CONNECT, sa(DC2, 389), at(1_103), 212, 168)?;
    n.udp(CONNECT, sa(DC2, 88), at(1_106), 236, 198)?;
    n.tcp(
        CONNECT,
        sa(DC2, 88),
        at(1_109),
        &[(321, 1_612), (1_698, 1_554)],
        Close::Fin,
    )?;
    n.tcp(
        CONNECT,
        sa(DC2, 389),
        at(1_140),
        &[(1_820, 268), (232, 3_460), (96, 0)],
        Close::Fin,
    )?;
    // Password hash sync: the endpoint mapper is dropped on both DCs...
    n.unanswered(CONNECT, sa(DC1, 135), at(3_000))?;
    n.unanswered(CONNECT, sa(DC2, 135), at(6_100))?;
    // ...and the DRSUAPI endpoint the RPC runtime still had from before the
    // firewall change is rejected by the firewall.
    n.rejected(
        CONNECT,
        sa(DC1, 49_670),
        at(9_200),
        Rejection::Icmp {
            from: FIREWALL,
            reason: Unreachable::AdminProhibited,
        },
    )?;
    n.connect_aad(at(13_000))?;
    n.ntp(CONNECT, DC1, at(14_500))?;
    n.finish()
}

/// Password hash sync with the Connect Health agent: everything required is
/// answered; the agent also uses Service Bus on 5671, and one old component
/// offers only TLS 1.0 to Azure AD.
fn servicebus_5671() -> anyhow::Result<Built> {
    let mut n = Net::new(0x0a0d_1700_0003);
    n.connect_cycle(DC1, at(0))?;
    n.ntp(CONNECT, DC1, at(700))?;
    n.smb(CONNECT, DC1, at(800))?;
    n.connect_aad(at(2_000))?;
    // Connect Health agent: upload to its service and to blob storage...
    n.cloud(
        CONNECT,
        DC1,
        HEALTH,
        &[
            DnsAnswer::Cname("s1-aadconnecthealth-weu.trafficmanager.net".into()),
            DnsAnswer::A(HEALTH_IP),
        ],
        443,
        TlsVersion::Tls12,
        at(4_000),
        &[(1_320, 620)],
        Close::Fin,
    )?;
    n.cloud(
        CONNECT,
        DC1,
        BLOB,
        &[
            DnsAnswer::Cname("blob.ams23prdstr02a.store.core.windows.net".into()),
            DnsAnswer::A(BLOB_IP),
        ],
        443,
        TlsVersion::Tls12,
        at(5_200),
        &[(1_900, 410)],
        Close::Fin,
    )?;
    // ...and its AMQP connection to Service Bus on 5671 (TLS 1.2), left open.
    n.cloud(
        CONNECT,
        DC1,
        SERVICEBUS,
        &[
            DnsAnswer::Cname("ns-sb2-prod-am3-004.cloudapp.net".into()),
            DnsAnswer::A(SERVICEBUS_IP),
        ],
        5671,
        TlsVersion::Tls12,
        at(6_500),
        &[(620, 540), (310, 180)],
        Close::Open,
    )?;
    // An old component offering TLS 1.0 only: Azure AD answers with a fatal
    // protocol_version alert and the client closes.
    let resolved = n.dns(
        CONNECT,
        DC1,
        LOGIN_WINDOWS,
        &login_windows_answers(),
        at(9_000),
    )?;
    let hello = payload::tls_client_hello(Some(LOGIN_WINDOWS), TlsVersion::Tls10, &mut n.rng)?;
    let server = sa(IpAddr::V4(LOGIN_WINDOWS_IP), 443);
    let start = resolved + 1_200_000;
    n.tls.push((LOGIN_WINDOWS.into(), server.ip(), start));
    n.tcp_with(
        CONNECT,
        server,
        start,
        &[(hello, TLS10_PROTOCOL_VERSION_ALERT.to_vec())],
        Close::Fin,
    )?;
    n.finish()
}

/// A healthy password hash sync deployment with traffic no rule allows: RDP
/// to a DC, a third-party agent resolving through a public resolver and
/// calling home on 8443, WinRM from a DC to the Connect server, and a port
/// just below the dynamic RPC range.
fn unexpected_traffic() -> anyhow::Result<Built> {
    let mut n = Net::new(0x0a0d_1700_0004);
    n.connect_cycle(DC1, at(0))?;
    n.ntp(CONNECT, DC1, at(700))?;
    n.connect_aad(at(2_000))?;
    // RDP from the Connect server to DC1: X.224, then TLS without SNI.
    let (cr, cc) = rdp_x224();
    let hello = payload::tls_client_hello(None, TlsVersion::Tls12, &mut n.rng)?;
    let flight = payload::tls_server_flight(TlsVersion::Tls12, 1_380, &mut n.rng);
    let fin = payload::tls_client_finish(TlsVersion::Tls12, &mut n.rng);
    let sfin = payload::tls_server_finish(TlsVersion::Tls12, &mut n.rng);
    let credssp = payload::tls_app_data(1_400, &mut n.rng);
    let credssp_resp = payload::tls_app_data(420, &mut n.rng);
    let mcs = payload::tls_app_data(460, &mut n.rng);
    let mcs_resp = payload::tls_app_data(800, &mut n.rng);
    n.tcp_with(
        CONNECT,
        sa(DC1, 3389),
        at(5_000),
        &[
            (cr, cc),
            (hello, flight),
            (fin, sfin),
            (credssp, credssp_resp),
            (mcs, mcs_resp),
        ],
        Close::Open,
    )?;
    // A third-party agent with its own resolver on the internet.
    let resolved = n.dns(
        CONNECT,
        PUBLIC_RESOLVER,
        VENDOR_NAME,
        &[DnsAnswer::A(Ipv4Addr::new(203, 0, 113, 50))],
        at(9_000),
    )?;
    n.tls(
        CONNECT,
        sa(VENDOR, 8443),
        VENDOR_NAME,
        TlsVersion::Tls12,
        resolved + 1_200_000,
        &[(640, 210)],
        Close::Fin,
    )?;
    // WinRM from DC1 to the Connect server (the wrong direction).
    let req = http_request(
        &mut n.rng,
        "POST /wsman?PSVersion=5.1.17763.1 HTTP/1.1\n\
         Connection: Keep-Alive\n\
         Content-Type: multipart/encrypted;protocol=\"application/HTTP-Kerberos-session-encrypted\";boundary=\"Encrypted Boundary\"\n\
         User-Agent: Microsoft WinRM Client\n\
         Host: aadc01.corp.example:5985\n",
        1_840,
    );
    let resp = http_response(&mut n.rng, "200 OK", KERBEROS_ENCRYPTED, 1_120);
    n.tcp_with(
        DC1,
        sa(CONNECT, 5985),
        at(12_000),
        &[(req, resp)],
        Close::Fin,
    )?;
    // A service on 49151, one below the dynamic RPC range.
    n.tcp(
        CONNECT,
        sa(DC1, 49_151),
        at(15_000),
        &[(120, 64)],
        Close::Fin,
    )?;
    n.finish()
}

/// Federation: users sign in through the WAP, AD FS works with its DC, but
/// the WAP never reaches AD FS.
fn federation_missing_wap_adfs() -> anyhow::Result<Built> {
    let mut n = Net::new(0x0a0d_1700_0005);
    n.connect_cycle(DC1, at(0))?;
    // AD FS with its DC: DNS, DC location, Kerberos, LDAP attribute store, time.
    n.dns(ADFS, DC1, "dc01.corp.example", &host_answer(DC1), at(300))?;
    n.udp(ADFS, sa(DC1, 389), at(303), 212, 168)?;
    n.udp(ADFS, sa(DC1, 88), at(306), 236, 198)?;
    n.tcp(ADFS, sa(DC1, 88), at(309), &[(318, 1_176)], Close::Fin)?;
    n.tcp(
        ADFS,
        sa(DC1, 389),
        at(340),
        &[(1_390, 262), (410, 980)],
        Close::Fin,
    )?;
    n.ntp(ADFS, DC1, at(1_500))?;
    n.connect_aad(at(2_000))?;
    // Users on the internet sign in through the WAP (seen behind the edge
    // firewall's NAT: public sources, round trips of ~30 ms).
    let lan = n.t.profile().clone();
    n.t.set_profile(Profile {
        lan_rtt_ns: 31_000_000,
        ..lan.clone()
    });
    let wap = sa(WAP, 443);
    let sessions = [
        (USERS[0], TlsVersion::Tls13, 1_000),
        (USERS[1], TlsVersion::Tls12, 4_200),
        (USERS[2], TlsVersion::Tls13, 9_800),
    ];
    for (user, version, ms) in sessions {
        n.tls(user, wap, STS, version, at(ms), &[(690, 940)], Close::Fin)?;
    }
    n.t.set_profile(lan);
    n.finish()
}

// ----- inventories ----------------------------------------------------------

/// The inventory of audit sample `name` (TOML), or `None`.
pub(super) fn inventory(name: &str) -> Option<String> {
    let (about, features, hosts): (&str, &str, &[(&str, &str, &str)]) = match name {
        "healthy-phs-sso" => (
            "Password hash sync with seamless SSO, every required path answered.",
            r#"["password-hash-sync", "seamless-sso"]"#,
            &[
                ("Azure AD Connect server", "connect", "10.1.0.10"),
                (
                    "Domain controller dc01 (also the DNS server)",
                    "dc",
                    "10.1.0.2",
                ),
                ("Domain controller dc02", "dc", "10.1.0.3"),
            ],
        ),
        "blocked-paths" => (
            "The deployment of healthy-phs-sso behind a firewall that blocks paths.\n\
             # The firewall 10.1.0.1 is not listed: it only sends ICMP errors.",
            r#"["password-hash-sync", "seamless-sso"]"#,
            &[
                ("Azure AD Connect server", "connect", "10.1.0.10"),
                (
                    "Domain controller dc01 (also the DNS server)",
                    "dc",
                    "10.1.0.2",
                ),
                ("Domain controller dc02", "dc", "10.1.0.3"),
            ],
        ),
        "servicebus-5671" => (
            "Password hash sync with the Connect Health agent on the Connect server.",
            r#"["password-hash-sync", "health-agent"]"#,
            &[
                (
                    "Azure AD Connect server (with the Connect Health agent for sync)",
                    "connect",
                    "10.1.0.10",
                ),
                (
                    "Domain controller dc01 (also the DNS server)",
                    "dc",
                    "10.1.0.2",
                ),
            ],
        ),
        "unexpected-traffic" => (
            "Password hash sync, with traffic that no rule allows.",
            r#"["password-hash-sync"]"#,
            &[
                ("Azure AD Connect server", "connect", "10.1.0.10"),
                (
                    "Domain controller dc01 (also the DNS server)",
                    "dc",
                    "10.1.0.2",
                ),
            ],
        ),
        "federation-missing-wap-adfs" => (
            "Password hash sync and federation (AD FS + WAP); the WAP never reaches AD FS.\n\
             # Users on the internet are not listed: they are inferred from their\n\
             # connections to the WAP.",
            r#"["password-hash-sync", "federation"]"#,
            &[
                ("Azure AD Connect server", "connect", "10.1.0.10"),
                (
                    "Domain controller dc01 (also the DNS server)",
                    "dc",
                    "10.1.0.2",
                ),
                (
                    "AD FS farm: adfs01 10.1.0.20 and adfs02 10.1.0.21 (one unit)",
                    "adfs",
                    "10.1.0.20/31",
                ),
                (
                    "Web Application Proxy in the perimeter network",
                    "wap",
                    "172.16.0.5",
                ),
            ],
        ),
        _ => return None,
    };
    let mut s = format!(
        "# Inventory of sample {name} (samples/{name}.pcap).\n\
         # {about}\n\
         # Written by `flowaudit-gen samples` (src/synth/audit_samples.rs): edit there, not here.\n\
         \n\
         features = {features}\n"
    );
    for (comment, role, addr) in hosts {
        s.push_str(&format!(
            "\n# {comment}\n[[hosts]]\nrole = \"{role}\"\naddrs = [\"{addr}\"]\n"
        ));
    }
    Some(s)
}

/// Writes `<name>.pcap` and `<name>.inventory.toml` into `out_dir`.
pub(super) fn write(name: &str, out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let (Some(built), Some(inv)) = (build(name), inventory(name)) else {
        bail!("{name:?} is not an audit sample");
    };
    let mut traffic = built?.traffic;
    let pcap_path = out_dir.join(format!("{name}.pcap"));
    let out =
        Output::create(&pcap_path).with_context(|| format!("creating {}", pcap_path.display()))?;
    let mut w = PcapWriter::new(out, PcapOptions::default())?;
    traffic.write_all(&mut w)?;
    w.into_inner()?
        .finish()
        .with_context(|| format!("writing {}", pcap_path.display()))?;
    let inv_path = out_dir.join(format!("{name}.inventory.toml"));
    std::fs::write(&inv_path, inv).with_context(|| format!("writing {}", inv_path.display()))?;
    Ok(vec![pcap_path, inv_path])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::scenario::Outcome;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("flowaudit-audit-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn flows(name: &str) -> Vec<ConvSummary> {
        build(name).unwrap().unwrap().flows
    }

    fn find(
        flows: &[ConvSummary],
        proto: u8,
        client: IpAddr,
        server: SocketAddr,
    ) -> Vec<&ConvSummary> {
        flows
            .iter()
            .filter(|f| f.protocol == proto && f.client.ip() == client && f.server == server)
            .collect()
    }

    fn in_cidr(ip: IpAddr, spec: &str) -> bool {
        let (base, bits) = match spec.split_once('/') {
            Some((b, n)) => (b, n.parse::<u32>().unwrap()),
            None => (spec, 32),
        };
        let (IpAddr::V4(a), Ok(IpAddr::V4(b))) = (ip, base.parse::<IpAddr>()) else {
            return false;
        };
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        u32::from(a) & mask == u32::from(b) & mask
    }

    #[test]
    fn audit_samples_are_deterministic_small_pcaps_with_inventories() {
        let (a, b) = (tmpdir("a"), tmpdir("b"));
        for name in AUDIT_SAMPLES {
            let pa = write(name, &a).unwrap();
            let pb = write(name, &b).unwrap();
            assert_eq!(pa.len(), 2);
            for (x, y) in pa.iter().zip(&pb) {
                assert_eq!(
                    std::fs::read(x).unwrap(),
                    std::fs::read(y).unwrap(),
                    "{name}"
                );
            }
            let pcap = std::fs::read(&pa[0]).unwrap();
            assert!(
                (4 * 1024..48 * 1024).contains(&pcap.len()),
                "{name}: {} bytes",
                pcap.len()
            );
            assert_eq!(
                &pcap[..4],
                &[0xd4, 0xc3, 0xb2, 0xa1],
                "{name}: LE, microseconds"
            );
            let cap = pcap_parser::PcapCapture::from_file(&pcap).unwrap();
            assert_eq!(cap.header.network.0, 1, "{name}: Ethernet");
            let total: u32 = flows(name).iter().map(|f| f.packets).sum();
            assert_eq!(cap.blocks.len(), total as usize, "{name}");
            let first = &cap.blocks[0];
            let ts = i64::from(first.ts_sec) * 1_000_000_000 + i64::from(first.ts_usec) * 1_000;
            assert_eq!(ts, AUDIT_BASE_NS, "{name}");
            let inv = std::fs::read_to_string(&pa[1]).unwrap();
            assert_eq!(Some(inv), inventory(name));
        }
        std::fs::remove_dir_all(&a).unwrap();
        std::fs::remove_dir_all(&b).unwrap();
        assert!(build("basic").is_none() && inventory("basic").is_none());
        assert!(write("basic", Path::new(".")).is_err());
    }

    #[test]
    fn every_on_premises_host_is_in_the_inventory() {
        for name in AUDIT_SAMPLES {
            let inv: toml::Table = inventory(name).unwrap().parse().unwrap();
            let features = inv["features"].as_array().unwrap();
            assert!(features
                .iter()
                .any(|f| f.as_str() == Some("password-hash-sync")));
            let hosts = inv["hosts"].as_array().unwrap();
            let entries: Vec<(String, Vec<String>)> = hosts
                .iter()
                .map(|h| {
                    let t = h.as_table().unwrap();
                    assert_eq!(t.len(), 2, "{name}: only role and addrs");
                    let addrs = t["addrs"].as_array().unwrap();
                    let addrs = addrs
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect();
                    (t["role"].as_str().unwrap().to_string(), addrs)
                })
                .collect();
            assert_eq!(entries.iter().filter(|e| e.0 == "connect").count(), 1);
            let known = |ip: IpAddr| entries.iter().any(|e| e.1.iter().any(|s| in_cidr(ip, s)));
            for f in flows(name) {
                for ip in [f.client.ip(), f.server.ip()] {
                    let group = ip == BROADCAST || ip.is_multicast();
                    if is_private(ip) && !group {
                        assert!(known(ip), "{name}: {ip} is not in the inventory");
                    }
                }
            }
        }
    }

    #[test]
    fn a_cloud_flow_without_a_dns_answer_is_refused() {
        let mut n = Net::new(1);
        let login = sa(IpAddr::V4(LOGIN_IPS[0]), 443);
        n.tls(
            CONNECT,
            login,
            LOGIN,
            TlsVersion::Tls13,
            at(0),
            &[],
            Close::Fin,
        )
        .unwrap();
        assert!(n.finish().is_err());
        // Named, but by another name than the SNI.
        let mut n = Net::new(1);
        let end = n
            .dns(CONNECT, DC1, ADMINWS, &[DnsAnswer::A(LOGIN_IPS[0])], at(0))
            .unwrap();
        n.tls(
            CONNECT,
            login,
            LOGIN,
            TlsVersion::Tls13,
            end + 1,
            &[],
            Close::Fin,
        )
        .unwrap();
        assert!(n.finish().is_err());
        let mut n = Net::new(1);
        n.cloud(
            CONNECT,
            DC1,
            LOGIN,
            &login_answers(),
            443,
            TlsVersion::Tls13,
            at(0),
            &[],
            Close::Fin,
        )
        .unwrap();
        assert!(n.finish().is_ok());
    }

    #[test]
    fn healthy_sample_answers_every_required_path() {
        let f = flows("healthy-phs-sso");
        for g in &f {
            let group = g.server.ip() == BROADCAST || g.server.ip().is_multicast();
            let ok = matches!(
                g.outcome,
                Outcome::TcpClosed | Outcome::TcpOpen | Outcome::UdpAnswered
            );
            assert!(ok || group, "{g:?}");
        }
        for (proto, port) in [
            (17, 53),
            (17, 88),
            (6, 88),
            (6, 389),
            (17, 389),
            (6, 135),
            (6, 49_668),
        ] {
            assert!(
                !find(&f, proto, CONNECT, sa(DC1, port)).is_empty(),
                "{proto}/{port}"
            );
        }
        let aad: Vec<_> = f
            .iter()
            .filter(|g| g.server.port() == 443 && !is_private(g.server.ip()))
            .collect();
        assert_eq!(aad.len(), 3);
        assert!(f
            .iter()
            .any(|g| g.server == sa(BROADCAST, 137) && g.packets == 3));
        assert!(f.iter().any(|g| g.server == sa(LLMNR_GROUP, 5355)));
    }

    #[test]
    fn blocked_sample_fails_the_way_the_readme_says() {
        let f = flows("blocked-paths");
        let one = |proto, client, server| {
            let v = find(&f, proto, client, server);
            assert_eq!(v.len(), 1, "{server}");
            v[0].clone()
        };
        let ldap = one(6, CONNECT, sa(DC1, 389));
        assert_eq!((ldap.outcome, ldap.packets), (Outcome::TcpRefused, 6));
        let cldap = one(17, CONNECT, sa(DC1, 389));
        assert_eq!(
            cldap.outcome,
            Outcome::UdpIcmpUnreachable(Unreachable::Port)
        );
        for dc in [DC1, DC2] {
            let epm = one(6, CONNECT, sa(dc, 135));
            assert_eq!((epm.outcome, epm.packets), (Outcome::TcpUnanswered, 3));
            assert_eq!(epm.end_ns - epm.start_ns, 3_000_000_000);
        }
        let rpc = one(6, CONNECT, sa(DC1, 49_670));
        assert_eq!(
            (rpc.outcome, rpc.packets),
            (Outcome::TcpIcmpUnreachable(Unreachable::AdminProhibited), 6)
        );
        assert_eq!(one(6, CONNECT, sa(DC2, 389)).outcome, Outcome::TcpClosed);
        assert_eq!(one(17, CONNECT, sa(DC1, 88)).outcome, Outcome::UdpAnswered);
        let dns = find(&f, 17, CONNECT, sa(DC1, 53));
        assert!(dns.len() >= 2 && dns.iter().all(|d| d.outcome == Outcome::UdpAnswered));
        let failed = f.iter().filter(|g| {
            !matches!(
                g.outcome,
                Outcome::TcpClosed | Outcome::TcpOpen | Outcome::UdpAnswered
            )
        });
        assert_eq!(failed.count(), 5);
    }

    #[test]
    fn servicebus_sample_has_5671_and_a_tls10_hello() {
        let f = flows("servicebus-5671");
        let sb = find(&f, 6, CONNECT, sa(IpAddr::V4(SERVICEBUS_IP), 5671));
        assert_eq!(sb.len(), 1);
        assert_eq!(sb[0].outcome, Outcome::TcpOpen);
        let old = find(&f, 6, CONNECT, sa(IpAddr::V4(LOGIN_WINDOWS_IP), 443));
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].server_payload, 7, "only the protocol_version alert");
        assert_eq!(
            find(&f, 6, CONNECT, sa(IpAddr::V4(HEALTH_IP), 443)).len(),
            1
        );
        assert!(f.iter().all(|g| !matches!(
            g.outcome,
            Outcome::TcpRefused | Outcome::TcpUnanswered | Outcome::UdpUnanswered
        )));
        let hello =
            payload::tls_client_hello(Some(LOGIN_WINDOWS), TlsVersion::Tls10, &mut Rng::new(1))
                .unwrap();
        assert_eq!(&hello[..3], &[0x16, 0x03, 0x01]);
        assert_eq!(&hello[9..11], &[0x03, 0x01], "client_version TLS 1.0");
    }

    #[test]
    fn unexpected_sample_has_the_five_unexpected_flows() {
        let f = flows("unexpected-traffic");
        for (proto, client, server) in [
            (6, CONNECT, sa(DC1, 3389)),
            (17, CONNECT, sa(PUBLIC_RESOLVER, 53)),
            (6, CONNECT, sa(VENDOR, 8443)),
            (6, DC1, sa(CONNECT, 5985)),
            (6, CONNECT, sa(DC1, 49_151)),
        ] {
            let v = find(&f, proto, client, server);
            assert_eq!(v.len(), 1, "{server}");
            assert!(matches!(
                v[0].outcome,
                Outcome::TcpClosed | Outcome::TcpOpen | Outcome::UdpAnswered
            ));
        }
    }

    #[test]
    fn federation_sample_never_connects_wap_to_adfs() {
        let f = flows("federation-missing-wap-adfs");
        assert!(f.iter().all(|g| {
            let ends = [g.client.ip(), g.server.ip()];
            !(ends.contains(&WAP) && ends.contains(&ADFS))
        }));
        let users: Vec<_> = f.iter().filter(|g| g.server == sa(WAP, 443)).collect();
        assert_eq!(users.len(), 3);
        assert!(users.iter().all(|g| g.outcome == Outcome::TcpClosed));
        assert!(users.iter().all(|g| USERS.contains(&g.client.ip())));
        assert!(f
            .iter()
            .any(|g| g.client.ip() == ADFS && g.server == sa(DC1, 389)));
        // WAN round trip on the users' handshakes.
        assert!(users.iter().all(|g| g.end_ns - g.start_ns > 100_000_000));
    }
}
