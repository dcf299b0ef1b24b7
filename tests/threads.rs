//! Results never depend on the number of threads: every capture of the corpus and the samples,
//! read by one thread and by three threads in tiny chunks (so that flows, fragments and pcapng
//! sections cross chunk boundaries), give identical flows, capture summaries, names and audits.

use std::path::{Path, PathBuf};

use flowaudit::engine::{analyze, audit, Analysis, Options};
use flowaudit::report::audit::AuditFormat;
use flowaudit::report::{self, Format};
use flowaudit::rules::RuleSet;

fn flows_csv(a: &Analysis) -> String {
    let mut out = Vec::new();
    report::flows::write(a, Format::Json, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn audit_json(a: Analysis) -> String {
    let rules = RuleSet::builtin();
    let r = audit(a, &rules, None, &[], String::new());
    let mut out = Vec::new();
    report::audit::write(&r, AuditFormat::Json, false, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn names(a: &Analysis) -> String {
    let mut v: Vec<String> = a
        .flows
        .iter()
        .flat_map(|f| [f.key.a, f.key.b])
        .chain(a.edges.iter().flat_map(|e| [e.key.orig, e.key.resp]))
        .flat_map(|addr| {
            a.names
                .names(&addr)
                .iter()
                .map(move |n| format!("{addr} {} {}", n.name, n.source))
        })
        .collect();
    v.sort();
    v.dedup();
    v.join("\n")
}

fn check(paths: &[PathBuf], label: &str) {
    let one = |fold| Options {
        threads: Some(1),
        fold,
        chunk_bytes: None,
        progress: None,
        force_parallel: false,
    };
    let many = |fold| Options {
        threads: Some(3),
        fold,
        chunk_bytes: Some(700),
        progress: None,
        force_parallel: true,
    };
    let a = analyze(paths, &one(false));
    let b = analyze(paths, &many(false));
    assert_eq!(flows_csv(&a), flows_csv(&b), "{label}: flows differ");
    assert_eq!(names(&a), names(&b), "{label}: names differ");
    let a = analyze(paths, &one(true));
    let b = analyze(paths, &many(true));
    assert_eq!(audit_json(a), audit_json(b), "{label}: audits differ");
}

#[test]
fn samples_read_alone_and_together_give_the_same_results_on_any_thread_count() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut all = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            check(std::slice::from_ref(&p), &p.display().to_string());
            all.push(p);
        }
    }
    all.sort();
    check(&all, "all samples as one run");
}

#[test]
fn corpus_gives_the_same_results_on_any_thread_count() {
    let dir = std::env::var_os("FLOWAUDIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if !dir.join("captures").is_dir() {
        eprintln!(
            "SKIPPED corpus_gives_the_same_results_on_any_thread_count: ../shared/corpus is absent"
        );
        return;
    }
    let mut files = Vec::new();
    let mut stack = vec![dir.join("captures")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() > 200);
    for f in &files {
        check(std::slice::from_ref(f), &f.display().to_string());
    }
}
