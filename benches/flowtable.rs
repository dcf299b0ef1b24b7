//! The flow table and the whole per-packet path. `flowtable/*`: `FlowTable::add` on packets decoded
//! beforehand, into a fresh table each iteration (keeping every flow, as `flows` does, and folding
//! ended flows, as the audit does). `session/*`: `engine::Session::push` on frames already read,
//! which is decode + flow table + the DNS/TLS name look-ups: everything after the reader.
//! Throughput is in packets (elements).

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use flowaudit::engine::Session;
use flowaudit::flow::FlowTable;

fn flowtable(c: &mut Criterion) {
    let mut g = c.benchmark_group("flowtable");
    for (name, kind, size) in common::kinds() {
        let owned = common::Frames::read(common::pcap(kind, size));
        let frames = owned.frames();
        let packets = common::decode_all(&frames);
        g.throughput(Throughput::Elements(packets.len() as u64));
        for (mode, folding) in [("keep", false), ("fold", true)] {
            g.bench_function(format!("{name}/{mode}"), |b| {
                b.iter_batched(
                    || {
                        if folding {
                            FlowTable::folding()
                        } else {
                            FlowTable::new()
                        }
                    },
                    |mut t| {
                        for (p, ts, len) in &packets {
                            t.add(p, *ts, *len);
                        }
                        t
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

fn session(c: &mut Criterion) {
    let mut g = c.benchmark_group("session");
    for (name, kind, size) in common::kinds() {
        let owned = common::Frames::read(common::pcap(kind, size));
        let frames = owned.frames();
        g.throughput(Throughput::Elements(frames.len() as u64));
        for (mode, folding) in [("keep", false), ("fold", true)] {
            g.bench_function(format!("{name}/{mode}"), |b| {
                b.iter_batched(
                    || {
                        if folding {
                            Session::folding()
                        } else {
                            Session::new()
                        }
                    },
                    |mut s| {
                        for f in &frames {
                            s.push(f);
                        }
                        black_box(s.flow_count());
                        s
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = flowtable, session
}
criterion_main!(benches);
