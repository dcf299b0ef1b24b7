//! Streaming capture file encoders: classic pcap, pcapng, and gzip wrapping.
//!
//! Why hand-written: the generator must be able to produce every variant the
//! reader side of flowaudit claims to support (both byte orders, micro- and
//! nanosecond pcap, multi-interface pcapng with per-interface resolution and
//! link types, name resolution blocks, snaplen truncation, gzip), including
//! ones common writer libraries do not emit. Writers stream every packet
//! straight to the underlying [`Write`] (normally a [`BufWriter`]) and keep
//! only counters, so multi-gigabyte benchmark captures need no memory.
//!
//! Formats: pcap per the libpcap file format (24-byte global header, 16-byte
//! record headers); pcapng per draft-ietf-opsawg-pcapng (SHB, IDB, EPB, NRB;
//! options padded to 32 bits, block total length repeated at the end).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

/// Destination of generated packets, whatever the file format.
pub trait CaptureWriter {
    /// Writes one packet seen on interface `iface` at `ts_ns` nanoseconds
    /// since the Unix epoch. `frame` holds the bytes starting at the link
    /// layer; `orig_len` is the length on the wire (at least `frame.len()`;
    /// a smaller value is raised to `frame.len()`). Frames longer than the
    /// snapshot length are cut, keeping `orig_len`.
    ///
    /// Errors: unknown interface, timestamp not representable in the format,
    /// or an I/O error of the underlying writer.
    fn write_packet(
        &mut self,
        iface: u32,
        ts_ns: i64,
        frame: &[u8],
        orig_len: u32,
    ) -> io::Result<()>;

    /// Bytes written so far (headers included), before any compression.
    fn bytes_written(&self) -> u64;

    /// Packets written so far.
    fn packets_written(&self) -> u64;

    /// Flushes buffered data to the underlying writer.
    fn flush(&mut self) -> io::Result<()>;

    /// Flushes and consumes the writer.
    fn finish(mut self) -> io::Result<()>
    where
        Self: Sized,
    {
        self.flush()
    }
}

/// Byte order of a capture file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Endian {
    /// Little endian (what most capture tools write on x86).
    #[default]
    Little,
    /// Big endian.
    Big,
}

impl Endian {
    fn u16(self, v: u16) -> [u8; 2] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
    fn u32(self, v: u32) -> [u8; 4] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
    fn i64(self, v: i64) -> [u8; 8] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
}

/// Timestamp resolution of a capture (or of one pcapng interface).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TsResolution {
    /// Microseconds (pcap magic `a1b2c3d4`, pcapng `if_tsresol` 6).
    #[default]
    Micro,
    /// Nanoseconds (pcap magic `a1b23c4d`, pcapng `if_tsresol` 9).
    Nano,
}

impl TsResolution {
    /// Units per second.
    pub fn units_per_sec(self) -> u64 {
        match self {
            TsResolution::Micro => 1_000_000,
            TsResolution::Nano => 1_000_000_000,
        }
    }

    /// Value of the pcapng `if_tsresol` option (power of ten).
    pub fn if_tsresol(self) -> u8 {
        match self {
            TsResolution::Micro => 6,
            TsResolution::Nano => 9,
        }
    }

    /// Converts nanoseconds since the epoch into units of this resolution
    /// (truncating); negative timestamps are rejected.
    fn ticks(self, ts_ns: i64) -> io::Result<u64> {
        let ns =
            u64::try_from(ts_ns).map_err(|_| invalid(format!("negative timestamp {ts_ns} ns")))?;
        Ok(match self {
            TsResolution::Micro => ns / 1_000,
            TsResolution::Nano => ns,
        })
    }
}

/// Classic pcap magic number, microsecond timestamps.
pub const PCAP_MAGIC_MICRO: u32 = 0xa1b2_c3d4;
/// Classic pcap magic number, nanosecond timestamps.
pub const PCAP_MAGIC_NANO: u32 = 0xa1b2_3c4d;
/// Default snapshot length (what tcpdump uses).
pub const DEFAULT_SNAPLEN: u32 = 262_144;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Options of a classic pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapOptions {
    /// Byte order of every header field.
    pub endian: Endian,
    /// Timestamp resolution (selects the magic number).
    pub resolution: TsResolution,
    /// Link-layer type of every frame (see the `LINKTYPE_*` constants in
    /// [`super::frame`]).
    pub link_type: u32,
    /// Snapshot length; longer frames are truncated. 0 is treated as 65535.
    pub snaplen: u32,
}

impl Default for PcapOptions {
    fn default() -> Self {
        PcapOptions {
            endian: Endian::Little,
            resolution: TsResolution::Micro,
            link_type: 1,
            snaplen: DEFAULT_SNAPLEN,
        }
    }
}

/// Streaming writer of classic pcap files (single interface, id 0).
pub struct PcapWriter<W: Write> {
    out: W,
    opts: PcapOptions,
    bytes: u64,
    packets: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header and returns the writer.
    pub fn new(mut out: W, opts: PcapOptions) -> io::Result<Self> {
        let e = opts.endian;
        let magic = match opts.resolution {
            TsResolution::Micro => PCAP_MAGIC_MICRO,
            TsResolution::Nano => PCAP_MAGIC_NANO,
        };
        let snaplen = effective_snaplen(opts.snaplen);
        let mut hdr = [0u8; 24];
        hdr[0..4].copy_from_slice(&e.u32(magic));
        hdr[4..6].copy_from_slice(&e.u16(2));
        hdr[6..8].copy_from_slice(&e.u16(4));
        // thiszone (8..12) and sigfigs (12..16) stay zero.
        hdr[16..20].copy_from_slice(&e.u32(snaplen));
        hdr[20..24].copy_from_slice(&e.u32(opts.link_type));
        out.write_all(&hdr)?;
        Ok(PcapWriter {
            out,
            opts: PcapOptions { snaplen, ..opts },
            bytes: 24,
            packets: 0,
        })
    }

    /// Flushes and returns the underlying writer (e.g. to finish a gzip stream).
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn effective_snaplen(snaplen: u32) -> u32 {
    if snaplen == 0 {
        65_535
    } else {
        snaplen
    }
}

impl<W: Write> CaptureWriter for PcapWriter<W> {
    fn write_packet(
        &mut self,
        iface: u32,
        ts_ns: i64,
        frame: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        if iface != 0 {
            return Err(invalid(format!(
                "pcap files have a single interface, got interface {iface}"
            )));
        }
        let res = self.opts.resolution;
        let ticks = res.ticks(ts_ns)?;
        let secs = u32::try_from(ticks / res.units_per_sec())
            .map_err(|_| invalid(format!("timestamp {ts_ns} ns does not fit in pcap")))?;
        let frac = (ticks % res.units_per_sec()) as u32;
        let frame_len = u32::try_from(frame.len()).map_err(|_| invalid("frame too long".into()))?;
        let caplen = frame_len.min(self.opts.snaplen);
        let orig = orig_len.max(frame_len);
        let e = self.opts.endian;
        let mut hdr = [0u8; 16];
        hdr[0..4].copy_from_slice(&e.u32(secs));
        hdr[4..8].copy_from_slice(&e.u32(frac));
        hdr[8..12].copy_from_slice(&e.u32(caplen));
        hdr[12..16].copy_from_slice(&e.u32(orig));
        self.out.write_all(&hdr)?;
        self.out.write_all(&frame[..caplen as usize])?;
        self.bytes += 16 + u64::from(caplen);
        self.packets += 1;
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        self.bytes
    }

    fn packets_written(&self) -> u64 {
        self.packets
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// pcapng block type: Section Header Block.
pub const BT_SHB: u32 = 0x0a0d_0d0a;
/// pcapng block type: Interface Description Block.
pub const BT_IDB: u32 = 0x0000_0001;
/// pcapng block type: Name Resolution Block.
pub const BT_NRB: u32 = 0x0000_0004;
/// pcapng block type: Enhanced Packet Block.
pub const BT_EPB: u32 = 0x0000_0006;
/// pcapng byte-order magic.
pub const PCAPNG_BOM: u32 = 0x1a2b_3c4d;

/// Description of one pcapng interface (one IDB).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceSpec {
    /// Link-layer type of the frames captured on this interface.
    pub link_type: u16,
    /// Snapshot length (0 means unlimited in pcapng).
    pub snaplen: u32,
    /// Timestamp resolution, written as the `if_tsresol` option.
    pub resolution: TsResolution,
    /// Optional `if_name` option.
    pub name: Option<String>,
}

impl InterfaceSpec {
    /// An interface with the given link type and resolution, default snaplen, no name.
    pub fn new(link_type: u32, resolution: TsResolution) -> Self {
        InterfaceSpec {
            // Link types fit 16 bits in pcapng; the LINKTYPE_* constants all do.
            link_type: link_type as u16,
            snaplen: DEFAULT_SNAPLEN,
            resolution,
            name: None,
        }
    }

    /// Sets the `if_name` option.
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
}

/// One record of a pcapng Name Resolution Block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameRecord {
    /// `nrb_record_ipv4`: an IPv4 address and its names.
    Ipv4(Ipv4Addr, Vec<String>),
    /// `nrb_record_ipv6`: an IPv6 address and its names.
    Ipv6(Ipv6Addr, Vec<String>),
}

/// Appends a pcapng option (code, length, value, zero padding to 32 bits).
fn push_option(buf: &mut Vec<u8>, e: Endian, code: u16, value: &[u8]) -> io::Result<()> {
    let len = u16::try_from(value.len()).map_err(|_| invalid("pcapng option too long".into()))?;
    buf.extend_from_slice(&e.u16(code));
    buf.extend_from_slice(&e.u16(len));
    buf.extend_from_slice(value);
    pad32(buf);
    Ok(())
}

fn pad32(buf: &mut Vec<u8>) {
    buf.resize(buf.len().next_multiple_of(4), 0);
}

/// Streaming writer of pcapng files: one section, any number of interfaces.
pub struct PcapngWriter<W: Write> {
    out: W,
    endian: Endian,
    interfaces: Vec<InterfaceSpec>,
    scratch: Vec<u8>,
    bytes: u64,
    packets: u64,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the Section Header Block (with `shb_userappl`) and one IDB per
    /// entry of `interfaces` (interface ids are their indexes).
    pub fn new(out: W, endian: Endian, interfaces: &[InterfaceSpec]) -> io::Result<Self> {
        let mut w = PcapngWriter {
            out,
            endian,
            interfaces: Vec::new(),
            scratch: Vec::with_capacity(256),
            bytes: 0,
            packets: 0,
        };
        let e = endian;
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&e.u32(PCAPNG_BOM));
        body.extend_from_slice(&e.u16(1));
        body.extend_from_slice(&e.u16(0));
        body.extend_from_slice(&e.i64(-1)); // section length unknown (streaming)
        push_option(&mut body, e, 4, b"flowaudit-gen (synthetic traffic)")?; // shb_userappl
        push_option(&mut body, e, 0, &[])?; // opt_endofopt
        w.write_block(BT_SHB, &body)?;
        for spec in interfaces {
            w.add_interface(spec.clone())?;
        }
        Ok(w)
    }

    /// Writes an IDB and returns the new interface id.
    pub fn add_interface(&mut self, spec: InterfaceSpec) -> io::Result<u32> {
        let e = self.endian;
        let mut body = Vec::with_capacity(48);
        body.extend_from_slice(&e.u16(spec.link_type));
        body.extend_from_slice(&e.u16(0));
        body.extend_from_slice(&e.u32(spec.snaplen));
        if let Some(name) = &spec.name {
            push_option(&mut body, e, 2, name.as_bytes())?; // if_name
        }
        push_option(&mut body, e, 9, &[spec.resolution.if_tsresol()])?; // if_tsresol
        push_option(&mut body, e, 0, &[])?;
        self.write_block(BT_IDB, &body)?;
        self.interfaces.push(spec);
        Ok((self.interfaces.len() - 1) as u32)
    }

    /// Writes a Name Resolution Block holding `records` (each name is
    /// zero-terminated, each record padded to 32 bits, `nrb_record_end` last).
    pub fn write_name_resolution(&mut self, records: &[NameRecord]) -> io::Result<()> {
        let e = self.endian;
        let mut body = Vec::with_capacity(128);
        for rec in records {
            let (kind, mut value, names) = match rec {
                NameRecord::Ipv4(a, n) => (1u16, a.octets().to_vec(), n),
                NameRecord::Ipv6(a, n) => (2u16, a.octets().to_vec(), n),
            };
            if names.is_empty() {
                return Err(invalid("name record without names".into()));
            }
            for name in names {
                if name.is_empty() || name.as_bytes().contains(&0) {
                    return Err(invalid(format!("invalid name {name:?} in name record")));
                }
                value.extend_from_slice(name.as_bytes());
                value.push(0);
            }
            push_option(&mut body, e, kind, &value)?; // same layout as an option
        }
        push_option(&mut body, e, 0, &[])?; // nrb_record_end
        self.write_block(BT_NRB, &body)
    }

    /// Interfaces declared so far.
    pub fn interfaces(&self) -> &[InterfaceSpec] {
        &self.interfaces
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    /// Writes `type | total length | body | total length`; `body` must be
    /// 32-bit aligned already.
    fn write_block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        debug_assert_eq!(body.len() % 4, 0);
        let total =
            u32::try_from(body.len() + 12).map_err(|_| invalid("pcapng block too large".into()))?;
        let e = self.endian;
        self.out.write_all(&e.u32(block_type))?;
        self.out.write_all(&e.u32(total))?;
        self.out.write_all(body)?;
        self.out.write_all(&e.u32(total))?;
        self.bytes += u64::from(total);
        Ok(())
    }
}

impl<W: Write> CaptureWriter for PcapngWriter<W> {
    fn write_packet(
        &mut self,
        iface: u32,
        ts_ns: i64,
        frame: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        let spec = self
            .interfaces
            .get(iface as usize)
            .ok_or_else(|| invalid(format!("interface {iface} was not declared")))?;
        let ticks = spec.resolution.ticks(ts_ns)?;
        let frame_len = u32::try_from(frame.len()).map_err(|_| invalid("frame too long".into()))?;
        let caplen = if spec.snaplen == 0 {
            frame_len
        } else {
            frame_len.min(spec.snaplen)
        };
        let orig = orig_len.max(frame_len);
        let padded = (caplen as usize + 3) & !3;
        let e = self.endian;
        self.scratch.clear();
        self.scratch.extend_from_slice(&e.u32(iface));
        self.scratch.extend_from_slice(&e.u32((ticks >> 32) as u32));
        self.scratch.extend_from_slice(&e.u32(ticks as u32));
        self.scratch.extend_from_slice(&e.u32(caplen));
        self.scratch.extend_from_slice(&e.u32(orig));
        let total =
            u32::try_from(12 + 20 + padded).map_err(|_| invalid("frame too long".into()))?;
        self.out.write_all(&e.u32(BT_EPB))?;
        self.out.write_all(&e.u32(total))?;
        self.out.write_all(&self.scratch)?;
        self.out.write_all(&frame[..caplen as usize])?;
        self.out.write_all(&[0u8; 3][..padded - caplen as usize])?;
        self.out.write_all(&e.u32(total))?;
        self.bytes += u64::from(total);
        self.packets += 1;
        Ok(())
    }

    fn bytes_written(&self) -> u64 {
        self.bytes
    }

    fn packets_written(&self) -> u64 {
        self.packets
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Wraps `w` in a gzip encoder (default compression, fixed header fields,
/// so output stays deterministic). Call [`GzEncoder::finish`] at the end to
/// write the gzip trailer.
pub fn gzip<W: Write>(w: W) -> GzEncoder<W> {
    GzEncoder::new(w, Compression::default())
}

/// A buffered output file, optionally gzip-compressed.
pub enum Output {
    /// Plain file behind a [`BufWriter`].
    Plain(BufWriter<File>),
    /// Gzip stream into a [`BufWriter`]ed file.
    Gzip(GzEncoder<BufWriter<File>>),
}

impl Output {
    /// Creates (truncates) `path`; compresses when its name ends in `.gz`.
    pub fn create(path: &Path) -> io::Result<Output> {
        let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
        let gz = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("gz"));
        Ok(if gz {
            Output::Gzip(gzip(file))
        } else {
            Output::Plain(file)
        })
    }

    /// Flushes everything (and writes the gzip trailer) to disk.
    pub fn finish(self) -> io::Result<()> {
        let mut file = match self {
            Output::Plain(f) => f,
            Output::Gzip(g) => g.finish()?,
        };
        file.flush()?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Plain(f) => f.write(buf),
            Output::Gzip(g) => g.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Plain(f) => f.write_all(buf),
            Output::Gzip(g) => g.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Plain(f) => f.flush(),
            Output::Gzip(g) => g.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_parser::pcapng::Block;
    use pcap_parser::traits::PcapNGPacketBlock;

    fn rd_u32(b: &[u8], off: usize, e: Endian) -> u32 {
        let a = [b[off], b[off + 1], b[off + 2], b[off + 3]];
        match e {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        }
    }

    fn rd_u16(b: &[u8], off: usize, e: Endian) -> u16 {
        let a = [b[off], b[off + 1]];
        match e {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        }
    }

    const TS: i64 = 1_768_467_600_123_456_789;

    fn pcap_bytes(opts: PcapOptions) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new(), opts).unwrap();
        w.write_packet(0, TS, &[0xaa; 60], 60).unwrap();
        w.write_packet(0, TS + 1_000, &[0xbb; 100], 100).unwrap();
        assert_eq!(w.packets_written(), 2);
        let n = w.bytes_written();
        let out = w.into_inner().unwrap();
        assert_eq!(n as usize, out.len());
        out
    }

    #[test]
    fn pcap_global_header_bytes() {
        let le = pcap_bytes(PcapOptions::default());
        assert_eq!(&le[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&le[4..8], &[2, 0, 4, 0]);
        assert_eq!(&le[8..16], &[0; 8]);
        assert_eq!(rd_u32(&le, 16, Endian::Little), DEFAULT_SNAPLEN);
        assert_eq!(rd_u32(&le, 20, Endian::Little), 1);
        // First record: seconds, microseconds, caplen, origlen.
        assert_eq!(rd_u32(&le, 24, Endian::Little), 1_768_467_600);
        assert_eq!(rd_u32(&le, 28, Endian::Little), 123_456);
        assert_eq!(rd_u32(&le, 32, Endian::Little), 60);
        assert_eq!(rd_u32(&le, 36, Endian::Little), 60);
        assert_eq!(le.len(), 24 + 16 + 60 + 16 + 100);

        let be = pcap_bytes(PcapOptions {
            endian: Endian::Big,
            resolution: TsResolution::Nano,
            link_type: 101,
            snaplen: 0,
        });
        assert_eq!(&be[0..4], &[0xa1, 0xb2, 0x3c, 0x4d]);
        assert_eq!(&be[4..8], &[0, 2, 0, 4]);
        assert_eq!(rd_u32(&be, 16, Endian::Big), 65_535);
        assert_eq!(rd_u32(&be, 20, Endian::Big), 101);
        assert_eq!(rd_u32(&be, 28, Endian::Big), 123_456_789);
    }

    #[test]
    fn pcap_snaplen_truncates_and_keeps_orig_len() {
        let mut w = PcapWriter::new(
            Vec::new(),
            PcapOptions {
                snaplen: 64,
                ..PcapOptions::default()
            },
        )
        .unwrap();
        w.write_packet(0, TS, &[1; 100], 100).unwrap();
        w.write_packet(0, TS, &[2; 10], 0).unwrap(); // orig_len raised to frame length
        let out = w.into_inner().unwrap();
        let cap = pcap_parser::PcapCapture::from_file(&out).unwrap();
        assert_eq!(cap.blocks.len(), 2);
        assert_eq!(cap.blocks[0].caplen, 64);
        assert_eq!(cap.blocks[0].origlen, 100);
        assert_eq!(cap.blocks[0].data.len(), 64);
        assert_eq!(cap.blocks[1].origlen, 10);
    }

    #[test]
    fn pcap_rejects_bad_input() {
        let mut w = PcapWriter::new(Vec::new(), PcapOptions::default()).unwrap();
        assert!(w.write_packet(1, TS, &[0; 4], 4).is_err());
        assert!(w.write_packet(0, -5, &[0; 4], 4).is_err());
        assert!(w
            .write_packet(0, (1i64 << 32) * 1_000_000_000, &[0; 4], 4)
            .is_err());
        assert_eq!(w.packets_written(), 0);
    }

    #[test]
    fn pcap_parses_with_pcap_parser_both_endians() {
        let le = pcap_bytes(PcapOptions::default());
        let cap = pcap_parser::PcapCapture::from_file(&le).unwrap();
        assert_eq!(cap.header.network.0, 1);
        assert!(!cap.header.is_nanosecond_precision());
        assert_eq!(cap.blocks.len(), 2);
        assert_eq!(cap.blocks[1].ts_usec, 123_457);

        let be = pcap_bytes(PcapOptions {
            endian: Endian::Big,
            resolution: TsResolution::Nano,
            ..PcapOptions::default()
        });
        let (mut rest, hdr) = pcap_parser::pcap::parse_pcap_header(&be).unwrap();
        assert!(hdr.is_bigendian() && hdr.is_nanosecond_precision());
        let mut n = 0;
        while !rest.is_empty() {
            let (r, blk) = pcap_parser::pcap::parse_pcap_frame_be(rest).unwrap();
            assert_eq!(blk.ts_sec, 1_768_467_600);
            n += 1;
            rest = r;
        }
        assert_eq!(n, 2);
    }

    /// Walks every block, checking alignment and the repeated total length.
    fn walk_blocks(buf: &[u8], e: Endian) -> Vec<(u32, Vec<u8>)> {
        let mut off = 0;
        let mut blocks = Vec::new();
        while off < buf.len() {
            let bt = rd_u32(buf, off, e);
            let len = rd_u32(buf, off + 4, e) as usize;
            assert_eq!(len % 4, 0, "block length multiple of 4");
            assert!(len >= 12);
            assert_eq!(
                rd_u32(buf, off + len - 4, e) as usize,
                len,
                "trailing length"
            );
            blocks.push((bt, buf[off + 8..off + len - 4].to_vec()));
            off += len;
        }
        assert_eq!(off, buf.len());
        blocks
    }

    /// Parses an options list, checking each is padded to 32 bits and that it ends with opt_endofopt.
    fn walk_options(opts: &[u8], e: Endian) -> Vec<(u16, Vec<u8>)> {
        let mut off = 0;
        let mut out = Vec::new();
        loop {
            let code = rd_u16(opts, off, e);
            let len = rd_u16(opts, off + 2, e) as usize;
            let padded = (len + 3) & !3;
            out.push((code, opts[off + 4..off + 4 + len].to_vec()));
            assert!(opts[off + 4 + len..off + 4 + padded]
                .iter()
                .all(|&b| b == 0));
            off += 4 + padded;
            if code == 0 {
                assert_eq!(len, 0);
                break;
            }
        }
        assert_eq!(off, opts.len(), "options fill the block");
        out
    }

    fn pcapng_bytes(e: Endian) -> Vec<u8> {
        let ifaces = [
            InterfaceSpec::new(1, TsResolution::Nano).named("eth0"),
            InterfaceSpec {
                snaplen: 40,
                ..InterfaceSpec::new(276, TsResolution::Micro)
            },
        ];
        let mut w = PcapngWriter::new(Vec::new(), e, &ifaces).unwrap();
        w.write_name_resolution(&[
            NameRecord::Ipv4(
                Ipv4Addr::new(10, 1, 0, 2),
                vec!["dc01".into(), "dc01.corp.example".into()],
            ),
            NameRecord::Ipv6("fd00::2".parse().unwrap(), vec!["dc01.v6".into()]),
        ])
        .unwrap();
        w.write_packet(0, TS, &[0x11; 61], 61).unwrap();
        w.write_packet(1, TS + 5_000, &[0x22; 100], 100).unwrap();
        w.write_packet(0, TS + 9, &[0x33; 64], 64).unwrap();
        assert!(w.write_packet(2, TS, &[0; 4], 4).is_err());
        assert!(w.write_packet(0, -1, &[0; 4], 4).is_err());
        assert_eq!(w.interfaces().len(), 2);
        let n = w.bytes_written();
        let out = w.into_inner().unwrap();
        assert_eq!(n as usize, out.len());
        out
    }

    #[test]
    fn pcapng_block_structure_bytes() {
        for e in [Endian::Little, Endian::Big] {
            let buf = pcapng_bytes(e);
            match e {
                Endian::Little => assert_eq!(
                    &buf[0..12],
                    &[0x0a, 0x0d, 0x0d, 0x0a, 0x48, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a]
                ),
                Endian::Big => assert_eq!(
                    &buf[0..12],
                    &[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0x48, 0x1a, 0x2b, 0x3c, 0x4d]
                ),
            }
            let blocks = walk_blocks(&buf, e);
            let types: Vec<u32> = blocks.iter().map(|b| b.0).collect();
            assert_eq!(
                types,
                [BT_SHB, BT_IDB, BT_IDB, BT_NRB, BT_EPB, BT_EPB, BT_EPB]
            );
            // SHB: BOM, version 1.0, section length -1, options.
            let shb = &blocks[0].1;
            assert_eq!(rd_u32(shb, 0, e), PCAPNG_BOM);
            assert_eq!(rd_u16(shb, 4, e), 1);
            assert_eq!(rd_u16(shb, 6, e), 0);
            assert_eq!(&shb[8..16], &[0xff; 8]);
            let opts = walk_options(&shb[16..], e);
            assert_eq!(opts[0].0, 4);
            // IDB 0: link type 1, if_name "eth0", if_tsresol 9.
            let idb = &blocks[1].1;
            assert_eq!(rd_u16(idb, 0, e), 1);
            assert_eq!(rd_u32(idb, 4, e), DEFAULT_SNAPLEN);
            let opts = walk_options(&idb[8..], e);
            assert_eq!(opts, vec![(2, b"eth0".to_vec()), (9, vec![9]), (0, vec![])]);
            let idb = &blocks[2].1;
            assert_eq!(rd_u16(idb, 0, e), 276);
            assert_eq!(rd_u32(idb, 4, e), 40);
            assert_eq!(walk_options(&idb[8..], e), vec![(9, vec![6]), (0, vec![])]);
            // NRB records share the option layout, end record last.
            let recs = walk_options(&blocks[3].1, e);
            assert_eq!(recs.len(), 3);
            assert_eq!(recs[0].0, 1);
            assert_eq!(
                recs[0].1,
                b"\x0a\x01\x00\x02dc01\0dc01.corp.example\0".to_vec()
            );
            assert_eq!(recs[1].0, 2);
            assert_eq!(recs[1].1.len(), 16 + 8);
            // EPB 0: iface 0, ns timestamp split in high/low, 61 bytes padded to 64.
            let epb = &blocks[4].1;
            assert_eq!(rd_u32(epb, 0, e), 0);
            let ts = (u64::from(rd_u32(epb, 4, e)) << 32) | u64::from(rd_u32(epb, 8, e));
            assert_eq!(ts, TS as u64);
            assert_eq!(rd_u32(epb, 12, e), 61);
            assert_eq!(rd_u32(epb, 16, e), 61);
            assert_eq!(epb.len(), 20 + 64);
            assert_eq!(&epb[20 + 61..], &[0, 0, 0]);
            // EPB 1: iface 1, microseconds, truncated to snaplen 40.
            let epb = &blocks[5].1;
            assert_eq!(rd_u32(epb, 0, e), 1);
            let ts = (u64::from(rd_u32(epb, 4, e)) << 32) | u64::from(rd_u32(epb, 8, e));
            assert_eq!(ts, (TS as u64 + 5_000) / 1_000);
            assert_eq!(rd_u32(epb, 12, e), 40);
            assert_eq!(rd_u32(epb, 16, e), 100);
        }
    }

    #[test]
    fn pcapng_parses_with_pcap_parser() {
        for e in [Endian::Little, Endian::Big] {
            let buf = pcapng_bytes(e);
            let (rest, section) = pcap_parser::pcapng::parse_section(&buf).unwrap();
            assert!(rest.is_empty());
            assert_eq!(section.big_endian, e == Endian::Big);
            let idbs: Vec<_> = section.iter_interfaces().collect();
            assert_eq!(idbs.len(), 2);
            assert_eq!(idbs[0].linktype.0, 1);
            assert_eq!(idbs[0].if_tsresol, 9);
            assert_eq!(idbs[0].if_name().unwrap().unwrap(), "eth0");
            assert_eq!(idbs[1].linktype.0, 276);
            assert_eq!(idbs[1].if_tsresol, 6);
            let mut pkts = Vec::new();
            let mut names = 0;
            for b in &section.blocks {
                match b {
                    Block::EnhancedPacket(epb) => {
                        let idb = idbs[epb.if_id as usize];
                        let res = idb.ts_resolution().unwrap();
                        let (s, frac) = epb.decode_ts(0, res);
                        pkts.push((epb.if_id, s, frac, epb.packet_data().len(), epb.orig_len()));
                    }
                    Block::NameResolution(nrb) => names += nrb.nr.len(),
                    _ => {}
                }
            }
            assert_eq!(names, 3); // two records plus the end marker
            assert_eq!(
                pkts,
                vec![
                    (0, 1_768_467_600, 123_456_789, 61, 61),
                    (1, 1_768_467_600, 123_461, 40, 100),
                    (0, 1_768_467_600, 123_456_798, 64, 64),
                ]
            );
        }
    }

    #[test]
    fn nrb_rejects_bad_records() {
        let mut w = PcapngWriter::new(Vec::new(), Endian::Little, &[]).unwrap();
        assert!(w
            .write_name_resolution(&[NameRecord::Ipv4(Ipv4Addr::LOCALHOST, vec![])])
            .is_err());
        assert!(w
            .write_name_resolution(&[NameRecord::Ipv4(Ipv4Addr::LOCALHOST, vec!["a\0b".into()])])
            .is_err());
        assert!(
            w.write_packet(0, TS, &[0; 4], 4).is_err(),
            "no interface declared"
        );
    }

    #[test]
    fn gzip_roundtrip_and_output_file() {
        use std::io::Read;
        let mut w = PcapWriter::new(gzip(Vec::new()), PcapOptions::default()).unwrap();
        w.write_packet(0, TS, &[7; 50], 50).unwrap();
        let gz = w.into_inner().unwrap().finish().unwrap();
        assert_eq!(&gz[0..2], &[0x1f, 0x8b]);
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, pcap_bytes_single());

        let dir =
            std::env::temp_dir().join(format!("flowaudit-synth-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.pcap.gz");
        let mut w =
            PcapWriter::new(Output::create(&path).unwrap(), PcapOptions::default()).unwrap();
        w.write_packet(0, TS, &[7; 50], 50).unwrap();
        w.into_inner().unwrap().finish().unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(on_disk, gz, "gzip output is deterministic");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn pcap_bytes_single() -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new(), PcapOptions::default()).unwrap();
        w.write_packet(0, TS, &[7; 50], 50).unwrap();
        w.into_inner().unwrap()
    }
}
