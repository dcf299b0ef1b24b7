//! Feeds arbitrary frames of every link type to the decoder and the flow table.
#![no_main]

use flowaudit::capture::Frame;
use flowaudit::decode::Decoder;
use flowaudit::flow::FlowTable;
use flowaudit::model::LinkType;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    const LINKS: [u32; 24] = [
        0, 1, 8, 9, 12, 14, 50, 51, 100, 101, 104, 105, 107, 108, 113, 127, 129, 149, 178, 192, 226,
        228, 229, 276,
    ];
    let link = if sel == 255 { 239 } else { LINKS[usize::from(sel) % LINKS.len()] };
    let mut d = Decoder::new();
    let mut t = FlowTable::new();
    let f = Frame {
        ts_ns: 1,
        data: frame,
        orig_len: frame.len() as u32,
        link: LinkType(link),
        iface: 0,
    };
    if let Some(p) = d.decode(&f) {
        t.add(&p, f.ts_ns, f.orig_len);
    }
    d.finish();
});
