//! Extracting name-to-address bindings from DNS responses.
//!
//! # Why this exists
//!
//! Flows only carry IP addresses, but audit policies and reports speak in host names
//! ("this VM talked to `*.blob.core.windows.net`"). Cloud endpoints hide behind CNAME
//! chains and short-lived, shared addresses, so the only reliable way to tie an address
//! to the name a client meant is to watch the client's own DNS traffic. [`parse_answers`]
//! does exactly that: it walks one DNS response and hands every A/AAAA answer to a sink,
//! both under the record's owner name and under the name the client asked for.
//!
//! # What this is not
//!
//! This is not a DNS dissector. It reads the header, the question section and the answer
//! section, and nothing else: authority and additional records (glue, OPT, signatures) are
//! never looked at, no record type other than A, AAAA and (for chain following) CNAME is
//! interpreted, and no DNSSEC validation or bailiwick check is done. Queries are rejected
//! ([`DnsError::NotResponse`]) and responses to opcodes other than QUERY (NOTIFY, UPDATE,
//! ...) report nothing.
//!
//! # Robustness rules
//!
//! The input is attacker-controlled packet data, so the parser
//!
//! * never allocates (names live in the fixed-size [`DnsName`], the CNAME chain in a
//!   fixed array on the stack),
//! * never panics: every read goes through `get(..)` or a length check first,
//! * does work linear in the message size: compression pointers must point strictly
//!   backwards (before the start of the name piece that led to them) and a name may follow
//!   at most [`MAX_POINTER_JUMPS`] of them, so pointer loops are impossible, and
//! * reports an address only once its whole resource record (owner name, fixed fields and
//!   RDATA) lies inside the message, so a truncated capture can lose answers but never
//!   invent or corrupt one.
//!
//! # Name presentation
//!
//! Names are reported in presentation form: labels joined by `.`, no trailing dot,
//! ASCII letters lower-cased (DNS names compare case-insensitively). The root name is the
//! empty string. Label bytes outside `[a-z0-9_-]` (after lower-casing) are *escaped*, not
//! rejected, as the RFC 1035 `\DDD` decimal escape: a label `a.b` becomes `a\046b`, a space
//! becomes `\032`. Escaping keeps every reported name unambiguous and printable (only
//! `[a-z0-9_.\\-]` ever appear) without dropping responses that merely carry an odd name.

use core::fmt;
use core::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Capacity of [`DnsName`] in bytes: the largest presentation-form name it can hold.
///
/// A wire-format name is at most 255 octets, which is at most 253 characters in
/// presentation form; the remaining room absorbs a few `\DDD` escapes.
pub const MAX_NAME: usize = 255;

/// Most compression pointers one name may follow before it is treated as a loop.
///
/// A legal name has at most 127 labels and each pointer replaces at least one of them,
/// so no well-formed message needs more.
pub const MAX_POINTER_JUMPS: usize = 128;

/// Longest CNAME chain (counting the question name itself) that is followed when deciding
/// whether an address answer also belongs to the question name. Resolvers give up on
/// chains well before this length.
pub const MAX_CNAME_CHAIN: usize = 16;

/// Size of the fixed DNS header.
const HEADER_LEN: usize = 12;
/// Longest name in wire format, length octets and the terminating root label included.
const MAX_WIRE_NAME: usize = 255;
/// Longest label.
const MAX_LABEL: usize = 63;

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
/// mDNS reuses the top bit of the class field as the "cache flush" flag.
const CLASS_MASK: u16 = 0x7fff;

/// A DNS name in presentation form, lower-cased, without trailing dot, stored inline (no heap).
///
/// Only ASCII `[a-z0-9_.\\-]` bytes ever appear: other label bytes are written as
/// RFC 1035 `\DDD` escapes (see the [module docs](self)). The root name is the empty
/// string. Equality, ordering and hashing use the presentation bytes, so two names are
/// equal exactly when DNS would consider them the same name.
#[derive(Clone, Copy)]
pub struct DnsName {
    buf: [u8; MAX_NAME],
    len: u8,
}

impl DnsName {
    /// The root name (empty presentation form).
    pub const ROOT: DnsName = DnsName {
        buf: [0; MAX_NAME],
        len: 0,
    };

    /// The name as a string slice, e.g. `"www.example.com"`.
    pub fn as_str(&self) -> &str {
        // The buffer only ever receives ASCII bytes, so this cannot fail; the fallback
        // merely avoids a panic path.
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The name as bytes (the same bytes as [`DnsName::as_str`]).
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Length of the presentation form in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for the root name, whose presentation form is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Builds a name from dotted text such as a TLS SNI value or an HTTP `Host` header
    /// (without port).
    ///
    /// Each `.` separates labels and every other byte is label content, normalised like
    /// a name read off the wire (lower-cased, odd bytes escaped, so a literal `\` becomes
    /// `\092`). One trailing dot is allowed and dropped. Returns `None` for text that is
    /// not a usable host name: empty (or just `.`), an empty label (`a..b`, `.a`), a
    /// label over 63 bytes, a name over the 255-octet wire limit, or a presentation form
    /// that does not fit in [`MAX_NAME`] bytes.
    pub fn from_dotted(text: &[u8]) -> Option<DnsName> {
        let text = match text.split_last() {
            Some((b'.', rest)) => rest,
            _ => text,
        };
        if text.is_empty() {
            return None;
        }
        let mut name = DnsName::ROOT;
        let mut wire_len = 1; // terminating root label
        for label in text.split(|&b| b == b'.') {
            if label.is_empty() || label.len() > MAX_LABEL {
                return None;
            }
            wire_len += 1 + label.len();
            if wire_len > MAX_WIRE_NAME || !name.push_label(label) {
                return None;
            }
        }
        Some(name)
    }

    fn push(&mut self, byte: u8) -> bool {
        let at = usize::from(self.len);
        match self.buf.get_mut(at) {
            Some(slot) => {
                *slot = byte;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Appends one label (raw wire bytes), preceded by a dot unless it is the first.
    /// Returns false when the presentation form no longer fits; the name is then
    /// partially written and must be discarded.
    fn push_label(&mut self, label: &[u8]) -> bool {
        if self.len != 0 && !self.push(b'.') {
            return false;
        }
        for &raw in label {
            let b = raw.to_ascii_lowercase();
            let ok = if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' {
                self.push(b)
            } else {
                self.push(b'\\')
                    && self.push(b'0' + b / 100)
                    && self.push(b'0' + (b / 10) % 10)
                    && self.push(b'0' + b % 10)
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

impl Default for DnsName {
    fn default() -> Self {
        DnsName::ROOT
    }
}

impl PartialEq for DnsName {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for DnsName {}

impl PartialEq<str> for DnsName {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for DnsName {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialOrd for DnsName {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DnsName {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for DnsName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a DNS message could not be (fully) read.
///
/// Every `offset` is a byte offset into the message passed to [`parse_answers`].
/// Sink calls made before the error was hit stay valid: they are never retracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// The message ends inside the item (header, name, label, fixed fields or RDATA)
    /// that starts at `offset`.
    Truncated {
        /// Start of the item that runs past the end of the message.
        offset: usize,
    },
    /// The QR bit is clear: this is a query, which carries no answers.
    NotResponse,
    /// The label length octet at `offset` uses one of the reserved label types
    /// (top bits `01` or `10`: extended labels / bit strings, never deployed).
    BadLabel {
        /// Offset of the offending length octet.
        offset: usize,
    },
    /// The compression pointer at `offset` points at or after the start of the name
    /// piece that led to it, or is one jump too many ([`MAX_POINTER_JUMPS`]).
    PointerLoop {
        /// Offset of the offending pointer.
        offset: usize,
    },
    /// The name starting at `offset` exceeds 255 octets in wire format, or its
    /// presentation form (with escapes) does not fit in [`MAX_NAME`] bytes.
    NameTooLong {
        /// Offset where the name (its first label, not a pointer target) starts.
        offset: usize,
    },
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Truncated { offset } => write!(f, "DNS message truncated at offset {offset}"),
            DnsError::NotResponse => f.write_str("DNS message is a query, not a response"),
            DnsError::BadLabel { offset } => {
                write!(f, "reserved DNS label type at offset {offset}")
            }
            DnsError::PointerLoop { offset } => {
                write!(f, "DNS compression pointer loop at offset {offset}")
            }
            DnsError::NameTooLong { offset } => {
                write!(f, "DNS name at offset {offset} is too long")
            }
        }
    }
}

impl std::error::Error for DnsError {}

/// Reads a big-endian `u16` at `pos`, or reports truncation at `pos`.
fn read_u16(msg: &[u8], pos: usize) -> Result<u16, DnsError> {
    match msg.get(pos..pos.saturating_add(2)) {
        Some(&[hi, lo]) => Ok(u16::from_be_bytes([hi, lo])),
        _ => Err(DnsError::Truncated { offset: pos }),
    }
}

/// Decodes the (possibly compressed) name starting at `start`.
///
/// Returns the name and the offset just after the name *at its original position*
/// (after the terminating zero octet or after the first pointer).
fn read_name(msg: &[u8], start: usize) -> Result<(DnsName, usize), DnsError> {
    let mut name = DnsName::ROOT;
    let mut pos = start;
    // Offset after the name in place; set by the first pointer.
    let mut end_in_place: Option<usize> = None;
    // Every pointer must land strictly before the start of the piece it belongs to.
    let mut piece_start = start;
    let mut jumps = 0usize;
    let mut wire_len = 1usize; // terminating root label
    loop {
        let len_octet = *msg.get(pos).ok_or(DnsError::Truncated { offset: pos })?;
        match len_octet & 0xc0 {
            0x00 => {
                let len = usize::from(len_octet);
                if len == 0 {
                    return Ok((name, end_in_place.unwrap_or(pos + 1)));
                }
                let label = msg
                    .get(pos + 1..pos + 1 + len)
                    .ok_or(DnsError::Truncated { offset: pos })?;
                wire_len += 1 + len;
                if wire_len > MAX_WIRE_NAME || !name.push_label(label) {
                    return Err(DnsError::NameTooLong { offset: start });
                }
                pos += 1 + len;
            }
            0xc0 => {
                let low = *msg
                    .get(pos + 1)
                    .ok_or(DnsError::Truncated { offset: pos })?;
                let target = (usize::from(len_octet & 0x3f) << 8) | usize::from(low);
                if end_in_place.is_none() {
                    end_in_place = Some(pos + 2);
                }
                jumps += 1;
                if target >= piece_start || jumps > MAX_POINTER_JUMPS {
                    return Err(DnsError::PointerLoop { offset: pos });
                }
                piece_start = target;
                pos = target;
            }
            _ => return Err(DnsError::BadLabel { offset: pos }),
        }
    }
}

/// Steps over the name starting at `start` without decoding it or following pointers.
/// Returns the offset just after it.
fn skip_name(msg: &[u8], start: usize) -> Result<usize, DnsError> {
    let mut pos = start;
    let mut wire_len = 1usize;
    loop {
        let len_octet = *msg.get(pos).ok_or(DnsError::Truncated { offset: pos })?;
        match len_octet & 0xc0 {
            0x00 => {
                let len = usize::from(len_octet);
                if len == 0 {
                    return Ok(pos + 1);
                }
                wire_len += 1 + len;
                if wire_len > MAX_WIRE_NAME {
                    return Err(DnsError::NameTooLong { offset: start });
                }
                if msg.len() < pos + 1 + len {
                    return Err(DnsError::Truncated { offset: pos });
                }
                pos += 1 + len;
            }
            0xc0 => {
                if msg.len() < pos + 2 {
                    return Err(DnsError::Truncated { offset: pos });
                }
                return Ok(pos + 2);
            }
            _ => return Err(DnsError::BadLabel { offset: pos }),
        }
    }
}

/// The fixed part of a resource record, located in the message.
struct Record<'a> {
    /// Offset of the owner name.
    owner_at: usize,
    rtype: u16,
    class: u16,
    /// Offset of the RDATA.
    rdata_at: usize,
    rdata: &'a [u8],
}

/// Reads the resource record starting at `pos`; returns it and the offset after it.
/// Succeeds only if the whole record, RDATA included, lies inside `msg`.
fn read_record(msg: &[u8], pos: usize) -> Result<(Record<'_>, usize), DnsError> {
    let fixed_at = skip_name(msg, pos)?;
    // TYPE(2) CLASS(2) TTL(4) RDLENGTH(2)
    if msg.len() < fixed_at + 10 {
        return Err(DnsError::Truncated { offset: fixed_at });
    }
    let rtype = read_u16(msg, fixed_at)?;
    let class = read_u16(msg, fixed_at + 2)?;
    let rdlen = usize::from(read_u16(msg, fixed_at + 8)?);
    let rdata_at = fixed_at + 10;
    let rdata = msg
        .get(rdata_at..rdata_at + rdlen)
        .ok_or(DnsError::Truncated { offset: rdata_at })?;
    let record = Record {
        owner_at: pos,
        rtype,
        class,
        rdata_at,
        rdata,
    };
    Ok((record, rdata_at + rdlen))
}

/// The question name and the names it reaches through CNAME records of the answer
/// section, kept on the stack.
struct Chain {
    names: [DnsName; MAX_CNAME_CHAIN],
    len: usize,
}

impl Chain {
    fn contains(&self, name: &DnsName) -> bool {
        self.names.iter().take(self.len).any(|n| n == name)
    }

    fn push(&mut self, name: DnsName) -> bool {
        match self.names.get_mut(self.len) {
            Some(slot) => {
                *slot = name;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Follows CNAME records of the answer section (records `count`, starting at
    /// `answers_at`) from the question name. Records are taken in any order, so
    /// passes repeat until the chain stops growing. Anything unreadable ends a pass
    /// quietly: the chain is then a subset of the true one, which can only cost a
    /// question-name report, never produce a wrong one.
    fn follow(&mut self, msg: &[u8], answers_at: usize, count: u16) {
        loop {
            let before = self.len;
            let mut pos = answers_at;
            for _ in 0..count {
                let Ok((rr, next)) = read_record(msg, pos) else {
                    break;
                };
                pos = next;
                if rr.rtype != TYPE_CNAME || rr.class & CLASS_MASK != CLASS_IN {
                    continue;
                }
                let Ok((owner, _)) = read_name(msg, rr.owner_at) else {
                    continue;
                };
                if !self.contains(&owner) {
                    continue;
                }
                let Ok((target, target_end)) = read_name(msg, rr.rdata_at) else {
                    continue;
                };
                // The target must be exactly the RDATA, nothing more or less.
                if target_end != rr.rdata_at + rr.rdata.len() || self.contains(&target) {
                    continue;
                }
                if !self.push(target) {
                    return;
                }
            }
            if self.len == before {
                return;
            }
        }
    }
}

/// Calls `sink(name, addr)` for every A/AAAA answer: once with the record's owner name and, when the
/// question name differs (a CNAME chain), once more with the question name. Returns how many answers were reported.
///
/// `msg` is one whole DNS message: a UDP payload, or a TCP one with the 2-byte length
/// prefix already stripped. The return value counts address *records*, so the sink may
/// have been called up to twice as often.
///
/// Details:
///
/// * Only the answer section is reported. Only class IN records count (the mDNS
///   cache-flush bit is ignored), A with exactly 4 and AAAA with exactly 16 bytes of
///   RDATA; every other record, including A/AAAA with a bad RDATA length, is skipped.
/// * The question name is the first question's name; further questions are skipped.
///   Without a question there is only the owner-name report.
/// * The second, question-name report is made only when the owner is reached from the
///   question through CNAME records of the answer section (up to [`MAX_CNAME_CHAIN`]
///   names, in any record order). An address record for an unrelated name is reported
///   under its own owner only, so a stray or injected record is not pinned to the
///   name the client asked for.
/// * Responses whose opcode is not QUERY (0) return `Ok(0)` without calling the sink.
///
/// # Errors and truncation
///
/// Records are reported in message order, each as soon as it has been read completely,
/// so when an error is hit later (typically [`DnsError::Truncated`] for a capture cut
/// short) every answer before it **has already been passed to the sink** and the error
/// is returned as is: `Err` does not mean "nothing was reported". Callers that only
/// need the bindings can ignore the result. Nothing past the answer section is read,
/// so a message cut inside its authority or additional section returns `Ok`.
pub fn parse_answers(
    msg: &[u8],
    sink: &mut dyn FnMut(&DnsName, IpAddr),
) -> Result<usize, DnsError> {
    let header: &[u8; HEADER_LEN] = msg
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(DnsError::Truncated { offset: 0 })?;
    let flags = u16::from_be_bytes([header[2], header[3]]);
    if flags & 0x8000 == 0 {
        return Err(DnsError::NotResponse);
    }
    if (flags >> 11) & 0x0f != 0 {
        return Ok(0);
    }
    let qdcount = u16::from_be_bytes([header[4], header[5]]);
    let ancount = u16::from_be_bytes([header[6], header[7]]);

    let mut pos = HEADER_LEN;
    let mut question: Option<DnsName> = None;
    for i in 0..qdcount {
        if i == 0 {
            let (name, after) = read_name(msg, pos)?;
            question = Some(name);
            pos = after;
        } else {
            pos = skip_name(msg, pos)?;
        }
        // QTYPE(2) QCLASS(2)
        if msg.len() < pos + 4 {
            return Err(DnsError::Truncated { offset: pos });
        }
        pos += 4;
    }

    let mut chain = Chain {
        names: [DnsName::ROOT; MAX_CNAME_CHAIN],
        len: 0,
    };
    if let Some(q) = question {
        chain.push(q);
        chain.follow(msg, pos, ancount);
    }

    let mut reported = 0usize;
    for _ in 0..ancount {
        let (rr, next) = read_record(msg, pos)?;
        pos = next;
        if rr.class & CLASS_MASK != CLASS_IN {
            continue;
        }
        let addr = match rr.rtype {
            TYPE_A => match <[u8; 4]>::try_from(rr.rdata) {
                Ok(octets) => IpAddr::V4(Ipv4Addr::from(octets)),
                Err(_) => continue,
            },
            TYPE_AAAA => match <[u8; 16]>::try_from(rr.rdata) {
                Ok(octets) => IpAddr::V6(Ipv6Addr::from(octets)),
                Err(_) => continue,
            },
            _ => continue,
        };
        let (owner, _) = read_name(msg, rr.owner_at)?;
        sink(&owner, addr);
        if let Some(q) = &question {
            if *q != owner && chain.contains(&owner) {
                sink(q, addr);
            }
        }
        reported += 1;
    }
    Ok(reported)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Calls = Vec<(String, IpAddr)>;

    fn run(msg: &[u8]) -> (Result<usize, DnsError>, Calls) {
        let mut calls = Vec::new();
        let res = parse_answers(msg, &mut |n, a| calls.push((n.as_str().to_owned(), a)));
        (res, calls)
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn call(name: &str, addr: IpAddr) -> (String, IpAddr) {
        (name.to_owned(), addr)
    }

    /// Wire-format name, uncompressed.
    fn wire(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in name.split('.').filter(|l| !l.is_empty()) {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }

    fn header(flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
        let mut h = vec![0xbe, 0xef];
        for v in [flags, qd, an, ns, ar] {
            h.extend_from_slice(&v.to_be_bytes());
        }
        h
    }

    /// Appends a resource record with the given (already encoded) owner name.
    fn rr(out: &mut Vec<u8>, owner: &[u8], rtype: u16, class: u16, rdata: &[u8]) {
        out.extend_from_slice(owner);
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&class.to_be_bytes());
        out.extend_from_slice(&300u32.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    }

    /// A response for example.com A, written out byte by byte.
    const EXAMPLE_A: &[u8] = &[
        0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // header
        0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0x03, b'c', b'o', b'm', 0x00, // qname
        0x00, 0x01, 0x00, 0x01, // A IN
        0xc0, 0x0c, // owner -> qname
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04, // A IN ttl len
        93, 184, 216, 34,
    ];

    /// www.Example.COM -> CNAME edge.example.net -> CNAME e1.cdn.example.net -> 2 x A,
    /// then an AAAA, an authority NS and an additional A (glue) that must not be reported.
    fn cname_chain() -> Vec<u8> {
        let mut m = header(0x8180, 1, 5, 1, 1);
        m.extend_from_slice(&wire("www.Example.COM")); // at 12
        m.extend_from_slice(&[0, 1, 0, 1]);
        // CNAME www.example.com -> edge.example.net
        let edge_at = m.len() + 12; // rdata offset of the first record
        rr(
            &mut m,
            &[0xc0, 12],
            TYPE_CNAME,
            1,
            &wire("edge.example.net"),
        );
        // CNAME edge.example.net (pointer) -> e1.cdn + pointer to "example.net"
        let mut target = vec![2, b'e', b'1', 3, b'c', b'd', b'n', 0xc0];
        target.push((edge_at + 5) as u8); // skip "\x04edge"
        rr(&mut m, &[0xc0, edge_at as u8], TYPE_CNAME, 1, &target);
        let e1_at = m.len() - target.len();
        rr(&mut m, &[0xc0, e1_at as u8], TYPE_A, 1, &[198, 51, 100, 7]);
        rr(&mut m, &[0xc0, e1_at as u8], TYPE_A, 1, &[198, 51, 100, 8]);
        let v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets();
        rr(&mut m, &[0xc0, e1_at as u8], TYPE_AAAA, 1, &v6);
        // authority + additional
        rr(&mut m, &[0xc0, 12 + 4], 2, 1, &wire("ns1.example.com"));
        rr(
            &mut m,
            &wire("ns1.example.com"),
            TYPE_A,
            1,
            &[192, 0, 2, 53],
        );
        assert!(m.len() < 256, "single-byte pointers above");
        m
    }

    fn cname_chain_expected() -> Calls {
        let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        vec![
            call("e1.cdn.example.net", v4(198, 51, 100, 7)),
            call("www.example.com", v4(198, 51, 100, 7)),
            call("e1.cdn.example.net", v4(198, 51, 100, 8)),
            call("www.example.com", v4(198, 51, 100, 8)),
            call("e1.cdn.example.net", v6),
            call("www.example.com", v6),
        ]
    }

    /// Offset where the answer section of `cname_chain()` ends.
    fn cname_chain_answers_end(m: &[u8]) -> usize {
        let mut pos = 12;
        pos = skip_name(m, pos).unwrap() + 4;
        for _ in 0..5 {
            pos = read_record(m, pos).unwrap().1;
        }
        pos
    }

    #[test]
    fn single_a_record() {
        let (res, calls) = run(EXAMPLE_A);
        assert_eq!(res, Ok(1));
        assert_eq!(calls, vec![call("example.com", v4(93, 184, 216, 34))]);
    }

    #[test]
    fn aaaa_record_uncompressed_owner() {
        let mut m = header(0x8180, 1, 1, 0, 0);
        m.extend_from_slice(&wire("ipv6.google.com"));
        m.extend_from_slice(&[0, 28, 0, 1]);
        let addr = Ipv6Addr::new(0x2a00, 0x1450, 0x4001, 0x80b, 0, 0, 0, 0x200e);
        rr(
            &mut m,
            &wire("IPv6.Google.Com"),
            TYPE_AAAA,
            1,
            &addr.octets(),
        );
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(1));
        assert_eq!(calls, vec![call("ipv6.google.com", IpAddr::V6(addr))]);
    }

    #[test]
    fn cname_chain_reports_owner_and_question() {
        let m = cname_chain();
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(3));
        assert_eq!(calls, cname_chain_expected());
    }

    #[test]
    fn cname_after_address_record_still_links_question() {
        let mut m = header(0x8180, 1, 2, 0, 0);
        m.extend_from_slice(&wire("a.example"));
        m.extend_from_slice(&[0, 1, 0, 1]);
        rr(&mut m, &wire("b.example"), TYPE_A, 1, &[10, 0, 0, 1]);
        rr(&mut m, &[0xc0, 12], TYPE_CNAME, 1, &wire("b.example"));
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(1));
        assert_eq!(
            calls,
            vec![
                call("b.example", v4(10, 0, 0, 1)),
                call("a.example", v4(10, 0, 0, 1))
            ]
        );
    }

    #[test]
    fn unrelated_owner_is_not_pinned_to_question() {
        let mut m = header(0x8180, 1, 2, 0, 0);
        m.extend_from_slice(&wire("bank.example"));
        m.extend_from_slice(&[0, 1, 0, 1]);
        rr(&mut m, &[0xc0, 12], TYPE_A, 1, &[192, 0, 2, 1]);
        rr(&mut m, &wire("evil.example"), TYPE_A, 1, &[203, 0, 113, 9]);
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(2));
        assert_eq!(
            calls,
            vec![
                call("bank.example", v4(192, 0, 2, 1)),
                call("evil.example", v4(203, 0, 113, 9))
            ]
        );
    }

    #[test]
    fn cname_chain_longer_than_limit_is_cut() {
        // q -> n1 -> n2 -> ... -> n20, A on n20 (and on n5).
        let mut m = header(0x8180, 1, 22, 0, 0);
        m.extend_from_slice(&wire("q.example"));
        m.extend_from_slice(&[0, 1, 0, 1]);
        let mut prev = "q.example".to_owned();
        for i in 1..=20 {
            let next = format!("n{i}.example");
            rr(&mut m, &wire(&prev), TYPE_CNAME, 1, &wire(&next));
            prev = next;
        }
        rr(&mut m, &wire("n20.example"), TYPE_A, 1, &[10, 0, 0, 20]);
        rr(&mut m, &wire("n5.example"), TYPE_A, 1, &[10, 0, 0, 5]);
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(2));
        assert_eq!(
            calls,
            vec![
                call("n20.example", v4(10, 0, 0, 20)),
                call("n5.example", v4(10, 0, 0, 5)),
                call("q.example", v4(10, 0, 0, 5)),
            ]
        );
    }

    #[test]
    fn cname_cycle_terminates() {
        let mut m = header(0x8180, 1, 3, 0, 0);
        m.extend_from_slice(&wire("a.example"));
        m.extend_from_slice(&[0, 1, 0, 1]);
        rr(
            &mut m,
            &wire("a.example"),
            TYPE_CNAME,
            1,
            &wire("b.example"),
        );
        rr(
            &mut m,
            &wire("b.example"),
            TYPE_CNAME,
            1,
            &wire("a.example"),
        );
        rr(&mut m, &wire("b.example"), TYPE_A, 1, &[10, 9, 9, 9]);
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(1));
        assert_eq!(calls.len(), 2);
    }

    #[test]
    fn compression_pointer_to_pointer_and_suffix() {
        // Question "mail.example.org" at 12. Answer 1 CNAME: owner = pointer, target =
        // "smtp" + pointer to "example.org" (offset 17). Answer 2 A: owner = pointer
        // to answer 1's target, which itself ends in a pointer.
        let mut m = header(0x8180, 1, 2, 0, 0);
        m.extend_from_slice(&wire("mail.example.org"));
        m.extend_from_slice(&[0, 1, 0, 1]);
        let target = [4, b's', b'm', b't', b'p', 0xc0, 17];
        rr(&mut m, &[0xc0, 12], TYPE_CNAME, 1, &target);
        let target_at = (m.len() - target.len()) as u8;
        rr(&mut m, &[0xc0, target_at], TYPE_A, 1, &[192, 0, 2, 25]);
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(1));
        assert_eq!(
            calls,
            vec![
                call("smtp.example.org", v4(192, 0, 2, 25)),
                call("mail.example.org", v4(192, 0, 2, 25))
            ]
        );
    }

    #[test]
    fn pointer_with_high_offset_bits() {
        // The real question first, then 69 padding questions (root name, 5 bytes each)
        // so that the message grows past offset 255 and pointers need both bytes.
        let mut m = header(0x8180, 70, 2, 0, 0);
        m.extend_from_slice(&wire("far.example"));
        m.extend_from_slice(&[0, 1, 0, 1]);
        for _ in 0..69 {
            m.extend_from_slice(&[0, 0, 1, 0, 1]);
        }
        let last_root = m.len() - 5;
        assert!(last_root > 255);
        // Owner "x" + pointer to the question; then an owner pointing past 255.
        rr(&mut m, &[1, b'x', 0xc0, 12], TYPE_A, 1, &[10, 1, 1, 1]);
        let far_owner = m.len();
        let p = 0xc000 | last_root as u16;
        rr(&mut m, &p.to_be_bytes(), TYPE_A, 1, &[10, 2, 2, 2]);
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(2));
        assert_eq!(
            calls,
            vec![
                call("x.far.example", v4(10, 1, 1, 1)),
                call("", v4(10, 2, 2, 2))
            ]
        );
        // A pointer into the future (its own position + 1) is still a loop.
        let mut bad = m.clone();
        let p = 0xc000 | (far_owner as u16 + 1);
        bad[far_owner..far_owner + 2].copy_from_slice(&p.to_be_bytes());
        assert_eq!(
            run(&bad).0,
            Err(DnsError::PointerLoop { offset: far_owner })
        );
    }

    #[test]
    fn skips_other_types_classes_and_bad_rdata_lengths() {
        let mut m = header(0x8180, 1, 7, 0, 0);
        m.extend_from_slice(&wire("example.com"));
        m.extend_from_slice(&[0, 15, 0, 1]);
        rr(
            &mut m,
            &[0xc0, 12],
            15,
            1,
            &[0, 10, 4, b'm', b'a', b'i', b'l', 0xc0, 12],
        );
        rr(&mut m, &[0xc0, 12], 16, 1, b"\x0bv=spf1 -all");
        rr(&mut m, &[0xc0, 12], TYPE_A, 3, &[1, 2, 3, 4]); // class CH
        rr(&mut m, &[0xc0, 12], TYPE_A, 1, &[1, 2, 3, 4, 5]); // bad length
        rr(&mut m, &[0xc0, 12], TYPE_AAAA, 1, &[0; 4]); // bad length
        rr(&mut m, &[0xc0, 12], 46, 1, &[0xaa; 40]); // RRSIG-ish blob
        rr(&mut m, &[0xc0, 12], TYPE_A, 1, &[192, 0, 2, 80]);
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(1));
        assert_eq!(calls, vec![call("example.com", v4(192, 0, 2, 80))]);
    }

    #[test]
    fn mdns_cache_flush_class_and_no_question() {
        let mut m = header(0x8400, 0, 1, 0, 0);
        rr(
            &mut m,
            &wire("printer.local"),
            TYPE_A,
            0x8001,
            &[169, 254, 1, 2],
        );
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(1));
        assert_eq!(calls, vec![call("printer.local", v4(169, 254, 1, 2))]);
    }

    #[test]
    fn several_questions_use_the_first() {
        let mut m = header(0x8180, 3, 1, 0, 0);
        m.extend_from_slice(&wire("first.example"));
        m.extend_from_slice(&[0, 1, 0, 1]);
        m.extend_from_slice(&[6, b's', b'e', b'c', b'o', b'n', b'd', 0xc0, 18]);
        m.extend_from_slice(&[0, 1, 0, 1]);
        m.extend_from_slice(&wire("third.example"));
        m.extend_from_slice(&[0, 28, 0, 1]);
        rr(&mut m, &[0xc0, 12], TYPE_A, 1, &[10, 3, 3, 3]);
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(1));
        assert_eq!(calls, vec![call("first.example", v4(10, 3, 3, 3))]);
    }

    #[test]
    fn query_is_rejected_and_other_opcodes_report_nothing() {
        let mut q = EXAMPLE_A.to_vec();
        q[2] &= 0x7f;
        assert_eq!(run(&q), (Err(DnsError::NotResponse), vec![]));
        let mut notify = EXAMPLE_A.to_vec();
        notify[2] = 0x80 | (4 << 3); // QR + opcode NOTIFY
        assert_eq!(run(&notify), (Ok(0), vec![]));
    }

    #[test]
    fn nxdomain_without_answers() {
        let mut m = header(0x8183, 1, 0, 1, 0);
        m.extend_from_slice(&wire("nope.example"));
        m.extend_from_slice(&[0, 1, 0, 1]);
        rr(&mut m, &[0xc0, 17], 6, 1, &[0; 22]);
        assert_eq!(run(&m), (Ok(0), vec![]));
    }

    #[test]
    fn odd_label_bytes_are_escaped() {
        let mut m = header(0x8180, 0, 1, 0, 0);
        let owner = [
            5, b'A', b' ', b'.', b'\\', 0xff, 4, b'_', b'x', b'-', b'9',
            0, // "A .\\\xff" "_x-9"
        ];
        rr(&mut m, &owner, TYPE_A, 1, &[10, 0, 0, 1]);
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(1));
        assert_eq!(calls[0].0, "a\\032\\046\\092\\255._x-9");
    }

    #[test]
    fn root_owner_is_empty_name() {
        let mut m = header(0x8180, 0, 1, 0, 0);
        rr(&mut m, &[0], TYPE_A, 1, &[10, 0, 0, 1]);
        assert_eq!(run(&m), (Ok(1), vec![call("", v4(10, 0, 0, 1))]));
    }

    #[test]
    fn pointer_to_itself_is_a_loop() {
        let mut m = header(0x8180, 1, 0, 0, 0);
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(run(&m).0, Err(DnsError::PointerLoop { offset: 12 }));
    }

    #[test]
    fn forward_pointer_is_rejected() {
        let mut m = header(0x8180, 1, 0, 0, 0);
        m.extend_from_slice(&[0xc0, 14, 0, 0, 1, 0, 1]);
        assert_eq!(run(&m).0, Err(DnsError::PointerLoop { offset: 12 }));
    }

    #[test]
    fn label_then_pointer_back_to_it_is_a_loop() {
        // "a" then a pointer to the "a" label: backwards in the message but it would
        // revisit the same bytes forever.
        let mut m = header(0x8180, 1, 0, 0, 0);
        m.extend_from_slice(&[1, b'a', 0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(run(&m).0, Err(DnsError::PointerLoop { offset: 14 }));
    }

    #[test]
    fn mutual_pointers_in_answers_are_a_loop() {
        // Two owner names pointing at each other.
        let mut m = header(0x8180, 0, 2, 0, 0);
        rr(&mut m, &[0xc0, 28], TYPE_A, 1, &[10, 0, 0, 1]); // points forward
        rr(&mut m, &[0xc0, 12], TYPE_A, 1, &[10, 0, 0, 2]); // points back
        assert_eq!(run(&m).0, Err(DnsError::PointerLoop { offset: 12 }));
    }

    /// A message whose first answer (a skipped TXT record) carries `count` chained
    /// backward pointers ending at a root label, and whose second answer is an A
    /// record owned by the last pointer of the chain.
    fn pointer_chain(count: usize) -> Vec<u8> {
        let mut msg = header(0x8180, 0, 2, 0, 0);
        let rdata_at = 12 + 1 + 10;
        let mut chain = vec![0u8];
        let mut prev = rdata_at as u16;
        for _ in 0..count {
            let at = (rdata_at + chain.len()) as u16;
            chain.extend_from_slice(&(0xc000 | prev).to_be_bytes());
            prev = at;
        }
        rr(&mut msg, &[0], 16, 1, &chain);
        rr(
            &mut msg,
            &(0xc000 | prev).to_be_bytes(),
            TYPE_A,
            1,
            &[10, 0, 0, 1],
        );
        msg
    }

    #[test]
    fn too_many_backward_jumps_is_a_loop() {
        // Strictly backwards every time, but more jumps than any legal name needs.
        let (res, calls) = run(&pointer_chain(200));
        assert!(calls.is_empty());
        assert!(matches!(res, Err(DnsError::PointerLoop { .. })), "{res:?}");
    }

    #[test]
    fn legal_number_of_jumps_is_fine() {
        assert_eq!(
            run(&pointer_chain(MAX_POINTER_JUMPS - 1)),
            (Ok(1), vec![call("", v4(10, 0, 0, 1))])
        );
    }

    #[test]
    fn reserved_label_types_are_rejected() {
        for bad in [0x40u8, 0x80] {
            let mut m = header(0x8180, 1, 0, 0, 0);
            m.extend_from_slice(&[bad, 0, 0, 1, 0, 1]);
            assert_eq!(run(&m).0, Err(DnsError::BadLabel { offset: 12 }));
        }
        // Also in a skipped (non-first) question and in an answer owner.
        let mut m = header(0x8180, 0, 1, 0, 0);
        rr(&mut m, &[0x41, 0], TYPE_A, 1, &[10, 0, 0, 1]);
        assert_eq!(run(&m).0, Err(DnsError::BadLabel { offset: 12 }));
    }

    #[test]
    fn overlong_names_are_rejected() {
        let label = [b'a'; 63];
        let mut name = Vec::new();
        for _ in 0..4 {
            name.push(63);
            name.extend_from_slice(&label);
        }
        name.push(0); // 4 * 64 + 1 = 257 octets
        let mut m = header(0x8180, 1, 0, 0, 0);
        m.extend_from_slice(&name);
        m.extend_from_slice(&[0, 1, 0, 1]);
        assert_eq!(run(&m).0, Err(DnsError::NameTooLong { offset: 12 }));

        // Also when the overflow happens across a pointer.
        let mut m = header(0x8180, 1, 1, 0, 0);
        let mut q = Vec::new();
        for _ in 0..3 {
            q.push(63);
            q.extend_from_slice(&label);
        }
        q.push(0); // 193 octets: fine
        m.extend_from_slice(&q);
        m.extend_from_slice(&[0, 1, 0, 1]);
        let mut owner = vec![62];
        owner.extend_from_slice(&[b'b'; 62]);
        owner.extend_from_slice(&[0xc0, 12]); // 63 + 193 = 256 octets
        rr(&mut m, &owner, TYPE_A, 1, &[10, 0, 0, 1]);
        let owner_at = 12 + q.len() + 4;
        assert_eq!(run(&m).0, Err(DnsError::NameTooLong { offset: owner_at }));

        // Escapes that do not fit the presentation buffer.
        let mut m = header(0x8180, 1, 0, 0, 0);
        m.extend_from_slice(&[63]);
        m.extend_from_slice(&[b' '; 63]); // 252 presentation bytes
        m.extend_from_slice(&[1, b'!', 0, 0, 1, 0, 1]); // + ".\033" = 257
        assert_eq!(run(&m).0, Err(DnsError::NameTooLong { offset: 12 }));
    }

    #[test]
    fn longest_legal_name_fits() {
        // 253 presentation characters: 63.63.63.61
        let mut m = header(0x8180, 1, 1, 0, 0);
        let mut expect = String::new();
        for (i, n) in [63usize, 63, 63, 61].into_iter().enumerate() {
            let c = b'a' + i as u8;
            m.push(n as u8);
            m.extend_from_slice(&vec![c; n]);
            if !expect.is_empty() {
                expect.push('.');
            }
            expect.push_str(&(c as char).to_string().repeat(n));
        }
        m.push(0);
        m.extend_from_slice(&[0, 1, 0, 1]);
        rr(&mut m, &[0xc0, 12], TYPE_A, 1, &[10, 0, 0, 1]);
        let (res, calls) = run(&m);
        assert_eq!(res, Ok(1));
        assert_eq!(calls[0].0.len(), 253);
        assert_eq!(calls[0].0, expect);
    }

    #[test]
    fn short_header() {
        for len in 0..12 {
            assert_eq!(
                run(&EXAMPLE_A[..len]),
                (Err(DnsError::Truncated { offset: 0 }), vec![])
            );
        }
    }

    #[test]
    fn answer_count_larger_than_message() {
        let mut m = EXAMPLE_A.to_vec();
        m[7] = 2;
        let (res, calls) = run(&m);
        assert_eq!(res, Err(DnsError::Truncated { offset: m.len() }));
        assert_eq!(calls, vec![call("example.com", v4(93, 184, 216, 34))]);
    }

    /// Truncating a valid message anywhere never panics and never reports anything but
    /// a prefix of the full message's reports.
    fn check_every_truncation(m: &[u8], expected: &Calls, answers_end: usize) {
        for len in 0..=m.len() {
            let (res, calls) = run(&m[..len]);
            assert!(
                expected.starts_with(&calls),
                "len {len}: {calls:?} is not a prefix of {expected:?}"
            );
            if len < answers_end {
                assert!(
                    matches!(res, Err(DnsError::Truncated { .. })),
                    "len {len}: {res:?}"
                );
                if let Err(DnsError::Truncated { offset }) = res {
                    assert!(offset <= len, "len {len}: offset {offset}");
                }
            } else {
                assert_eq!(calls, *expected, "len {len}");
                assert!(res.is_ok(), "len {len}: {res:?}");
            }
        }
    }

    #[test]
    fn every_truncation_of_simple_answer() {
        let expected = vec![call("example.com", v4(93, 184, 216, 34))];
        check_every_truncation(EXAMPLE_A, &expected, EXAMPLE_A.len());
    }

    #[test]
    fn every_truncation_of_cname_chain() {
        let m = cname_chain();
        let end = cname_chain_answers_end(&m);
        assert!(end < m.len());
        check_every_truncation(&m, &cname_chain_expected(), end);
        // Cut exactly after the first A record: that answer and its question
        // report are in, the rest is not.
        let first_a_end = {
            let mut pos = skip_name(&m, 12).unwrap() + 4;
            for _ in 0..3 {
                pos = read_record(&m, pos).unwrap().1;
            }
            pos
        };
        let (res, calls) = run(&m[..first_a_end]);
        assert_eq!(
            res,
            Err(DnsError::Truncated {
                offset: first_a_end
            })
        );
        assert_eq!(calls, cname_chain_expected()[..2].to_vec());
    }

    #[test]
    fn dns_name_from_dotted() {
        let n = DnsName::from_dotted(b"WWW.Example.com.").unwrap();
        assert_eq!(n, "www.example.com");
        assert_eq!(n.len(), 15);
        assert!(!n.is_empty());
        assert_eq!(format!("{n}"), "www.example.com");
        assert_eq!(format!("{n:?}"), "\"www.example.com\"");
        assert_eq!(DnsName::from_dotted(b"a b\\").unwrap(), "a\\032b\\092");
        for bad in [&b""[..], b".", b"..", b"a..b", b".a", b"a.b..", &[b'x'; 64]] {
            assert!(DnsName::from_dotted(bad).is_none(), "{bad:?}");
        }
        assert!(DnsName::from_dotted(&[b'x'; 63]).is_some());
        // 4 labels of 63: 257 wire octets.
        let long = [[b'a'; 63]; 4].join(&b'.');
        assert!(DnsName::from_dotted(&long).is_none());
        let ok = [&[b'a'; 63][..], &[b'a'; 63], &[b'a'; 63], &[b'a'; 61]].join(&b'.');
        assert_eq!(DnsName::from_dotted(&ok).unwrap().len(), 253);
        assert!(DnsName::ROOT.is_empty());
        assert_eq!(DnsName::default(), DnsName::ROOT);
        assert!(DnsName::from_dotted(b"a.example") < DnsName::from_dotted(b"b.example"));
    }

    #[test]
    fn errors_display() {
        assert_eq!(
            DnsError::Truncated { offset: 7 }.to_string(),
            "DNS message truncated at offset 7"
        );
        assert!(!DnsError::NotResponse.to_string().is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let (_, calls) = run(&bytes);
            for (name, _) in &calls {
                prop_assert!(name.len() <= MAX_NAME);
                prop_assert!(name.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit() || b"-_.\\".contains(&b)));
            }
        }

        #[test]
        fn arbitrary_bytes_after_response_header(
            body in proptest::collection::vec(any::<u8>(), 0..600),
            qd in 0u16..4, an in 0u16..8,
        ) {
            let mut m = header(0x8180, qd, an, 0, 0);
            m.extend_from_slice(&body);
            let (res, calls) = run(&m);
            if let Ok(n) = res {
                prop_assert!(calls.len() >= n && calls.len() <= 2 * n);
            }
        }

        #[test]
        fn mutated_valid_message_never_panics(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut m = cname_chain();
            for (at, v) in flips {
                let i = at.index(m.len());
                m[i] = v;
            }
            let len = cut.index(m.len() + 1);
            let _ = run(&m[..len]);
        }
    }
}
