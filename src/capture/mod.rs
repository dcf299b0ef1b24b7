//! Where frames come from: capture files (pcap, pcapng, gzip-compressed either way), folders of
//! them, and standard input.
//!
//! A capture is recognised by its first bytes, never by its name. Plain files are memory-mapped and
//! walked in place: a frame is a borrowed slice of the map, so the per-frame path copies and
//! allocates nothing. Compressed files, pipes and standard input are read through one reusable
//! buffer that grows only to the largest record. Either way the record parsers (`pcap`, `pcapng`)
//! see a window that starts at a record boundary and answer with a `Step`: a frame, a block to
//! skip, a request for more bytes, or damage. Damage stops the file, keeps every frame before it, and
//! is reported with the byte offset where it starts.
//!
//! This module knows nothing of protocols; frames go to a caller-supplied sink.

pub mod live;
pub mod pcap;
pub mod pcapng;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{CaptureError, CaptureErrorKind};
use crate::model::{Addr, LinkType};
use pcap::PcapParser;
use pcapng::PcapngParser;

/// The largest frame a pcap record may carry (Wireshark's limit for ordinary link types). Larger
/// records mean a damaged file, unless the header's snap length says otherwise.
pub const MAX_FRAME_LEN: u32 = 262_144;

/// One captured frame, borrowed from the capture's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// The captured bytes (possibly fewer than were on the wire).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub orig_len: u32,
    /// The link type of the interface this frame was captured on.
    pub link: LinkType,
    /// The interface, numbered over the whole file.
    pub iface: u32,
}

/// What a record parser makes of the bytes at the start of its window.
#[derive(Debug)]
pub(crate) enum Step {
    /// A frame: its data is `window[start..start + caplen]`; the record is `total` bytes long.
    Frame {
        start: usize,
        caplen: usize,
        total: usize,
        ts_ns: i64,
        orig_len: u32,
        link: LinkType,
        iface: u32,
    },
    /// A block with no frame (headers, statistics, names): skip `n` bytes.
    Skip(usize),
    /// The record needs this many bytes from the window's start.
    NeedMore(usize),
    /// The window is empty at a record boundary: a clean end.
    End,
    /// Damage at the window's start.
    Error(CaptureErrorKind),
}

/// A capture format's record parser.
#[derive(Debug, Clone)]
enum Parser {
    Pcap(PcapParser),
    Pcapng(Box<PcapngParser>),
}

impl Parser {
    #[inline]
    fn next(&mut self, buf: &[u8]) -> Step {
        match self {
            Parser::Pcap(p) => p.next(buf),
            Parser::Pcapng(p) => p.next(buf),
        }
    }
}

/// Something to read a capture from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Input {
    /// A file on disk (or a named pipe).
    Path(PathBuf),
    /// Standard input, named `-` on the command line.
    Stdin,
}

impl Input {
    /// The name used in messages and reports.
    pub fn display_path(&self) -> PathBuf {
        match self {
            Input::Path(p) => p.clone(),
            Input::Stdin => PathBuf::from("-"),
        }
    }
}

/// Turns command-line paths into inputs: files as they are, folders recursively (every file whose
/// first bytes are a capture's, in path order), `-` as standard input.
///
/// Returns the inputs, the paths that could not be used (missing, unreadable), and the files in
/// folders that were skipped because they are not captures.
pub fn expand_paths(args: &[PathBuf]) -> (Vec<Input>, Vec<CaptureError>, Vec<PathBuf>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    for a in args {
        if a.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(a) {
            Ok(m) if m.is_dir() => walk_dir(a, &mut inputs, &mut errors, &mut skipped),
            Ok(_) => inputs.push(Input::Path(a.clone())),
            Err(e) => errors.push(CaptureError {
                path: a.clone(),
                offset: 0,
                kind: if e.kind() == io::ErrorKind::NotFound {
                    CaptureErrorKind::NotFound
                } else {
                    CaptureErrorKind::Io(e.to_string())
                },
            }),
        }
    }
    (inputs, errors, skipped)
}

fn walk_dir(
    dir: &Path,
    inputs: &mut Vec<Input>,
    errors: &mut Vec<CaptureError>,
    skipped: &mut Vec<PathBuf>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(CaptureError {
                path: dir.to_path_buf(),
                offset: 0,
                kind: CaptureErrorKind::Io(e.to_string()),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        // Follow symlinks to files and folders alike, as `find -L` would not loop forever: a
        // symlink to a folder is read once, not followed recursively.
        let meta = std::fs::symlink_metadata(&p);
        match meta {
            Ok(m) if m.is_dir() => walk_dir(&p, inputs, errors, skipped),
            Ok(m) if m.is_file() || m.file_type().is_symlink() => {
                if sniff_is_capture(&p) {
                    inputs.push(Input::Path(p));
                } else {
                    skipped.push(p);
                }
            }
            _ => skipped.push(p),
        }
    }
}

/// Whether a file's first bytes are a capture's (pcap, pcapng or gzip).
fn sniff_is_capture(p: &Path) -> bool {
    let mut m = [0u8; 4];
    match File::open(p).and_then(|mut f| f.read_exact(&mut m)) {
        Ok(()) => pcap::is_pcap_magic(m) || pcapng::is_pcapng_magic(m) || m[..2] == GZIP_MAGIC,
        Err(_) => false,
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What was read from one capture.
#[derive(Debug, Clone, Default)]
pub struct CaptureSummary {
    /// The file, or `-`.
    pub path: PathBuf,
    /// `pcap`, `pcap-nsec`, `pcap-modified`, `pcapng` (with `-be` when big-endian).
    pub format: String,
    /// Whether the file was gzip-compressed.
    pub compressed: bool,
    /// The link types of its interfaces, each once, in order of appearance.
    pub link_types: Vec<LinkType>,
    /// Frames read.
    pub packets: u64,
    /// Sum of the frames' lengths on the wire.
    pub wire_bytes: u64,
    /// Timestamp of the earliest frame (nanoseconds since the epoch).
    pub first_ns: Option<i64>,
    /// Timestamp of the latest frame.
    pub last_ns: Option<i64>,
    /// Host names from pcapng name resolution blocks.
    pub names: Vec<(Addr, String)>,
    /// Damage that stopped the reading early; everything before it was kept.
    pub error: Option<CaptureError>,
    /// For a live capture: the interface, the kernel's counts, why it stopped.
    pub live: Option<LiveInfo>,
}

/// What only a live capture has, for the report.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LiveInfo {
    /// The interface captured on.
    pub interface: String,
    /// The capture backend (`af-packet`, `pnet`, `libpcap`).
    pub backend: String,
    /// The BPF filter, if any.
    pub filter: Option<String>,
    /// Packets captured.
    pub captured: u64,
    /// Packets the kernel received, where the backend reports it.
    pub received: Option<u64>,
    /// Packets the kernel dropped, where the backend reports it.
    pub dropped: Option<u64>,
    /// Packets the interface dropped, where the backend reports it.
    pub if_dropped: Option<u64>,
    /// Seconds the capture ran.
    pub elapsed_s: f64,
    /// Why it stopped (`duration`, `packets`, `interrupted`, ...).
    pub stopped_by: String,
    /// The pcapng file every packet was kept in.
    pub write: Option<String>,
    /// Why writing that file failed, if it did.
    pub write_error: Option<String>,
}

impl LiveInfo {
    /// The kernel's counts in words.
    pub fn kernel_counts(&self) -> String {
        match (self.received, self.dropped) {
            (Some(r), Some(d)) => {
                let mut s = format!("the kernel received {r} and dropped {d}");
                if let Some(i) = self.if_dropped.filter(|&i| i > 0) {
                    s.push_str(&format!(", the interface dropped {i}"));
                }
                s
            }
            _ => "this backend reports no kernel counts or drops".to_string(),
        }
    }

    /// The `live:` line of the text report.
    pub fn line(&self) -> String {
        let mut line = format!(
            "live: {} packets captured in {:.1} s ({}); {}",
            self.captured,
            self.elapsed_s,
            self.stopped_by,
            self.kernel_counts()
        );
        if let Some(p) = &self.write {
            line.push_str(&format!("; packets kept in {p}"));
        }
        line
    }
}

impl CaptureSummary {
    #[inline]
    fn count(&mut self, ts: i64, orig_len: u32) {
        self.packets += 1;
        self.wire_bytes += u64::from(orig_len);
        self.first_ns = Some(self.first_ns.map_or(ts, |f| f.min(ts)));
        self.last_ns = Some(self.last_ns.map_or(ts, |l| l.max(ts)));
    }
}

/// Where the bytes of an open capture come from.
enum Source {
    /// The whole file, mapped.
    Mapped(memmap2::Mmap),
    /// The whole capture, in memory (tests, fuzzing, small inputs).
    Memory(Vec<u8>),
    /// A stream read through a reusable buffer.
    Stream(StreamBuf),
}

/// A refillable window over a stream.
struct StreamBuf {
    reader: Box<dyn Read + Send>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Offset in the (decompressed) stream of `buf[start]`.
    offset: u64,
    gzip: bool,
}

const STREAM_CHUNK: usize = 1 << 20;

/// Bytes asked of a plain file per read when it is read in order: small enough that what was
/// just copied is still in the cache when it is parsed (measured: 128-256 KiB beat 64 KiB and
/// 1-8 MiB by a quarter on a 1 GiB capture).
const READ_CHUNK: usize = 256 << 10;

/// Bytes of a mapped file walked between two releases of the pages behind the read position.
const WINDOW: usize = 64 << 20;

impl StreamBuf {
    fn new(reader: Box<dyn Read + Send>, prefix: &[u8], gzip: bool) -> StreamBuf {
        StreamBuf::with_chunk(reader, prefix, gzip, STREAM_CHUNK)
    }

    fn with_chunk(
        reader: Box<dyn Read + Send>,
        prefix: &[u8],
        gzip: bool,
        chunk: usize,
    ) -> StreamBuf {
        let mut buf = vec![0u8; chunk.max(prefix.len())];
        buf[..prefix.len()].copy_from_slice(prefix);
        StreamBuf {
            reader,
            buf,
            start: 0,
            end: prefix.len(),
            eof: false,
            offset: 0,
            gzip,
        }
    }

    fn window(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Makes the window hold at least `need` bytes, unless the stream ends first. Returns an error
    /// message on a read error (a damaged gzip stream).
    fn fill(&mut self, need: usize) -> Result<(), String> {
        if self.end - self.start >= need {
            return Ok(());
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < need {
            self.buf.resize(need.next_power_of_two(), 0);
        }
        while self.end < need && !self.eof {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    return Err(e.to_string());
                }
            }
        }
        Ok(())
    }
}

/// An opened capture whose format is known, ready to be read.
pub struct OpenCapture {
    path: PathBuf,
    source: Source,
    parser: Parser,
    /// Where the first record starts.
    data_start: usize,
    /// The file behind a mapping: read in order, it is read through large buffered reads.
    file: Option<File>,
}

/// Opens an input, recognises its format by content, and reads its file header.
pub fn open(input: &Input) -> Result<OpenCapture, CaptureError> {
    let path = input.display_path();
    let err = |offset: u64, kind: CaptureErrorKind| CaptureError {
        path: path.clone(),
        offset,
        kind,
    };
    match input {
        Input::Stdin => open_stream(path.clone(), Box::new(io::stdin())),
        Input::Path(p) => {
            let file = File::open(p).map_err(|e| {
                err(
                    0,
                    if e.kind() == io::ErrorKind::NotFound {
                        CaptureErrorKind::NotFound
                    } else {
                        CaptureErrorKind::Io(e.to_string())
                    },
                )
            })?;
            let meta = file
                .metadata()
                .map_err(|e| err(0, CaptureErrorKind::Io(e.to_string())))?;
            if meta.is_file() && meta.len() >= 4 {
                // SAFETY: the map is read-only and private to this process. If another process
                // truncates the file while we read it, accesses past the new end raise SIGBUS;
                // that is the accepted price of memory-mapped reading (ripgrep makes the same
                // trade), and captures being written to should be read with `-` from a pipe.
                if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
                    let m = [map[0], map[1], map[2], map[3]];
                    if m[..2] != GZIP_MAGIC {
                        #[cfg(unix)]
                        let _ = map.advise(memmap2::Advice::Sequential);
                        let (parser, data_start) = parser_for(&map).map_err(|k| err(0, k))?;
                        return Ok(OpenCapture {
                            path,
                            source: Source::Mapped(map),
                            parser,
                            data_start,
                            file: Some(file),
                        });
                    }
                }
            }
            open_stream(path.clone(), Box::new(io::BufReader::new(file)))
        }
    }
}

/// Opens a capture held in memory (walked in place, like a mapped file; gzip is streamed).
pub fn open_memory(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<OpenCapture, CaptureError> {
    let path = name.into();
    if bytes.len() >= 2 && bytes[..2] == GZIP_MAGIC {
        return open_reader(path, Box::new(io::Cursor::new(bytes)));
    }
    let (parser, data_start) = parser_for(&bytes).map_err(|kind| CaptureError {
        path: path.clone(),
        offset: 0,
        kind,
    })?;
    Ok(OpenCapture {
        path,
        source: Source::Memory(bytes),
        parser,
        data_start,
        file: None,
    })
}

/// Opens a capture read from a stream (a pipe, a socket, a decompressor).
pub fn open_reader(
    name: impl Into<PathBuf>,
    reader: Box<dyn Read + Send>,
) -> Result<OpenCapture, CaptureError> {
    open_stream(name.into(), reader)
}

fn open_stream(
    path: PathBuf,
    mut reader: Box<dyn Read + Send>,
) -> Result<OpenCapture, CaptureError> {
    let err = |offset: u64, kind: CaptureErrorKind| CaptureError {
        path: path.clone(),
        offset,
        kind,
    };
    let mut head = [0u8; 4];
    let got = read_up_to(&mut reader, &mut head).map_err(|e| err(0, CaptureErrorKind::Io(e)))?;
    if got >= 2 && head[..2] == GZIP_MAGIC {
        let chained = io::Cursor::new(head[..got].to_vec()).chain(reader);
        reader = Box::new(flate2::read::MultiGzDecoder::new(chained));
        let mut inner = [0u8; 4];
        let n =
            read_up_to(&mut reader, &mut inner).map_err(|e| err(0, CaptureErrorKind::Gzip(e)))?;
        let mut sb = StreamBuf::new(reader, &inner[..n], true);
        let (parser, data_start) = finish_stream(path.clone(), &mut sb)?;
        return Ok(OpenCapture {
            path,
            source: Source::Stream(sb),
            parser,
            data_start,
            file: None,
        });
    }
    let mut sb = StreamBuf::new(reader, &head[..got], false);
    let (parser, data_start) = finish_stream(path.clone(), &mut sb)?;
    Ok(OpenCapture {
        path,
        source: Source::Stream(sb),
        parser,
        data_start,
        file: None,
    })
}

fn finish_stream(path: PathBuf, sb: &mut StreamBuf) -> Result<(Parser, usize), CaptureError> {
    let err = |kind| CaptureError {
        path: path.clone(),
        offset: 0,
        kind,
    };
    sb.fill(24).map_err(|e| {
        err(if sb.gzip {
            CaptureErrorKind::Gzip(e)
        } else {
            CaptureErrorKind::Io(e)
        })
    })?;
    parser_for(sb.window()).map_err(err)
}

fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> Result<usize, String> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(n)
}

/// Recognises the format from the first bytes of a capture.
fn parser_for(head: &[u8]) -> Result<(Parser, usize), CaptureErrorKind> {
    let mut m = [0u8; 4];
    for (d, s) in m.iter_mut().zip(head) {
        *d = *s;
    }
    if head.len() < 4 {
        return Err(if head.is_empty() {
            CaptureErrorKind::NotACapture { magic: m }
        } else {
            CaptureErrorKind::TruncatedHeader
        });
    }
    if pcapng::is_pcapng_magic(m) {
        return Ok((Parser::Pcapng(Box::new(PcapngParser::new())), 0));
    }
    if pcap::is_pcap_magic(m) {
        let (p, n) = PcapParser::from_header(head)?;
        return Ok((Parser::Pcap(p), n));
    }
    Err(CaptureErrorKind::NotACapture { magic: m })
}

impl OpenCapture {
    /// The path this capture was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The length of the file when it is memory-mapped (for progress reporting).
    pub fn mapped_len(&self) -> Option<u64> {
        match &self.source {
            Source::Mapped(m) => Some(m.len() as u64),
            Source::Memory(m) => Some(m.len() as u64),
            Source::Stream(_) => None,
        }
    }

    /// The timestamp of the first frame, found without consuming anything (so that several files
    /// can be put in time order before they are read). `None` for a capture with no frames or
    /// whose first frame lies beyond the first megabyte of blocks.
    pub fn first_timestamp(&mut self) -> Option<i64> {
        let mut parser = self.parser.clone();
        let mut pos = self.data_start;
        for _ in 0..10_000 {
            let win: &[u8] = match &mut self.source {
                Source::Mapped(m) => m.get(pos..)?,
                Source::Memory(m) => m.get(pos..)?,
                Source::Stream(sb) => {
                    sb.fill(pos + 65_536).ok()?;
                    sb.window().get(pos..)?
                }
            };
            match parser.next(win) {
                Step::Frame { ts_ns, .. } if ts_ns != i64::MIN => return Some(ts_ns),
                Step::Frame { total, .. } => pos += total,
                Step::Skip(n) => pos += n,
                Step::NeedMore(n) => {
                    if let Source::Stream(sb) = &mut self.source {
                        sb.fill(pos + n).ok()?;
                        if sb.window().len() < pos + n {
                            return None;
                        }
                    } else {
                        return None;
                    }
                }
                Step::End | Step::Error(_) => return None,
            }
        }
        None
    }

    /// Reads every frame into `sink`, in file order, and returns what was read. Damage stops the
    /// reading and is reported in the summary; it never panics.
    pub fn read<F: FnMut(&Frame<'_>)>(self, sink: F) -> CaptureSummary {
        self.read_with_progress(None, sink)
    }

    /// Like [`OpenCapture::read`], adding the bytes consumed to `progress` as it goes.
    pub fn read_with_progress<F: FnMut(&Frame<'_>)>(
        mut self,
        progress: Option<&AtomicU64>,
        mut sink: F,
    ) -> CaptureSummary {
        let mut summary = CaptureSummary {
            path: self.path.clone(),
            ..CaptureSummary::default()
        };
        let mut last_ts = 0i64;
        // Read in order, a mapped file is faster through large buffered reads: mapping costs a
        // page fault (or its batched equivalent) per 4 KiB page, more than copying the bytes,
        // and the buffer keeps resident memory flat. The mapping served to find the first
        // timestamp and, for parallel reading, the chunks.
        if let (Source::Mapped(_), Some(mut file)) = (&self.source, self.file.take()) {
            use std::io::Seek;
            if file.seek(io::SeekFrom::Start(0)).is_ok() {
                let mut sb = StreamBuf::with_chunk(Box::new(file), &[], false, READ_CHUNK);
                if sb.fill(self.data_start).is_ok() {
                    self.source = Source::Stream(sb);
                }
            }
        }
        let stop: Option<(u64, CaptureErrorKind)> = match &mut self.source {
            Source::Mapped(_) | Source::Memory(_) => {
                let buf: &[u8] = match &self.source {
                    Source::Mapped(m) => m,
                    Source::Memory(m) => m,
                    Source::Stream(_) => &[],
                };
                let mut pos = self.data_start.min(buf.len());
                let mut released = 0usize;
                loop {
                    let (used, end) = walk(
                        &mut self.parser,
                        &buf[pos..],
                        &mut summary,
                        &mut last_ts,
                        &mut sink,
                        WINDOW,
                    );
                    pos += used;
                    if let Some(p) = progress {
                        p.fetch_add(used as u64, Ordering::Relaxed);
                    }
                    released = self.release(released, pos);
                    let at = pos as u64;
                    match end {
                        Walked::Paused => continue,
                        Walked::End => break None,
                        Walked::NeedMore(n) => {
                            break Some((
                                at,
                                CaptureErrorKind::TruncatedRecord {
                                    needed: n as u64,
                                    available: (buf.len() - pos) as u64,
                                },
                            ))
                        }
                        Walked::Error(k) => break Some((at, k)),
                    }
                }
            }
            Source::Stream(sb) => {
                sb.consume(self.data_start.min(sb.window().len()));
                loop {
                    let (used, end) = walk(
                        &mut self.parser,
                        sb.window(),
                        &mut summary,
                        &mut last_ts,
                        &mut sink,
                        usize::MAX,
                    );
                    sb.consume(used);
                    if let Some(p) = progress {
                        p.fetch_add(used as u64, Ordering::Relaxed);
                    }
                    match end {
                        Walked::End => {
                            // The window is empty; the stream may still have more.
                            if let Err(e) = sb.fill(STREAM_CHUNK) {
                                break Some((sb.offset, CaptureErrorKind::Gzip(e)));
                            }
                            if sb.window().is_empty() {
                                break None;
                            }
                        }
                        Walked::NeedMore(n) => {
                            let want = n.max(STREAM_CHUNK.min(n * 64));
                            if let Err(e) = sb.fill(want) {
                                break Some((sb.offset, io_or_gzip(sb.gzip, e)));
                            }
                            if sb.window().len() < n {
                                break Some((
                                    sb.offset,
                                    CaptureErrorKind::TruncatedRecord {
                                        needed: n as u64,
                                        available: sb.window().len() as u64,
                                    },
                                ));
                            }
                        }
                        Walked::Error(k) => break Some((sb.offset, k)),
                        Walked::Paused => {}
                    }
                }
            }
        };
        if let Some((offset, kind)) = stop {
            summary.error = Some(CaptureError {
                path: self.path.clone(),
                offset,
                kind,
            });
        }
        let compressed = matches!(&self.source, Source::Stream(sb) if sb.gzip);
        describe(&mut summary, self.parser, compressed);
        summary
    }
}

/// A piece of a memory-mapped capture: whole records, with the parser state at its start, so that
/// chunks can be read in parallel and give exactly what one sequential reading gives.
#[derive(Debug, Clone)]
pub struct Chunk {
    start: usize,
    end: usize,
    parser: Parser,
    /// The timestamp of the last frame before the chunk (simple packet blocks inherit it).
    last_ts: i64,
}

impl Chunk {
    /// Where the chunk starts in the file.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Where the chunk ends in the file.
    pub fn end(&self) -> usize {
        self.end
    }

    /// Bytes in the chunk.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the chunk is empty.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Reads chunks of a mapped capture; shareable between threads.
#[derive(Debug, Clone, Copy)]
pub struct ChunkReader<'a> {
    buf: &'a [u8],
}

impl ChunkReader<'_> {
    /// Reads the frames of one chunk into `sink`; the summary holds only the counts.
    pub fn read<F: FnMut(&Frame<'_>)>(&self, chunk: &Chunk, mut sink: F) -> CaptureSummary {
        let mut summary = CaptureSummary::default();
        let mut parser = chunk.parser.clone();
        let mut last_ts = chunk.last_ts;
        let _ = walk(
            &mut parser,
            &self.buf[chunk.start..chunk.end],
            &mut summary,
            &mut last_ts,
            &mut sink,
            usize::MAX,
        );
        summary
    }
}

/// How a memory-mapped capture divides into chunks, found by walking its record headers.
#[derive(Debug)]
pub struct ChunkPlan {
    /// The chunks, in file order.
    pub chunks: Vec<Chunk>,
    stop: Option<(u64, CaptureErrorKind)>,
    end_parser: Parser,
}

impl OpenCapture {
    fn mapped_bytes(&self) -> Option<&[u8]> {
        match &self.source {
            Source::Mapped(m) => Some(m),
            Source::Memory(m) => Some(m),
            Source::Stream(_) => None,
        }
    }

    /// Divides a mapped (or in-memory) capture into chunks of about `target` bytes at record
    /// boundaries. `None` for streams, which are read in order.
    pub fn plan_chunks(&self, target: usize) -> Option<ChunkPlan> {
        let buf = self.mapped_bytes()?;
        let target = target.max(1);
        let mut parser = self.parser.clone();
        let mut pos = self.data_start.min(buf.len());
        let mut chunks = Vec::new();
        let mut start = pos;
        let mut start_parser = parser.clone();
        let mut last_ts = 0i64;
        let mut start_ts = 0i64;
        let mut released = 0usize;
        let stop = loop {
            match parser.next(&buf[pos..]) {
                Step::Frame { total, ts_ns, .. } => {
                    if ts_ns != i64::MIN {
                        last_ts = ts_ns;
                    }
                    pos += total;
                }
                Step::Skip(n) => pos += n,
                Step::End => break None,
                Step::NeedMore(n) => {
                    break Some((
                        pos as u64,
                        CaptureErrorKind::TruncatedRecord {
                            needed: n as u64,
                            available: (buf.len() - pos) as u64,
                        },
                    ))
                }
                Step::Error(k) => break Some((pos as u64, k)),
            }
            if pos - start >= target {
                // The walk touched these pages; let them go so that planning a huge file does not
                // make it resident (reading the chunks faults them back from the page cache).
                released = self.release(released, pos.saturating_sub(WINDOW));
                chunks.push(Chunk {
                    start,
                    end: pos,
                    parser: start_parser,
                    last_ts: start_ts,
                });
                start = pos;
                start_parser = parser.clone();
                start_ts = last_ts;
            }
        };
        if pos > start || chunks.is_empty() {
            chunks.push(Chunk {
                start,
                end: pos,
                parser: start_parser,
                last_ts: start_ts,
            });
        }
        Some(ChunkPlan {
            chunks,
            stop,
            end_parser: parser,
        })
    }

    /// Tells the kernel that the mapped bytes from `from` to `to` (rounded down to whole 64 KiB
    /// pages) will not be read again, so that resident memory stays flat however large the file;
    /// returns the new release point. The page cache keeps the data; a later read refaults it.
    pub fn release(&self, from: usize, to: usize) -> usize {
        const ALIGN: usize = 64 << 10;
        let end = to & !(ALIGN - 1);
        if end <= from {
            return from;
        }
        if let Source::Mapped(m) = &self.source {
            #[cfg(unix)]
            // SAFETY: the mapping is read-only and file-backed, so dropping its pages loses
            // nothing: a later access faults them in again from the file. No slice into this
            // range is alive across the call (callers release only what they finished reading).
            let _ = unsafe {
                m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, end - from)
            };
        }
        end
    }

    /// The mean length of the first `n` records (headers included), from the mapping, or `None`
    /// for streams and captures without records. Cheap: it reads the first pages only.
    pub fn mean_record_len(&self, n: usize) -> Option<usize> {
        let buf = self.mapped_bytes()?;
        let mut parser = self.parser.clone();
        let mut pos = self.data_start.min(buf.len());
        let start = pos;
        let mut frames = 0usize;
        while frames < n {
            match parser.next(&buf[pos..]) {
                Step::Frame { total, .. } => {
                    pos += total;
                    frames += 1;
                }
                Step::Skip(k) => pos += k,
                _ => break,
            }
        }
        (frames > 0).then(|| (pos - start) / frames)
    }

    /// A reader of this capture's chunks that threads can share.
    pub fn chunk_reader(&self) -> Option<ChunkReader<'_>> {
        self.mapped_bytes().map(|buf| ChunkReader { buf })
    }

    /// The whole capture's summary from its plan and its chunks' counts (in order).
    pub fn summarize(&self, plan: ChunkPlan, parts: &[CaptureSummary]) -> CaptureSummary {
        let mut summary = CaptureSummary {
            path: self.path.clone(),
            ..CaptureSummary::default()
        };
        for p in parts {
            summary.packets += p.packets;
            summary.wire_bytes += p.wire_bytes;
            summary.first_ns = match (summary.first_ns, p.first_ns) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            summary.last_ns = match (summary.last_ns, p.last_ns) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        if let Some((offset, kind)) = plan.stop {
            summary.error = Some(CaptureError {
                path: self.path.clone(),
                offset,
                kind,
            });
        }
        describe(&mut summary, plan.end_parser, false);
        summary
    }
}

/// Fills in format, link types and names from the parser that read the whole capture.
fn describe(summary: &mut CaptureSummary, parser: Parser, compressed: bool) {
    summary.compressed = compressed;
    match parser {
        Parser::Pcap(p) => {
            summary.format = p.variant().to_string();
            summary.link_types = vec![p.link_type()];
        }
        Parser::Pcapng(p) => {
            summary.format = if p.big_endian() {
                "pcapng-be"
            } else {
                "pcapng"
            }
            .to_string();
            let mut lts = Vec::new();
            for l in &p.link_types {
                if !lts.contains(l) {
                    lts.push(*l);
                }
            }
            summary.link_types = lts;
            summary.names = p.names;
        }
    }
}

fn io_or_gzip(gzip: bool, e: String) -> CaptureErrorKind {
    if gzip {
        CaptureErrorKind::Gzip(e)
    } else {
        CaptureErrorKind::Io(e)
    }
}

enum Walked {
    /// Stopped at a record boundary past the limit; more may follow.
    Paused,
    End,
    NeedMore(usize),
    Error(CaptureErrorKind),
}

/// Walks the records in `buf`, handing frames to `sink`. Returns the bytes consumed and why it
/// stopped.
#[inline]
fn walk<F: FnMut(&Frame<'_>)>(
    parser: &mut Parser,
    buf: &[u8],
    summary: &mut CaptureSummary,
    last_ts: &mut i64,
    sink: &mut F,
    limit: usize,
) -> (usize, Walked) {
    let mut pos = 0usize;
    loop {
        if pos >= limit {
            return (pos, Walked::Paused);
        }
        let win = &buf[pos..];
        match parser.next(win) {
            Step::Frame {
                start,
                caplen,
                total,
                ts_ns,
                orig_len,
                link,
                iface,
            } => {
                let Some(data) = win.get(start..start + caplen) else {
                    return (
                        pos,
                        Walked::Error(CaptureErrorKind::ImpossibleLength {
                            length: caplen as u64,
                            why: "frame exceeds its record",
                        }),
                    );
                };
                // Simple packet blocks have no timestamp: they take the previous frame's.
                let ts = if ts_ns == i64::MIN { *last_ts } else { ts_ns };
                *last_ts = ts;
                summary.count(ts, orig_len);
                sink(&Frame {
                    ts_ns: ts,
                    data,
                    orig_len: orig_len.max(caplen as u32),
                    link,
                    iface,
                });
                pos += total;
            }
            Step::Skip(n) => pos += n,
            Step::End => return (pos, Walked::End),
            Step::NeedMore(n) => return (pos, Walked::NeedMore(n)),
            Step::Error(k) => return (pos, Walked::Error(k)),
        }
    }
}

/// Reads a whole input, for callers that do not need to order several files first.
pub fn read_input<F: FnMut(&Frame<'_>)>(
    input: &Input,
    sink: F,
) -> Result<CaptureSummary, CaptureError> {
    Ok(open(input)?.read(sink))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_file(records: &[(u32, &[u8])]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        f.extend_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(&4u16.to_le_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&65535u32.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        for (sec, data) in records {
            f.extend_from_slice(&sec.to_le_bytes());
            f.extend_from_slice(&0u32.to_le_bytes());
            f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            f.extend_from_slice(data);
        }
        f
    }

    fn read_bytes(bytes: Vec<u8>, gzip: bool) -> (Vec<(i64, Vec<u8>)>, CaptureSummary) {
        let reader: Box<dyn Read + Send> = if gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            io::Write::write_all(&mut enc, &bytes).unwrap();
            Box::new(io::Cursor::new(enc.finish().unwrap()))
        } else {
            Box::new(io::Cursor::new(bytes))
        };
        let cap = open_stream(PathBuf::from("t"), reader).unwrap();
        let mut got = Vec::new();
        let s = cap.read(|f| got.push((f.ts_ns, f.data.to_vec())));
        (got, s)
    }

    #[test]
    fn stream_and_gzip_give_the_same_frames() {
        let f = pcap_file(&[(1, b"aaaa"), (2, b"bb"), (3, b"")]);
        let (plain, s1) = read_bytes(f.clone(), false);
        let (gz, s2) = read_bytes(f, true);
        assert_eq!(plain, gz);
        assert_eq!(plain.len(), 3);
        assert!(!s1.compressed);
        assert!(s2.compressed);
        assert_eq!(s1.error, None);
        assert_eq!(s2.first_ns, Some(1_000_000_000));
        assert_eq!(s2.last_ns, Some(3_000_000_000));
    }

    #[test]
    fn cut_off_capture_keeps_frames_and_names_the_offset() {
        let mut f = pcap_file(&[(1, b"aaaa"), (2, b"bbbbbbbb")]);
        f.truncate(f.len() - 3);
        let (got, s) = read_bytes(f, false);
        assert_eq!(got.len(), 1);
        let e = s.error.unwrap();
        assert_eq!(e.offset, 24 + 16 + 4);
        assert!(matches!(
            e.kind,
            CaptureErrorKind::TruncatedRecord {
                needed: 24,
                available: 21
            }
        ));
    }

    #[test]
    fn not_a_capture_is_recognised_by_content() {
        let r: Box<dyn Read + Send> =
            Box::new(io::Cursor::new(b"hello world, not a capture".to_vec()));
        let e = open_stream(PathBuf::from("x.pcap"), r).err().unwrap();
        assert!(matches!(e.kind, CaptureErrorKind::NotACapture { .. }));
        assert!(e.to_string().contains("x.pcap"));
    }

    #[test]
    fn large_records_cross_stream_buffer_refills() {
        let big = vec![7u8; 200_000];
        let recs: Vec<(u32, &[u8])> = (0..30).map(|i| (i, &big[..])).collect();
        let (got, s) = read_bytes(pcap_file(&recs), true);
        assert_eq!(got.len(), 30);
        assert!(s.error.is_none());
    }
}
