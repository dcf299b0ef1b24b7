//! Bounded-memory generation of large captures (benchmark input).
//!
//! Why: benchmarks need captures of a gigabyte and more, which must neither
//! be committed nor held in memory while being produced. [`generate`] walks
//! time in fixed windows: it starts conversations inside the current window,
//! then writes out every packet earlier than the window's end. Conversations
//! started later can only produce later packets, so output is in time order,
//! and memory holds just the conversations still in flight (bounded by what
//! one window starts times their duration). Generation stops starting
//! conversations once the target size is reached (written bytes, checked at
//! window boundaries, for the identity kind; written plus queued bytes for
//! the benchmark kinds, so that their files end within one conversation of
//! the target), then flushes the tails of open conversations.
//!
//! Three kinds of traffic ([`StreamKind`]):
//!
//! * [`StreamKind::Identity`]: a random mix of hybrid-identity conversations
//!   (LDAP, Kerberos, DNS, SMB, TLS to cloud endpoints, plus refused,
//!   unanswered and ICMP-rejected attempts) built with
//!   [`super::scenario::Traffic`], a fixed number per window.
//! * [`StreamKind::Mix`]: the realistic benchmark capture. About 200 hosts
//!   of one 10.x site and a few cloud addresses; TCP sessions with handshake,
//!   data and FIN (or RST) close, SMB bulk transfers in MSS-sized segments
//!   acknowledged every second segment by ~60-byte ACKs, TLS sessions
//!   opening with a real ClientHello, connections refused by RST, SYNs left
//!   unanswered with retransmissions, and UDP DNS (real queries and
//!   answers), Kerberos and CLDAP exchanges; ~5% of conversations over
//!   IPv6 and ~5% VLAN-tagged, independently.
//! * [`StreamKind::Small`]: the per-packet stress capture. Thousands of
//!   hosts, short TCP sessions exchanging 10-byte messages and UDP pairs of
//!   22-byte datagrams, so that nearly every frame is 60 to 66 bytes (64 for
//!   data; ACKs and RSTs carry the 6 bytes of Ethernet padding a receiving
//!   NIC reports).
//!
//! The two benchmark kinds keep the traffic steady at
//! [`StreamConfig::bytes_per_sec`] and are built for speed: a conversation is
//! planned as a list of small packet descriptors (timestamp, direction,
//! flags, sequence numbers, payload length) in a time-ordered heap, and each
//! frame is built only when written, into one reused buffer, with payload
//! bytes taken from a fixed random pool (or a precomputed DNS message or TLS
//! ClientHello). Nothing is allocated per packet; a GiB takes seconds.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::frame::{
    build_frame, mac_for_ip, Direction, Encap, IpInfo, LinkInfo, Mac, TcpFlags, TcpHeader,
    TcpOptions, Transport, Unreachable,
};
use super::payload::{self, DnsAnswer, TlsVersion, DNS_TYPE_A, DNS_TYPE_AAAA};
use super::rng::{mix64, Rng};
use super::scenario::{Close, Traffic};
use super::writer::CaptureWriter;
use super::{Result, SynthError};

/// What a streamed capture carries (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// Hybrid-identity conversations, [`StreamConfig::conversations_per_window`] per window.
    #[default]
    Identity,
    /// The realistic benchmark mix: ~200 hosts, TCP sessions with bulk data,
    /// refused and unanswered attempts, DNS/Kerberos/CLDAP, some IPv6 and VLAN.
    Mix,
    /// The small-packet benchmark: nearly every frame 60 to 66 bytes, many flows.
    Small,
}

impl StreamKind {
    /// The kind's name on the command line (`identity`, `mix`, `small`).
    pub fn name(self) -> &'static str {
        match self {
            StreamKind::Identity => "identity",
            StreamKind::Mix => "mix",
            StreamKind::Small => "small",
        }
    }
}

impl std::str::FromStr for StreamKind {
    type Err = SynthError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "identity" => Ok(StreamKind::Identity),
            "mix" => Ok(StreamKind::Mix),
            "small" => Ok(StreamKind::Small),
            _ => Err(SynthError::InvalidParameter(format!(
                "unknown stream kind {s:?} (mix, small or identity)"
            ))),
        }
    }
}

/// Parameters of a streamed capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Stop once the writer has written at least this many bytes.
    pub target_bytes: u64,
    /// Timestamp of the first window.
    pub start_ns: i64,
    /// Window length.
    pub window_ns: i64,
    /// Conversations started per window ([`StreamKind::Identity`] only).
    pub conversations_per_window: u32,
    /// Encapsulation of every frame ([`StreamKind::Identity`] only; the
    /// benchmark kinds use Ethernet, some of it VLAN-tagged).
    pub encap: Encap,
    /// What the capture carries.
    pub kind: StreamKind,
    /// Frame bytes per second of capture time the benchmark kinds start
    /// (their average rate; ignored by [`StreamKind::Identity`]).
    pub bytes_per_sec: u64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            seed: 0x5eed,
            target_bytes: 16 << 20,
            start_ns: 1_768_467_600_000_000_000,
            window_ns: 1_000_000_000,
            conversations_per_window: 400,
            encap: Encap::Ethernet,
            kind: StreamKind::Identity,
            bytes_per_sec: 125_000_000,
        }
    }
}

impl StreamConfig {
    /// The benchmark configuration: `kind` at 1 Gbit/s (125 MB of frames per
    /// second of capture time) in 10 ms windows, until `target_bytes`.
    pub fn bench(kind: StreamKind, seed: u64, target_bytes: u64) -> StreamConfig {
        StreamConfig {
            seed,
            target_bytes,
            window_ns: 10_000_000,
            kind,
            ..StreamConfig::default()
        }
    }
}

/// What [`generate`] produced.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StreamStats {
    /// Packets written.
    pub packets: u64,
    /// Bytes written by the capture writer.
    pub bytes: u64,
    /// Conversations generated (each is one flow: a 5-tuple's connection or exchange).
    pub conversations: u64,
    /// Windows walked.
    pub windows: u64,
    /// Largest number of packets buffered at once (memory high-water mark).
    pub max_pending: usize,
}

const SNIS: &[&str] = &[
    "login.microsoftonline.com",
    "graph.microsoft.com",
    "adminwebservice.microsoftonline.com",
    "enterpriseregistration.windows.net",
    "autologon.microsoftazuread-sso.com",
];

/// Streams synthetic traffic into `w` until it holds `cfg.target_bytes`.
///
/// Errors: a window length, conversation count or byte rate of zero, or a
/// failure of the writer.
pub fn generate<W: CaptureWriter + ?Sized>(w: &mut W, cfg: &StreamConfig) -> Result<StreamStats> {
    if cfg.window_ns <= 0 {
        return Err(SynthError::InvalidParameter(
            "the window length must be positive".into(),
        ));
    }
    match cfg.kind {
        StreamKind::Identity => generate_identity(w, cfg),
        StreamKind::Mix | StreamKind::Small => generate_bench(w, cfg),
    }
}

fn generate_identity<W: CaptureWriter + ?Sized>(
    w: &mut W,
    cfg: &StreamConfig,
) -> Result<StreamStats> {
    if cfg.conversations_per_window == 0 {
        return Err(SynthError::InvalidParameter(
            "window length and conversations per window must be positive".into(),
        ));
    }
    let mut rng = Rng::new(cfg.seed);
    let mut traffic = Traffic::new(rng.next_u64());
    traffic.set_link(cfg.encap, 0);
    let mut stats = StreamStats::default();
    let mut next_port: u16 = 49_152;
    let start_bytes = w.bytes_written();
    let mut window_start = cfg.start_ns;
    while w.bytes_written() - start_bytes < cfg.target_bytes {
        for _ in 0..cfg.conversations_per_window {
            let at = window_start + rng.below(cfg.window_ns as u64) as i64;
            next_port = if next_port == u16::MAX {
                49_152
            } else {
                next_port + 1
            };
            add_random_conversation(&mut traffic, &mut rng, at, next_port)?;
            stats.conversations += 1;
        }
        stats.max_pending = stats.max_pending.max(traffic.pending());
        window_start += cfg.window_ns;
        stats.packets += traffic.write_until(window_start, w)?;
        stats.windows += 1;
    }
    stats.packets += traffic.write_all(w)?;
    stats.bytes = w.bytes_written() - start_bytes;
    Ok(stats)
}

/// Parses a size such as `1GiB`, `512MiB`, `10GiB`, `64KiB`, `2GB` or
/// `1048576` (bytes). Binary suffixes (`KiB`, `MiB`, `GiB`, `TiB`, also `K`,
/// `M`, `G`, `T`) multiply by powers of 1024, decimal ones (`KB`, `MB`,
/// `GB`, `TB`) by powers of 1000; a trailing `B` alone means bytes. Case and
/// a space before the unit are ignored.
pub fn parse_size(s: &str) -> Result<u64> {
    let bad = || SynthError::InvalidParameter(format!("invalid size {s:?} (e.g. 1GiB, 512MiB)"));
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    if num.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = num.parse::<u64>() {
        return n.checked_mul(mult).ok_or_else(bad);
    }
    // A fraction such as 1.5GiB.
    let f: f64 = num.parse().map_err(|_| bad())?;
    let v = f * mult as f64;
    if !v.is_finite() || v < 0.0 || v >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(v as u64)
}

fn add_random_conversation(t: &mut Traffic, rng: &mut Rng, at: i64, port: u16) -> Result<()> {
    let client_ip = Ipv4Addr::new(10, 1, 1 + rng.below(16) as u8, 10 + rng.below(240) as u8);
    let client = SocketAddr::new(IpAddr::V4(client_ip), port);
    let dc = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 2 + rng.below(4) as u8));
    let cloud4 = Ipv4Addr::new(20, 190, 128 + rng.below(64) as u8, 1 + rng.below(254) as u8);
    let cloud = IpAddr::V4(cloud4);
    let sizes = |rng: &mut Rng, n: u64, max: u64| -> Vec<(usize, usize)> {
        (0..1 + rng.below(n))
            .map(|_| (rng.range(60, 600) as usize, rng.range(80, max) as usize))
            .collect()
    };
    match rng.below(100) {
        0..=29 => {
            let ex = sizes(rng, 4, 4_000);
            t.tcp_session(client, SocketAddr::new(dc, 389), at, &ex, Close::Fin)?;
        }
        30..=44 => {
            let (q, r) = (
                rng.range(200, 1_400) as usize,
                rng.range(300, 1_400) as usize,
            );
            t.udp_exchange(client, SocketAddr::new(dc, 88), at, q, r)?;
        }
        45..=59 => {
            let name = rng
                .pick(SNIS)
                .copied()
                .unwrap_or("login.microsoftonline.com");
            t.dns_lookup(
                client,
                SocketAddr::new(dc, 53),
                name,
                &[DnsAnswer::A(cloud4)],
                at,
            )?;
        }
        60..=69 => {
            let ex = sizes(rng, 3, 64_000);
            let close = if rng.chance(1, 10) {
                Close::Rst
            } else {
                Close::Fin
            };
            t.tcp_session(client, SocketAddr::new(dc, 445), at, &ex, close)?;
        }
        70..=79 => {
            let sni = rng.pick(SNIS).copied();
            let v = if rng.chance(1, 2) {
                TlsVersion::Tls13
            } else {
                TlsVersion::Tls12
            };
            let ex = sizes(rng, 3, 8_000);
            t.tls_session(
                client,
                SocketAddr::new(cloud, 443),
                sni,
                v,
                at,
                &ex,
                Close::Fin,
            )?;
        }
        80..=84 => {
            t.tcp_refused(client, SocketAddr::new(dc, 636), at)?;
        }
        85..=89 => {
            let dst = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 3)), 445);
            t.tcp_unanswered(client, dst, at, 2)?;
        }
        90..=94 => {
            let dst = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 4)), 5985);
            let router = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1));
            t.tcp_icmp_unreachable(client, dst, router, Unreachable::AdminProhibited, at)?;
        }
        _ => {
            t.udp_icmp_port_unreachable(client, SocketAddr::new(dc, 123), at, 48)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The benchmark kinds: packets planned as descriptors, frames built on write.
// ---------------------------------------------------------------------------

/// Random bytes that payloads are cut from (larger than any payload).
const POOL_LEN: usize = 1 << 18;
/// Shortest Ethernet frame without its FCS; shorter frames are padded, as a
/// receiving NIC reports them.
const MIN_ETHERNET_FRAME: usize = 60;
/// Bytes a pcap record adds to a frame (used to pace the benchmark kinds).
const RECORD_OVERHEAD: u64 = 16;

const LAN_RTT_NS: i64 = 400_000;
const WAN_RTT_NS: i64 = 18_000_000;
const SERVER_THINK_NS: i64 = 200_000;
const CLIENT_THINK_NS: i64 = 1_500_000;
const ACK_DELAY_NS: i64 = 40_000;
/// Back-to-back segments: one 1514-byte frame every 12 µs is about 1 Gbit/s.
const SEGMENT_GAP_NS: i64 = 12_000;
/// Client and server window fields after the handshake (scaled by 2^8).
const CLIENT_WINDOW: u16 = 1026;
const SERVER_WINDOW: u16 = 2053;

const SYN: u8 = TcpFlags::SYN.0;
const ACK: u8 = TcpFlags::ACK.0;
const FIN: u8 = TcpFlags::FIN.0;
const RST: u8 = TcpFlags::RST.0;
const PSH: u8 = TcpFlags::PSH.0;

/// Where a packet's payload bytes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    /// A slice of the random pool.
    Random,
    /// A precomputed message (a TLS ClientHello), cut to the packet's length.
    Fixed(u16),
    /// A precomputed DNS message whose id is replaced by the conversation's.
    Dns(u16),
}

/// A message of a TCP exchange: its length and where its bytes come from.
#[derive(Clone, Copy, Debug)]
struct Msg {
    len: u32,
    body: Body,
}

impl Msg {
    fn random(len: u64) -> Msg {
        Msg {
            len: len as u32,
            body: Body::Random,
        }
    }
}

/// One planned packet: everything needed to build its frame later.
#[derive(Clone, Copy, Debug)]
struct Pkt {
    ts: i64,
    /// Planning order: breaks timestamp ties and seeds the payload offset.
    order: u64,
    conv: u32,
    seq: u32,
    ack: u32,
    len: u16,
    window: u16,
    flags: u8,
    udp: bool,
    from_client: bool,
    body: Body,
}

impl PartialEq for Pkt {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pkt {}
impl PartialOrd for Pkt {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pkt {
    // Reversed so that BinaryHeap (a max-heap) pops the earliest packet.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .ts
            .cmp(&self.ts)
            .then_with(|| other.order.cmp(&self.order))
    }
}

/// A conversation with packets still queued.
#[derive(Clone, Debug)]
struct Conv {
    client: IpAddr,
    server: IpAddr,
    cport: u16,
    sport: u16,
    encap: Encap,
    c_mac: Mac,
    s_mac: Mac,
    c_ident: u16,
    s_ident: u16,
    s_ttl: u8,
    c_flow: u32,
    s_flow: u32,
    mss: u16,
    rtt: i64,
    dns_id: u16,
    /// Packets of this conversation still in the heap.
    left: u32,
}

/// A host with an IPv4 and an IPv6 address.
#[derive(Clone, Copy, Debug)]
struct Host {
    v4: Ipv4Addr,
    v6: Ipv6Addr,
}

impl Host {
    fn new(v4: Ipv4Addr, v6_prefix: [u16; 3]) -> Host {
        let o = v4.octets();
        let v6 = Ipv6Addr::new(
            v6_prefix[0],
            v6_prefix[1],
            v6_prefix[2],
            0,
            0,
            0,
            u16::from(o[2]),
            u16::from(o[3]),
        );
        Host { v4, v6 }
    }

    fn addr(&self, v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(self.v6)
        } else {
            IpAddr::V4(self.v4)
        }
    }
}

/// A DNS lookup: indexes of its query and response in the fixed table.
#[derive(Clone, Copy, Debug)]
struct Lookup {
    query: u16,
    response: u16,
}

/// The benchmark generator's state.
struct Bench {
    kind: StreamKind,
    rng: Rng,
    heap: BinaryHeap<Pkt>,
    next_order: u64,
    convs: Vec<Conv>,
    free: Vec<u32>,
    clients: Vec<Host>,
    ports: Vec<u16>,
    /// Domain controllers (DNS, LDAP, Kerberos, CLDAP, SMB).
    dcs: Vec<Host>,
    /// File servers (SMB).
    files: Vec<Host>,
    /// Application servers (RPC), or every server of the small kind.
    apps: Vec<Host>,
    /// Addresses nobody answers from.
    offline: Vec<Host>,
    /// Cloud endpoints (HTTPS).
    cloud: Vec<Host>,
    lookups: Vec<Lookup>,
    hellos: Vec<u16>,
    fixed: Vec<Vec<u8>>,
    pool: Vec<u8>,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    exchanges: Vec<(Msg, Msg)>,
    /// Record bytes planned so far (frames plus pcap record headers).
    planned: u64,
    /// Record bytes planned but not written yet.
    pending_bytes: u64,
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

/// A host of `hosts` chosen at random (a placeholder when there is none).
fn pick(rng: &mut Rng, hosts: &[Host]) -> Host {
    let i = rng.below(hosts.len() as u64) as usize;
    hosts
        .get(i)
        .copied()
        .unwrap_or_else(|| Host::new(v4(10, 0, 0, 1), [0xfd00, 0, 0]))
}

fn hosts(n: usize, f: impl Fn(usize) -> Ipv4Addr, v6_prefix: [u16; 3]) -> Vec<Host> {
    (0..n).map(|i| Host::new(f(i), v6_prefix)).collect()
}

impl Bench {
    fn new(kind: StreamKind, seed: u64) -> Result<Bench> {
        let mut rng = Rng::new(seed);
        let mut pool = vec![0u8; POOL_LEN];
        rng.fill(&mut pool);
        let site = [0xfd00, 0x20, 0];
        let (clients, dcs, files, apps, offline) = match kind {
            StreamKind::Small => (
                hosts(
                    2_000,
                    |i| v4(10, 30, 1 + (i / 250) as u8, 2 + (i % 250) as u8),
                    site,
                ),
                Vec::new(),
                Vec::new(),
                hosts(64, |i| v4(10, 30, 0, 2 + i as u8), site),
                hosts(4, |i| v4(10, 30, 0, 200 + i as u8), site),
            ),
            _ => (
                // 186 clients, 4 DCs, 4 file servers, 2 application
                // servers and 2 addresses that never answer: 198 hosts.
                hosts(
                    186,
                    |i| v4(10, 20, 1 + (i / 64) as u8, 10 + (i % 64) as u8),
                    site,
                ),
                hosts(4, |i| v4(10, 20, 0, 2 + i as u8), site),
                hosts(4, |i| v4(10, 20, 0, 10 + i as u8), site),
                hosts(2, |i| v4(10, 20, 0, 20 + i as u8), site),
                hosts(2, |i| v4(10, 20, 0, 30 + i as u8), site),
            ),
        };
        let cloud = hosts(
            16,
            |i| v4(20, 190, 128 + (i / 4) as u8, 10 + 7 * i as u8),
            [0x2603, 0x1036, 0x3000],
        );
        let ports = (0..clients.len())
            .map(|i| 49_152 + ((i * 397) % 16_384) as u16)
            .collect();
        let mut b = Bench {
            kind,
            rng,
            heap: BinaryHeap::new(),
            next_order: 0,
            convs: Vec::new(),
            free: Vec::new(),
            clients,
            ports,
            dcs,
            files,
            apps,
            offline,
            cloud,
            lookups: Vec::new(),
            hellos: Vec::new(),
            fixed: Vec::new(),
            pool,
            buf: Vec::with_capacity(2_048),
            scratch: Vec::with_capacity(512),
            exchanges: Vec::new(),
            planned: 0,
            pending_bytes: 0,
        };
        if kind == StreamKind::Mix {
            b.precompute_messages()?;
        }
        Ok(b)
    }

    /// DNS lookups of the site's servers and the cloud names (A and AAAA),
    /// and TLS ClientHellos for every cloud name.
    fn precompute_messages(&mut self) -> Result<()> {
        let mut names: Vec<(String, Host)> = Vec::new();
        for (i, h) in self.dcs.iter().enumerate() {
            names.push((format!("dc{:02}.corp.example", i + 1), *h));
        }
        for (i, h) in self.files.iter().enumerate() {
            names.push((format!("fs{:02}.corp.example", i + 1), *h));
        }
        for (i, h) in self.apps.iter().enumerate() {
            names.push((format!("app{:02}.corp.example", i + 1), *h));
        }
        for (i, name) in SNIS.iter().enumerate() {
            names.push((name.to_string(), self.cloud[i % self.cloud.len()]));
        }
        for (name, host) in &names {
            for (qtype, answer) in [
                (DNS_TYPE_A, DnsAnswer::A(host.v4)),
                (DNS_TYPE_AAAA, DnsAnswer::Aaaa(host.v6)),
            ] {
                let q = payload::dns_query(0, name, qtype)?;
                let r = payload::dns_response(0, name, qtype, &[answer], 300)?;
                let query = self.add_fixed(q)?;
                let response = self.add_fixed(r)?;
                self.lookups.push(Lookup { query, response });
            }
        }
        for sni in SNIS {
            for v in [TlsVersion::Tls12, TlsVersion::Tls13] {
                let hello = payload::tls_client_hello(Some(sni), v, &mut self.rng)?;
                let i = self.add_fixed(hello)?;
                self.hellos.push(i);
            }
        }
        Ok(())
    }

    fn add_fixed(&mut self, msg: Vec<u8>) -> Result<u16> {
        if msg.len() > 1_200 {
            return Err(SynthError::PacketTooLarge(msg.len()));
        }
        let i = u16::try_from(self.fixed.len())
            .map_err(|_| SynthError::InvalidParameter("too many fixed messages".into()))?;
        self.fixed.push(msg);
        Ok(i)
    }

    /// Starts a conversation from client `ci` to `server:port`; returns its slot.
    fn conv(&mut self, ci: usize, server: Host, port: u16, v6: bool, wan: bool) -> u32 {
        let client = self.clients[ci];
        let cport = self.ports[ci];
        self.ports[ci] = if cport == u16::MAX { 49_152 } else { cport + 1 };
        let vlan = self.rng.chance(1, 20);
        let encap = if vlan {
            Encap::Vlan(100 + (ci % 8) as u16)
        } else {
            Encap::Ethernet
        };
        let (c, s) = (client.addr(v6), server.addr(v6));
        let base = if wan { WAN_RTT_NS } else { LAN_RTT_NS };
        let rtt = base * self.rng.range(75, 126) as i64 / 100;
        let conv = Conv {
            client: c,
            server: s,
            cport,
            sport: port,
            encap,
            c_mac: mac_for_ip(c),
            s_mac: mac_for_ip(s),
            c_ident: self.rng.next_u32() as u16,
            s_ident: self.rng.next_u32() as u16,
            s_ttl: if wan { 113 } else { 128 },
            c_flow: self.rng.next_u32() & 0x000f_ffff,
            s_flow: self.rng.next_u32() & 0x000f_ffff,
            mss: if v6 { 1440 } else { 1460 },
            rtt,
            dns_id: self.rng.next_u32() as u16,
            left: 0,
        };
        match self.free.pop() {
            Some(slot) => {
                self.convs[slot as usize] = conv;
                slot
            }
            None => {
                self.convs.push(conv);
                (self.convs.len() - 1) as u32
            }
        }
    }

    /// Queues one packet.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        conv: u32,
        ts: i64,
        from_client: bool,
        flags: u8,
        seq: u32,
        ack: u32,
        window: u16,
        msg: Msg,
    ) {
        self.queue(Pkt {
            ts,
            order: 0,
            conv,
            seq,
            ack,
            len: msg.len as u16,
            window,
            flags,
            udp: false,
            from_client,
            body: msg.body,
        });
    }

    fn push_udp(&mut self, conv: u32, ts: i64, from_client: bool, msg: Msg) {
        self.queue(Pkt {
            ts,
            order: 0,
            conv,
            seq: 0,
            ack: 0,
            len: msg.len as u16,
            window: 0,
            flags: 0,
            udp: true,
            from_client,
            body: msg.body,
        });
    }

    fn queue(&mut self, mut p: Pkt) {
        p.order = self.next_order;
        self.next_order += 1;
        let c = &mut self.convs[p.conv as usize];
        c.left += 1;
        let ip = if c.client.is_ipv6() { 40 } else { 20 };
        let l4 = match (p.udp, p.flags & SYN != 0) {
            (true, _) => 8,
            (false, true) => 32,
            (false, false) => 20,
        };
        let frame = (c.encap.header_len() + ip + l4 + usize::from(p.len)).max(MIN_ETHERNET_FRAME);
        self.planned += frame as u64 + RECORD_OVERHEAD;
        self.pending_bytes += frame as u64 + RECORD_OVERHEAD;
        self.heap.push(p);
    }

    /// A TCP session: handshake, the exchanges (requests in MSS-sized
    /// segments, PSH on the last; responses one round trip plus think time
    /// later, the client ACKing every second segment and the last), close.
    fn tcp_session(&mut self, conv: u32, start: i64, exchanges: &[(Msg, Msg)], close: Close) {
        let (rtt, mss) = {
            let c = &self.convs[conv as usize];
            (c.rtt, u32::from(c.mss))
        };
        let none = Msg::random(0);
        let isn_c = self.rng.next_u32();
        let isn_s = self.rng.next_u32();
        let mut t = start;
        self.push(conv, t, true, SYN, isn_c, 0, 64_240, none);
        let mut cseq = isn_c.wrapping_add(1);
        t += rtt;
        self.push(conv, t, false, SYN | ACK, isn_s, cseq, 65_535, none);
        let mut sseq = isn_s.wrapping_add(1);
        t += ACK_DELAY_NS;
        self.push(conv, t, true, ACK, cseq, sseq, CLIENT_WINDOW, none);
        for (i, &(req, resp)) in exchanges.iter().enumerate() {
            t += if i == 0 {
                SEGMENT_GAP_NS
            } else {
                CLIENT_THINK_NS
            };
            let mut sent = 0;
            while sent < req.len {
                let n = (req.len - sent).min(mss);
                let last = sent + n == req.len;
                let flags = if last { PSH | ACK } else { ACK };
                let body = if sent == 0 { req.body } else { Body::Random };
                let m = Msg { len: n, body };
                self.push(conv, t, true, flags, cseq, sseq, CLIENT_WINDOW, m);
                cseq = cseq.wrapping_add(n);
                sent += n;
                if !last {
                    t += SEGMENT_GAP_NS;
                }
            }
            if resp.len == 0 {
                if req.len > 0 {
                    t += rtt;
                    self.push(conv, t, false, ACK, sseq, cseq, SERVER_WINDOW, none);
                }
                continue;
            }
            t += rtt + SERVER_THINK_NS;
            let mut last_ack = t;
            let mut sent = 0;
            let mut k = 0;
            while sent < resp.len {
                let n = (resp.len - sent).min(mss);
                let last = sent + n == resp.len;
                let flags = if last { PSH | ACK } else { ACK };
                let body = if sent == 0 { resp.body } else { Body::Random };
                let m = Msg { len: n, body };
                self.push(conv, t, false, flags, sseq, cseq, SERVER_WINDOW, m);
                sseq = sseq.wrapping_add(n);
                sent += n;
                if k % 2 == 1 || last {
                    last_ack = t + ACK_DELAY_NS;
                    self.push(conv, last_ack, true, ACK, cseq, sseq, CLIENT_WINDOW, none);
                }
                if !last {
                    t += SEGMENT_GAP_NS;
                }
                k += 1;
            }
            t = t.max(last_ack);
        }
        match close {
            Close::Fin => {
                t += CLIENT_THINK_NS;
                self.push(conv, t, true, FIN | ACK, cseq, sseq, CLIENT_WINDOW, none);
                cseq = cseq.wrapping_add(1);
                t += rtt;
                self.push(conv, t, false, ACK, sseq, cseq, SERVER_WINDOW, none);
                t += SEGMENT_GAP_NS;
                self.push(conv, t, false, FIN | ACK, sseq, cseq, SERVER_WINDOW, none);
                sseq = sseq.wrapping_add(1);
                t += SEGMENT_GAP_NS;
                self.push(conv, t, true, ACK, cseq, sseq, CLIENT_WINDOW, none);
            }
            Close::Rst => {
                t += CLIENT_THINK_NS;
                self.push(conv, t, true, RST | ACK, cseq, sseq, 0, none);
            }
            Close::Open => {}
        }
    }

    /// A SYN answered by RST/ACK one round trip later.
    fn tcp_refused(&mut self, conv: u32, start: i64) {
        let rtt = self.convs[conv as usize].rtt;
        let isn = self.rng.next_u32();
        let none = Msg::random(0);
        self.push(conv, start, true, SYN, isn, 0, 64_240, none);
        let ack = isn.wrapping_add(1);
        self.push(conv, start + rtt, false, RST | ACK, 0, ack, 0, none);
    }

    /// A SYN and `retries` retransmissions at +1 s, +3 s, +7 s…, never answered.
    fn tcp_unanswered(&mut self, conv: u32, start: i64, retries: u32) {
        let isn = self.rng.next_u32();
        for k in 0..=retries.min(6) {
            let ts = start + ((1i64 << k) - 1) * 1_000_000_000;
            self.push(conv, ts, true, SYN, isn, 0, 64_240, Msg::random(0));
        }
    }

    /// A UDP request answered (when `resp` is given) one round trip plus think time later.
    fn udp_exchange(&mut self, conv: u32, start: i64, req: Msg, resp: Option<Msg>) -> i64 {
        let rtt = self.convs[conv as usize].rtt;
        self.push_udp(conv, start, true, req);
        match resp {
            Some(r) => {
                let t = start + rtt + SERVER_THINK_NS;
                self.push_udp(conv, t, false, r);
                t
            }
            None => start,
        }
    }

    fn client(&mut self) -> usize {
        self.rng.below(self.clients.len() as u64) as usize
    }

    /// Plans one conversation of the generator's kind starting at `at`.
    fn plan(&mut self, at: i64) {
        match self.kind {
            StreamKind::Small => self.plan_small(at),
            StreamKind::Mix | StreamKind::Identity => self.plan_mix(at),
        }
    }

    /// Plans one conversation of the realistic mix starting at `at`.
    fn plan_mix(&mut self, at: i64) {
        let ci = self.client();
        let v6 = self.rng.chance(1, 20);
        let dc = pick(&mut self.rng, &self.dcs);
        match self.rng.below(100) {
            // DNS: a real query and answer for a site or cloud name.
            0..=33 => {
                let conv = self.conv(ci, dc, 53, v6, false);
                let i = self.rng.below(self.lookups.len() as u64) as usize;
                let l = self.lookups[i];
                let (ql, rl) = (
                    self.fixed[usize::from(l.query)].len(),
                    self.fixed[usize::from(l.response)].len(),
                );
                let q = Msg {
                    len: ql as u32,
                    body: Body::Dns(l.query),
                };
                let r = Msg {
                    len: rl as u32,
                    body: Body::Dns(l.response),
                };
                self.udp_exchange(conv, at, q, Some(r));
            }
            // Kerberos over UDP.
            34..=43 => {
                let conv = self.conv(ci, dc, 88, v6, false);
                let q = Msg::random(self.rng.range(200, 1_400));
                let r = Msg::random(self.rng.range(300, 1_400));
                self.udp_exchange(conv, at, q, Some(r));
            }
            // CLDAP (the DC locator ping).
            44..=51 => {
                let conv = self.conv(ci, dc, 389, v6, false);
                let q = Msg::random(self.rng.range(150, 260));
                let r = Msg::random(self.rng.range(250, 700));
                self.udp_exchange(conv, at, q, Some(r));
            }
            // TCP sessions with data.
            52..=83 => self.plan_mix_session(ci, dc, v6, at),
            // Refused by RST: LDAPS, WinRM or RDP where nothing listens.
            84..=91 => {
                let (server, port) = match self.rng.below(3) {
                    0 => (dc, 636),
                    1 => (pick(&mut self.rng, &self.apps), 5985),
                    _ => (pick(&mut self.rng, &self.files), 3389),
                };
                let conv = self.conv(ci, server, port, v6, false);
                self.tcp_refused(conv, at);
            }
            // Unanswered SYNs (a host that is down, a firewall that drops).
            _ => {
                let h = pick(&mut self.rng, &self.offline);
                let port = if self.rng.chance(1, 2) { 445 } else { 3389 };
                let conv = self.conv(ci, h, port, v6, false);
                let retries = 1 + self.rng.below(2) as u32;
                self.tcp_unanswered(conv, at, retries);
            }
        }
    }

    fn plan_mix_session(&mut self, ci: usize, dc: Host, v6: bool, at: i64) {
        let mut ex = std::mem::take(&mut self.exchanges);
        ex.clear();
        let r = &mut self.rng;
        let (server, port, wan) = match r.below(100) {
            // LDAP queries to a DC.
            0..=29 => {
                for _ in 0..1 + r.below(4) {
                    ex.push((
                        Msg::random(r.range(60, 600)),
                        Msg::random(r.range(80, 4_000)),
                    ));
                }
                (dc, 389, false)
            }
            // SMB: small operations, and in a third of the sessions a bulk
            // read (or, one time in four, a write) of 64 KiB to 2 MiB.
            30..=64 => {
                for _ in 0..2 + r.below(5) {
                    ex.push((
                        Msg::random(r.range(100, 600)),
                        Msg::random(r.range(100, 8_000)),
                    ));
                }
                if r.chance(1, 3) {
                    let bulk = r.range(64 << 10, 2 << 20);
                    let op = if r.chance(1, 4) {
                        (Msg::random(bulk), Msg::random(r.range(80, 200)))
                    } else {
                        (Msg::random(r.range(100, 200)), Msg::random(bulk))
                    };
                    ex.push(op);
                }
                // A file server, or now and then a DC (SYSVOL).
                let i = r.below(self.files.len() as u64 + 1) as usize;
                let server = self.files.get(i).copied().unwrap_or(dc);
                (server, 445, false)
            }
            // HTTPS to a cloud endpoint: ClientHello, server flight, key
            // exchange, then application data.
            65..=89 => {
                let i = r.below(self.hellos.len() as u64) as usize;
                let hello = self.hellos.get(i).copied().unwrap_or(0);
                let hello_len = self.fixed.get(usize::from(hello)).map_or(0, Vec::len);
                ex.push((
                    Msg {
                        len: hello_len as u32,
                        body: Body::Fixed(hello),
                    },
                    Msg::random(r.range(2_900, 5_200)),
                ));
                ex.push((Msg::random(r.range(80, 160)), Msg::random(r.range(50, 300))));
                for _ in 0..1 + r.below(3) {
                    ex.push((
                        Msg::random(r.range(200, 2_000)),
                        Msg::random(r.range(500, 60_000)),
                    ));
                }
                (pick(r, &self.cloud), 443, true)
            }
            // Kerberos over TCP (tickets too large for UDP).
            90..=94 => {
                ex.push((
                    Msg::random(r.range(1_200, 1_500)),
                    Msg::random(r.range(1_300, 1_700)),
                ));
                (dc, 88, false)
            }
            // RPC endpoint mapper.
            _ => {
                for _ in 0..1 + r.below(3) {
                    ex.push((
                        Msg::random(r.range(100, 300)),
                        Msg::random(r.range(100, 400)),
                    ));
                }
                (pick(r, &self.apps), 135, false)
            }
        };
        let close = if self.rng.chance(1, 10) {
            Close::Rst
        } else {
            Close::Fin
        };
        let conv = self.conv(ci, server, port, v6, wan);
        self.tcp_session(conv, at, &ex, close);
        self.exchanges = ex;
    }

    /// Plans one conversation of the small-packet kind starting at `at`.
    fn plan_small(&mut self, at: i64) {
        let ci = self.client();
        let server = pick(&mut self.rng, &self.apps);
        match self.rng.below(100) {
            // Short TCP sessions of 10-byte messages: 64-byte data frames,
            // 60-byte ACKs.
            0..=54 => {
                const PORTS: [u16; 6] = [445, 135, 389, 80, 8080, 3268];
                let port = PORTS[self.rng.below(PORTS.len() as u64) as usize];
                let mut ex = std::mem::take(&mut self.exchanges);
                ex.clear();
                for _ in 0..1 + self.rng.below(8) {
                    ex.push((Msg::random(10), Msg::random(10)));
                }
                let close = if self.rng.chance(1, 20) {
                    Close::Rst
                } else {
                    Close::Fin
                };
                let conv = self.conv(ci, server, port, false, false);
                self.tcp_session(conv, at, &ex, close);
                self.exchanges = ex;
            }
            55..=64 => {
                let conv = self.conv(ci, server, 636, false, false);
                self.tcp_refused(conv, at);
            }
            65..=69 => {
                let h = pick(&mut self.rng, &self.offline);
                let conv = self.conv(ci, h, 445, false, false);
                self.tcp_unanswered(conv, at, 1);
            }
            // UDP pairs of 22-byte datagrams (64-byte frames); syslog is one-way.
            _ => {
                const PORTS: [u16; 5] = [123, 161, 389, 88, 514];
                let port = PORTS[self.rng.below(PORTS.len() as u64) as usize];
                let conv = self.conv(ci, server, port, false, false);
                let mut t = at;
                for _ in 0..1 + self.rng.below(4) {
                    let resp = (port != 514).then(|| Msg::random(22));
                    t = self.udp_exchange(conv, t, Msg::random(22), resp) + CLIENT_THINK_NS;
                }
            }
        }
    }

    /// Writes, in time order, every queued packet earlier than `limit`.
    fn write_until<W: CaptureWriter + ?Sized>(&mut self, limit: i64, w: &mut W) -> Result<u64> {
        let mut n = 0;
        while let Some(p) = self.heap.peek() {
            if p.ts >= limit {
                break;
            }
            let p = *p;
            self.heap.pop();
            self.write_packet(&p, w)?;
            n += 1;
        }
        Ok(n)
    }

    /// Builds the frame of `p` into the reused buffer and writes it.
    fn write_packet<W: CaptureWriter + ?Sized>(&mut self, p: &Pkt, w: &mut W) -> Result<()> {
        let slot = p.conv as usize;
        let Some(c) = self.convs.get_mut(slot) else {
            return Err(SynthError::InvalidParameter(format!(
                "packet of unknown conversation {slot}"
            )));
        };
        let len = usize::from(p.len);
        let payload: &[u8] = match p.body {
            Body::Random => {
                let room = (POOL_LEN - len.min(POOL_LEN)) as u64 + 1;
                let off = (mix64(p.order) % room) as usize;
                &self.pool[off..off + len]
            }
            Body::Fixed(i) => match self.fixed.get(usize::from(i)) {
                Some(m) => &m[..len.min(m.len())],
                None => &[],
            },
            Body::Dns(i) => {
                self.scratch.clear();
                if let Some(m) = self.fixed.get(usize::from(i)) {
                    self.scratch.extend_from_slice(&m[..len.min(m.len())]);
                }
                if let Some(id) = self.scratch.get_mut(..2) {
                    id.copy_from_slice(&c.dns_id.to_be_bytes());
                }
                &self.scratch
            }
        };
        let (src, dst, src_port, dst_port) = if p.from_client {
            (c.client, c.server, c.cport, c.sport)
        } else {
            (c.server, c.client, c.sport, c.cport)
        };
        let (ident, ttl, flow_label) = if p.from_client {
            c.c_ident = c.c_ident.wrapping_add(1);
            (c.c_ident, 128, c.c_flow)
        } else {
            c.s_ident = c.s_ident.wrapping_add(1);
            (c.s_ident, c.s_ttl, c.s_flow)
        };
        let link = LinkInfo {
            encap: c.encap,
            src_mac: if p.from_client { c.c_mac } else { c.s_mac },
            dst_mac: if p.from_client { c.s_mac } else { c.c_mac },
            direction: if p.from_client {
                Direction::Outgoing
            } else {
                Direction::Incoming
            },
        };
        let ip = IpInfo {
            src,
            dst,
            ttl,
            ident,
            dont_fragment: true,
            flow_label,
        };
        let transport = if p.udp {
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            }
        } else {
            Transport::Tcp {
                header: TcpHeader {
                    src_port,
                    dst_port,
                    seq: p.seq,
                    ack: p.ack,
                    flags: TcpFlags(p.flags),
                    window: p.window,
                    options: if p.flags & SYN != 0 {
                        TcpOptions::syn(c.mss)
                    } else {
                        TcpOptions::default()
                    },
                },
                payload,
            }
        };
        build_frame(&mut self.buf, &link, &ip, &transport)?;
        if self.buf.len() < MIN_ETHERNET_FRAME {
            self.buf.resize(MIN_ETHERNET_FRAME, 0);
        }
        self.pending_bytes = self
            .pending_bytes
            .saturating_sub(self.buf.len() as u64 + RECORD_OVERHEAD);
        c.left = c.left.saturating_sub(1);
        if c.left == 0 {
            self.free.push(p.conv);
        }
        w.write_packet(0, p.ts, &self.buf, self.buf.len() as u32)?;
        Ok(())
    }
}

fn generate_bench<W: CaptureWriter + ?Sized>(w: &mut W, cfg: &StreamConfig) -> Result<StreamStats> {
    if cfg.bytes_per_sec == 0 {
        return Err(SynthError::InvalidParameter(
            "the byte rate must be positive".into(),
        ));
    }
    let window = cfg.window_ns;
    let window_us = (window / 1_000).max(1) as u64;
    // Record bytes to start per window, at least one conversation's worth.
    let budget = (u128::from(cfg.bytes_per_sec) * window as u128 / 1_000_000_000)
        .clamp(1, u128::from(u64::MAX)) as u64;
    let mut b = Bench::new(cfg.kind, cfg.seed)?;
    let mut stats = StreamStats::default();
    let start_bytes = w.bytes_written();
    let mut window_start = cfg.start_ns;
    // Bytes planned beyond the previous windows' budgets, so that the rate
    // holds on average even though conversations come whole.
    let mut ahead: u64 = 0;
    // Written plus still queued: stop starting conversations once that reaches the target, so
    // that the file ends up at the target plus at most the last conversation.
    let reached =
        |w: &W, b: &Bench| w.bytes_written() - start_bytes + b.pending_bytes >= cfg.target_bytes;
    while !reached(w, &b) {
        let goal = b.planned + budget.saturating_sub(ahead);
        let before = b.planned;
        while b.planned < goal && !reached(w, &b) {
            // Whole microseconds, so pcap and pcapng files carry the same times.
            let at = window_start + b.rng.below(window_us) as i64 * 1_000;
            b.plan(at);
            stats.conversations += 1;
        }
        ahead = (ahead + (b.planned - before)).saturating_sub(budget);
        stats.max_pending = stats.max_pending.max(b.heap.len());
        window_start += window;
        stats.packets += b.write_until(window_start, w)?;
        stats.windows += 1;
    }
    stats.packets += b.write_until(i64::MAX, w)?;
    stats.bytes = w.bytes_written() - start_bytes;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::writer::{PcapOptions, PcapWriter};

    fn run(target: u64) -> (Vec<u8>, StreamStats) {
        let cfg = StreamConfig {
            target_bytes: target,
            window_ns: 250_000_000,
            conversations_per_window: 12,
            ..StreamConfig::default()
        };
        let mut w = PcapWriter::new(Vec::new(), PcapOptions::default()).unwrap();
        let stats = generate(&mut w, &cfg).unwrap();
        assert_eq!(stats.packets, w.packets_written());
        (w.into_inner().unwrap(), stats)
    }

    #[test]
    fn reaches_target_in_order_with_bounded_memory() {
        let (buf, stats) = run(2_000_000);
        assert!(stats.bytes >= 2_000_000 - 24);
        assert_eq!(stats.bytes as usize + 24, buf.len());
        let cap = pcap_parser::PcapCapture::from_file(&buf).unwrap();
        assert_eq!(cap.blocks.len() as u64, stats.packets);
        let ts: Vec<u64> = cap
            .blocks
            .iter()
            .map(|b| u64::from(b.ts_sec) * 1_000_000 + u64::from(b.ts_usec))
            .collect();
        assert!(ts.windows(2).all(|w| w[0] <= w[1]), "time order");
        // Memory is bounded by what one window starts (plus tails), far
        // below the whole capture.
        assert!(stats.windows > 5, "{stats:?}");
        assert!((stats.max_pending as u64) < stats.packets / 3, "{stats:?}");
    }

    #[test]
    fn deterministic_and_validates_config() {
        assert_eq!(run(200_000), run(200_000));
        let mut w = PcapWriter::new(Vec::new(), PcapOptions::default()).unwrap();
        let bad = StreamConfig {
            window_ns: 0,
            ..StreamConfig::default()
        };
        assert!(generate(&mut w, &bad).is_err());
    }

    fn bench_capture(kind: StreamKind, seed: u64, target: u64) -> (Vec<u8>, StreamStats) {
        // A tenth of the real rate, so that a few MB span many windows.
        let cfg = StreamConfig {
            bytes_per_sec: 12_500_000,
            ..StreamConfig::bench(kind, seed, target)
        };
        let mut w = PcapWriter::new(Vec::new(), PcapOptions::default()).unwrap();
        let stats = generate(&mut w, &cfg).unwrap();
        assert_eq!(stats.packets, w.packets_written());
        (w.into_inner().unwrap(), stats)
    }

    /// Frame lengths in file order, checking time order on the way.
    fn frames(buf: &[u8]) -> Vec<Vec<u8>> {
        let cap = pcap_parser::PcapCapture::from_file(buf).unwrap();
        let ts: Vec<u64> = cap
            .blocks
            .iter()
            .map(|b| u64::from(b.ts_sec) * 1_000_000 + u64::from(b.ts_usec))
            .collect();
        assert!(ts.windows(2).all(|w| w[0] <= w[1]), "time order");
        cap.blocks.iter().map(|b| b.data.to_vec()).collect()
    }

    /// Every conversation is one flow, decoded without a single problem.
    fn check_flows(buf: &[u8], stats: &StreamStats) -> std::collections::BTreeMap<String, usize> {
        let a = crate::engine::analyze_bytes(buf);
        assert_eq!(a.packets(), stats.packets);
        assert_eq!(
            a.captures[0].decode.total(),
            0,
            "{:?}",
            a.captures[0].decode
        );
        assert_eq!(a.flows.len() as u64, stats.conversations);
        let mut outcomes = std::collections::BTreeMap::new();
        for f in &a.flows {
            *outcomes.entry(format!("{:?}", f.outcome())).or_default() += 1;
        }
        outcomes
    }

    #[test]
    fn parse_size_units() {
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("10GiB").unwrap(), 10 << 30);
        assert_eq!(parse_size("10 gib").unwrap(), 10 << 30);
        assert_eq!(parse_size("64k").unwrap(), 64 << 10);
        assert_eq!(parse_size("2GB").unwrap(), 2_000_000_000);
        assert_eq!(parse_size("1048576").unwrap(), 1 << 20);
        assert_eq!(parse_size("300B").unwrap(), 300);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        for bad in ["", "GiB", "1XB", "-1", "1e999GiB", "99999999999TiB"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        assert_eq!("Mix".parse::<StreamKind>().unwrap(), StreamKind::Mix);
        assert!("large".parse::<StreamKind>().is_err());
    }

    #[test]
    fn bench_mix_is_realistic_and_decodes_cleanly() {
        let (buf, stats) = bench_capture(StreamKind::Mix, 1, 12 << 20);
        // The target, plus at most the last conversation (a bulk transfer of up to 2 MiB).
        assert!(stats.bytes >= 12 << 20, "{stats:?}");
        assert!(stats.bytes < (14 << 20) + 100_000, "{stats:?}");
        let frames = frames(&buf);
        let n = frames.len() as f64;
        let share =
            |f: &dyn Fn(&Vec<u8>) -> bool| frames.iter().filter(|x| f(x)).count() as f64 / n;
        let data = share(&|f| f.len() >= 1_400);
        let acks = share(&|f| f.len() <= 66);
        assert!(data > 0.3 && acks > 0.2, "data {data}, acks {acks}");
        // About one conversation in twenty is VLAN-tagged, one in twenty IPv6.
        let mut convs = std::collections::BTreeSet::new();
        for f in &frames {
            let vlan = f[12..14] == [0x81, 0x00];
            let ip = if vlan { 18 } else { 14 };
            let v6 = f[ip - 2..ip] == [0x86, 0xdd];
            let l4 = ip + if v6 { 40 } else { 20 };
            let ports = [&f[l4..l4 + 2], &f[l4 + 2..l4 + 4]];
            let macs = [&f[0..6], &f[6..12]];
            let key = (
                vlan,
                v6,
                macs.iter().min().unwrap().to_vec(),
                macs.iter().max().unwrap().to_vec(),
                ports.iter().min().unwrap().to_vec(),
                ports.iter().max().unwrap().to_vec(),
            );
            convs.insert(key);
        }
        let n = convs.len() as f64;
        assert!(n as u64 >= stats.conversations * 9 / 10, "{n} of {stats:?}");
        let vlan = convs.iter().filter(|k| k.0).count() as f64 / n;
        let v6 = convs.iter().filter(|k| k.1).count() as f64 / n;
        assert!((0.02..0.09).contains(&vlan), "vlan {vlan} of {n}");
        assert!((0.02..0.09).contains(&v6), "ipv6 {v6} of {n}");
        assert!(frames.iter().all(|f| f.len() >= 60 && f.len() <= 1_518));
        let outcomes = check_flows(&buf, &stats);
        for o in ["Answered", "Refused", "Unanswered"] {
            assert!(outcomes.get(o).copied().unwrap_or(0) > 10, "{outcomes:?}");
        }
        // Memory: what is in flight, far below the capture.
        assert!((stats.max_pending as u64) < stats.packets / 4, "{stats:?}");
    }

    #[test]
    fn bench_small_is_minimum_size_frames() {
        let (buf, stats) = bench_capture(StreamKind::Small, 2, 2 << 20);
        assert!(
            (2 << 20..(2 << 20) + 10_000).contains(&stats.bytes),
            "{stats:?}"
        );
        let frames = frames(&buf);
        let small = frames.iter().filter(|f| f.len() <= 68).count();
        assert!(small as f64 > 0.99 * frames.len() as f64);
        let exactly_64 = frames.iter().filter(|f| f.len() == 64).count();
        assert!(exactly_64 as f64 > 0.4 * frames.len() as f64);
        let outcomes = check_flows(&buf, &stats);
        for o in ["Answered", "Refused", "Unanswered"] {
            assert!(outcomes.get(o).copied().unwrap_or(0) > 10, "{outcomes:?}");
        }
        // Many flows: a handful of packets each.
        assert!(stats.packets < 16 * stats.conversations, "{stats:?}");
    }

    #[test]
    fn bench_kinds_are_deterministic_per_seed() {
        for kind in [StreamKind::Mix, StreamKind::Small] {
            let a = bench_capture(kind, 7, 300_000);
            assert_eq!(a, bench_capture(kind, 7, 300_000));
            assert_ne!(a.0, bench_capture(kind, 8, 300_000).0);
        }
        let mut w = PcapWriter::new(Vec::new(), PcapOptions::default()).unwrap();
        let bad = StreamConfig {
            bytes_per_sec: 0,
            ..StreamConfig::bench(StreamKind::Mix, 1, 1_000)
        };
        assert!(generate(&mut w, &bad).is_err());
    }
}
