//! What the benchmarks share: captures generated in memory by flowaudit's own synth module (so the
//! numbers are reproducible from source on any machine), frames copied out of them, and the
//! criterion settings that keep `cargo bench` to a couple of minutes on two cores.
//!
//! Each bench target compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::ops::Range;
use std::time::Duration;

use criterion::Criterion;
use flowaudit::capture::{self, Frame};
use flowaudit::decode::{Decoder, Packet};
use flowaudit::model::LinkType;
use flowaudit::synth::frame::LINKTYPE_ETHERNET;
use flowaudit::synth::stream::{generate, StreamConfig, StreamKind};
use flowaudit::synth::writer::{
    CaptureWriter, Endian, InterfaceSpec, PcapOptions, PcapWriter, PcapngWriter, TsResolution,
};

/// Size of the realistic-mix capture: large enough to hold a few hundred flows and bulk
/// transfers, small enough to generate in well under a second.
pub const MIX_BYTES: u64 = 16 << 20;
/// Size of the small-packet capture (about 100,000 frames of 60-66 bytes).
pub const SMALL_BYTES: u64 = 8 << 20;
/// Seed of every bench capture.
pub const SEED: u64 = 1;

/// Short runs: the figures that matter come from `benches/compare.sh` on real files; these catch
/// regressions of one stage and show where time goes.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

/// The two benchmark captures, by name.
pub fn kinds() -> [(&'static str, StreamKind, u64); 2] {
    [
        ("mix", StreamKind::Mix, MIX_BYTES),
        ("small", StreamKind::Small, SMALL_BYTES),
    ]
}

/// A classic pcap (microseconds, little endian, Ethernet) of `kind`.
pub fn pcap(kind: StreamKind, bytes: u64) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), PcapOptions::default()).expect("pcap header");
    generate(&mut w, &StreamConfig::bench(kind, SEED, bytes)).expect("generate");
    w.into_inner().expect("in memory")
}

/// The same traffic as a pcapng (one Ethernet interface, nanoseconds).
pub fn pcapng(kind: StreamKind, bytes: u64) -> Vec<u8> {
    let iface = InterfaceSpec::new(LINKTYPE_ETHERNET, TsResolution::Nano).named("eth0");
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little, &[iface]).expect("pcapng header");
    generate(&mut w, &StreamConfig::bench(kind, SEED, bytes)).expect("generate");
    assert!(w.packets_written() > 0);
    w.into_inner().expect("in memory")
}

/// Frames of a capture copied into one contiguous buffer (so that decoding them walks memory the
/// way decoding a mapped file does), to be decoded again and again.
pub struct Frames {
    data: Vec<u8>,
    records: Vec<Record>,
}

struct Record {
    ts_ns: i64,
    range: Range<usize>,
    orig_len: u32,
    link: LinkType,
    iface: u32,
}

impl Frames {
    /// Reads every frame of `capture` with flowaudit's reader.
    pub fn read(capture: Vec<u8>) -> Frames {
        let mut data = Vec::with_capacity(capture.len());
        let mut records = Vec::new();
        let summary = capture::open_memory("bench", capture)
            .expect("a capture")
            .read(|f| {
                let start = data.len();
                data.extend_from_slice(f.data);
                records.push(Record {
                    ts_ns: f.ts_ns,
                    range: start..data.len(),
                    orig_len: f.orig_len,
                    link: f.link,
                    iface: f.iface,
                });
            });
        assert!(summary.packets > 0, "no frames read");
        Frames { data, records }
    }

    /// The frames, borrowed.
    pub fn frames(&self) -> Vec<Frame<'_>> {
        self.records
            .iter()
            .map(|r| Frame {
                ts_ns: r.ts_ns,
                data: &self.data[r.range.clone()],
                orig_len: r.orig_len,
                link: r.link,
                iface: r.iface,
            })
            .collect()
    }

    /// Frame bytes in total.
    pub fn bytes(&self) -> u64 {
        self.data.len() as u64
    }
}

/// Decodes every frame once: the packets with their timestamp and wire length, as the flow table
/// receives them.
pub fn decode_all<'a>(frames: &[Frame<'a>]) -> Vec<(Packet<'a>, i64, u32)> {
    let mut d = Decoder::new();
    let packets: Vec<_> = frames
        .iter()
        .filter_map(|f| d.decode(f).map(|p| (p, f.ts_ns, f.orig_len)))
        .collect();
    assert_eq!(packets.len(), frames.len(), "every bench frame decodes");
    packets
}
