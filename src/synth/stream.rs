//! Bounded-memory generation of large captures (benchmark input).
//!
//! Why: benchmarks need captures of a gigabyte and more, which must neither
//! be committed nor held in memory while being produced. [`generate`] walks
//! time in fixed windows: it starts a random mix of hybrid-identity
//! conversations inside the current window (LDAP, Kerberos, DNS, SMB, TLS to
//! cloud endpoints, plus refused, unanswered and ICMP-rejected attempts),
//! then writes out every packet earlier than the window's end. Conversations
//! started later can only produce later packets, so output is in time order,
//! and memory holds just the conversations still in flight (bounded by the
//! per-window count times their duration). Generation stops at the first
//! window boundary after the writer reached the target size, then flushes
//! the tails of open conversations.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::frame::{Encap, Unreachable};
use super::payload::{DnsAnswer, TlsVersion};
use super::rng::Rng;
use super::scenario::{Close, Traffic};
use super::writer::CaptureWriter;
use super::{Result, SynthError};

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
    /// Conversations started per window.
    pub conversations_per_window: u32,
    /// Encapsulation of every frame (interface 0).
    pub encap: Encap,
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
    /// Conversations generated.
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
pub fn generate<W: CaptureWriter + ?Sized>(w: &mut W, cfg: &StreamConfig) -> Result<StreamStats> {
    if cfg.window_ns <= 0 || cfg.conversations_per_window == 0 {
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
}
