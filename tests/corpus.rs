//! Proves the reader, decoder and flow table against real captures written by others.
//!
//! `../shared/corpus` holds captures from Wireshark's, Zeek's, tcpdump's and other projects' test
//! suites with tshark's reading of each. For every capture: no panic and no hang. For every capture
//! tshark reads fully: our packet count equals tshark's, and our TCP/UDP conversations (unordered
//! address/port pairs) with their packet counts equal tshark's. Legitimate differences are listed,
//! with reasons, in `tests/corpus-known-differences.toml`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flowaudit::engine::{analyze, Options};
use flowaudit::model::IpProto;

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FLOWAUDIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    dir.join("manifest.csv").is_file().then_some(dir)
}

type Conv = (String, (String, u16), (String, u16));

fn ordered(a: (String, u16), b: (String, u16)) -> ((String, u16), (String, u16)) {
    // The truth orders each pair as strings; any fixed order will do for comparing sets.
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn truth_convs(dir: &Path, key: &str) -> BTreeMap<Conv, Vec<u64>> {
    let mut m: BTreeMap<Conv, Vec<u64>> = BTreeMap::new();
    let p = dir.join("truth/flows").join(format!("{key}.csv"));
    let Ok(mut r) = csv::Reader::from_path(&p) else {
        return m;
    };
    for rec in r.deserialize::<HashMap<String, String>>() {
        let rec = rec.expect("truth rows are well-formed");
        let a = (rec["addr_a"].clone(), rec["port_a"].parse().unwrap());
        let b = (rec["addr_b"].clone(), rec["port_b"].parse().unwrap());
        let (a, b) = ordered(a, b);
        m.entry((rec["proto"].clone(), a, b))
            .or_default()
            .push(rec["packets"].parse().unwrap());
    }
    for v in m.values_mut() {
        v.sort();
    }
    m
}

#[derive(serde::Deserialize)]
struct KnownFile {
    difference: Vec<Known>,
}

#[derive(serde::Deserialize)]
struct Known {
    file: String,
    reason: String,
}

#[test]
fn corpus_agrees_with_tshark() {
    let Some(dir) = corpus_dir() else {
        eprintln!("SKIPPED corpus_agrees_with_tshark: ../shared/corpus is absent (set FLOWAUDIT_CORPUS to point at it)");
        return;
    };
    let known_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-known-differences.toml"),
    )
    .expect("known differences file");
    let known: KnownFile = toml::from_str(&known_text).expect("known differences parse");
    let known: BTreeMap<String, String> = known
        .difference
        .into_iter()
        .map(|k| (k.file, k.reason))
        .collect();

    let mut rdr = csv::Reader::from_path(dir.join("manifest.csv")).unwrap();
    let (mut files, mut readable, mut exact) = (0, 0, 0);
    let mut unexplained = Vec::new();
    let mut differing = Vec::new();
    for rec in rdr.deserialize::<HashMap<String, String>>() {
        let rec = rec.unwrap();
        let local = &rec["local_path"];
        let rel = local.strip_prefix("captures/").unwrap_or(local).to_string();
        let path = dir.join(local);
        files += 1;
        let t = Instant::now();
        let a = analyze(std::slice::from_ref(&path), &Options::default());
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{rel}: took {:?}",
            t.elapsed()
        );
        if rec["readable_by_tshark"] != "yes" {
            continue;
        }
        readable += 1;
        let packets: u64 = a.packets();
        let want_packets: u64 = rec["packets"].parse().unwrap_or(0);
        let mut ours: BTreeMap<Conv, Vec<u64>> = BTreeMap::new();
        for f in &a.flows {
            if f.key.proto != IpProto::TCP && f.key.proto != IpProto::UDP {
                continue;
            }
            let (x, y) = ordered(
                (f.key.a.to_string(), f.key.pa),
                (f.key.b.to_string(), f.key.pb),
            );
            ours.entry((f.key.proto.name().into_owned(), x, y))
                .or_default()
                .push(f.total_packets());
        }
        for v in ours.values_mut() {
            v.sort();
        }
        let truth = truth_convs(&dir, &rec["truth_key"]);
        if packets == want_packets && ours == truth {
            exact += 1;
            continue;
        }
        differing.push(rel.clone());
        if !known.contains_key(&rel) {
            let only_ours: Vec<_> = ours
                .iter()
                .filter(|(k, v)| truth.get(*k) != Some(v))
                .take(3)
                .collect();
            let only_truth: Vec<_> = truth
                .iter()
                .filter(|(k, v)| ours.get(*k) != Some(v))
                .take(3)
                .collect();
            unexplained.push(format!(
                "{rel}: packets {packets} (tshark {want_packets}); ours not tshark's: {only_ours:?}; tshark's not ours: {only_truth:?}"
            ));
        }
    }
    let stale: Vec<_> = known.keys().filter(|k| !differing.contains(k)).collect();
    let pct = 100.0 * exact as f64 / readable.max(1) as f64;
    eprintln!(
        "corpus: {files} files read without panic; {readable} fully readable by tshark; {exact} agree exactly ({pct:.1}%); {} listed differences",
        differing.len()
    );
    assert!(
        unexplained.is_empty(),
        "unexplained differences:\n{}",
        unexplained.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed as different but now agreeing: {stale:?}"
    );
    assert!(pct >= 97.0, "agreement {pct:.1}% is under 97%");
}
