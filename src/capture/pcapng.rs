//! The pcapng format: a sequence of blocks, each framed by its type and a total length that is
//! repeated at its end.
//!
//! We read the block framing ourselves rather than through a general pcapng library: the framing is
//! small, every length is checked here before it is used (a block shorter than 12 bytes, not a
//! multiple of 4, or whose trailing length disagrees is damage, reported with its offset), and the
//! parser must work on a window of a memory map or a stream buffer without copying. Sections reset
//! the byte order and the interface list; each interface carries its own link type, snap length,
//! timestamp resolution (`if_tsresol`) and offset (`if_tsoffset`). Enhanced, simple and obsolete
//! packet blocks give frames; name resolution blocks give host names; every other block (statistics,
//! decryption secrets, custom, unknown) is skipped.

use super::Step;
use crate::error::CaptureErrorKind;
use crate::model::{Addr, LinkType};

/// Block types.
mod block {
    pub const SHB: u32 = 0x0A0D_0D0A;
    pub const IDB: u32 = 0x0000_0001;
    pub const OPB: u32 = 0x0000_0002;
    pub const SPB: u32 = 0x0000_0003;
    pub const NRB: u32 = 0x0000_0004;
    pub const EPB: u32 = 0x0000_0006;
}

/// The byte-order magic of a section header block.
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// The largest block we accept: a maximal frame plus generous room for options.
const MAX_BLOCK_LEN: u32 = 128 << 20;

/// How an interface's raw timestamps become nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsResolution {
    /// Units of 10^-n seconds.
    Decimal(u8),
    /// Units of 2^-n seconds.
    Binary(u8),
}

impl TsResolution {
    #[inline]
    fn to_ns(self, raw: u64) -> i64 {
        let ns: i128 = match self {
            TsResolution::Decimal(n) if n <= 9 => {
                i128::from(raw) * i128::from(10u64.pow(u32::from(9 - n)))
            }
            TsResolution::Decimal(n) => {
                // Finer than a nanosecond: divide, saturating the exponent (10^38 > u128::MAX).
                let div = 10u128.checked_pow(u32::from(n - 9)).unwrap_or(u128::MAX);
                (u128::from(raw) / div) as i128
            }
            TsResolution::Binary(n) => {
                let n = u32::from(n.min(127));
                ((u128::from(raw) * 1_000_000_000) >> n) as i128
            }
        };
        ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

/// One interface described in the current section.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    tsres: TsResolution,
    tsoffset_ns: i64,
    /// Index of this interface counted over the whole file (sections reset the local ids).
    global_id: u32,
}

/// The state of a pcapng reader: the current section's byte order and interfaces.
#[derive(Debug, Clone, Default)]
pub struct PcapngParser {
    big_endian: bool,
    in_section: bool,
    interfaces: Vec<Interface>,
    next_global_id: u32,
    sections: u32,
    /// Every link type seen, by global interface id.
    pub(crate) link_types: Vec<LinkType>,
    /// Host names from name resolution blocks.
    pub(crate) names: Vec<(Addr, String)>,
}

impl PcapngParser {
    /// A parser positioned at the start of the file (which must be a section header block).
    pub fn new() -> PcapngParser {
        PcapngParser::default()
    }

    /// Whether the current section is big-endian (for the summary).
    pub fn big_endian(&self) -> bool {
        self.big_endian
    }

    /// How many sections were read.
    pub fn sections(&self) -> u32 {
        self.sections
    }

    #[inline(always)]
    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let x = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    }

    #[inline(always)]
    fn u16_at(&self, b: &[u8], at: usize) -> u16 {
        let x = [b[at], b[at + 1]];
        if self.big_endian {
            u16::from_be_bytes(x)
        } else {
            u16::from_le_bytes(x)
        }
    }

    /// Reads the block at the start of `buf`.
    #[inline]
    pub(crate) fn next(&mut self, buf: &[u8]) -> Step {
        if buf.len() < 12 {
            return if buf.is_empty() {
                Step::End
            } else {
                Step::NeedMore(12)
            };
        }
        let raw_type = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if raw_type == block::SHB {
            // The byte order of a section comes from its own header.
            let bom = [buf[8], buf[9], buf[10], buf[11]];
            if u32::from_le_bytes(bom) == BYTE_ORDER_MAGIC {
                self.big_endian = false;
            } else if u32::from_be_bytes(bom) == BYTE_ORDER_MAGIC {
                self.big_endian = true;
            } else {
                return Step::Error(CaptureErrorKind::BadHeader(
                    "section header has no byte-order magic",
                ));
            }
        } else if !self.in_section {
            return Step::Error(CaptureErrorKind::BadHeader(
                "pcapng file does not start with a section header block",
            ));
        }
        let btype = self.u32_at(buf, 0);
        let blen = self.u32_at(buf, 4);
        if blen < 12 || blen % 4 != 0 || blen > MAX_BLOCK_LEN {
            return Step::Error(CaptureErrorKind::ImpossibleLength {
                length: u64::from(blen),
                why: if blen < 12 {
                    "a block is at least 12 bytes"
                } else if blen % 4 != 0 {
                    "block lengths are multiples of 4"
                } else {
                    "block larger than 128 MiB"
                },
            });
        }
        let total = blen as usize;
        if buf.len() < total {
            return Step::NeedMore(total);
        }
        let trailer = self.u32_at(buf, total - 4);
        if trailer != blen {
            return Step::Error(CaptureErrorKind::ImpossibleLength {
                length: u64::from(trailer),
                why: "trailing block length differs from the leading one",
            });
        }
        let body = &buf[8..total - 4];
        match btype {
            block::SHB => self.section(body, total),
            block::IDB => self.interface(body, total),
            block::EPB => self.enhanced_packet(body, total),
            block::SPB => self.simple_packet(body, total),
            block::OPB => self.obsolete_packet(body, total),
            block::NRB => {
                self.name_resolution(body);
                Step::Skip(total)
            }
            _ => Step::Skip(total),
        }
    }

    fn section(&mut self, body: &[u8], total: usize) -> Step {
        // byte-order magic (4), major (2), minor (2), section length (8), options.
        if body.len() < 16 {
            return Step::Error(CaptureErrorKind::ImpossibleLength {
                length: total as u64,
                why: "section header block too short",
            });
        }
        let major = self.u16_at(body, 4);
        if major != 1 {
            return Step::Error(CaptureErrorKind::BadHeader(
                "unsupported pcapng section version (not 1.x)",
            ));
        }
        self.in_section = true;
        self.sections += 1;
        self.interfaces.clear();
        Step::Skip(total)
    }

    fn interface(&mut self, body: &[u8], total: usize) -> Step {
        // link type (2), reserved (2), snaplen (4), options.
        if body.len() < 8 {
            return Step::Error(CaptureErrorKind::ImpossibleLength {
                length: total as u64,
                why: "interface description block too short",
            });
        }
        let link = LinkType(u32::from(self.u16_at(body, 0)));
        let snaplen = self.u32_at(body, 4);
        let mut tsres = TsResolution::Decimal(6);
        let mut tsoffset_ns = 0i64;
        self.walk_options(&body[8..], |code, val, be| match code {
            9 if val.len() == 1 => {
                let v = val[0];
                tsres = if v & 0x80 != 0 {
                    TsResolution::Binary(v & 0x7f)
                } else {
                    TsResolution::Decimal(v)
                };
            }
            14 if val.len() == 8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(val);
                let secs = if be {
                    i64::from_be_bytes(b)
                } else {
                    i64::from_le_bytes(b)
                };
                tsoffset_ns = secs.saturating_mul(1_000_000_000);
            }
            _ => {}
        });
        let global_id = self.next_global_id;
        self.next_global_id += 1;
        self.link_types.push(link);
        self.interfaces.push(Interface {
            link,
            snaplen,
            tsres,
            tsoffset_ns,
            global_id,
        });
        Step::Skip(total)
    }

    /// Calls `f(code, value, big_endian)` for each option until the end-of-options marker.
    fn walk_options(&self, mut opts: &[u8], mut f: impl FnMut(u16, &[u8], bool)) {
        while opts.len() >= 4 {
            let code = self.u16_at(opts, 0);
            let len = usize::from(self.u16_at(opts, 2));
            if code == 0 {
                break;
            }
            let Some(val) = opts.get(4..4 + len) else {
                break;
            };
            f(code, val, self.big_endian);
            let padded = 4 + ((len + 3) & !3);
            opts = opts.get(padded..).unwrap_or(&[]);
        }
    }

    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn frame_from(
        &self,
        iface_id: u32,
        ts_raw: u64,
        data_off: usize,
        caplen: u32,
        orig_len: u32,
        total: usize,
        room: usize,
    ) -> Step {
        let Some(iface) = self.interfaces.get(iface_id as usize) else {
            return Step::Error(CaptureErrorKind::UnknownInterface { id: iface_id });
        };
        if caplen as usize > room || caplen > MAX_BLOCK_LEN {
            return Step::Error(CaptureErrorKind::ImpossibleLength {
                length: u64::from(caplen),
                why: "captured length exceeds its block",
            });
        }
        Step::Frame {
            start: data_off,
            caplen: caplen as usize,
            total,
            ts_ns: iface.tsres.to_ns(ts_raw).saturating_add(iface.tsoffset_ns),
            orig_len,
            link: iface.link,
            iface: iface.global_id,
        }
    }

    #[inline]
    fn enhanced_packet(&self, body: &[u8], total: usize) -> Step {
        // interface (4), ts high (4), ts low (4), caplen (4), origlen (4), data, options.
        if body.len() < 20 {
            return Step::Error(CaptureErrorKind::ImpossibleLength {
                length: total as u64,
                why: "enhanced packet block too short",
            });
        }
        let ts = (u64::from(self.u32_at(body, 4)) << 32) | u64::from(self.u32_at(body, 8));
        self.frame_from(
            self.u32_at(body, 0),
            ts,
            8 + 20,
            self.u32_at(body, 12),
            self.u32_at(body, 16),
            total,
            body.len() - 20,
        )
    }

    fn obsolete_packet(&self, body: &[u8], total: usize) -> Step {
        // interface (2), drops (2), ts high (4), ts low (4), caplen (4), origlen (4), data, options.
        if body.len() < 20 {
            return Step::Error(CaptureErrorKind::ImpossibleLength {
                length: total as u64,
                why: "packet block too short",
            });
        }
        let ts = (u64::from(self.u32_at(body, 4)) << 32) | u64::from(self.u32_at(body, 8));
        self.frame_from(
            u32::from(self.u16_at(body, 0)),
            ts,
            8 + 20,
            self.u32_at(body, 12),
            self.u32_at(body, 16),
            total,
            body.len() - 20,
        )
    }

    fn simple_packet(&self, body: &[u8], total: usize) -> Step {
        // origlen (4), data. The captured length is what fits: the smaller of the original length,
        // the interface snap length and the block.
        if body.len() < 4 {
            return Step::Error(CaptureErrorKind::ImpossibleLength {
                length: total as u64,
                why: "simple packet block too short",
            });
        }
        let Some(iface) = self.interfaces.first() else {
            return Step::Error(CaptureErrorKind::UnknownInterface { id: 0 });
        };
        let orig_len = self.u32_at(body, 0);
        let room = body.len() - 4;
        let mut caplen = (orig_len as usize).min(room);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        Step::Frame {
            start: 8 + 4,
            caplen,
            total,
            // Simple packet blocks carry no timestamp; the reader gives them the previous one's.
            ts_ns: i64::MIN,
            orig_len,
            link: iface.link,
            iface: iface.global_id,
        }
    }

    fn name_resolution(&mut self, body: &[u8]) {
        let mut rest = body;
        while rest.len() >= 4 {
            let rtype = self.u16_at(rest, 0);
            let len = usize::from(self.u16_at(rest, 2));
            let Some(val) = rest.get(4..4 + len) else {
                return;
            };
            let addr_len = match rtype {
                0 => return,
                1 => 4,
                2 => 16,
                _ => 0,
            };
            if addr_len > 0 && val.len() > addr_len {
                let addr = if addr_len == 4 {
                    Addr::v4([val[0], val[1], val[2], val[3]])
                } else {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(&val[..16]);
                    Addr::v6(b)
                };
                for name in val[addr_len..].split(|&c| c == 0) {
                    if !name.is_empty() && self.names.len() < 1_000_000 {
                        self.names
                            .push((addr, String::from_utf8_lossy(name).into_owned()));
                    }
                }
            }
            rest = rest.get(4 + ((len + 3) & !3)..).unwrap_or(&[]);
        }
    }
}

/// Whether four bytes start a pcapng file.
pub(crate) fn is_pcapng_magic(m: [u8; 4]) -> bool {
    u32::from_le_bytes(m) == block::SHB
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a block in the chosen byte order.
    fn blk(be: bool, btype: u32, body: &[u8]) -> Vec<u8> {
        let put = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() })
        };
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = 12 + body.len() as u32;
        let mut v = Vec::new();
        put(&mut v, btype);
        put(&mut v, len);
        v.extend_from_slice(&body);
        put(&mut v, len);
        v
    }

    fn shb(be: bool) -> Vec<u8> {
        let mut body = Vec::new();
        let e32 = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
        let e16 = |x: u16| if be { x.to_be_bytes() } else { x.to_le_bytes() };
        body.extend_from_slice(&e32(BYTE_ORDER_MAGIC));
        body.extend_from_slice(&e16(1));
        body.extend_from_slice(&e16(0));
        body.extend_from_slice(&[0xff; 8]);
        blk(be, block::SHB, &body)
    }

    fn idb(be: bool, link: u16, tsresol: Option<u8>, tsoffset: Option<i64>) -> Vec<u8> {
        let e16 = |x: u16| if be { x.to_be_bytes() } else { x.to_le_bytes() };
        let e32 = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
        let mut body = Vec::new();
        body.extend_from_slice(&e16(link));
        body.extend_from_slice(&e16(0));
        body.extend_from_slice(&e32(0));
        if let Some(r) = tsresol {
            body.extend_from_slice(&e16(9));
            body.extend_from_slice(&e16(1));
            body.extend_from_slice(&[r, 0, 0, 0]);
        }
        if let Some(o) = tsoffset {
            body.extend_from_slice(&e16(14));
            body.extend_from_slice(&e16(8));
            body.extend_from_slice(&if be { o.to_be_bytes() } else { o.to_le_bytes() });
        }
        body.extend_from_slice(&[0, 0, 0, 0]);
        blk(be, block::IDB, &body)
    }

    fn epb(be: bool, iface: u32, ts: u64, data: &[u8]) -> Vec<u8> {
        let e32 = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
        let mut body = Vec::new();
        body.extend_from_slice(&e32(iface));
        body.extend_from_slice(&e32((ts >> 32) as u32));
        body.extend_from_slice(&e32(ts as u32));
        body.extend_from_slice(&e32(data.len() as u32));
        body.extend_from_slice(&e32(data.len() as u32 + 4));
        body.extend_from_slice(data);
        blk(be, block::EPB, &body)
    }

    type Got = (i64, u32, LinkType, Vec<u8>);

    fn frames(file: &[u8]) -> Result<Vec<Got>, CaptureErrorKind> {
        let mut p = PcapngParser::new();
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            match p.next(&file[pos..]) {
                Step::Frame {
                    start,
                    caplen,
                    total,
                    ts_ns,
                    link,
                    iface,
                    ..
                } => {
                    out.push((ts_ns, iface, link, file[pos + start..][..caplen].to_vec()));
                    pos += total;
                }
                Step::Skip(n) => pos += n,
                Step::End => return Ok(out),
                Step::NeedMore(_) => return Err(CaptureErrorKind::TruncatedHeader),
                Step::Error(e) => return Err(e),
            }
        }
    }

    #[test]
    fn interfaces_keep_their_own_link_type_and_resolution() {
        for be in [false, true] {
            let mut f = shb(be);
            f.extend(idb(be, 1, None, None));
            f.extend(idb(be, 276, Some(9), Some(10)));
            f.extend(idb(be, 101, Some(0x80 | 10), None));
            f.extend(epb(be, 0, 5_000_000, b"abc"));
            f.extend(epb(be, 1, 5_000_000, b"de"));
            f.extend(epb(be, 2, 2048, b"f"));
            let got = frames(&f).unwrap();
            assert_eq!(got.len(), 3);
            assert_eq!(
                got[0],
                (5_000_000_000, 0, LinkType::ETHERNET, b"abc".to_vec())
            );
            // 5 ms in nanosecond units, plus the 10 s offset
            assert_eq!(
                got[1],
                (10_005_000_000, 1, LinkType::LINUX_SLL2, b"de".to_vec())
            );
            // 2048 / 1024 s = 2 s
            assert_eq!(got[2], (2_000_000_000, 2, LinkType::RAW, b"f".to_vec()));
        }
    }

    #[test]
    fn a_new_section_resets_interfaces_and_byte_order() {
        let mut f = shb(false);
        f.extend(idb(false, 1, None, None));
        f.extend(epb(false, 0, 1, b"x"));
        f.extend(shb(true));
        f.extend(idb(true, 113, None, None));
        f.extend(epb(true, 0, 2, b"y"));
        let got = frames(&f).unwrap();
        assert_eq!(got[0].2, LinkType::ETHERNET);
        assert_eq!(got[1].2, LinkType::LINUX_SLL);
        assert_eq!(
            got[1].1, 1,
            "global interface ids keep counting across sections"
        );
    }

    #[test]
    fn block_shorter_than_twelve_is_an_error_not_a_panic() {
        let mut f = shb(false);
        let mut bad = vec![1, 0, 0, 0];
        bad.extend_from_slice(&8u32.to_le_bytes());
        bad.extend_from_slice(&[0; 8]);
        f.extend(bad);
        assert!(matches!(
            frames(&f),
            Err(CaptureErrorKind::ImpossibleLength { length: 8, .. })
        ));
    }

    #[test]
    fn unknown_and_custom_blocks_are_skipped() {
        let mut f = shb(false);
        f.extend(idb(false, 1, None, None));
        f.extend(blk(false, 0x0000_0BAD, b"custom!!"));
        f.extend(blk(false, 0x1234, b""));
        f.extend(epb(false, 0, 1, b"z"));
        assert_eq!(frames(&f).unwrap().len(), 1);
    }

    #[test]
    fn packet_naming_an_undescribed_interface_is_an_error() {
        let mut f = shb(false);
        f.extend(idb(false, 1, None, None));
        f.extend(epb(false, 3, 1, b"z"));
        assert_eq!(
            frames(&f),
            Err(CaptureErrorKind::UnknownInterface { id: 3 })
        );
    }

    #[test]
    fn name_resolution_records_are_collected() {
        let mut f = shb(false);
        let mut body = Vec::new();
        body.extend_from_slice(&1u16.to_le_bytes());
        let rec: &[u8] = b"\x0a\x01\x00\x02dc1.corp.example\0";
        body.extend_from_slice(&(rec.len() as u16).to_le_bytes());
        body.extend_from_slice(rec);
        while body.len() % 4 != 0 {
            body.push(0);
        }
        body.extend_from_slice(&[0; 4]);
        f.extend(blk(false, block::NRB, &body));
        let mut p = PcapngParser::new();
        let mut pos = 0;
        while let Step::Skip(n) = p.next(&f[pos..]) {
            pos += n;
        }
        assert_eq!(
            p.names,
            vec![(Addr::v4([10, 1, 0, 2]), "dc1.corp.example".to_string())]
        );
    }

    #[test]
    fn timestamp_resolutions_convert_exactly() {
        assert_eq!(TsResolution::Decimal(6).to_ns(1), 1000);
        assert_eq!(TsResolution::Decimal(9).to_ns(7), 7);
        assert_eq!(TsResolution::Decimal(12).to_ns(7000), 7);
        assert_eq!(TsResolution::Binary(0).to_ns(3), 3_000_000_000);
        assert_eq!(TsResolution::Binary(30).to_ns(1 << 30), 1_000_000_000);
        // never overflows
        let _ = TsResolution::Decimal(0).to_ns(u64::MAX);
        let _ = TsResolution::Decimal(127).to_ns(u64::MAX);
        let _ = TsResolution::Binary(127).to_ns(u64::MAX);
    }
}
