//! `flowaudit live` as users run it: a capture of traffic the test makes itself, the audit of it,
//! the `--write` file read back, Ctrl-C, limits, and bad input with exit codes.
//!
//! Capturing needs root (or `CAP_NET_RAW`); tests that need it say so on standard error and skip
//! where it is missing, as they do where `ip` is missing for the namespace test. Traffic only
//! goes to addresses of this machine: the loopback interface, or a network namespace the test
//! makes (a veth pair with addresses in 10.199.0.0/16) and removes, even when it fails.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flowaudit"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run flowaudit")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("flowaudit-live-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether capture tests can run here; says why not otherwise.
fn can_capture(test: &str) -> bool {
    if !is_root() {
        eprintln!("skipping {test}: live capture needs root (or CAP_NET_RAW); CI runs as root");
        return false;
    }
    true
}

/// A running `flowaudit live`, started once it said it is capturing.
struct Live {
    child: Child,
    stderr: mpsc::Receiver<String>,
}

impl Live {
    /// Starts `flowaudit live ARGS` and waits (at most 10 s) for its start line.
    fn start(args: &[&str]) -> Live {
        let mut child = bin()
            .arg("live")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start flowaudit live");
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) if l.starts_with("flowaudit: capturing on") => break,
                Ok(l) => seen.push(l),
                Err(_) => {
                    let _ = child.kill();
                    let out = child.wait_with_output().unwrap();
                    panic!(
                        "flowaudit live did not start ({:?}): {}",
                        out.status,
                        seen.join("\n")
                    );
                }
            }
        }
        Live { child, stderr: rx }
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
    }

    /// Waits (at most `limit`) for the end; returns status, stdout and stderr.
    fn finish(mut self, limit: Duration) -> (ExitStatus, String, String) {
        let mut out = self.child.stdout.take().unwrap();
        let reader = thread::spawn(move || {
            let mut s = String::new();
            out.read_to_string(&mut s).unwrap();
            s
        });
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("flowaudit live did not stop within {limit:?}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        let stdout = reader.join().unwrap();
        let mut stderr = Vec::new();
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_secs(2)) {
            stderr.push(l);
        }
        (status, stdout, stderr.join("\n"))
    }
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// The flows of a capture file as CSV rows split into cells (header first).
fn flows_csv(path: &Path) -> Vec<Vec<String>> {
    let o = run(&["flows", "--format", "csv", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        !text(&o.stderr).contains("warning"),
        "the written file is damaged: {}",
        text(&o.stderr)
    );
    text(&o.stdout)
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn col(rows: &[Vec<String>], name: &str) -> usize {
    rows[0].iter().position(|c| c == name).unwrap()
}

// ---------------------------------------------------------------------------------------------
// A network namespace with a veth pair, removed on drop.

struct Netns {
    name: String,
    host_if: String,
    host_addr: String,
    ns_addr: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Netns {
    /// Makes namespace `fa<tag>-<pid>` holding one end of a veth pair, the other end here.
    /// Subnet 10.199.<n>.0/24, the host end .1 and the namespace end .2.
    fn create(tag: u8) -> Option<Netns> {
        if !ip(&["-V"]) {
            eprintln!("skipping: the `ip` command (iproute2) is missing");
            return None;
        }
        let pid = std::process::id();
        let n = (pid % 200) as u8 + tag;
        let ns = Netns {
            name: format!("fa{tag}-{pid}"),
            host_if: format!("fa{tag}h{}", pid % 100_000),
            host_addr: format!("10.199.{n}.1"),
            ns_addr: format!("10.199.{n}.2"),
        };
        let peer = format!("fa{tag}n{}", pid % 100_000);
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", &ns.name],
            vec![
                "link",
                "add",
                &ns.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &peer,
            ],
            vec!["link", "set", &peer, "netns", &ns.name],
        ];
        for s in &steps {
            if !ip(s) {
                eprintln!(
                    "skipping: `ip {}` failed (no network namespaces here?)",
                    s.join(" ")
                );
                return None; // Drop removes what was made.
            }
        }
        // No IPv6 on the pair: its router solicitations would only be noise.
        let _ = std::fs::write(
            format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", ns.host_if),
            "1",
        );
        let _ = Command::new("ip")
            .args(["netns", "exec", &ns.name, "sh", "-c"])
            .arg(format!(
                "echo 1 > /proc/sys/net/ipv6/conf/{peer}/disable_ipv6"
            ))
            .status();
        let host_cidr = format!("{}/24", ns.host_addr);
        let ns_cidr = format!("{}/24", ns.ns_addr);
        let more: Vec<Vec<&str>> = vec![
            vec!["addr", "add", &host_cidr, "dev", &ns.host_if],
            vec!["link", "set", &ns.host_if, "up"],
            vec!["-n", &ns.name, "addr", "add", &ns_cidr, "dev", &peer],
            vec!["-n", &ns.name, "link", "set", &peer, "up"],
            vec!["-n", &ns.name, "link", "set", "lo", "up"],
        ];
        for s in &more {
            if !ip(s) {
                eprintln!("skipping: `ip {}` failed", s.join(" "));
                return None;
            }
        }
        Some(ns)
    }

    /// Runs `f` on a thread that lives inside the namespace (sockets it makes are there).
    fn spawn_inside<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> thread::JoinHandle<T> {
        let path = format!("/run/netns/{}", self.name);
        thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open the namespace");
            use std::os::fd::AsRawFd;
            // SAFETY: moves this thread only into the namespace of a descriptor we hold.
            let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes its veth end, and with it the pair.
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.host_if]);
    }
}

/// The traffic of an Azure AD Connect server (.1) with a DC (.2): LDAP 389 answered, LDAPS 636
/// refused (nothing listens), DNS 53 over UDP met with ICMP port unreachable.
fn connect_talks_to_dc(ns: &Netns) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let dc = ns.ns_addr.clone();
    let server = ns.spawn_inside(move || {
        let l = TcpListener::bind((dc.as_str(), 389)).expect("bind 389 in the namespace");
        ready_tx.send(()).unwrap();
        l.set_nonblocking(false).unwrap();
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        std::io::Write::write_all(&mut s, &buf[..n]).unwrap();
    });
    ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let dc: SocketAddr = format!("{}:389", ns.ns_addr).parse().unwrap();
    let mut c = TcpStream::connect_timeout(&dc, Duration::from_secs(2)).unwrap();
    std::io::Write::write_all(&mut c, b"ldap bind request").unwrap();
    let mut back = [0u8; 17];
    c.read_exact(&mut back).unwrap();
    drop(c);
    server.join().unwrap();

    let ldaps: SocketAddr = format!("{}:636", ns.ns_addr).parse().unwrap();
    assert!(TcpStream::connect_timeout(&ldaps, Duration::from_secs(2)).is_err());

    let u = UdpSocket::bind((ns.host_addr.as_str(), 0)).unwrap();
    u.send_to(b"dns query", (ns.ns_addr.as_str(), 53)).unwrap();
    // Let the last FIN/ACK, the RST and the ICMP error arrive before the capture ends.
    thread::sleep(Duration::from_millis(300));
}

fn inventory(dir: &Path, ns: &Netns) -> PathBuf {
    let p = dir.join("inventory.toml");
    std::fs::write(
        &p,
        format!(
            "features = [\"ldaps\"]\n\n[[hosts]]\nrole = \"connect\"\nname = \"aadc\"\naddrs = [\"{}\"]\n\n[[hosts]]\nrole = \"dc\"\nname = \"dc1\"\naddrs = [\"{}\"]\n",
            ns.host_addr, ns.ns_addr
        ),
    )
    .unwrap();
    p
}

fn finding<'a>(
    doc: &'a serde_json::Value,
    kind: &str,
    port: &str,
) -> Option<&'a serde_json::Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind && f["port"] == port)
}

#[test]
fn live_audit_of_a_veth_pair_matches_the_audit_of_its_written_file() {
    if !can_capture("live_audit_of_a_veth_pair_matches_the_audit_of_its_written_file") {
        return;
    }
    let Some(ns) = Netns::create(1) else { return };
    let dir = tmpdir("veth");
    let inv = inventory(&dir, &ns);
    let written = dir.join("capture.pcapng");
    let live = Live::start(&[
        "--interface",
        &ns.host_if,
        "--duration",
        "3s",
        "--format",
        "json",
        "--inventory",
        inv.to_str().unwrap(),
        "--write",
        written.to_str().unwrap(),
    ]);
    connect_talks_to_dc(&ns);
    let (status, stdout, stderr) = live.finish(Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(1),
        "blocked paths are findings: {stderr}"
    );
    assert!(stderr.contains("(duration reached)"), "{stderr}");
    let doc = json(&stdout);

    // The capture, as the report states it.
    let cap = &doc["captures"][0];
    assert_eq!(cap["path"], format!("live:{}", ns.host_if));
    assert_eq!(cap["format"], "live/af-packet");
    assert_eq!(cap["live"]["stopped_by"], "duration reached");
    assert_eq!(cap["live"]["dropped"], 0);
    let captured = cap["live"]["captured"].as_u64().unwrap();
    assert_eq!(cap["packets"].as_u64().unwrap(), captured);
    assert!(cap["live"]["received"].as_u64().unwrap() >= captured);

    // The verdicts: LDAP answered, LDAPS refused, DNS unreachable.
    let ok = finding(&doc, "ok", "389").expect("LDAP 389 is ok");
    assert_eq!(ok["rule"], "connect-dc-ldap");
    let ldaps = finding(&doc, "blocked", "636").expect("LDAPS 636 is blocked");
    assert_eq!(ldaps["rule"], "connect-dc-ldaps");
    assert!(ldaps["outcomes"].to_string().contains("refused"), "{ldaps}");
    let dns = finding(&doc, "blocked", "53").expect("DNS 53 is blocked");
    assert!(dns["outcomes"].to_string().contains("unreachable"), "{dns}");

    // The written file holds every captured packet and gives the same audit.
    let rows = flows_csv(&written);
    let (dport, outcome, proto) = (
        col(&rows, "dst_port"),
        col(&rows, "outcome"),
        col(&rows, "proto"),
    );
    let has = |p: &str, port: &str, o: &str| {
        rows.iter()
            .any(|r| r[proto] == p && r[dport] == port && r[outcome] == o)
    };
    assert!(has("tcp", "389", "answered"), "{rows:?}");
    assert!(has("tcp", "636", "refused"), "{rows:?}");
    assert!(has("udp", "53", "unreachable"), "{rows:?}");

    let o = run(&[
        "audit",
        "--format",
        "json",
        "--inventory",
        inv.to_str().unwrap(),
        written.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let file_doc = json(&text(&o.stdout));
    assert_eq!(file_doc["captures"][0]["packets"].as_u64(), Some(captured));
    for key in [
        "findings",
        "summary",
        "flows",
        "hosts",
        "verdict",
        "background",
    ] {
        assert_eq!(
            doc[key], file_doc[key],
            "'{key}' differs between live and file"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_stops_a_loopback_capture_with_a_complete_file_and_no_double_packets() {
    if !can_capture("ctrl_c_stops_a_loopback_capture_with_a_complete_file_and_no_double_packets") {
        return;
    }
    let dir = tmpdir("sigint");
    let written = dir.join("lo.pcapng");
    let live = Live::start(&[
        "--interface",
        "lo",
        "--format",
        "json",
        "--write",
        written.to_str().unwrap(),
    ]);
    // 25 datagrams from one socket to another; loopback shows each once, not twice.
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sport = tx.local_addr().unwrap().port().to_string();
    for i in 0..25u8 {
        tx.send_to(&[i; 200], rx.local_addr().unwrap()).unwrap();
    }
    thread::sleep(Duration::from_millis(300));
    live.signal(libc::SIGINT);
    let (status, stdout, stderr) = live.finish(Duration::from_secs(5));
    // Other loopback traffic of this machine may be captured too, and judged: 0 or 1.
    assert!(matches!(status.code(), Some(0 | 1)), "{status:?}: {stderr}");
    assert!(stderr.contains("(interrupted)"), "{stderr}");
    let doc = json(&stdout);
    assert_eq!(doc["captures"][0]["live"]["stopped_by"], "interrupted");
    let captured = doc["captures"][0]["live"]["captured"].as_u64().unwrap();

    let rows = flows_csv(&written);
    let (sp, packets) = (col(&rows, "src_port"), col(&rows, "packets"));
    let ours: Vec<_> = rows.iter().filter(|r| r[sp] == sport).collect();
    assert_eq!(ours.len(), 1, "{rows:?}");
    assert_eq!(ours[0][packets], "25", "each loopback packet once");

    let o = run(&["flows", "--format", "json", written.to_str().unwrap()]);
    assert_eq!(
        json(&text(&o.stdout))["captures"][0]["packets"].as_u64(),
        Some(captured),
        "every captured packet is in the file"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn packet_limit_stops_after_that_many_packets_with_either_builtin_backend() {
    if !can_capture("packet_limit_stops_after_that_many_packets_with_either_builtin_backend") {
        return;
    }
    for backend in ["af-packet", "pnet"] {
        let live = Live::start(&[
            "--interface",
            "lo",
            "--backend",
            backend,
            "--packets",
            "5",
            "--format",
            "json",
        ]);
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let sender = thread::spawn(move || {
            for _ in 0..300 {
                if tx.send_to(b"x", to).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
        });
        let (status, stdout, stderr) = live.finish(Duration::from_secs(8));
        sender.join().unwrap();
        assert!(matches!(status.code(), Some(0 | 1)), "{backend}: {stderr}");
        let doc = json(&stdout);
        let cap = &doc["captures"][0];
        assert_eq!(cap["format"], format!("live/{backend}"));
        assert_eq!(cap["packets"], 5, "{backend}");
        assert_eq!(cap["live"]["stopped_by"], "packet count reached");
    }
}

#[test]
fn bad_input_is_exit_2_with_what_to_do_and_captures_nothing() {
    let dir = tmpdir("bad");
    // Usage mistakes are found before the interface is touched, with or without privileges.
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--interface", "lo", "--duration", "ten"],
            "invalid duration",
        ),
        (
            vec!["--interface", "lo", "--duration", "0s"],
            "more than zero",
        ),
        (vec!["--interface", "lo", "--packets", "0"], "at least 1"),
        (
            vec!["--interface", "lo", "--backend", "tap"],
            "unknown backend",
        ),
        (
            vec!["--interface", "lo", "--inventory", "/nonexistent/inv.toml"],
            "inventory",
        ),
    ];
    for (args, says) in &cases {
        let o = bin().arg("live").args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            text(&o.stderr).contains(says),
            "{args:?}: {}",
            text(&o.stderr)
        );
        assert!(o.stdout.is_empty());
    }
    if !cfg!(feature = "libpcap") {
        let o = run(&["live", "--interface", "lo", "--filter", "tcp port 389"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            text(&o.stderr).contains("--filter needs flowaudit built with --features libpcap"),
            "{}",
            text(&o.stderr)
        );
    }
    let o = run(&["live", "--interface", "no-such-if0", "--duration", "1s"]);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains("no interface named 'no-such-if0'") && e.contains("lo"),
        "{e}"
    );

    if !can_capture("bad_input_is_exit_2_with_what_to_do_and_captures_nothing (privileged part)") {
        return;
    }
    let o = run(&[
        "live",
        "--interface",
        "lo",
        "--duration",
        "1s",
        "--write",
        "/nonexistent/dir/x.pcapng",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("cannot create the --write file"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        !text(&o.stderr).contains("capturing on"),
        "nothing was captured"
    );

    // Without privileges: the message says how to get them.
    if Path::new("/usr/bin/setpriv").exists() {
        let o = Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_flowaudit"))
            .args(["live", "--interface", "lo", "--duration", "1s"])
            .current_dir(&dir)
            .output()
            .unwrap();
        if o.status.code() == Some(2) && text(&o.stderr).contains("not allowed") {
            assert!(text(&o.stderr).contains("setcap cap_net_raw,cap_net_admin+eip"));
        } else {
            eprintln!(
                "note: could not run flowaudit as an unprivileged user here ({:?}: {})",
                o.status,
                text(&o.stderr)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "libpcap")]
#[test]
fn libpcap_filter_keeps_only_matching_packets_and_rejects_bad_expressions() {
    let o = run(&["live", "--interface", "lo", "--filter", "tcp port port"]);
    if !is_root() {
        eprintln!("skipping the libpcap capture: needs root");
        return;
    }
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("invalid BPF filter"),
        "{}",
        text(&o.stderr)
    );

    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let filter = format!("udp and dst port {}", rx.local_addr().unwrap().port());
    let live = Live::start(&[
        "--interface",
        "lo",
        "--filter",
        &filter,
        "--duration",
        "2s",
        "--format",
        "json",
    ]);
    for _ in 0..10 {
        tx.send_to(b"in", rx.local_addr().unwrap()).unwrap();
        tx.send_to(b"out", other.local_addr().unwrap()).unwrap();
    }
    let (_, stdout, stderr) = live.finish(Duration::from_secs(8));
    let doc = json(&stdout);
    assert_eq!(doc["captures"][0]["format"], "live/libpcap", "{stderr}");
    assert_eq!(doc["captures"][0]["packets"], 10, "{stderr}");
}
