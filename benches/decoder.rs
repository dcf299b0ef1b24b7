//! The decoder alone: `Decoder::decode` over frames already read (link layer, VLAN, IPv4/IPv6,
//! TCP/UDP headers). Throughput is in frames (elements), so the small-packet figure reads as
//! packets per second.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowaudit::decode::Decoder;

fn decoder(c: &mut Criterion) {
    let mut g = c.benchmark_group("decoder");
    for (name, kind, size) in common::kinds() {
        let owned = common::Frames::read(common::pcap(kind, size));
        let frames = owned.frames();
        g.throughput(Throughput::Elements(frames.len() as u64));
        let mut d = Decoder::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0u64;
                let mut payload = 0u64;
                for f in &frames {
                    if let Some(p) = d.decode(f) {
                        n += 1;
                        payload += u64::from(p.payload_len);
                    }
                }
                black_box((n, payload))
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = decoder
}
criterion_main!(benches);
