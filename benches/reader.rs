//! The capture reader alone: walking pcap and pcapng records of an in-memory capture
//! (`capture::open_memory(..).read(..)`), counting frames. Throughput is in bytes of capture.
//!
//! The `pcap-parser` group runs the same walk with the `pcap-parser` crate over the same bytes, so
//! that the choice of hand-rolled record framing (DECISIONS.md: it must also survive block lengths
//! that make pcap-parser panic) rests on a measurement of what it costs or gains.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use flowaudit::capture;
use pcap_parser::pcapng::Block;

fn reader(c: &mut Criterion) {
    let mut g = c.benchmark_group("reader");
    for (name, kind, size) in common::kinds() {
        for (format, bytes) in [
            ("pcap", common::pcap(kind, size)),
            ("pcapng", common::pcapng(kind, size)),
        ] {
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            // `open_memory` takes the buffer by value: the copy is made outside the timing
            // (freeing it, about 1% of a run, falls inside).
            g.bench_function(format!("{name}/{format}"), |b| {
                b.iter_batched(
                    || bytes.clone(),
                    |v| {
                        let mut frames = 0u64;
                        let mut len = 0usize;
                        let summary =
                            capture::open_memory("bench", v)
                                .expect("a capture")
                                .read(|f| {
                                    frames += 1;
                                    len += f.data.len();
                                });
                        black_box((frames, len, summary.packets))
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    g.finish();
}

/// The same walk with pcap-parser: record headers parsed, frame slices taken, timestamps and
/// lengths summed (what our reader hands its sink).
fn pcap_parser_walk(c: &mut Criterion) {
    let mut g = c.benchmark_group("pcap-parser");
    for (name, kind, size) in common::kinds() {
        let pcap = common::pcap(kind, size);
        g.throughput(Throughput::Bytes(pcap.len() as u64));
        g.bench_function(format!("{name}/pcap"), |b| {
            b.iter(|| {
                let (mut rest, _) =
                    pcap_parser::pcap::parse_pcap_header(black_box(&pcap)).expect("header");
                let (mut frames, mut sum) = (0u64, 0u64);
                while !rest.is_empty() {
                    match pcap_parser::pcap::parse_pcap_frame(rest) {
                        Ok((r, blk)) => {
                            frames += 1;
                            let ts = u64::from(blk.ts_sec) * 1_000_000_000
                                + u64::from(blk.ts_usec) * 1_000;
                            sum = sum.wrapping_add(ts + blk.data.len() as u64);
                            rest = r;
                        }
                        Err(_) => break,
                    }
                }
                black_box((frames, sum))
            })
        });
        let pcapng = common::pcapng(kind, size);
        g.throughput(Throughput::Bytes(pcapng.len() as u64));
        g.bench_function(format!("{name}/pcapng"), |b| {
            b.iter(|| {
                let mut rest: &[u8] = black_box(&pcapng);
                let (mut frames, mut sum) = (0u64, 0u64);
                while !rest.is_empty() {
                    match pcap_parser::pcapng::parse_block_le(rest) {
                        Ok((r, block)) => {
                            if let Block::EnhancedPacket(epb) = block {
                                frames += 1;
                                let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                                sum = sum.wrapping_add(ts + epb.data.len() as u64);
                            }
                            rest = r;
                        }
                        Err(_) => break,
                    }
                }
                black_box((frames, sum))
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = reader, pcap_parser_walk
}
criterion_main!(benches);
