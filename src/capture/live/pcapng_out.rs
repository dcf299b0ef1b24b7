//! The `--write` file: every captured frame kept in pcapng as it is captured, so that the evidence
//! survives the run and opens in Wireshark or in `flowaudit audit` later.
//!
//! Why not `synth::writer::PcapngWriter`: that one writes synthetic captures and says so in its
//! section header, and it has no statistics block. Evidence needs to say where it came from
//! (`shb_userappl`, `if_name`, `if_filter`) and what the kernel dropped (an Interface Statistics
//! Block at the end, which Wireshark shows under Capture File Properties). The layout follows
//! draft-ietf-opsawg-pcapng: one section in the host's byte order, one interface with nanosecond
//! timestamps, one Enhanced Packet Block per frame, the statistics block last. A file cut off by a
//! crash still reads up to its last whole block.

use std::io::{self, Write};

use super::{Progress, SourceInfo, SNAPLEN};
use crate::capture::Frame;

const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const ISB: u32 = 5;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

/// A pcapng file being written by a live capture.
#[derive(Debug)]
pub struct PcapngOut<W: Write> {
    out: W,
    packets: u64,
    block: Vec<u8>,
}

/// Appends an option: code, length, value, padding to 32 bits. Values longer than an option can
/// hold are cut (only free text can be that long).
fn option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    let value = &value[..value.len().min(usize::from(u16::MAX) & !3)];
    buf.extend_from_slice(&code.to_ne_bytes());
    buf.extend_from_slice(&(value.len() as u16).to_ne_bytes());
    buf.extend_from_slice(value);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

fn end_of_options(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&[0; 4]);
}

/// A timestamp in nanoseconds as pcapng's two 32-bit halves.
fn ts_halves(ts_ns: i64) -> [u8; 8] {
    let t = ts_ns.max(0) as u64;
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&((t >> 32) as u32).to_ne_bytes());
    b[4..].copy_from_slice(&(t as u32).to_ne_bytes());
    b
}

impl<W: Write> PcapngOut<W> {
    /// Starts the file: section header (naming `userappl` as the writer) and the interface of
    /// `info`. `out` should be buffered; [`flush`](Self::flush) pushes it to disk.
    pub fn new(out: W, info: &SourceInfo, userappl: &str) -> io::Result<PcapngOut<W>> {
        let mut w = PcapngOut {
            out,
            packets: 0,
            block: Vec::with_capacity(SNAPLEN + 64),
        };
        let mut body = Vec::with_capacity(128);
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_ne_bytes());
        body.extend_from_slice(&1u16.to_ne_bytes());
        body.extend_from_slice(&0u16.to_ne_bytes());
        body.extend_from_slice(&(-1i64).to_ne_bytes()); // section length not known while streaming
        option(&mut body, 3, std::env::consts::OS.as_bytes()); // shb_os
        option(&mut body, 4, userappl.as_bytes()); // shb_userappl
        end_of_options(&mut body);
        w.block(SHB, &body)?;

        let mut body = Vec::with_capacity(128);
        // Link types fit 16 bits in pcapng; every LINKTYPE_ value does.
        body.extend_from_slice(&(info.link.0 as u16).to_ne_bytes());
        body.extend_from_slice(&0u16.to_ne_bytes());
        body.extend_from_slice(&(SNAPLEN as u32).to_ne_bytes());
        option(&mut body, 2, info.interface.as_bytes()); // if_name
        option(&mut body, 9, &[9]); // if_tsresol: nanoseconds
        if let Some(f) = &info.filter {
            let mut v = vec![0u8]; // libpcap filter string
            v.extend_from_slice(f.as_bytes());
            option(&mut body, 11, &v); // if_filter
        }
        end_of_options(&mut body);
        w.block(IDB, &body)?;
        Ok(w)
    }

    /// Writes `type | length | body | length`; `body` is 32-bit aligned.
    fn block(&mut self, kind: u32, body: &[u8]) -> io::Result<()> {
        let total = (body.len() + 12) as u32;
        self.block.clear();
        self.block.extend_from_slice(&kind.to_ne_bytes());
        self.block.extend_from_slice(&total.to_ne_bytes());
        self.block.extend_from_slice(body);
        self.block.extend_from_slice(&total.to_ne_bytes());
        self.out.write_all(&self.block)
    }

    /// Appends one frame as an Enhanced Packet Block (cut at [`SNAPLEN`], keeping its wire length).
    /// The block goes out in one write, so a file cut by a crash ends at a block boundary as often
    /// as the buffer allows.
    pub fn write_frame(&mut self, f: &Frame<'_>) -> io::Result<()> {
        let data = &f.data[..f.data.len().min(SNAPLEN)];
        let caplen = data.len() as u32;
        let padded = data.len().next_multiple_of(4);
        let total = (32 + padded) as u32;
        let b = &mut self.block;
        b.clear();
        b.extend_from_slice(&EPB.to_ne_bytes());
        b.extend_from_slice(&total.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes()); // interface 0
        b.extend_from_slice(&ts_halves(f.ts_ns));
        b.extend_from_slice(&caplen.to_ne_bytes());
        b.extend_from_slice(&f.orig_len.max(caplen).to_ne_bytes());
        b.extend_from_slice(data);
        b.resize(b.len() + padded - data.len(), 0);
        b.extend_from_slice(&total.to_ne_bytes());
        self.out.write_all(b)?;
        self.packets += 1;
        Ok(())
    }

    /// Frames written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Pushes buffered blocks to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Ends the capture: an Interface Statistics Block with the start and end times, the packets
    /// the kernel received and dropped (where known) and those delivered, then a flush.
    pub fn finish(&mut self, start_ns: i64, end_ns: i64, p: &Progress) -> io::Result<()> {
        let mut body = Vec::with_capacity(96);
        body.extend_from_slice(&0u32.to_ne_bytes());
        body.extend_from_slice(&ts_halves(end_ns));
        option(&mut body, 2, &ts_halves(start_ns)); // isb_starttime
        option(&mut body, 3, &ts_halves(end_ns)); // isb_endtime
        if let Some(n) = p.stats.received {
            option(&mut body, 4, &n.to_ne_bytes()); // isb_ifrecv
        }
        if let Some(n) = p.stats.if_dropped {
            option(&mut body, 5, &n.to_ne_bytes()); // isb_ifdrop
        }
        if let Some(n) = p.stats.dropped {
            option(&mut body, 7, &n.to_ne_bytes()); // isb_osdrop
        }
        option(&mut body, 8, &p.packets.to_ne_bytes()); // isb_usrdeliv
        end_of_options(&mut body);
        self.block(ISB, &body)?;
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
