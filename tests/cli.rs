//! The `flowaudit flows` command as users run it: formats, inputs (files, folders, gzip, standard
//! input, rotated files), and bad input (missing, not a capture, cut off, damaged), with exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flowaudit"))
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run flowaudit")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("flowaudit-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The CSV rows without the byte columns (which differ with the link layer).
fn rows_without_bytes(csv: &str) -> Vec<String> {
    csv.lines()
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            [&c[..9], &c[10..11], &c[12..13], &c[14..]]
                .concat()
                .join(",")
        })
        .collect()
}

#[test]
fn csv_has_the_documented_header_and_one_row_per_flow() {
    let o = run(&[
        "flows",
        "--format",
        "csv",
        sample("basic.pcap").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "proto,src_addr,src_port,dst_addr,dst_port,state,outcome,history,packets,bytes,orig_packets,orig_bytes,resp_packets,resp_bytes,first_seen,last_seen,icmp"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 24);
    // Hand-checked against the generator's script: LDAPS refused by RST (a 66-byte SYN with
    // options, a 54-byte RST), SMB unanswered after two
    // retransmissions, NTP met by ICMP port unreachable, WinRM administratively prohibited.
    assert!(rows.contains(&"tcp,10.1.0.10,50006,10.1.0.2,636,REJ,refused,Sr,2,120,1,66,1,54,2026-01-15T09:00:00.100000000Z,2026-01-15T09:00:00.100400000Z,"));
    assert!(rows.iter().any(
        |r| r.starts_with("tcp,10.1.0.10,50007,10.1.0.3,445,S0,unanswered,S,3,198,3,198,0,0,")
    ));
    assert!(rows.iter().any(|r| r
        .starts_with("udp,10.1.0.10,50008,10.1.0.2,123,S0,unreachable,D,2,")
        && r.ends_with(",3/3 from 10.1.0.2")));
    assert!(rows.iter().any(|r| r
        .starts_with("tcp,10.1.0.10,50012,10.1.0.4,5985,S0,unreachable,")
        && r.ends_with(",3/13 from 10.1.0.1")));
    // Standard output carries only CSV; the capture summary is on standard error.
    assert!(stderr(&o).contains("basic.pcap: pcap, ethernet, 140 packets"));
}

#[test]
fn pcapng_with_two_link_types_gives_the_same_flows_as_pcap() {
    let a = run(&[
        "flows",
        "--format",
        "csv",
        sample("basic.pcap").to_str().unwrap(),
    ]);
    let b = run(&[
        "flows",
        "--format",
        "csv",
        sample("basic.pcapng").to_str().unwrap(),
    ]);
    assert_eq!(
        rows_without_bytes(&stdout(&a)),
        rows_without_bytes(&stdout(&b))
    );
    assert!(stderr(&b).contains("pcapng, ethernet/linux-sll2, 140 packets"));
}

#[test]
fn gzip_folder_and_standard_input_are_read_by_content() {
    let want = stdout(&run(&[
        "flows",
        "--format",
        "csv",
        sample("basic.pcap").to_str().unwrap(),
    ]));
    let dir = tmpdir("inputs");
    // A gzip-compressed copy with a misleading name, and a text file to be skipped.
    let raw = std::fs::read(sample("basic.pcap")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    std::fs::write(dir.join("nested/capture.txt"), gz.finish().unwrap()).unwrap();
    std::fs::write(dir.join("README"), b"not a capture").unwrap();
    let o = run(&["flows", "--format", "csv", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), want);
    assert!(stderr(&o).contains("+gzip"));
    assert!(stderr(&o).contains("skipped 1 file"));

    let mut child = bin()
        .args(["flows", "--format", "csv", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&raw).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(stdout(&o), want);
}

/// Splits a pcap after `n` records into two files with the same header.
fn split_pcap(data: &[u8], n: usize) -> (Vec<u8>, Vec<u8>) {
    let mut pos = 24;
    for _ in 0..n {
        let caplen = u32::from_le_bytes(data[pos + 8..pos + 12].try_into().unwrap()) as usize;
        pos += 16 + caplen;
    }
    let mut second = data[..24].to_vec();
    second.extend_from_slice(&data[pos..]);
    (data[..pos].to_vec(), second)
}

#[test]
fn rotated_files_are_one_run_whatever_the_argument_order() {
    let raw = std::fs::read(sample("basic.pcap")).unwrap();
    let want = stdout(&run(&[
        "flows",
        "--format",
        "csv",
        sample("basic.pcap").to_str().unwrap(),
    ]));
    let dir = tmpdir("rotated");
    // Cut in the middle of the LDAP session (packet 9 is inside it).
    let (a, b) = split_pcap(&raw, 9);
    std::fs::write(dir.join("a.pcap"), a).unwrap();
    std::fs::write(dir.join("b.pcap"), b).unwrap();
    for order in [["a.pcap", "b.pcap"], ["b.pcap", "a.pcap"]] {
        let o = run(&[
            "flows",
            "--format",
            "csv",
            dir.join(order[0]).to_str().unwrap(),
            dir.join(order[1]).to_str().unwrap(),
        ]);
        assert_eq!(stdout(&o), want, "order {order:?}");
    }
}

#[test]
fn missing_file_and_non_capture_exit_2_but_other_inputs_are_reported() {
    let dir = tmpdir("bad");
    std::fs::write(dir.join("notes.pcap"), b"these are notes, not packets").unwrap();
    let o = run(&[
        "flows",
        "--format",
        "csv",
        dir.join("nope.pcap").to_str().unwrap(),
        dir.join("notes.pcap").to_str().unwrap(),
        sample("basic.pcap").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("nope.pcap: no such file"), "{err}");
    assert!(
        err.contains("notes.pcap: not a pcap or pcapng capture"),
        "{err}"
    );
    assert_eq!(
        stdout(&o).lines().count(),
        25,
        "the good capture's flows are still written"
    );
}

#[test]
fn a_capture_cut_off_mid_record_keeps_what_came_before_and_names_the_offset() {
    let raw = std::fs::read(sample("basic.pcap")).unwrap();
    let dir = tmpdir("cut");
    let cut = raw.len() - 30;
    std::fs::write(dir.join("cut.pcap"), &raw[..cut]).unwrap();
    let o = run(&[
        "flows",
        "--format",
        "json",
        dir.join("cut.pcap").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "damage part-way is a warning");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cap = &doc["captures"][0];
    assert_eq!(cap["packets"], 139);
    let e = cap["error"].as_str().unwrap();
    assert!(e.contains("cut.pcap: cut off at byte"), "{e}");
    assert!(!doc["flows"].as_array().unwrap().is_empty());
}

#[test]
fn a_pcapng_block_with_an_impossible_length_is_reported_with_its_offset() {
    let mut raw = std::fs::read(sample("basic.pcapng")).unwrap();
    // Find the third block and give it a length below 12.
    let mut pos = 0;
    for _ in 0..2 {
        pos += u32::from_le_bytes(raw[pos + 4..pos + 8].try_into().unwrap()) as usize;
    }
    raw[pos + 4..pos + 8].copy_from_slice(&8u32.to_le_bytes());
    let dir = tmpdir("badblock");
    std::fs::write(dir.join("bad.pcapng"), &raw).unwrap();
    let o = run(&[
        "flows",
        "--format",
        "csv",
        dir.join("bad.pcapng").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("damaged at byte {pos}: length 8 is impossible")),
        "{err}"
    );
}

#[test]
fn an_empty_capture_is_not_an_error() {
    let raw = std::fs::read(sample("basic.pcap")).unwrap();
    let dir = tmpdir("empty");
    std::fs::write(dir.join("empty.pcap"), &raw[..24]).unwrap();
    let o = run(&["flows", dir.join("empty.pcap").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("holds no packets"));
}

#[test]
fn json_and_jsonl_carry_flows_and_capture_summaries() {
    let o = run(&[
        "flows",
        "--format",
        "json",
        sample("basic.pcap").to_str().unwrap(),
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["flows"].as_array().unwrap().len(), 24);
    assert_eq!(
        doc["flows"][0]["first_seen_ns"],
        1_768_467_600_000_000_000i64
    );
    assert_eq!(doc["captures"][0]["link_types"][0], "ethernet");
    assert!(
        o.stderr.is_empty(),
        "json keeps the summary in the document"
    );

    let o = run(&[
        "flows",
        "--format",
        "jsonl",
        sample("basic.pcap").to_str().unwrap(),
    ]);
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.iter().filter(|l| l["type"] == "flow").count(), 24);
    assert_eq!(lines.iter().filter(|l| l["type"] == "capture").count(), 1);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["flows"]).status.code(), Some(2));
    assert_eq!(
        run(&["flows", "--format", "xml", "x.pcap"]).status.code(),
        Some(2)
    );
}
