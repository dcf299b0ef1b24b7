//! Conversation-level traffic builder.
//!
//! Why: tests and benchmarks think in conversations ("an LDAP session that
//! closes with FIN", "a SYN nobody answers", "a UDP datagram answered by
//! ICMP port unreachable"), not in packets. [`Traffic`] turns such
//! descriptions into correctly sequenced packets: TCP sequence and
//! acknowledgment numbers that add up, handshakes and teardowns, delayed
//! ACKs, retransmission back-off, ICMP errors quoting the packet they answer,
//! timestamps as seen from the client. Conversations may overlap freely;
//! packets are kept in a min-heap keyed by (timestamp, insertion order) and
//! released in time order, either all at once ([`Traffic::write_all`]) or up
//! to a time limit ([`Traffic::write_until`]), which is what lets
//! [`super::stream`] generate arbitrarily large captures in bounded memory.
//!
//! Vantage point: the capture is taken at the client. Client packets are
//! "outgoing" (relevant for Linux cooked captures), server packets arrive one
//! round trip after the client's packet that triggered them.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io;
use std::net::{IpAddr, SocketAddr};

use super::frame::{
    build_frame, group_mac, icmp_quote, mac_for_ip, Direction, Encap, IpInfo, LinkInfo, TcpFlags,
    TcpHeader, TcpOptions, Transport, Unreachable, IPPROTO_TCP, IPPROTO_UDP,
};
use super::payload::{self, DnsAnswer, TlsVersion, DNS_TYPE_A, DNS_TYPE_AAAA};
use super::rng::Rng;
use super::writer::CaptureWriter;
use super::{Result, SynthError};

/// Timing and size parameters shared by the conversations of a [`Traffic`].
///
/// All defaults are whole microseconds, so captures written with microsecond
/// and nanosecond resolution carry identical timestamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Round-trip time to servers on private / ULA / link-local addresses.
    pub lan_rtt_ns: i64,
    /// Round-trip time to servers on public addresses.
    pub wan_rtt_ns: i64,
    /// Server processing time before a response.
    pub server_think_ns: i64,
    /// Client pause between receiving a response and its next request.
    pub client_think_ns: i64,
    /// Delay before the client's acknowledgment of received data.
    pub ack_delay_ns: i64,
    /// Spacing of back-to-back segments of one burst.
    pub segment_gap_ns: i64,
    /// Size of the TLS server's first flight (ServerHello, certificate…).
    pub tls_server_flight_len: usize,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            lan_rtt_ns: 400_000,
            wan_rtt_ns: 18_000_000,
            server_think_ns: 200_000,
            client_think_ns: 1_500_000,
            ack_delay_ns: 40_000,
            segment_gap_ns: 15_000,
            tls_server_flight_len: 2_900,
        }
    }
}

/// How a TCP session ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Close {
    /// Client FIN/ACK, server ACK, server FIN/ACK, client ACK.
    Fin,
    /// Client aborts with RST/ACK.
    Rst,
    /// No teardown: the connection is still open when the capture ends.
    Open,
}

/// What a conversation looks like on the wire (for expectations in tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Outcome {
    /// TCP handshake, data, FIN teardown.
    TcpClosed,
    /// TCP handshake, data, RST from the client.
    TcpReset,
    /// TCP handshake and data, no teardown.
    TcpOpen,
    /// SYN answered by RST/ACK.
    TcpRefused,
    /// SYN (and retransmissions) without any answer.
    TcpUnanswered,
    /// SYN answered by an ICMP destination unreachable.
    TcpIcmpUnreachable(Unreachable),
    /// UDP request answered by the server.
    UdpAnswered,
    /// UDP request(s) without any answer.
    UdpUnanswered,
    /// UDP request answered by an ICMP destination unreachable.
    UdpIcmpUnreachable(Unreachable),
}

/// How every SYN of [`Traffic::tcp_rejected`] is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The server answers RST/ACK (nothing listens, or a host firewall rejects).
    Rst,
    /// `from` (a firewall or router on the path, or the server) answers
    /// with an ICMP destination unreachable for `reason`.
    Icmp {
        /// Sender of the ICMP errors.
        from: IpAddr,
        /// Reason given.
        reason: Unreachable,
    },
}

/// Summary of one generated conversation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ConvSummary {
    /// IP protocol of the conversation (6 TCP, 17 UDP); ICMP errors belong
    /// to the conversation they answer.
    pub protocol: u8,
    /// Client (initiator) address.
    pub client: SocketAddr,
    /// Server (responder) address.
    pub server: SocketAddr,
    /// Timestamp of the first packet.
    pub start_ns: i64,
    /// Timestamp of the last packet.
    pub end_ns: i64,
    /// Packets generated (ICMP errors included).
    pub packets: u32,
    /// Transport payload bytes sent by the client.
    pub client_payload: u64,
    /// Transport payload bytes sent by the server.
    pub server_payload: u64,
    /// Shape of the conversation.
    pub outcome: Outcome,
    /// Capture interface the packets were assigned to.
    pub iface: u32,
    /// Link encapsulation used.
    pub encap: Encap,
}

/// Link encapsulation and capture interface for new conversations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Encapsulation of every frame.
    pub encap: Encap,
    /// Interface id passed to the [`CaptureWriter`].
    pub iface: u32,
}

struct Pending {
    ts_ns: i64,
    seq: u64,
    iface: u32,
    frame: Vec<u8>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    // Reversed so that BinaryHeap (a max-heap) pops the earliest packet.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .ts_ns
            .cmp(&self.ts_ns)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// Per-conversation state: addresses, link, IP header counters, tallies.
struct Conv {
    client: SocketAddr,
    server: SocketAddr,
    link: Link,
    c_ip: IpInfo,
    s_ip: IpInfo,
    packets: u32,
    c_bytes: u64,
    s_bytes: u64,
    first_ns: i64,
    last_ns: i64,
    rtt_ns: i64,
}

impl Conv {
    fn summary(&self, protocol: u8, outcome: Outcome) -> ConvSummary {
        ConvSummary {
            protocol,
            client: self.client,
            server: self.server,
            start_ns: self.first_ns,
            end_ns: self.last_ns,
            packets: self.packets,
            client_payload: self.c_bytes,
            server_payload: self.s_bytes,
            outcome,
            iface: self.link.iface,
            encap: self.link.encap,
        }
    }

    fn mss(&self) -> u16 {
        if self.client.is_ipv6() {
            1440
        } else {
            1460
        }
    }
}

fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_private() || a.is_loopback() || a.is_link_local(),
        IpAddr::V6(a) => {
            let s0 = a.segments()[0];
            a.is_loopback() || (s0 & 0xfe00) == 0xfc00 || (s0 & 0xffc0) == 0xfe80
        }
    }
}

fn same_family(a: IpAddr, b: IpAddr) -> Result<()> {
    if a.is_ipv4() == b.is_ipv4() {
        Ok(())
    } else {
        Err(SynthError::FamilyMismatch(a, b))
    }
}

/// Client window field after the handshake (scaled by 2^8).
const CLIENT_WINDOW: u16 = 1026;
/// Server window field after the handshake (scaled by 2^8).
const SERVER_WINDOW: u16 = 2053;

/// Accumulates timestamped packets of many conversations and writes them in
/// time order. See the module documentation.
pub struct Traffic {
    pending: BinaryHeap<Pending>,
    next_seq: u64,
    rng: Rng,
    link: Link,
    profile: Profile,
    watermark_ns: i64,
}

impl Traffic {
    /// Empty traffic; `seed` drives every random choice (ISNs, IP ids,
    /// payload bytes), so the same calls with the same seed give the same
    /// bytes. New conversations use plain Ethernet on interface 0.
    pub fn new(seed: u64) -> Self {
        Traffic {
            pending: BinaryHeap::new(),
            next_seq: 0,
            rng: Rng::new(seed),
            link: Link {
                encap: Encap::Ethernet,
                iface: 0,
            },
            profile: Profile::default(),
            watermark_ns: i64::MIN,
        }
    }

    /// Sets the encapsulation and capture interface of conversations added
    /// from now on.
    pub fn set_link(&mut self, encap: Encap, iface: u32) {
        self.link = Link { encap, iface };
    }

    /// Current link settings.
    pub fn link(&self) -> Link {
        self.link
    }

    /// Replaces the timing/size profile for conversations added from now on.
    pub fn set_profile(&mut self, profile: Profile) {
        self.profile = profile;
    }

    /// Current profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Packets generated but not yet written.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Timestamp of the earliest unwritten packet.
    pub fn next_ts(&self) -> Option<i64> {
        self.pending.peek().map(|p| p.ts_ns)
    }

    /// Writes, in time order, every pending packet earlier than `limit_ns`;
    /// returns how many were written. Conversations added afterwards may not
    /// have packets earlier than the last packet written
    /// ([`SynthError::OutOfOrder`] otherwise).
    pub fn write_until<W: CaptureWriter + ?Sized>(
        &mut self,
        limit_ns: i64,
        w: &mut W,
    ) -> io::Result<u64> {
        let mut n = 0;
        while self.pending.peek().is_some_and(|p| p.ts_ns < limit_ns) {
            if let Some(p) = self.pending.pop() {
                w.write_packet(p.iface, p.ts_ns, &p.frame, p.frame.len() as u32)?;
                self.watermark_ns = p.ts_ns;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Writes every pending packet in time order; returns how many.
    pub fn write_all<W: CaptureWriter + ?Sized>(&mut self, w: &mut W) -> io::Result<u64> {
        self.write_until(i64::MAX, w)
    }

    /// Drains every pending packet as `(iface, ts_ns, frame)` in time order
    /// (convenient for tests).
    pub fn drain_packets(&mut self) -> Vec<(u32, i64, Vec<u8>)> {
        let mut out = Vec::with_capacity(self.pending.len());
        while let Some(p) = self.pending.pop() {
            self.watermark_ns = p.ts_ns;
            out.push((p.iface, p.ts_ns, p.frame));
        }
        out
    }

    fn conv(&mut self, client: SocketAddr, server: SocketAddr, start_ns: i64) -> Result<Conv> {
        same_family(client.ip(), server.ip())?;
        if start_ns < self.watermark_ns {
            return Err(SynthError::OutOfOrder {
                ts_ns: start_ns,
                watermark_ns: self.watermark_ns,
            });
        }
        let local = is_local(server.ip());
        let c_ip = IpInfo {
            ttl: 128,
            ident: self.rng.next_u32() as u16,
            dont_fragment: true,
            flow_label: self.rng.next_u32() & 0x000f_ffff,
            ..IpInfo::new(client.ip(), server.ip())
        };
        let s_ip = IpInfo {
            ttl: if local { 128 } else { 113 },
            ident: self.rng.next_u32() as u16,
            dont_fragment: true,
            flow_label: self.rng.next_u32() & 0x000f_ffff,
            ..IpInfo::new(server.ip(), client.ip())
        };
        Ok(Conv {
            client,
            server,
            link: self.link,
            c_ip,
            s_ip,
            packets: 0,
            c_bytes: 0,
            s_bytes: 0,
            first_ns: start_ns,
            last_ns: start_ns,
            rtt_ns: if local {
                self.profile.lan_rtt_ns
            } else {
                self.profile.wan_rtt_ns
            },
        })
    }

    /// Builds one frame of `conv` and queues it; returns a copy of the IP
    /// packet when `keep_ip` (for ICMP quoting).
    fn emit(
        &mut self,
        conv: &mut Conv,
        ts_ns: i64,
        from_client: bool,
        transport: &Transport<'_>,
        keep_ip: bool,
    ) -> Result<Option<Vec<u8>>> {
        let ip = if from_client {
            &mut conv.c_ip
        } else {
            &mut conv.s_ip
        };
        let link = LinkInfo {
            encap: conv.link.encap,
            src_mac: mac_for_ip(ip.src),
            dst_mac: mac_for_ip(ip.dst),
            direction: if from_client {
                Direction::Outgoing
            } else {
                Direction::Incoming
            },
        };
        let info = *ip;
        ip.ident = ip.ident.wrapping_add(1);
        let payload_len = match transport {
            Transport::Tcp { payload, .. } | Transport::Udp { payload, .. } => payload.len() as u64,
            Transport::DestUnreachable { .. } => 0,
        };
        if from_client {
            conv.c_bytes += payload_len;
        } else {
            conv.s_bytes += payload_len;
        }
        self.push(conv, ts_ns, &link, &info, transport, keep_ip)
    }

    /// Builds and queues a frame; returns a copy of its IP packet when `keep_ip`.
    fn push(
        &mut self,
        conv: &mut Conv,
        ts_ns: i64,
        link: &LinkInfo,
        ip: &IpInfo,
        transport: &Transport<'_>,
        keep_ip: bool,
    ) -> Result<Option<Vec<u8>>> {
        if ts_ns < self.watermark_ns {
            return Err(SynthError::OutOfOrder {
                ts_ns,
                watermark_ns: self.watermark_ns,
            });
        }
        let mut frame = Vec::with_capacity(96);
        build_frame(&mut frame, link, ip, transport)?;
        conv.packets += 1;
        conv.first_ns = conv.first_ns.min(ts_ns);
        conv.last_ns = conv.last_ns.max(ts_ns);
        let kept = keep_ip.then(|| frame[link.encap.header_len()..].to_vec());
        self.pending.push(Pending {
            ts_ns,
            seq: self.next_seq,
            iface: conv.link.iface,
            frame,
        });
        self.next_seq += 1;
        Ok(kept)
    }

    /// Queues an ICMP destination unreachable from `responder` to the client,
    /// quoting `offending` (the client's IP packet).
    fn emit_icmp(
        &mut self,
        conv: &mut Conv,
        ts_ns: i64,
        responder: IpAddr,
        reason: Unreachable,
        offending: &[u8],
    ) -> Result<()> {
        same_family(responder, conv.client.ip())?;
        let ip = IpInfo {
            ttl: if responder == conv.server.ip() {
                conv.s_ip.ttl
            } else {
                254
            },
            ident: conv.s_ip.ident,
            dont_fragment: false,
            flow_label: 0,
            ..IpInfo::new(responder, conv.client.ip())
        };
        conv.s_ip.ident = conv.s_ip.ident.wrapping_add(1);
        let link = LinkInfo {
            encap: conv.link.encap,
            src_mac: mac_for_ip(responder),
            dst_mac: mac_for_ip(conv.client.ip()),
            direction: Direction::Incoming,
        };
        let t = Transport::DestUnreachable {
            reason,
            quoted: icmp_quote(offending),
        };
        self.push(conv, ts_ns, &link, &ip, &t, false)?;
        Ok(())
    }

    fn tcp(
        conv: &Conv,
        from_client: bool,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        window: u16,
    ) -> TcpHeader {
        let (src_port, dst_port) = if from_client {
            (conv.client.port(), conv.server.port())
        } else {
            (conv.server.port(), conv.client.port())
        };
        TcpHeader {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            window,
            options: TcpOptions::default(),
        }
    }

    fn syn_header(&mut self, conv: &Conv) -> TcpHeader {
        let isn = self.rng.next_u32();
        TcpHeader {
            options: TcpOptions::syn(conv.mss()),
            ..Self::tcp(conv, true, isn, 0, TcpFlags::SYN, 64_240)
        }
    }

    /// A TCP session with opaque payloads: for each `(request, response)`
    /// size pair the client sends `request` bytes and the server answers
    /// with `response` bytes (0 = nothing; a pure ACK acknowledges a request
    /// without response). Payload bytes look like the server port's protocol
    /// (LDAP for 389/3268, Kerberos for 88/464, random otherwise).
    pub fn tcp_session(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        start_ns: i64,
        exchanges: &[(usize, usize)],
        close: Close,
    ) -> Result<ConvSummary> {
        let port = server.port();
        let gen = |len: usize, rng: &mut Rng| match port {
            389 | 3268 => payload::ldap_like(len, rng),
            88 | 464 => payload::kerberos_like(len, true, rng),
            _ => payload::opaque(len, rng),
        };
        let data: Vec<(Vec<u8>, Vec<u8>)> = exchanges
            .iter()
            .map(|&(q, r)| (gen(q, &mut self.rng), gen(r, &mut self.rng)))
            .collect();
        self.tcp_session_with(client, server, start_ns, &data, close)
    }

    /// A TCP session carrying the given payloads: three-way handshake (with
    /// MSS, window scale and SACK-permitted options), for each exchange the
    /// request in MSS-sized segments (PSH on the last), the response one
    /// round trip plus server think time later (the client ACKs every second
    /// segment and the last), then the teardown selected by `close`.
    pub fn tcp_session_with(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        start_ns: i64,
        exchanges: &[(Vec<u8>, Vec<u8>)],
        close: Close,
    ) -> Result<ConvSummary> {
        let mut c = self.conv(client, server, start_ns)?;
        let p = self.profile.clone();
        let rtt = c.rtt_ns;
        let mss = usize::from(c.mss());
        let mut ts = start_ns;

        let syn = self.syn_header(&c);
        let mut cseq = syn.seq.wrapping_add(1);
        self.emit(
            &mut c,
            ts,
            true,
            &Transport::Tcp {
                header: syn,
                payload: &[],
            },
            false,
        )?;
        let isn_s = self.rng.next_u32();
        ts += rtt;
        let synack = TcpHeader {
            options: TcpOptions::syn(c.mss()),
            ..Self::tcp(
                &c,
                false,
                isn_s,
                cseq,
                TcpFlags::SYN | TcpFlags::ACK,
                65_535,
            )
        };
        self.emit(
            &mut c,
            ts,
            false,
            &Transport::Tcp {
                header: synack,
                payload: &[],
            },
            false,
        )?;
        let mut sseq = isn_s.wrapping_add(1);
        ts += p.ack_delay_ns;
        let ack = Self::tcp(&c, true, cseq, sseq, TcpFlags::ACK, CLIENT_WINDOW);
        self.emit(
            &mut c,
            ts,
            true,
            &Transport::Tcp {
                header: ack,
                payload: &[],
            },
            false,
        )?;

        for (i, (req, resp)) in exchanges.iter().enumerate() {
            ts += if i == 0 {
                p.segment_gap_ns
            } else {
                p.client_think_ns
            };
            let n_req = req.chunks(mss).count();
            for (k, chunk) in req.chunks(mss).enumerate() {
                let flags = if k + 1 == n_req {
                    TcpFlags::PSH | TcpFlags::ACK
                } else {
                    TcpFlags::ACK
                };
                let h = Self::tcp(&c, true, cseq, sseq, flags, CLIENT_WINDOW);
                self.emit(
                    &mut c,
                    ts,
                    true,
                    &Transport::Tcp {
                        header: h,
                        payload: chunk,
                    },
                    false,
                )?;
                cseq = cseq.wrapping_add(chunk.len() as u32);
                if k + 1 < n_req {
                    ts += p.segment_gap_ns;
                }
            }
            if resp.is_empty() {
                if !req.is_empty() {
                    ts += rtt;
                    let h = Self::tcp(&c, false, sseq, cseq, TcpFlags::ACK, SERVER_WINDOW);
                    self.emit(
                        &mut c,
                        ts,
                        false,
                        &Transport::Tcp {
                            header: h,
                            payload: &[],
                        },
                        false,
                    )?;
                }
                continue;
            }
            ts += rtt + p.server_think_ns;
            let n_resp = resp.chunks(mss).count();
            let mut last_ack = ts;
            for (k, chunk) in resp.chunks(mss).enumerate() {
                let last = k + 1 == n_resp;
                let flags = if last {
                    TcpFlags::PSH | TcpFlags::ACK
                } else {
                    TcpFlags::ACK
                };
                let h = Self::tcp(&c, false, sseq, cseq, flags, SERVER_WINDOW);
                self.emit(
                    &mut c,
                    ts,
                    false,
                    &Transport::Tcp {
                        header: h,
                        payload: chunk,
                    },
                    false,
                )?;
                sseq = sseq.wrapping_add(chunk.len() as u32);
                if k % 2 == 1 || last {
                    last_ack = ts + p.ack_delay_ns;
                    let h = Self::tcp(&c, true, cseq, sseq, TcpFlags::ACK, CLIENT_WINDOW);
                    self.emit(
                        &mut c,
                        last_ack,
                        true,
                        &Transport::Tcp {
                            header: h,
                            payload: &[],
                        },
                        false,
                    )?;
                }
                if !last {
                    ts += p.segment_gap_ns;
                }
            }
            ts = ts.max(last_ack);
        }

        let outcome = match close {
            Close::Fin => {
                ts += p.client_think_ns;
                let h = Self::tcp(
                    &c,
                    true,
                    cseq,
                    sseq,
                    TcpFlags::FIN | TcpFlags::ACK,
                    CLIENT_WINDOW,
                );
                self.emit(
                    &mut c,
                    ts,
                    true,
                    &Transport::Tcp {
                        header: h,
                        payload: &[],
                    },
                    false,
                )?;
                cseq = cseq.wrapping_add(1);
                ts += rtt;
                let h = Self::tcp(&c, false, sseq, cseq, TcpFlags::ACK, SERVER_WINDOW);
                self.emit(
                    &mut c,
                    ts,
                    false,
                    &Transport::Tcp {
                        header: h,
                        payload: &[],
                    },
                    false,
                )?;
                ts += p.segment_gap_ns;
                let h = Self::tcp(
                    &c,
                    false,
                    sseq,
                    cseq,
                    TcpFlags::FIN | TcpFlags::ACK,
                    SERVER_WINDOW,
                );
                self.emit(
                    &mut c,
                    ts,
                    false,
                    &Transport::Tcp {
                        header: h,
                        payload: &[],
                    },
                    false,
                )?;
                sseq = sseq.wrapping_add(1);
                ts += p.segment_gap_ns;
                let h = Self::tcp(&c, true, cseq, sseq, TcpFlags::ACK, CLIENT_WINDOW);
                self.emit(
                    &mut c,
                    ts,
                    true,
                    &Transport::Tcp {
                        header: h,
                        payload: &[],
                    },
                    false,
                )?;
                Outcome::TcpClosed
            }
            Close::Rst => {
                ts += p.client_think_ns;
                let h = Self::tcp(&c, true, cseq, sseq, TcpFlags::RST | TcpFlags::ACK, 0);
                self.emit(
                    &mut c,
                    ts,
                    true,
                    &Transport::Tcp {
                        header: h,
                        payload: &[],
                    },
                    false,
                )?;
                Outcome::TcpReset
            }
            Close::Open => Outcome::TcpOpen,
        };
        Ok(c.summary(IPPROTO_TCP, outcome))
    }

    /// A connection attempt refused by the server: SYN, then RST/ACK one
    /// round trip later.
    pub fn tcp_refused(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        start_ns: i64,
    ) -> Result<ConvSummary> {
        let mut c = self.conv(client, server, start_ns)?;
        let syn = self.syn_header(&c);
        self.emit(
            &mut c,
            start_ns,
            true,
            &Transport::Tcp {
                header: syn,
                payload: &[],
            },
            false,
        )?;
        let h = Self::tcp(
            &c,
            false,
            0,
            syn.seq.wrapping_add(1),
            TcpFlags::RST | TcpFlags::ACK,
            0,
        );
        let ts = start_ns + c.rtt_ns;
        self.emit(
            &mut c,
            ts,
            false,
            &Transport::Tcp {
                header: h,
                payload: &[],
            },
            false,
        )?;
        Ok(c.summary(IPPROTO_TCP, Outcome::TcpRefused))
    }

    /// A SYN nobody answers, followed by `retransmits` retransmissions with
    /// the same sequence number at +1 s, +3 s, +7 s… (doubling back-off).
    pub fn tcp_unanswered(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        start_ns: i64,
        retransmits: u32,
    ) -> Result<ConvSummary> {
        if retransmits > 30 {
            return Err(SynthError::InvalidParameter(format!(
                "{retransmits} SYN retransmissions"
            )));
        }
        let mut c = self.conv(client, server, start_ns)?;
        let syn = self.syn_header(&c);
        for k in 0..=retransmits {
            let ts = start_ns + ((1i64 << k) - 1) * 1_000_000_000;
            self.emit(
                &mut c,
                ts,
                true,
                &Transport::Tcp {
                    header: syn,
                    payload: &[],
                },
                false,
            )?;
        }
        Ok(c.summary(IPPROTO_TCP, Outcome::TcpUnanswered))
    }

    /// A SYN answered by an ICMP destination unreachable (`reason`) sent by
    /// `router` (any address of the client's family, e.g. a firewall, or the
    /// server itself) half a round trip later.
    pub fn tcp_icmp_unreachable(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        router: IpAddr,
        reason: Unreachable,
        start_ns: i64,
    ) -> Result<ConvSummary> {
        let mut c = self.conv(client, server, start_ns)?;
        same_family(router, client.ip())?;
        let syn = self.syn_header(&c);
        let ip = self
            .emit(
                &mut c,
                start_ns,
                true,
                &Transport::Tcp {
                    header: syn,
                    payload: &[],
                },
                true,
            )?
            .unwrap_or_default();
        let ts = start_ns + (c.rtt_ns / 2).max(1_000);
        self.emit_icmp(&mut c, ts, router, reason, &ip)?;
        Ok(c.summary(IPPROTO_TCP, Outcome::TcpIcmpUnreachable(reason)))
    }

    /// A connection attempt that fails on every try, the way a Windows
    /// client makes it: a SYN at each offset of `syn_offsets_ns` (relative to
    /// `start_ns`, ascending, the first normally 0), all with the same
    /// sequence number (retransmissions of one attempt, not new flows), each
    /// answered as `how` says. Windows retries a SYN answered by RST about
    /// every 0.5 s and does not give up on an ICMP unreachable, retrying at
    /// +1 s and +3 s; [`Traffic::tcp_refused`] and
    /// [`Traffic::tcp_icmp_unreachable`] are the single-try shapes of other
    /// stacks.
    pub fn tcp_rejected(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        start_ns: i64,
        how: Rejection,
        syn_offsets_ns: &[i64],
    ) -> Result<ConvSummary> {
        let ascending = syn_offsets_ns.windows(2).all(|w| w[0] < w[1]);
        if syn_offsets_ns.is_empty()
            || syn_offsets_ns.len() > 30
            || !ascending
            || syn_offsets_ns[0] < 0
        {
            return Err(SynthError::InvalidParameter(format!(
                "SYN offsets {syn_offsets_ns:?}"
            )));
        }
        let mut c = self.conv(client, server, start_ns)?;
        if let Rejection::Icmp { from, .. } = how {
            same_family(from, client.ip())?;
        }
        let syn = self.syn_header(&c);
        for &off in syn_offsets_ns {
            let ts = start_ns + off;
            let ip = self
                .emit(
                    &mut c,
                    ts,
                    true,
                    &Transport::Tcp {
                        header: syn,
                        payload: &[],
                    },
                    true,
                )?
                .unwrap_or_default();
            match how {
                Rejection::Rst => {
                    let h = Self::tcp(
                        &c,
                        false,
                        0,
                        syn.seq.wrapping_add(1),
                        TcpFlags::RST | TcpFlags::ACK,
                        0,
                    );
                    let at = ts + c.rtt_ns;
                    self.emit(
                        &mut c,
                        at,
                        false,
                        &Transport::Tcp {
                            header: h,
                            payload: &[],
                        },
                        false,
                    )?;
                }
                Rejection::Icmp { from, reason } => {
                    let at = ts
                        + if from == server.ip() {
                            c.rtt_ns
                        } else {
                            (c.rtt_ns / 2).max(1_000)
                        };
                    self.emit_icmp(&mut c, at, from, reason, &ip)?;
                }
            }
        }
        let outcome = match how {
            Rejection::Rst => Outcome::TcpRefused,
            Rejection::Icmp { reason, .. } => Outcome::TcpIcmpUnreachable(reason),
        };
        Ok(c.summary(IPPROTO_TCP, outcome))
    }

    fn udp_payload(port: u16, len: usize, rng: &mut Rng) -> Vec<u8> {
        match port {
            88 | 464 => payload::kerberos_like(len, false, rng),
            389 => payload::ldap_like(len, rng),
            _ => payload::opaque(len, rng),
        }
    }

    /// A UDP request of `req_len` bytes answered by `resp_len` bytes one
    /// round trip plus think time later (payloads shaped by server port).
    pub fn udp_exchange(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        start_ns: i64,
        req_len: usize,
        resp_len: usize,
    ) -> Result<ConvSummary> {
        let req = Self::udp_payload(server.port(), req_len, &mut self.rng);
        let resp = Self::udp_payload(server.port(), resp_len, &mut self.rng);
        self.udp_exchange_with(client, server, start_ns, &req, Some(&resp))
    }

    /// A UDP request with the given payload, answered by `response` if any.
    pub fn udp_exchange_with(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        start_ns: i64,
        request: &[u8],
        response: Option<&[u8]>,
    ) -> Result<ConvSummary> {
        let mut c = self.conv(client, server, start_ns)?;
        let q = Transport::Udp {
            src_port: client.port(),
            dst_port: server.port(),
            payload: request,
        };
        self.emit(&mut c, start_ns, true, &q, false)?;
        let outcome = match response {
            Some(resp) => {
                let ts = start_ns + c.rtt_ns + self.profile.server_think_ns;
                let r = Transport::Udp {
                    src_port: server.port(),
                    dst_port: client.port(),
                    payload: resp,
                };
                self.emit(&mut c, ts, false, &r, false)?;
                Outcome::UdpAnswered
            }
            None => Outcome::UdpUnanswered,
        };
        Ok(c.summary(IPPROTO_UDP, outcome))
    }

    /// `attempts` identical-size UDP requests one second apart, never answered.
    pub fn udp_unanswered(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        start_ns: i64,
        len: usize,
        attempts: u32,
    ) -> Result<ConvSummary> {
        if attempts == 0 || attempts > 1_000 {
            return Err(SynthError::InvalidParameter(format!(
                "{attempts} UDP attempts"
            )));
        }
        let mut c = self.conv(client, server, start_ns)?;
        for k in 0..attempts {
            let data = Self::udp_payload(server.port(), len, &mut self.rng);
            let q = Transport::Udp {
                src_port: client.port(),
                dst_port: server.port(),
                payload: &data,
            };
            self.emit(
                &mut c,
                start_ns + i64::from(k) * 1_000_000_000,
                true,
                &q,
                false,
            )?;
        }
        Ok(c.summary(IPPROTO_UDP, Outcome::UdpUnanswered))
    }

    /// Datagrams from `client` to a broadcast or multicast address, one
    /// payload every `interval_ns`, as Windows sends NetBIOS name queries to
    /// the subnet broadcast or LLMNR queries to 224.0.0.252. The frames go to
    /// the Ethernet broadcast or the group's multicast MAC (see
    /// [`group_mac`]); link-local multicast (224.0.0.0/24, ff02::/16) leaves
    /// with TTL (hop limit) 1. No answer belongs to the flow: whoever answers
    /// a broadcast does so from its own unicast address.
    pub fn udp_to_group(
        &mut self,
        client: SocketAddr,
        group: SocketAddr,
        start_ns: i64,
        payloads: &[Vec<u8>],
        interval_ns: i64,
    ) -> Result<ConvSummary> {
        if payloads.is_empty() || payloads.len() > 1_000 || interval_ns < 0 {
            return Err(SynthError::InvalidParameter(format!(
                "{} datagrams every {interval_ns} ns",
                payloads.len()
            )));
        }
        let mut c = self.conv(client, group, start_ns)?;
        let link_local = match group.ip() {
            IpAddr::V4(a) => a.octets()[..3] == [224, 0, 0],
            IpAddr::V6(a) => a.segments()[0] == 0xff02,
        };
        if link_local {
            c.c_ip.ttl = 1;
        }
        let link = LinkInfo {
            encap: c.link.encap,
            src_mac: mac_for_ip(client.ip()),
            dst_mac: group_mac(group.ip()),
            direction: Direction::Outgoing,
        };
        for (k, data) in payloads.iter().enumerate() {
            let info = c.c_ip;
            c.c_ip.ident = c.c_ip.ident.wrapping_add(1);
            c.c_bytes += data.len() as u64;
            let q = Transport::Udp {
                src_port: client.port(),
                dst_port: group.port(),
                payload: data,
            };
            self.push(
                &mut c,
                start_ns + k as i64 * interval_ns,
                &link,
                &info,
                &q,
                false,
            )?;
        }
        Ok(c.summary(IPPROTO_UDP, Outcome::UdpUnanswered))
    }

    /// A UDP datagram to a closed port: the server answers with ICMP port
    /// unreachable one round trip later.
    pub fn udp_icmp_port_unreachable(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        start_ns: i64,
        len: usize,
    ) -> Result<ConvSummary> {
        self.udp_icmp_unreachable(
            client,
            server,
            server.ip(),
            Unreachable::Port,
            start_ns,
            len,
        )
    }

    /// A UDP datagram answered by an ICMP destination unreachable from
    /// `responder` (the server itself, or a router/firewall on the path).
    pub fn udp_icmp_unreachable(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        responder: IpAddr,
        reason: Unreachable,
        start_ns: i64,
        len: usize,
    ) -> Result<ConvSummary> {
        let mut c = self.conv(client, server, start_ns)?;
        same_family(responder, client.ip())?;
        let data = Self::udp_payload(server.port(), len, &mut self.rng);
        let q = Transport::Udp {
            src_port: client.port(),
            dst_port: server.port(),
            payload: &data,
        };
        let ip = self
            .emit(&mut c, start_ns, true, &q, true)?
            .unwrap_or_default();
        let ts = start_ns
            + if responder == server.ip() {
                c.rtt_ns
            } else {
                (c.rtt_ns / 2).max(1_000)
            };
        self.emit_icmp(&mut c, ts, responder, reason, &ip)?;
        Ok(c.summary(IPPROTO_UDP, Outcome::UdpIcmpUnreachable(reason)))
    }

    /// A DNS lookup over UDP: a real query for `name` and the response with
    /// `answers` (a CNAME chain is written in order, see [`DnsAnswer`]),
    /// with name compression. The query type is AAAA when the answers hold
    /// AAAA records and no A record, A otherwise.
    pub fn dns_lookup(
        &mut self,
        client: SocketAddr,
        dns_server: SocketAddr,
        name: &str,
        answers: &[DnsAnswer],
        start_ns: i64,
    ) -> Result<ConvSummary> {
        let has_a = answers.iter().any(|a| matches!(a, DnsAnswer::A(_)));
        let has_aaaa = answers.iter().any(|a| matches!(a, DnsAnswer::Aaaa(_)));
        let qtype = if has_aaaa && !has_a {
            DNS_TYPE_AAAA
        } else {
            DNS_TYPE_A
        };
        let id = self.rng.next_u32() as u16;
        let query = payload::dns_query(id, name, qtype)?;
        let response = payload::dns_response(id, name, qtype, answers, 300)?;
        self.udp_exchange_with(client, dns_server, start_ns, &query, Some(&response))
    }

    /// A TLS session: TCP handshake, the ClientHello (offering up to
    /// `max_version`, with `sni`) as the first client segment, the server
    /// flight ([`Profile::tls_server_flight_len`] bytes), the key exchange /
    /// Finished messages, then one application-data exchange per
    /// `(request, response)` size pair, then `close`.
    #[allow(clippy::too_many_arguments)]
    pub fn tls_session(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        sni: Option<&str>,
        max_version: TlsVersion,
        start_ns: i64,
        app_exchanges: &[(usize, usize)],
        close: Close,
    ) -> Result<ConvSummary> {
        let rng = &mut self.rng;
        let hello = payload::tls_client_hello(sni, max_version, rng)?;
        let flight =
            payload::tls_server_flight(max_version, self.profile.tls_server_flight_len, rng);
        let mut ex = vec![(hello, flight)];
        let mut apps = app_exchanges.iter();
        let fin = payload::tls_client_finish(max_version, rng);
        if max_version == TlsVersion::Tls13 {
            // The client's Finished travels with its first request.
            let (req, resp) = match apps.next() {
                Some(&(q, r)) => {
                    let mut req = fin;
                    req.extend_from_slice(&payload::tls_app_data(q, rng));
                    (req, payload::tls_app_data(r, rng))
                }
                None => (fin, Vec::new()),
            };
            ex.push((req, resp));
        } else {
            ex.push((fin, payload::tls_server_finish(max_version, rng)));
        }
        for &(q, r) in apps {
            let req = payload::tls_app_data(q, rng);
            let resp = if r == 0 {
                Vec::new()
            } else {
                payload::tls_app_data(r, rng)
            };
            ex.push((req, resp));
        }
        self.tcp_session_with(client, server, start_ns, &ex, close)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::frame::{internet_checksum, transport_checksum, IPPROTO_ICMP};
    use crate::synth::writer::{PcapOptions, PcapWriter};

    const T0: i64 = 1_768_467_600_000_000_000;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// Decoded view of an Ethernet/IPv4 or IPv6 TCP frame (test oracle).
    #[derive(Debug)]
    struct Seg {
        src_port: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        len: usize,
        mss: Option<u16>,
    }

    fn ip_part(frame: &[u8]) -> &[u8] {
        &frame[14..]
    }

    fn tcp_seg(frame: &[u8]) -> Seg {
        let ip = ip_part(frame);
        let (src, dst, hl, proto): (IpAddr, IpAddr, usize, u8) = if ip[0] >> 4 == 4 {
            assert_eq!(internet_checksum(&ip[..20]), 0);
            let s: [u8; 4] = ip[12..16].try_into().unwrap();
            let d: [u8; 4] = ip[16..20].try_into().unwrap();
            assert_eq!(u16::from_be_bytes([ip[2], ip[3]]) as usize, ip.len());
            (s.into(), d.into(), 20, ip[9])
        } else {
            let s: [u8; 16] = ip[8..24].try_into().unwrap();
            let d: [u8; 16] = ip[24..40].try_into().unwrap();
            (s.into(), d.into(), 40, ip[6])
        };
        assert_eq!(proto, IPPROTO_TCP);
        let t = &ip[hl..];
        assert_eq!(transport_checksum(src, dst, IPPROTO_TCP, t), 0);
        let off = usize::from(t[12] >> 4) * 4;
        let mss = (off > 20 && t[20] == 2).then(|| u16::from_be_bytes([t[22], t[23]]));
        Seg {
            src_port: u16::from_be_bytes([t[0], t[1]]),
            seq: u32::from_be_bytes(t[4..8].try_into().unwrap()),
            ack: u32::from_be_bytes(t[8..12].try_into().unwrap()),
            flags: t[13],
            len: t.len() - off,
            mss,
        }
    }

    #[test]
    fn tcp_session_sequence_numbers_add_up() {
        let mut t = Traffic::new(1);
        let c = sa("10.1.0.10:50003");
        let s = sa("10.1.0.2:389");
        let sum = t
            .tcp_session(c, s, T0, &[(100, 3000), (50, 0)], Close::Fin)
            .unwrap();
        let pkts = t.drain_packets();
        assert_eq!(sum.packets as usize, pkts.len());
        assert_eq!(sum.client_payload, 150);
        assert_eq!(sum.server_payload, 3000);
        assert_eq!(sum.outcome, Outcome::TcpClosed);
        let segs: Vec<Seg> = pkts.iter().map(|p| tcp_seg(&p.2)).collect();
        // Handshake.
        assert_eq!(segs[0].flags, 0x02);
        assert_eq!(segs[0].mss, Some(1460));
        assert_eq!(segs[1].flags, 0x12);
        assert_eq!(segs[1].ack, segs[0].seq.wrapping_add(1));
        assert_eq!(segs[2].flags, 0x10);
        // Replay both directions: each segment's seq continues the previous
        // one, and every ACK number acknowledges exactly what the peer sent.
        // Client ACKs may trail segments already in flight, so they must
        // match some boundary of the server's byte stream seen so far.
        let mut next_c = segs[0].seq.wrapping_add(1);
        let mut next_s = segs[1].seq.wrapping_add(1);
        let mut s_bounds = vec![next_s];
        for (i, g) in segs.iter().enumerate().skip(2) {
            let from_client = g.src_port == 50003;
            if from_client {
                assert_eq!(g.seq, next_c, "segment {i}");
                assert!(s_bounds.contains(&g.ack), "segment {i}");
                next_c = next_c.wrapping_add(g.len as u32 + u32::from(g.flags & 0x01));
            } else {
                assert_eq!(g.seq, next_s, "segment {i}");
                assert_eq!(g.ack, next_c, "segment {i}");
                next_s = next_s.wrapping_add(g.len as u32 + u32::from(g.flags & 0x01));
                s_bounds.push(next_s);
            }
        }
        // 3000 response bytes in 3 segments (1460, 1460, 80), PSH on the last.
        let resp: Vec<&Seg> = segs
            .iter()
            .filter(|g| g.src_port == 389 && g.len > 0)
            .collect();
        assert_eq!(
            resp.iter().map(|g| g.len).collect::<Vec<_>>(),
            [1460, 1460, 80]
        );
        assert_eq!(resp[2].flags, 0x18);
        // FIN teardown: four packets.
        let n = segs.len();
        assert_eq!(
            segs[n - 4..].iter().map(|g| g.flags).collect::<Vec<_>>(),
            [0x11, 0x10, 0x11, 0x10]
        );
        // Timestamps sorted and spanning the conversation.
        assert!(pkts.windows(2).all(|w| w[0].1 <= w[1].1));
        assert_eq!(pkts[0].1, sum.start_ns);
        assert_eq!(pkts[n - 1].1, sum.end_ns);
    }

    #[test]
    fn refused_unanswered_icmp() {
        let mut t = Traffic::new(2);
        let c = sa("10.1.0.10:50006");
        let r = t.tcp_refused(c, sa("10.1.0.2:636"), T0).unwrap();
        assert_eq!((r.packets, r.outcome), (2, Outcome::TcpRefused));
        let p = t.drain_packets();
        let (syn, rst) = (tcp_seg(&p[0].2), tcp_seg(&p[1].2));
        assert_eq!(rst.flags, 0x14);
        assert_eq!(rst.ack, syn.seq.wrapping_add(1));

        let t1 = T0 + 1_000_000_000;
        let u = t
            .tcp_unanswered(sa("10.1.0.10:50007"), sa("10.1.0.3:445"), t1, 3)
            .unwrap();
        assert_eq!(u.packets, 4);
        let p = t.drain_packets();
        let offs: Vec<i64> = p.iter().map(|x| x.1 - t1).collect();
        assert_eq!(offs, [0, 1_000_000_000, 3_000_000_000, 7_000_000_000]);
        let seqs: Vec<u32> = p.iter().map(|x| tcp_seg(&x.2).seq).collect();
        assert!(seqs.iter().all(|&s| s == seqs[0]));
        // Retransmissions carry new IP identifications.
        assert_ne!(&p[0].2[18..20], &p[1].2[18..20]);

        let before = T0 + 20_000_000_000;
        let i = t
            .tcp_icmp_unreachable(
                sa("10.1.0.10:50012"),
                sa("10.1.0.4:5985"),
                "10.1.0.1".parse().unwrap(),
                Unreachable::AdminProhibited,
                before,
            )
            .unwrap();
        assert_eq!(i.packets, 2);
        let p = t.drain_packets();
        let icmp = ip_part(&p[1].2);
        assert_eq!(icmp[9], IPPROTO_ICMP);
        assert_eq!(&icmp[12..16], &[10, 1, 0, 1]);
        assert_eq!(&icmp[20..22], &[3, 13]);
        assert_eq!(internet_checksum(&icmp[20..]), 0);
        assert_eq!(
            &icmp[28..],
            &ip_part(&p[0].2)[..28],
            "quotes IP header + 8 bytes"
        );
    }

    #[test]
    fn rejected_attempts_repeat_one_syn() {
        let mut t = Traffic::new(7);
        let r = t
            .tcp_rejected(
                sa("10.1.0.10:51000"),
                sa("10.1.0.2:389"),
                T0,
                Rejection::Rst,
                &[0, 500_000_000, 1_000_000_000],
            )
            .unwrap();
        assert_eq!((r.packets, r.outcome), (6, Outcome::TcpRefused));
        let p = t.drain_packets();
        let segs: Vec<Seg> = p.iter().map(|x| tcp_seg(&x.2)).collect();
        assert_eq!(
            segs.iter().map(|g| g.flags).collect::<Vec<_>>(),
            [0x02, 0x14, 0x02, 0x14, 0x02, 0x14]
        );
        assert!(segs.iter().step_by(2).all(|g| g.seq == segs[0].seq));
        assert!(segs
            .iter()
            .skip(1)
            .step_by(2)
            .all(|g| g.ack == segs[0].seq.wrapping_add(1)));
        assert_eq!(p[2].1 - p[0].1, 500_000_000);

        let fw: IpAddr = "10.1.0.1".parse().unwrap();
        let how = Rejection::Icmp {
            from: fw,
            reason: Unreachable::AdminProhibited,
        };
        let t1 = T0 + 5_000_000_000;
        let i = t
            .tcp_rejected(
                sa("10.1.0.10:51001"),
                sa("10.1.0.2:49670"),
                t1,
                how,
                &[0, 1_000_000_000, 3_000_000_000],
            )
            .unwrap();
        assert_eq!(i.packets, 6);
        let p = t.drain_packets();
        for pair in p.chunks(2) {
            let icmp = ip_part(&pair[1].2);
            assert_eq!(&icmp[12..16], &[10, 1, 0, 1]);
            assert_eq!(&icmp[20..22], &[3, 13]);
            assert_eq!(&icmp[28..], &ip_part(&pair[0].2)[..28]);
            assert_eq!(pair[1].1 - pair[0].1, 200_000);
        }
        assert!(t
            .tcp_rejected(sa("10.1.0.10:1"), sa("10.1.0.2:2"), t1, how, &[])
            .is_err());
        assert!(t
            .tcp_rejected(sa("10.1.0.10:1"), sa("10.1.0.2:2"), t1, how, &[5, 5])
            .is_err());
    }

    #[test]
    fn datagrams_to_groups_use_group_macs() {
        let mut t = Traffic::new(8);
        let nb = t
            .udp_to_group(
                sa("10.1.0.10:137"),
                sa("10.1.0.255:137"),
                T0,
                &[vec![1; 50], vec![2; 50], vec![3; 50]],
                750_000_000,
            )
            .unwrap();
        assert_eq!((nb.packets, nb.client_payload), (3, 150));
        assert_eq!(nb.outcome, Outcome::UdpUnanswered);
        let p = t.drain_packets();
        assert!(p.iter().all(|x| x.2[..6] == [0xff; 6]));
        assert_eq!(ip_part(&p[0].2)[8], 128);
        assert_eq!(p[2].1 - p[0].1, 1_500_000_000);
        t.udp_to_group(
            sa("10.1.0.10:52000"),
            sa("224.0.0.252:5355"),
            T0 + 2_000_000_000,
            &[vec![0; 22]],
            0,
        )
        .unwrap();
        let p = t.drain_packets();
        assert_eq!(&p[0].2[..6], &[1, 0, 0x5e, 0, 0, 0xfc]);
        assert_eq!(ip_part(&p[0].2)[8], 1, "link-local multicast TTL");
        assert!(t
            .udp_to_group(
                sa("10.1.0.10:1"),
                sa("10.1.0.255:137"),
                T0 + 3_000_000_000,
                &[],
                0
            )
            .is_err());
    }

    #[test]
    fn udp_and_dns() {
        let mut t = Traffic::new(3);
        let c = sa("10.1.0.10:50001");
        let s = sa("10.1.0.2:53");
        let d = t
            .dns_lookup(
                c,
                s,
                "login.microsoftonline.com",
                &[DnsAnswer::A("20.190.128.10".parse().unwrap())],
                T0,
            )
            .unwrap();
        assert_eq!((d.packets, d.outcome), (2, Outcome::UdpAnswered));
        let p = t.drain_packets();
        let q = &ip_part(&p[0].2)[28..];
        let r = &ip_part(&p[1].2)[28..];
        assert_eq!(q[..2], r[..2], "same DNS id");
        assert_eq!(&r[r.len() - 4..], &[20, 190, 128, 10]);
        assert_eq!(p[1].1 - p[0].1, 600_000);

        let u = t
            .udp_unanswered(c, sa("10.1.0.3:137"), T0 + 1_000_000_000, 50, 3)
            .unwrap();
        assert_eq!((u.packets, u.client_payload), (3, 150));
        assert!(t.udp_unanswered(c, s, T0 + 1_000_000_000, 50, 0).is_err());
        t.drain_packets();

        let v = t
            .udp_icmp_port_unreachable(
                sa("[fd00::10]:50017"),
                sa("[fd00::3]:123"),
                T0 + 9_000_000_000,
                48,
            )
            .unwrap();
        assert_eq!(v.outcome, Outcome::UdpIcmpUnreachable(Unreachable::Port));
        let p = t.drain_packets();
        let icmp = ip_part(&p[1].2);
        assert_eq!(icmp[6], 58);
        assert_eq!(&icmp[40..42], &[1, 4]);
        assert_eq!(
            &icmp[48..],
            ip_part(&p[0].2),
            "ICMPv6 quotes the whole datagram"
        );
    }

    #[test]
    fn tls_session_carries_client_hello_first() {
        let mut t = Traffic::new(4);
        t.set_profile(Profile {
            tls_server_flight_len: 4000,
            ..Profile::default()
        });
        let s = t
            .tls_session(
                sa("10.1.0.10:50010"),
                sa("20.190.128.10:443"),
                Some("login.microsoftonline.com"),
                TlsVersion::Tls13,
                T0,
                &[(400, 900), (100, 0)],
                Close::Fin,
            )
            .unwrap();
        let p = t.drain_packets();
        let first_data = p
            .iter()
            .map(|x| tcp_seg(&x.2))
            .position(|g| g.len > 0)
            .unwrap();
        let tcp = &ip_part(&p[first_data].2)[20..];
        let payload = &tcp[20..];
        assert_eq!(payload[0], 22);
        assert_eq!(payload[5], 1, "ClientHello");
        assert!(payload
            .windows(25)
            .any(|w| w == b"login.microsoftonline.com"));
        // Public server: WAN RTT between SYN and SYN/ACK, lower TTL.
        assert_eq!(p[1].1 - p[0].1, 18_000_000);
        assert_eq!(ip_part(&p[1].2)[8], 113);
        assert!(s.server_payload >= 4000 + 900);
    }

    #[test]
    fn errors_and_ordering() {
        let mut t = Traffic::new(5);
        assert!(matches!(
            t.tcp_refused(sa("10.1.0.10:1"), sa("[fd00::2]:389"), T0),
            Err(SynthError::FamilyMismatch(..))
        ));
        assert!(t
            .tcp_icmp_unreachable(
                sa("10.1.0.10:1"),
                sa("10.1.0.2:2"),
                "fd00::1".parse().unwrap(),
                Unreachable::Host,
                T0
            )
            .is_err());
        assert!(t
            .dns_lookup(sa("10.1.0.10:1"), sa("10.1.0.2:53"), "bad..name", &[], T0)
            .is_err());
        t.tcp_refused(sa("10.1.0.10:1"), sa("10.1.0.2:636"), T0 + 1_000_000)
            .unwrap();
        let mut w = PcapWriter::new(Vec::new(), PcapOptions::default()).unwrap();
        assert_eq!(t.write_until(T0 + 1_000_001, &mut w).unwrap(), 1);
        assert_eq!(t.pending(), 1);
        assert!(matches!(
            t.tcp_refused(sa("10.1.0.10:2"), sa("10.1.0.2:636"), T0),
            Err(SynthError::OutOfOrder { .. })
        ));
        assert_eq!(t.write_all(&mut w).unwrap(), 1);
        assert_eq!(t.next_ts(), None);
    }

    #[test]
    fn interleaves_concurrent_conversations_deterministically() {
        let run = || {
            let mut t = Traffic::new(6);
            for i in 0..20u16 {
                let c = SocketAddr::new("10.1.0.10".parse().unwrap(), 50_000 + i);
                t.tcp_session(
                    c,
                    sa("10.1.0.2:445"),
                    T0 + i64::from(i) * 100_000,
                    &[(200, 200)],
                    Close::Fin,
                )
                .unwrap();
            }
            t.set_link(Encap::Vlan(7), 0);
            t.udp_exchange(
                sa("10.1.0.11:5000"),
                sa("10.1.0.2:88"),
                T0 + 50_000_000,
                100,
                200,
            )
            .unwrap();
            t.drain_packets()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.windows(2).all(|w| w[0].1 <= w[1].1));
        // Conversations overlap: the second packet is not from the first session.
        let ports: Vec<u16> = a
            .iter()
            .take(6)
            .map(|p| u16::from_be_bytes([p.2[34], p.2[35]]))
            .collect();
        assert!(
            ports.iter().collect::<std::collections::HashSet<_>>().len() > 2,
            "{ports:?}"
        );
        assert!(a.iter().any(|p| p.2[12..14] == [0x81, 0x00]));
    }
}
