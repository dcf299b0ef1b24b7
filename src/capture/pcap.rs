//! The classic pcap format: a 24-byte file header, then records of a 16-byte header and the frame.
//!
//! Both byte orders, microsecond (`a1b2c3d4`) and nanosecond (`a1b23c4d`) timestamps, and the
//! Kuznetzov "modified" variant (`a1b2cd34`, 24-byte record headers) are read. The parser works on
//! a byte window that starts at a record boundary and never looks past its end, so the same code
//! serves memory-mapped files and streamed input (gzip, pipes).

use super::{Step, MAX_FRAME_LEN};
use crate::error::CaptureErrorKind;
use crate::model::LinkType;

/// Field offsets of the file header.
mod field {
    pub const VERSION_MAJOR: core::ops::Range<usize> = 4..6;
    pub const SNAPLEN: core::ops::Range<usize> = 16..20;
    pub const LINKTYPE: core::ops::Range<usize> = 20..24;
    pub const HEADER_LEN: usize = 24;
}

/// Magic numbers as they read in little-endian order.
pub(crate) const MAGIC_USEC: u32 = 0xa1b2_c3d4;
pub(crate) const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
pub(crate) const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

/// What the file header says, and so how each record is read.
#[derive(Debug, Clone)]
pub struct PcapParser {
    big_endian: bool,
    nanos: bool,
    modified: bool,
    link: LinkType,
    snaplen: u32,
}

/// Whether four bytes start a pcap file (any byte order or variant).
pub(crate) fn is_pcap_magic(m: [u8; 4]) -> bool {
    let le = u32::from_le_bytes(m);
    let be = u32::from_be_bytes(m);
    [MAGIC_USEC, MAGIC_NSEC, MAGIC_MODIFIED]
        .iter()
        .any(|&x| x == le || x == be)
}

impl PcapParser {
    /// Reads the file header. `head` must hold at least 24 bytes; returns the parser and the
    /// header length.
    pub(crate) fn from_header(head: &[u8]) -> Result<(PcapParser, usize), CaptureErrorKind> {
        let Some(h) = head.get(..field::HEADER_LEN) else {
            return Err(CaptureErrorKind::TruncatedHeader);
        };
        let m = [h[0], h[1], h[2], h[3]];
        let (big_endian, magic) = if is_magic(u32::from_le_bytes(m)) {
            (false, u32::from_le_bytes(m))
        } else if is_magic(u32::from_be_bytes(m)) {
            (true, u32::from_be_bytes(m))
        } else {
            return Err(CaptureErrorKind::NotACapture { magic: m });
        };
        let rd16 = |r: core::ops::Range<usize>| {
            let b = [h[r.start], h[r.start + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let rd32 = |r: core::ops::Range<usize>| {
            let b = [h[r.start], h[r.start + 1], h[r.start + 2], h[r.start + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        if rd16(field::VERSION_MAJOR) != 2 {
            return Err(CaptureErrorKind::BadHeader("pcap major version is not 2"));
        }
        // The upper bits of the link type field carry FCS information (LINKTYPE_FCS); the type
        // itself is the low 16 bits.
        let link = LinkType(rd32(field::LINKTYPE) & 0xffff);
        Ok((
            PcapParser {
                big_endian,
                nanos: magic == MAGIC_NSEC,
                modified: magic == MAGIC_MODIFIED,
                link,
                snaplen: rd32(field::SNAPLEN),
            },
            field::HEADER_LEN,
        ))
    }

    /// The link type of every record.
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// A short description of the variant: `pcap`, `pcap-nsec`, `pcap-modified`, with `-be` when
    /// big-endian.
    pub fn variant(&self) -> &'static str {
        match (self.nanos, self.modified, self.big_endian) {
            (false, false, false) => "pcap",
            (false, false, true) => "pcap-be",
            (true, _, false) => "pcap-nsec",
            (true, _, true) => "pcap-nsec-be",
            (false, true, false) => "pcap-modified",
            (false, true, true) => "pcap-modified-be",
        }
    }

    #[inline(always)]
    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        // Callers check `b.len() >= at + 4` first.
        let x = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    }

    /// Reads the record at the start of `buf`.
    #[inline]
    pub(crate) fn next(&self, buf: &[u8]) -> Step {
        let hdr = if self.modified { 24 } else { 16 };
        if buf.len() < hdr {
            return if buf.is_empty() {
                Step::End
            } else {
                Step::NeedMore(hdr)
            };
        }
        let sec = self.u32_at(buf, 0);
        let frac = self.u32_at(buf, 4);
        let caplen = self.u32_at(buf, 8);
        let orig_len = self.u32_at(buf, 12);
        let limit = MAX_FRAME_LEN.max(self.snaplen.min(16 << 20));
        if caplen > limit {
            return Step::Error(CaptureErrorKind::ImpossibleLength {
                length: u64::from(caplen),
                why: "record longer than any frame",
            });
        }
        let total = hdr + caplen as usize;
        if buf.len() < total {
            return Step::NeedMore(total);
        }
        let frac_ns = if self.nanos {
            i64::from(frac)
        } else {
            i64::from(frac) * 1000
        };
        Step::Frame {
            start: hdr,
            caplen: caplen as usize,
            total,
            ts_ns: i64::from(sec) * 1_000_000_000 + frac_ns,
            orig_len,
            link: self.link,
            iface: 0,
        }
    }
}

fn is_magic(x: u32) -> bool {
    x == MAGIC_USEC || x == MAGIC_NSEC || x == MAGIC_MODIFIED
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(magic: u32, be: bool, link: u32) -> Vec<u8> {
        let mut h = Vec::new();
        let put32 = |h: &mut Vec<u8>, x: u32| {
            h.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() })
        };
        let put16 = |h: &mut Vec<u8>, x: u16| {
            h.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() })
        };
        put32(&mut h, magic);
        put16(&mut h, 2);
        put16(&mut h, 4);
        put32(&mut h, 0);
        put32(&mut h, 0);
        put32(&mut h, 65535);
        put32(&mut h, link);
        h
    }

    #[test]
    fn reads_both_byte_orders_and_resolutions() {
        for (magic, be, nanos) in [
            (MAGIC_USEC, false, false),
            (MAGIC_USEC, true, false),
            (MAGIC_NSEC, false, true),
            (MAGIC_NSEC, true, true),
        ] {
            let mut f = header(magic, be, 1);
            let (p, n) = PcapParser::from_header(&f).unwrap();
            assert_eq!(n, 24);
            assert_eq!(p.link_type(), LinkType::ETHERNET);
            let put = |f: &mut Vec<u8>, x: u32| {
                f.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() })
            };
            put(&mut f, 100);
            put(&mut f, 7);
            put(&mut f, 3);
            put(&mut f, 60);
            f.extend_from_slice(&[1, 2, 3]);
            match p.next(&f[24..]) {
                Step::Frame {
                    start,
                    caplen,
                    total,
                    ts_ns,
                    orig_len,
                    ..
                } => {
                    assert_eq!((start, caplen, total, orig_len), (16, 3, 19, 60));
                    let frac = if nanos { 7 } else { 7000 };
                    assert_eq!(ts_ns, 100_000_000_000 + frac);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn fcs_bits_do_not_change_the_link_type() {
        let f = header(MAGIC_USEC, false, 1 | 0x1000_0000);
        let (p, _) = PcapParser::from_header(&f).unwrap();
        assert_eq!(p.link_type(), LinkType::ETHERNET);
    }

    #[test]
    fn truncated_record_asks_for_more_and_huge_record_is_an_error() {
        let f = header(MAGIC_USEC, false, 1);
        let (p, _) = PcapParser::from_header(&f).unwrap();
        let mut r = vec![0u8; 16];
        r[8..12].copy_from_slice(&10u32.to_le_bytes());
        assert!(matches!(p.next(&r), Step::NeedMore(26)));
        assert!(matches!(p.next(&r[..5]), Step::NeedMore(16)));
        assert!(matches!(p.next(&[]), Step::End));
        r[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(p.next(&r), Step::Error(_)));
    }

    #[test]
    fn modified_pcap_has_longer_record_headers() {
        let mut f = header(MAGIC_MODIFIED, false, 1);
        let (p, _) = PcapParser::from_header(&f).unwrap();
        assert_eq!(p.variant(), "pcap-modified");
        let mut rec = vec![0u8; 24];
        rec[8..12].copy_from_slice(&2u32.to_le_bytes());
        f.extend_from_slice(&rec);
        f.extend_from_slice(&[9, 9]);
        match p.next(&f[24..]) {
            Step::Frame {
                start,
                caplen,
                total,
                ..
            } => assert_eq!((start, caplen, total), (24, 2, 26)),
            other => panic!("{other:?}"),
        }
    }
}
