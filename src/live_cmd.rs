//! `flowaudit live`: capture from an interface, then print the same audit report as `audit`.
//!
//! The order matters: every argument, the rules and the inventory are checked first, then the
//! report's output file is opened, then the interface, then the `--write` file; only then does
//! capture start. So a mistake costs no captured packet, and is exit code 2 with a message that
//! says what to do. The capture itself is the library's (`capture::live`); this file adds the
//! terminal side: the status line, Ctrl-C, and the report.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::PolicyArgs;
use flowaudit::capture::live::{
    self, Backend, Consumer, LiveError, LiveErrorKind, LiveSummary, OpenOptions, PcapngOut,
    Progress, RunOptions, SourceInfo,
};
use flowaudit::capture::{CaptureSummary, Frame, LiveInfo};
use flowaudit::engine::{self, Session};
use flowaudit::error::{CaptureError, CaptureErrorKind};
use flowaudit::report;
use flowaudit::report::audit::AuditFormat;

/// Arguments of `flowaudit live`.
#[derive(Args)]
pub struct LiveArgs {
    /// The interface to capture on.
    #[arg(long, short = 'I', required_unless_present = "list")]
    pub interface: Option<String>,
    /// List interfaces with their addresses and exit.
    #[arg(long)]
    pub list: bool,
    /// Stop after this long (e.g. 90s, 10m, 2h, 1h30m, or plain seconds).
    #[arg(long)]
    pub duration: Option<String>,
    /// Stop after this many packets.
    #[arg(long)]
    pub packets: Option<u64>,
    /// A BPF capture filter (needs the `libpcap` build feature).
    #[arg(long)]
    pub filter: Option<String>,
    /// Keep every captured packet in this pcapng file.
    #[arg(long)]
    pub write: Option<PathBuf>,
    /// Capture backend: af-packet (Linux default), pnet, libpcap (needs the `libpcap` feature).
    #[arg(long)]
    pub backend: Option<Backend>,
    /// Do not put the interface in promiscuous mode (then a span port shows only this host's
    /// traffic).
    #[arg(long)]
    pub no_promisc: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Output format: text, json, csv.
    #[arg(long, short = 'f', default_value = "text")]
    pub format: AuditFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Deprecated paths are findings too (exit 1).
    #[arg(long)]
    pub strict: bool,
}

/// Runs a live capture and its audit.
pub fn run(args: LiveArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        list()?;
        return Ok(ExitCode::SUCCESS);
    }
    let iface = args
        .interface
        .clone()
        .context("--interface is required (flowaudit live --list shows the interfaces)")?;

    // Arguments and policy, before the interface is touched.
    let duration = args
        .duration
        .as_deref()
        .map(live::parse_duration)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--duration: {e}"))?;
    if args.packets == Some(0) {
        anyhow::bail!("--packets must be at least 1");
    }
    let backend = args
        .backend
        .unwrap_or_else(|| Backend::default_for(args.filter.is_some()));
    if args.filter.is_some() && backend != Backend::Libpcap {
        let built_in = cfg!(feature = "libpcap");
        return Err(LiveError::new(&iface, LiveErrorKind::FilterNeedsLibpcap { built_in }).into());
    }
    let policy = args.policy.load()?;
    let mut out = crate::open_output(&args.output)?;

    // The interface, then the evidence file.
    let mut source = live::open(
        &iface,
        &OpenOptions {
            backend,
            promisc: !args.no_promisc,
            filter: args.filter.clone(),
        },
    )?;
    let info = source.info().clone();
    let mut writer = match &args.write {
        Some(p) => Some(create_write_file(p, &info)?),
        None => None,
    };

    // Ctrl-C and SIGTERM stop the capture; the report and the file are still completed. A second
    // one while the report is being written ends the process at once.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        })
        .context("cannot install the Ctrl-C handler")?;
    }

    eprintln!("{}", start_line(&info, duration, args.packets, &args.write));
    for w in &info.warnings {
        eprintln!("warning: {w}");
    }

    // A folding session: flows that ended are folded into per-edge totals as the capture goes,
    // so a week-long run holds the open flows and the edges, not every connection.
    let mut consumer = LiveConsumer {
        session: Session::folding(),
        status: io::stderr().is_terminal(),
    };
    let opts = RunOptions {
        limits: live::Limits {
            duration,
            packets: args.packets,
        },
        ..RunOptions::default()
    };
    let summary = live::run(
        source.as_mut(),
        &opts,
        &stop,
        writer.as_mut(),
        &mut consumer,
    );
    drop(source);
    if consumer.status {
        eprint!("\r\x1b[K");
    }
    eprintln!("{}", end_line(&summary, &args.write));

    // The same audit as for files, over the one live "capture".
    let LiveConsumer { mut session, .. } = consumer;
    let report_capture = session.end_capture(capture_summary(&info, &summary, &args.write));
    let (edges, names) = session.finish_edges();
    let analysis = engine::Analysis {
        captures: vec![report_capture],
        edges,
        names,
        ..Default::default()
    };
    let r = engine::audit(
        analysis,
        &policy.rules,
        policy.inventory.as_ref(),
        &policy.features,
        policy.features_from,
    );
    let mut doc = Vec::new();
    report::audit::write(&r, args.format, args.strict, &mut doc)?;
    out.write_all(&doc)?;
    out.flush()?;

    if let Some(e) = &summary.write_error {
        let p = args.write.as_deref().unwrap_or(std::path::Path::new("?"));
        eprintln!(
            "error: writing {} failed after {} packets: {e}; the file holds the packets before it, the report covers the whole capture",
            p.display(),
            writer.as_ref().map_or(0, |w| w.packets())
        );
        return Ok(ExitCode::from(2));
    }
    Ok(if r.result.fails(args.strict) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Feeds the audit session, and draws the status line on a terminal.
struct LiveConsumer {
    session: Session,
    status: bool,
}

impl Consumer for LiveConsumer {
    fn frame(&mut self, frame: &Frame<'_>) {
        self.session.push(frame);
    }

    fn progress(&mut self, p: &Progress) {
        if !self.status {
            return;
        }
        let drops = match p.stats.dropped {
            Some(d) => format!("{d} dropped"),
            None => "drops not reported".to_string(),
        };
        let mut err = io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[K{}  {} packets  {} flows  {drops}",
            clock(p.elapsed),
            p.packets,
            self.session.flow_count()
        );
        let _ = err.flush();
    }
}

/// `H:MM:SS`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

type WriteFile = PcapngOut<BufWriter<std::fs::File>>;

fn create_write_file(p: &std::path::Path, info: &SourceInfo) -> anyhow::Result<WriteFile> {
    let f = std::fs::File::create(p).with_context(|| {
        format!(
            "cannot create the --write file {}: choose a path in a folder that exists and is writable",
            p.display()
        )
    })?;
    let userappl = format!("flowaudit {} (live capture)", env!("CARGO_PKG_VERSION"));
    PcapngOut::new(BufWriter::with_capacity(1 << 20, f), info, &userappl)
        .with_context(|| format!("cannot write to {}", p.display()))
}

fn start_line(
    info: &SourceInfo,
    duration: Option<Duration>,
    packets: Option<u64>,
    write: &Option<PathBuf>,
) -> String {
    let mut s = format!(
        "flowaudit: capturing on {} ({}, {}",
        info.interface, info.backend, info.link
    );
    if let Some(b) = info.buffer {
        s.push_str(&format!(", {} MiB buffer", b >> 20));
    }
    if let Some(f) = &info.filter {
        s.push_str(&format!(", filter '{f}'"));
    }
    s.push(')');
    let mut until = Vec::new();
    if let Some(d) = duration {
        until.push(format!("{} s", d.as_secs_f64()));
    }
    if let Some(n) = packets {
        until.push(format!("{n} packets"));
    }
    until.push("Ctrl-C".to_string());
    s.push_str(&format!("; until {}", until.join(" or ")));
    if let Some(p) = write {
        s.push_str(&format!("; writing {}", p.display()));
    }
    s
}

/// The kernel's counters in words.
fn kernel_counts(summary: &LiveSummary) -> String {
    let st = &summary.progress.stats;
    match (st.received, st.dropped) {
        (Some(r), Some(d)) => {
            let mut s = format!("the kernel received {r} and dropped {d}");
            if let Some(i) = st.if_dropped.filter(|&i| i > 0) {
                s.push_str(&format!(", the interface dropped {i}"));
            }
            s
        }
        _ => "this backend reports no kernel counts or drops".to_string(),
    }
}

fn end_line(summary: &LiveSummary, write: &Option<PathBuf>) -> String {
    let p = &summary.progress;
    let mut s = format!(
        "flowaudit: {} packets captured in {:.1} s ({}); {}",
        p.packets,
        p.elapsed.as_secs_f64(),
        summary.stop.as_str(),
        kernel_counts(summary)
    );
    if let (Some(path), None) = (write, &summary.write_error) {
        s.push_str(&format!("; written to {}", path.display()));
    }
    if let Some(e) = &summary.error {
        s.push_str(&format!("\nwarning: {e} (the packets before it were kept)"));
    }
    s
}

/// The live capture as a capture summary, so that the report states it like a file.
fn capture_summary(info: &SourceInfo, s: &LiveSummary, write: &Option<PathBuf>) -> CaptureSummary {
    let path = PathBuf::from(format!("live:{}", info.interface));
    let st = &s.progress.stats;
    let live = LiveInfo {
        interface: info.interface.clone(),
        backend: info.backend.as_str().to_string(),
        filter: info.filter.clone(),
        captured: s.progress.packets,
        received: st.received,
        dropped: st.dropped,
        if_dropped: st.if_dropped,
        elapsed_s: s.progress.elapsed.as_secs_f64(),
        stopped_by: s.stop.as_str().to_string(),
        write: write.as_ref().map(|p| p.display().to_string()),
        write_error: s.write_error.as_ref().map(|e| e.to_string()),
    };
    CaptureSummary {
        live: Some(live),
        format: format!("live/{}", info.backend),
        link_types: vec![info.link],
        packets: s.progress.packets,
        wire_bytes: s.progress.bytes,
        first_ns: s.first_ns,
        last_ns: s.last_ns,
        error: s.error.as_ref().map(|e| CaptureError {
            path: path.clone(),
            offset: 0,
            kind: CaptureErrorKind::Io(e.to_string()),
        }),
        path,
        ..CaptureSummary::default()
    }
}

/// `--list`: every interface with its state and addresses.
fn list() -> anyhow::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    let ifaces = live::interfaces();
    let w = ifaces
        .iter()
        .map(|i| i.name.len())
        .max()
        .unwrap_or(0)
        .max(9);
    writeln!(out, "{:<w$}  {:<5}  addresses", "interface", "state")?;
    for i in &ifaces {
        let mut extra = Vec::new();
        if i.loopback {
            extra.push("loopback".to_string());
        } else if let Some(m) = i.mac.as_ref().filter(|m| m.as_str() != "00:00:00:00:00:00") {
            extra.push(format!("mac {m}"));
        }
        if !i.description.is_empty() && i.description != i.name {
            extra.push(i.description.clone());
        }
        let addrs = if i.addrs.is_empty() {
            "-".to_string()
        } else {
            i.addrs.join(" ")
        };
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!("  ({})", extra.join(", "))
        };
        writeln!(
            out,
            "{:<w$}  {:<5}  {addrs}{extra}",
            i.name,
            if i.up { "up" } else { "down" }
        )?;
    }
    if ifaces.is_empty() {
        writeln!(out, "(no interfaces found)")?;
    }
    out.flush()?;
    Ok(())
}
