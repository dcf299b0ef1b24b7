//! Live capture: frames from a network interface instead of a file, for as long as the caller
//! wants them.
//!
//! Admins who cannot hand over a capture file run `flowaudit live` on the Connect server or a span
//! port; the frames captured here go through the same sink as a file's, so the audit is the same.
//! This module owns the operating-system boundary and nothing else: it opens a [`PacketSource`]
//! (an interface through a backend), runs the capture loop ([`run`]) until a limit is reached or
//! the caller's stop flag is set, keeps every frame in a pcapng file as it goes ([`PcapngOut`]),
//! and counts what the kernel received and dropped. It never prints and never decodes: frames go
//! to a [`Consumer`], and the caller decides what a status line looks like.
//!
//! Backends (see [`Backend`]):
//! - `af-packet` (Linux, the default): a `PF_PACKET` socket with a memory-mapped `TPACKET_V3`
//!   ring, configured and read here with `libc`. Why not through pnet: pnet 0.35's channel makes
//!   a `poll` and a `recvfrom` per packet (about 15 times the CPU time per packet of the ring
//!   here), cuts frames at its read buffer without saying so, loses the direction (so loopback
//!   packets would count twice), the kernel timestamp and the drop counters. See `afpacket.rs`
//!   for the measured figures.
//! - `pnet`: pnet's datalink channel. The default where there is no `af-packet` and no `libpcap`
//!   (BPF devices on macOS and the BSDs); on Linux it gets a socket configured here (direction,
//!   buffer) and is kept for comparison. It reports no drops.
//! - `libpcap` (cargo feature `libpcap`): the `pcap` crate over libpcap or Npcap; the only backend
//!   that takes a BPF filter (`--filter`).
//!
//! Every backend sits behind [`PacketSource`], so tests drive the loop with a [`ScriptedSource`]
//! and no privileges.

#[cfg(target_os = "linux")]
mod afpacket;
#[cfg(feature = "libpcap")]
mod libpcap;
mod pcapng_out;
mod pnet_source;
mod scripted;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Frame;
use crate::model::LinkType;
pub use pcapng_out::PcapngOut;
pub use scripted::ScriptedSource;

/// The largest frame kept. Loopback and GRO-merged frames reach 65,549 bytes; BIG TCP and jumbo
/// frames may be larger. Longer frames are cut, keeping their wire length.
pub const SNAPLEN: usize = super::MAX_FRAME_LEN as usize;

/// How long one wait for packets may block, so that a stop request is seen within this time.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The receive buffer asked of the kernel: room for over ten thousand full-size Ethernet frames
/// (the kernel counts each with its overhead), enough to ride out a burst or a slow moment of
/// the audit (a 32 MiB buffer gave no drops at about 200k packets/s on a veth pair where the
/// default dropped 1.4%).
pub const RECV_BUFFER: usize = 32 << 20;

/// A capture backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Linux `PF_PACKET` socket, read directly.
    AfPacket,
    /// pnet's datalink channel.
    Pnet,
    /// libpcap or Npcap through the `pcap` crate (cargo feature `libpcap`).
    Libpcap,
}

impl Backend {
    /// The backend used when none is asked for: `af-packet` on Linux; elsewhere `libpcap` when
    /// built with it, else `pnet`. A BPF filter needs `libpcap`, so a filter picks it where
    /// it is built in.
    pub fn default_for(filter: bool) -> Backend {
        if filter && cfg!(feature = "libpcap") {
            Backend::Libpcap
        } else if cfg!(target_os = "linux") {
            Backend::AfPacket
        } else if cfg!(feature = "libpcap") {
            Backend::Libpcap
        } else {
            Backend::Pnet
        }
    }

    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::AfPacket => "af-packet",
            Backend::Pnet => "pnet",
            Backend::Libpcap => "libpcap",
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Backend, String> {
        match s {
            "af-packet" | "afpacket" => Ok(Backend::AfPacket),
            "pnet" => Ok(Backend::Pnet),
            "libpcap" | "pcap" => Ok(Backend::Libpcap),
            _ => Err(format!(
                "unknown backend '{s}' (expected af-packet, pnet or libpcap)"
            )),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to open.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The backend.
    pub backend: Backend,
    /// Put the interface in promiscuous mode (needed on a span port; loopback has none).
    pub promisc: bool,
    /// A BPF filter expression (libpcap only).
    pub filter: Option<String>,
}

/// What is being captured, for messages and the report.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// The interface's name.
    pub interface: String,
    /// The backend reading it.
    pub backend: Backend,
    /// The link type of every frame it gives.
    pub link: LinkType,
    /// Whether the interface is a loopback.
    pub loopback: bool,
    /// Bytes the kernel may hold for frames not yet read (the ring, or the socket buffer it
    /// granted), where known.
    pub buffer: Option<usize>,
    /// The BPF filter in effect.
    pub filter: Option<String>,
    /// Things the user should know (a buffer smaller than asked for, an interface that is down).
    pub warnings: Vec<String>,
}

/// Counters kept by the operating system, since the source was opened. `None` where the backend
/// does not report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Packets the kernel accepted for this capture (delivered and dropped).
    pub received: Option<u64>,
    /// Packets the kernel dropped because the capture did not keep up (buffer full).
    pub dropped: Option<u64>,
    /// Packets dropped by the interface or its driver (libpcap on some systems).
    pub if_dropped: Option<u64>,
}

/// A live source of frames: the operating-system boundary of live capture.
pub trait PacketSource {
    /// What is being captured.
    fn info(&self) -> &SourceInfo;

    /// Waits at most `timeout` for frames, then hands each ready frame (at most `max`) to `sink`
    /// and returns how many it handed. `Ok(0)` means the wait ended with nothing (a timeout or an
    /// interrupted wait), never the end of the capture.
    fn next_batch(
        &mut self,
        timeout: Duration,
        max: usize,
        sink: &mut dyn FnMut(&Frame<'_>),
    ) -> Result<usize, LiveError>;

    /// The operating system's counters so far.
    fn stats(&mut self) -> SourceStats;

    /// How long the kernel may hold frames already captured before handing them over (a ring
    /// block not yet full). When the capture is stopped, the loop reads on for this long so that
    /// none of them is lost.
    fn drain_time(&self) -> Duration {
        Duration::ZERO
    }
}

/// Opens an interface for capture. Fails before anything is captured: an unknown interface,
/// missing privileges, a filter that does not compile, or a backend not built in.
pub fn open(interface: &str, opts: &OpenOptions) -> Result<Box<dyn PacketSource>, LiveError> {
    if opts.filter.is_some() && opts.backend != Backend::Libpcap {
        return Err(LiveError::new(
            interface,
            if cfg!(feature = "libpcap") {
                LiveErrorKind::FilterNeedsLibpcap { built_in: true }
            } else {
                LiveErrorKind::FilterNeedsLibpcap { built_in: false }
            },
        ));
    }
    match opts.backend {
        Backend::AfPacket => {
            #[cfg(target_os = "linux")]
            {
                Ok(Box::new(afpacket::AfPacketSource::open(interface, opts)?))
            }
            #[cfg(not(target_os = "linux"))]
            {
                Err(LiveError::new(
                    interface,
                    LiveErrorKind::BackendUnavailable {
                        backend: Backend::AfPacket,
                        why: "AF_PACKET exists on Linux only; use --backend pnet or libpcap",
                    },
                ))
            }
        }
        Backend::Pnet => Ok(Box::new(pnet_source::PnetSource::open(interface, opts)?)),
        Backend::Libpcap => {
            #[cfg(feature = "libpcap")]
            {
                Ok(Box::new(libpcap::LibpcapSource::open(interface, opts)?))
            }
            #[cfg(not(feature = "libpcap"))]
            {
                Err(LiveError::new(
                    interface,
                    LiveErrorKind::BackendUnavailable {
                        backend: Backend::Libpcap,
                        why: "this flowaudit was built without it; build with --features libpcap",
                    },
                ))
            }
        }
    }
}

/// One network interface, for `--list` and for messages about a name that does not exist.
#[derive(Debug, Clone)]
pub struct Interface {
    /// The name to pass to `--interface`.
    pub name: String,
    /// A longer description, where the system gives one (Windows).
    pub description: String,
    /// The system's index.
    pub index: u32,
    /// The hardware address, if any.
    pub mac: Option<String>,
    /// Addresses with prefix length (`10.0.0.5/24`).
    pub addrs: Vec<String>,
    /// Administratively up.
    pub up: bool,
    /// A loopback interface.
    pub loopback: bool,
}

/// The interfaces of this machine, in the system's order.
pub fn interfaces() -> Vec<Interface> {
    pnet_datalink::interfaces()
        .into_iter()
        .map(|i| Interface {
            up: i.is_up(),
            loopback: i.is_loopback(),
            mac: i.mac.map(|m| m.to_string()),
            addrs: i.ips.iter().map(|n| n.to_string()).collect(),
            name: i.name,
            description: i.description,
            index: i.index,
        })
        .collect()
}

/// The error of an interface name that does not exist, listing the ones that do.
fn no_such_interface(interface: &str) -> LiveError {
    let names: Vec<String> = interfaces().into_iter().map(|i| i.name).collect();
    LiveError::new(
        interface,
        LiveErrorKind::NoSuchInterface { available: names },
    )
}

/// Why live capture could not start or went on no longer.
#[derive(Debug)]
pub struct LiveError {
    /// The interface.
    pub interface: String,
    /// What went wrong.
    pub kind: LiveErrorKind,
}

/// The kinds of [`LiveError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum LiveErrorKind {
    /// No interface has this name.
    NoSuchInterface {
        /// The names that exist.
        available: Vec<String>,
    },
    /// The process may not capture (no root, no `CAP_NET_RAW`).
    Permission {
        /// The operating system's message.
        os: String,
    },
    /// A BPF filter was given to a backend that cannot apply it.
    FilterNeedsLibpcap {
        /// Whether the libpcap backend is built in (then only `--backend` is in the way).
        built_in: bool,
    },
    /// The BPF filter does not compile.
    BadFilter {
        /// The expression.
        filter: String,
        /// libpcap's message.
        message: String,
    },
    /// The backend is not available in this build or on this system.
    BackendUnavailable {
        /// The backend.
        backend: Backend,
        /// Why, and what to do.
        why: &'static str,
    },
    /// Any other failure of the operating system or the capture library.
    Os {
        /// What was being done (`bind`, `receive`...).
        what: &'static str,
        /// The message.
        message: String,
    },
}

impl LiveError {
    /// An error about `interface`.
    pub fn new(interface: &str, kind: LiveErrorKind) -> LiveError {
        LiveError {
            interface: interface.to_string(),
            kind,
        }
    }

    /// An operating-system error, with permission errors told apart.
    pub(crate) fn os(interface: &str, what: &'static str, e: std::io::Error) -> LiveError {
        let kind = if e.kind() == std::io::ErrorKind::PermissionDenied {
            LiveErrorKind::Permission { os: e.to_string() }
        } else {
            LiveErrorKind::Os {
                what,
                message: e.to_string(),
            }
        };
        LiveError::new(interface, kind)
    }
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.interface;
        match &self.kind {
            LiveErrorKind::NoSuchInterface { available } => write!(
                f,
                "no interface named '{i}' (interfaces here: {}; `flowaudit live --list` shows their addresses)",
                if available.is_empty() {
                    "none found".to_string()
                } else {
                    available.join(", ")
                }
            ),
            LiveErrorKind::Permission { os } => write!(
                f,
                "not allowed to capture on '{i}' ({os}): run as root, or give the binary the \
                 capture capabilities once: sudo setcap cap_net_raw,cap_net_admin+eip \"$(command -v flowaudit)\""
            ),
            LiveErrorKind::FilterNeedsLibpcap { built_in: false } => f.write_str(
                "--filter needs flowaudit built with --features libpcap (cargo build --release --features libpcap; \
                 it needs libpcap-dev on Linux, Npcap and its SDK on Windows)",
            ),
            LiveErrorKind::FilterNeedsLibpcap { built_in: true } => {
                f.write_str("--filter works with the libpcap backend only: drop --backend or use --backend libpcap")
            }
            LiveErrorKind::BadFilter { filter, message } => {
                write!(f, "invalid BPF filter '{filter}': {message} (see `man 7 pcap-filter`)")
            }
            LiveErrorKind::BackendUnavailable { backend, why } => {
                write!(f, "the {backend} backend cannot capture on '{i}': {why}")
            }
            LiveErrorKind::Os { what, message } => {
                write!(f, "capture on '{i}' failed ({what}): {message}")
            }
        }
    }
}

impl std::error::Error for LiveError {}

/// When to stop, besides the caller's stop flag.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many frames.
    pub packets: Option<u64>,
}

/// Why the capture ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The duration was reached.
    Duration,
    /// The packet count was reached.
    Packets,
    /// The caller asked (Ctrl-C, SIGTERM).
    Stopped,
    /// The source failed; see [`LiveSummary::error`].
    SourceError,
    /// The `--write` file could not be written; see [`LiveSummary::write_error`].
    WriteError,
}

impl StopReason {
    /// In words, for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Duration => "duration reached",
            StopReason::Packets => "packet count reached",
            StopReason::Stopped => "interrupted",
            StopReason::SourceError => "capture error",
            StopReason::WriteError => "write error",
        }
    }
}

/// What a capture loop saw, at a moment (for status lines) or at the end.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Time since the capture started.
    pub elapsed: Duration,
    /// Frames handed to the consumer.
    pub packets: u64,
    /// Their wire lengths, summed.
    pub bytes: u64,
    /// The operating system's counters.
    pub stats: SourceStats,
}

/// The result of a capture.
#[derive(Debug)]
pub struct LiveSummary {
    /// Counters at the end.
    pub progress: Progress,
    /// Earliest frame timestamp, nanoseconds since the epoch.
    pub first_ns: Option<i64>,
    /// Latest frame timestamp.
    pub last_ns: Option<i64>,
    /// Why it ended.
    pub stop: StopReason,
    /// The source's failure, when it ended the capture; every frame before it was kept.
    pub error: Option<LiveError>,
    /// The `--write` file's failure; the frames before it are in the file.
    pub write_error: Option<std::io::Error>,
}

/// Where captured frames go.
pub trait Consumer {
    /// One frame, in capture order.
    fn frame(&mut self, frame: &Frame<'_>);
    /// Called about every [`RunOptions::progress_every`] with the counters so far.
    fn progress(&mut self, progress: &Progress);
}

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// When to stop.
    pub limits: Limits,
    /// How often [`Consumer::progress`] is called.
    pub progress_every: Duration,
    /// How often the `--write` file is flushed to disk.
    pub flush_every: Duration,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            limits: Limits::default(),
            progress_every: Duration::from_millis(250),
            flush_every: Duration::from_secs(1),
        }
    }
}

/// Frames read per call to the source at most, so that limits, the stop flag and status lines are
/// looked at often even under load.
const BATCH: usize = 512;

/// Captures until a limit is reached, `stop` is set, or the source fails. Every frame goes to
/// `consumer` and, when `out` is given, to the pcapng file, which is flushed every
/// `flush_every` and finished (statistics block, flush) at the end, so it is complete after
/// Ctrl-C. A failure of the source or the file ends the capture without losing what was
/// captured: it is in the summary, not an `Err`.
pub fn run<W: std::io::Write>(
    source: &mut dyn PacketSource,
    opts: &RunOptions,
    stop: &AtomicBool,
    out: Option<&mut PcapngOut<W>>,
    consumer: &mut dyn Consumer,
) -> LiveSummary {
    let start = Instant::now();
    let start_ns = now_ns();
    let deadline = opts.limits.duration.map(|d| start + d);
    let max_packets = opts.limits.packets.unwrap_or(u64::MAX);
    let mut next_progress = start + opts.progress_every;
    let mut next_flush = start + opts.flush_every;
    let mut t = Tally {
        progress: Progress::default(),
        first_ns: None,
        last_ns: None,
        consumer,
        out,
        write_error: None,
    };
    let mut error = None;

    let stop_reason = loop {
        if stop.load(Ordering::Relaxed) {
            break StopReason::Stopped;
        }
        if t.progress.packets >= max_packets {
            break StopReason::Packets;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break StopReason::Duration;
        }
        if now >= next_progress {
            t.progress.elapsed = now - start;
            t.progress.stats = source.stats();
            t.consumer.progress(&t.progress);
            next_progress = now + opts.progress_every;
        }
        if now >= next_flush {
            if let Some(w) = t.out.as_deref_mut() {
                if let Err(e) = w.flush() {
                    t.write_error = Some(e);
                }
            }
            next_flush = now + opts.flush_every;
        }
        if t.write_error.is_some() {
            break StopReason::WriteError;
        }
        let mut wait = POLL_INTERVAL.min(next_progress.saturating_duration_since(now));
        if let Some(d) = deadline {
            wait = wait.min(d.saturating_duration_since(now));
        }
        let room = (max_packets - t.progress.packets).min(BATCH as u64) as usize;
        let got = source.next_batch(wait, room, &mut |f| t.take(f));
        if t.write_error.is_some() {
            break StopReason::WriteError;
        }
        if let Err(e) = got {
            error = Some(e);
            break StopReason::SourceError;
        }
    };

    // Frames the kernel captured before the stop but had not handed over yet (a ring block not
    // yet full) are read too; frames stamped after the stop are not.
    if matches!(stop_reason, StopReason::Stopped | StopReason::Duration) {
        let stop_ns = now_ns();
        let until = Instant::now() + source.drain_time();
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            let got = source.next_batch(left, BATCH, &mut |f| {
                if f.ts_ns <= stop_ns {
                    t.take(f);
                }
            });
            if got.is_err() || left.is_zero() {
                break;
            }
        }
    }

    t.progress.elapsed = start.elapsed();
    t.progress.stats = source.stats();
    if let Some(w) = t.out {
        if let Err(e) = w.finish(start_ns, now_ns(), &t.progress) {
            t.write_error.get_or_insert(e);
        }
    }
    LiveSummary {
        progress: t.progress,
        first_ns: t.first_ns,
        last_ns: t.last_ns,
        stop: stop_reason,
        error,
        write_error: t.write_error,
    }
}

/// What the loop keeps while frames arrive, and where they go.
struct Tally<'a, 'w, W: std::io::Write> {
    progress: Progress,
    first_ns: Option<i64>,
    last_ns: Option<i64>,
    consumer: &'a mut dyn Consumer,
    out: Option<&'w mut PcapngOut<W>>,
    /// The file's first failure; no frame is written after it.
    write_error: Option<std::io::Error>,
}

impl<W: std::io::Write> Tally<'_, '_, W> {
    /// Counts a frame and hands it to the consumer and the file.
    fn take(&mut self, f: &Frame<'_>) {
        self.progress.packets += 1;
        self.progress.bytes += u64::from(f.orig_len);
        self.first_ns = Some(self.first_ns.map_or(f.ts_ns, |v| v.min(f.ts_ns)));
        self.last_ns = Some(self.last_ns.map_or(f.ts_ns, |v| v.max(f.ts_ns)));
        self.consumer.frame(f);
        if self.write_error.is_none() {
            if let Some(w) = self.out.as_deref_mut() {
                if let Err(e) = w.write_frame(f) {
                    self.write_error = Some(e);
                }
            }
        }
    }
}

/// Wall-clock time in nanoseconds since the epoch (for frames whose backend gives no kernel
/// timestamp).
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Seconds and a fraction of a second (in units of `unit_ns` nanoseconds) as nanoseconds since
/// the epoch. Generic because the C field types differ between systems (`long` is 32 bits on
/// Windows and on 32-bit Linux).
pub(crate) fn epoch_ns(sec: impl Into<i64>, frac: impl Into<i64>, unit_ns: i64) -> i64 {
    sec.into()
        .saturating_mul(1_000_000_000)
        .saturating_add(frac.into().saturating_mul(unit_ns))
}

/// Parses a duration as people write it: `90s`, `10m`, `2h`, `1h30m`, `500ms`, or plain seconds
/// (`45`). Zero is refused: a capture of no time is a mistake.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    let bad = || {
        format!("invalid duration '{s}' (examples: 90s, 10m, 2h, 1h30m, 500ms, or plain seconds)")
    };
    if text.is_empty() {
        return Err(bad());
    }
    let total = if text.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(text.parse::<u64>().map_err(|_| bad())?)
    } else {
        let mut total = Duration::ZERO;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let part = match &rest[..unit] {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
                "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
                "d" => Duration::from_secs(n.checked_mul(86_400).ok_or_else(bad)?),
                _ => return Err(bad()),
            };
            rest = &rest[unit..];
            total = total.checked_add(part).ok_or_else(bad)?;
        }
        total
    };
    if total.is_zero() {
        return Err(format!("must be more than zero (got '{s}')"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_people_write_them() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in ["", "m", "10x", "1.5h", "-3s", "h1", "10 m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
    }

    fn frames(n: usize) -> Vec<(i64, Vec<u8>)> {
        (0..n)
            .map(|i| (1_000_000_000 + i as i64 * 1000, vec![i as u8; 60]))
            .collect()
    }

    #[derive(Default)]
    struct Count {
        frames: Vec<i64>,
        progress_calls: usize,
    }

    impl Consumer for Count {
        fn frame(&mut self, f: &Frame<'_>) {
            self.frames.push(f.ts_ns);
        }
        fn progress(&mut self, _p: &Progress) {
            self.progress_calls += 1;
        }
    }

    #[test]
    fn packet_limit_stops_at_exactly_that_many_frames() {
        let mut src = ScriptedSource::new(LinkType::ETHERNET, frames(2000));
        let opts = RunOptions {
            limits: Limits {
                packets: Some(1234),
                duration: None,
            },
            ..RunOptions::default()
        };
        let mut c = Count::default();
        let s = run::<Vec<u8>>(&mut src, &opts, &AtomicBool::new(false), None, &mut c);
        assert_eq!(s.stop, StopReason::Packets);
        assert_eq!(c.frames.len(), 1234);
        assert_eq!(s.progress.packets, 1234);
        assert_eq!(s.first_ns, Some(1_000_000_000));
        assert_eq!(s.last_ns, Some(1_000_000_000 + 1233 * 1000));
    }

    #[test]
    fn stop_flag_ends_the_capture_within_one_wait() {
        let mut src = ScriptedSource::new(LinkType::ETHERNET, frames(3));
        let stop = AtomicBool::new(false);
        let mut c = Count::default();
        let t = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(300));
                stop.store(true, Ordering::Relaxed);
            });
            let sum = run::<Vec<u8>>(&mut src, &RunOptions::default(), &stop, None, &mut c);
            assert_eq!(sum.stop, StopReason::Stopped);
            assert_eq!(sum.progress.packets, 3);
        });
        assert!(t.elapsed() < Duration::from_millis(300) + POLL_INTERVAL * 3);
        assert!(c.progress_calls >= 1, "status updates while idle");
    }

    #[test]
    fn duration_limit_ends_an_idle_capture_on_time() {
        let mut src = ScriptedSource::new(LinkType::ETHERNET, frames(5));
        let opts = RunOptions {
            limits: Limits {
                duration: Some(Duration::from_millis(250)),
                packets: None,
            },
            ..RunOptions::default()
        };
        let t = Instant::now();
        let s = run::<Vec<u8>>(
            &mut src,
            &opts,
            &AtomicBool::new(false),
            None,
            &mut Count::default(),
        );
        let took = t.elapsed();
        assert_eq!(s.stop, StopReason::Duration);
        assert_eq!(s.progress.packets, 5);
        assert!(took >= Duration::from_millis(250) && took < Duration::from_millis(600));
    }

    #[test]
    fn a_source_failure_keeps_what_was_captured_before_it() {
        let mut src = ScriptedSource::new(LinkType::ETHERNET, frames(10)).failing_after(7);
        let s = run::<Vec<u8>>(
            &mut src,
            &RunOptions::default(),
            &AtomicBool::new(false),
            None,
            &mut Count::default(),
        );
        assert_eq!(s.stop, StopReason::SourceError);
        assert_eq!(s.progress.packets, 7);
        assert!(s.error.unwrap().to_string().contains("scripted failure"));
    }

    #[test]
    fn written_file_reads_back_with_every_frame_and_its_timestamp() {
        let fr = frames(300);
        let mut src = ScriptedSource::new(LinkType::ETHERNET, fr.clone()).with_drops(5);
        let mut out = PcapngOut::new(Vec::new(), src.info(), "test").unwrap();
        let opts = RunOptions {
            limits: Limits {
                packets: Some(300),
                duration: None,
            },
            ..RunOptions::default()
        };
        let s = run(
            &mut src,
            &opts,
            &AtomicBool::new(false),
            Some(&mut out),
            &mut Count::default(),
        );
        assert!(s.write_error.is_none());
        let bytes = out.into_inner().unwrap();
        let cap = crate::capture::open_memory("w.pcapng", bytes).unwrap();
        let mut back = Vec::new();
        let sum = cap.read(|f| back.push((f.ts_ns, f.data.to_vec())));
        assert!(sum.error.is_none(), "{:?}", sum.error);
        assert_eq!(sum.link_types, vec![LinkType::ETHERNET]);
        assert_eq!(back, fr);
    }

    #[test]
    fn a_write_failure_stops_the_capture_and_says_so() {
        struct Full(usize);
        impl std::io::Write for Full {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                if self.0 < b.len() {
                    return Err(std::io::Error::other("disk full"));
                }
                self.0 -= b.len();
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut src = ScriptedSource::new(LinkType::ETHERNET, frames(100));
        // No buffering: the headers and five frames fit, the sixth does not.
        let mut out = PcapngOut::new(Full(600), src.info(), "test").unwrap();
        let s = run(
            &mut src,
            &RunOptions::default(),
            &AtomicBool::new(false),
            Some(&mut out),
            &mut Count::default(),
        );
        assert_eq!(s.stop, StopReason::WriteError);
        assert!(s.write_error.unwrap().to_string().contains("disk full"));
        // The file holds what fitted; the audit still saw every frame read before the stop.
        assert_eq!(out.packets(), 5);
        assert_eq!(s.progress.packets, 100);
    }
}
