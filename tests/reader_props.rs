//! Property tests of the capture reader: random, truncated and mutated bytes never panic, the
//! in-place and streamed readings always agree, and a cut capture keeps a prefix of its packets.

use flowaudit::engine::analyze_bytes;
use proptest::prelude::*;
use std::path::Path;

/// Byte offsets where records (pcap) or blocks (pcapng) start, and the end.
fn boundaries(data: &[u8], ng: bool) -> Vec<usize> {
    let mut v = Vec::new();
    let mut pos = if ng { 0 } else { 24 };
    while pos < data.len() {
        v.push(pos);
        pos += if ng {
            u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap()) as usize
        } else {
            16 + u32::from_le_bytes(data[pos + 8..pos + 12].try_into().unwrap()) as usize
        };
    }
    v.push(pos);
    v
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(name),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = analyze_bytes(&data);
    }

    #[test]
    fn random_bytes_after_a_valid_header_never_panic(
        ng in any::<bool>(),
        tail in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let base = sample(if ng { "basic.pcapng" } else { "basic.pcap" });
        let head = if ng { 28 + 40 } else { 24 };
        let mut data = base[..head.min(base.len())].to_vec();
        data.extend_from_slice(&tail);
        let _ = analyze_bytes(&data);
    }

    #[test]
    fn a_cut_capture_keeps_a_prefix_and_reports_the_cut(ng in any::<bool>(), frac in 0.0f64..1.0) {
        let full = sample(if ng { "basic.pcapng" } else { "basic.pcap" });
        let whole = analyze_bytes(&full).packets();
        let cut = ((full.len() as f64) * frac) as usize;
        let a = analyze_bytes(&full[..cut]);
        prop_assert!(a.packets() <= whole);
        if let Some(c) = a.captures.first() {
            let on_boundary = boundaries(&full, ng).contains(&cut);
            prop_assert_eq!(
                c.summary.error.is_some(),
                !on_boundary,
                "a cut inside a record, and only there, is reported"
            );
        }
    }

    #[test]
    fn mutated_captures_never_panic(
        ng in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let mut data = sample(if ng { "basic.pcapng" } else { "basic.pcap" });
        for (i, v) in edits {
            let at = i.index(data.len());
            data[at] = v;
        }
        let _ = analyze_bytes(&data);
    }
}
