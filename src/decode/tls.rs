//! Reading the server name and offered protocol version out of a TLS ClientHello.
//!
//! # Why this exists
//!
//! Almost all traffic an audit sees is TLS, and the only cleartext hint of *which* service
//! a TLS flow talks to is the ClientHello's Server Name Indication. The ClientHello also
//! tells which protocol versions the client is willing to speak, which is what a policy
//! about "no TLS below 1.2" needs. [`parse_client_hello`] extracts exactly those two facts
//! from the first TCP segment of a flow; [`looks_like_client_hello`] is the cheap filter
//! to run before it on every first segment.
//!
//! # What this is not
//!
//! Not a TLS dissector and not a fingerprinter: cipher suites, groups, ALPN and the other
//! extensions are stepped over unread, no ServerHello or later message is looked at, SSLv2
//! hellos are not recognised, and a ClientHello split across several TLS records or TCP
//! segments is read only up to the end of the first record in the first segment.
//!
//! # Partial input
//!
//! The first segment of a flow often does not hold the whole hello (post-quantum key
//! shares alone are over 1 KiB, and browsers shuffle the extension order, so the SNI may
//! come after them). Once the fixed start of the hello (up to `legacy_version`) is present,
//! a hello cut short is not an error: [`parse_client_hello`] returns what it saw, with
//! [`ClientHello::complete`] false. Each piece of information is taken only when the whole
//! structure carrying it is present, so a cut can lose facts but never distort one.
//!
//! # Robustness rules
//!
//! Input is attacker-controlled packet data: no allocation, no panics (every read is
//! bounds-checked through a small cursor), and every length field is checked against
//! the structure that encloses it, so inconsistent lengths are reported as
//! [`TlsError::Malformed`] instead of being followed.

use super::dns::DnsName;
use core::fmt;

/// TLS record content type of handshake messages.
const CONTENT_HANDSHAKE: u8 = 0x16;
/// Handshake message type of ClientHello.
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// Largest TLSPlaintext fragment (RFC 8446 section 5.1, RFC 5246 section 6.2.1).
const MAX_RECORD_LEN: usize = 1 << 14;
/// Record header: type(1) version(2) length(2).
const RECORD_HEADER_LEN: usize = 5;
/// Smallest possible ClientHello body: version(2) random(32) session_id(1) cipher
/// suites(2 + 2) compression methods(1 + 1).
const MIN_HELLO_BODY: usize = 2 + 32 + 1 + 4 + 2;

const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const SERVER_NAME_HOST_NAME: u8 = 0;

/// What was learned from a ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHello {
    /// The first `host_name` entry of the server_name extension (0), normalised like a
    /// DNS name (lower-cased, trailing dot dropped, odd bytes escaped; see
    /// [`DnsName::from_dotted`]). `None` when the extension is absent, has no
    /// `host_name` entry, or was not (entirely) inside the captured bytes; tell the
    /// cases apart with [`ClientHello::sni_is_final`].
    pub sni: Option<DnsName>,
    /// Highest version offered: max(legacy_version, supported_versions ext) as the u16 wire code (0x0301 = TLS1.0, 0x0302 = 1.1, 0x0303 = 1.2, 0x0304 = 1.3), ignoring GREASE values (0x?a?a)
    ///
    /// From supported_versions only `0x03xx` codes count: GREASE, pre-standard TLS 1.3
    /// drafts (`0x7fxx`) and other experimental codes are ignored. When
    /// [`ClientHello::versions_seen`] is false this is just `legacy_version`.
    pub max_version: u16,
    /// The supported_versions extension (43) was present and read completely, so
    /// [`ClientHello::max_version`] includes its list. False both for hellos without
    /// the extension (TLS 1.2 and older clients) and for hellos cut before it; see
    /// [`ClientHello::max_version_is_final`].
    pub versions_seen: bool,
    /// The whole handshake message was inside the payload (and inside its first TLS
    /// record), so nothing above can change with more data.
    pub complete: bool,
}

impl ClientHello {
    /// True when [`ClientHello::max_version`] cannot change with more data: the hello
    /// was complete, or its supported_versions extension was read.
    pub fn max_version_is_final(&self) -> bool {
        self.complete || self.versions_seen
    }

    /// True when [`ClientHello::sni`] cannot change with more data: the hello was
    /// complete, or a server name was found.
    pub fn sni_is_final(&self) -> bool {
        self.complete || self.sni.is_some()
    }
}

/// Why a payload could not be read as a ClientHello.
///
/// Every `offset` is a byte offset into the payload given to [`parse_client_hello`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsError {
    /// The payload does not start with a TLS handshake record header (content type
    /// 0x16, record version 0x0300..=0x0304).
    NotHandshake,
    /// A handshake record, but its first message is not a ClientHello.
    NotClientHello,
    /// The payload ends before `legacy_version`, the least needed to report anything;
    /// `offset` is where the missing field starts. (A hello cut later is returned as
    /// `Ok` with [`ClientHello::complete`] false.)
    Truncated {
        /// Start of the field that runs past the end of the payload.
        offset: usize,
    },
    /// A length field at `offset` is impossible (a zero or oversized record, a
    /// hello too short for its fixed fields, an inner length that overruns the
    /// structure around it, an invalid server name, bytes left over, ...).
    Malformed {
        /// Start of the offending field or structure.
        offset: usize,
    },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::NotHandshake => f.write_str("not a TLS handshake record"),
            TlsError::NotClientHello => f.write_str("TLS handshake is not a ClientHello"),
            TlsError::Truncated { offset } => {
                write!(f, "TLS ClientHello truncated at offset {offset}")
            }
            TlsError::Malformed { offset } => {
                write!(f, "malformed TLS ClientHello at offset {offset}")
            }
        }
    }
}

impl std::error::Error for TlsError {}

/// Cheap pre-check for the hot path: does this payload start like a TLS handshake record carrying a ClientHello (0x16, 0x03 0x00..=0x04, ..., type 1)?
///
/// Looks at six bytes and nothing else: a `true` here can still be answered by an error
/// from [`parse_client_hello`], but a `false` means that it would fail too.
pub fn looks_like_client_hello(payload: &[u8]) -> bool {
    matches!(
        payload,
        [
            CONTENT_HANDSHAKE,
            0x03,
            0x00..=0x04,
            _,
            _,
            HANDSHAKE_CLIENT_HELLO,
            ..
        ]
    )
}

/// GREASE code points (RFC 8701): `0x0a0a`, `0x1a1a`, ..., `0xfafa`.
fn is_grease(v: u16) -> bool {
    let [hi, lo] = v.to_be_bytes();
    hi == lo && lo & 0x0f == 0x0a
}

/// Bounds-checked reader over the captured bytes (`data`) of a structure whose declared
/// extent ends at `end` (which may lie beyond `data` when the capture is cut short).
/// Offsets are absolute positions in the payload.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Cursor<'a> {
    /// Declares the next `len` bytes: fails with `Malformed` if they overrun the
    /// declared extent, otherwise advances and returns the start offset. The bytes
    /// themselves need not be present.
    fn declare(&mut self, len: usize) -> Result<usize, TlsError> {
        let start = self.pos;
        match start.checked_add(len) {
            Some(stop) if stop <= self.end => {
                self.pos = stop;
                Ok(start)
            }
            _ => Err(TlsError::Malformed { offset: start }),
        }
    }

    /// Takes the next `len` bytes, which must be declared and present.
    fn take(&mut self, len: usize) -> Result<&'a [u8], TlsError> {
        let start = self.declare(len)?;
        match self.data.get(start..self.pos) {
            Some(bytes) => Ok(bytes),
            None => {
                self.pos = start;
                Err(TlsError::Truncated { offset: start })
            }
        }
    }

    fn u8(&mut self) -> Result<u8, TlsError> {
        match self.take(1)? {
            &[b] => Ok(b),
            _ => Err(TlsError::Malformed { offset: self.pos }),
        }
    }

    fn u16(&mut self) -> Result<u16, TlsError> {
        match self.take(2)? {
            &[a, b] => Ok(u16::from_be_bytes([a, b])),
            _ => Err(TlsError::Malformed { offset: self.pos }),
        }
    }

    fn u24(&mut self) -> Result<usize, TlsError> {
        match self.take(3)? {
            &[a, b, c] => Ok((usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c)),
            _ => Err(TlsError::Malformed { offset: self.pos }),
        }
    }

    /// A cursor over the next `len` bytes (a length-prefixed vector or extension body);
    /// this cursor moves past them.
    fn sub(&mut self, len: usize) -> Result<Cursor<'a>, TlsError> {
        let start = self.declare(len)?;
        Ok(Cursor {
            data: self.data,
            pos: start,
            end: self.pos,
        })
    }

    /// Steps over the next `len` bytes, which must be declared and present.
    fn skip(&mut self, len: usize) -> Result<(), TlsError> {
        self.take(len).map(|_| ())
    }

    fn at_end(&self) -> bool {
        self.pos == self.end
    }
}

/// Parses a TLS ClientHello at the start of a TCP payload (first segment only; it may be
/// cut short: what is present is reported).
///
/// Returns `Err` when the payload is not a TLS handshake record starting a ClientHello,
/// when it ends before the hello's `legacy_version`, or when a length field is
/// inconsistent. From `legacy_version` on, a payload that simply ends early gives `Ok`
/// with `complete: false` and whatever was fully seen before the cut (see the
/// [module docs](self)). A hello longer than its first record (fragmented over several
/// records) is treated the same way: it is read up to the end of that record and never
/// reported complete.
pub fn parse_client_hello(payload: &[u8]) -> Result<ClientHello, TlsError> {
    let mut rec = Cursor {
        data: payload,
        pos: 0,
        end: usize::MAX,
    };
    if rec.u8()? != CONTENT_HANDSHAKE {
        return Err(TlsError::NotHandshake);
    }
    if !matches!(rec.u16()?, 0x0300..=0x0304) {
        return Err(TlsError::NotHandshake);
    }
    let record_len = usize::from(rec.u16()?);
    if record_len == 0 || record_len > MAX_RECORD_LEN {
        return Err(TlsError::Malformed { offset: 3 });
    }
    // Everything from here on lives in the first record: only its bytes are read.
    let record_end = RECORD_HEADER_LEN + record_len;
    let data = payload.get(..record_end).unwrap_or(payload);
    // The handshake message may legitimately continue in later records, so its
    // declared end is not bounded by the record; only the bytes read are.
    let mut hs = Cursor {
        data,
        pos: RECORD_HEADER_LEN,
        end: usize::MAX,
    };
    if hs.u8()? != HANDSHAKE_CLIENT_HELLO {
        return Err(TlsError::NotClientHello);
    }
    let hello_len = hs.u24()?;
    if hello_len < MIN_HELLO_BODY {
        return Err(TlsError::Malformed {
            offset: RECORD_HEADER_LEN + 1,
        });
    }
    let body_end = hs.pos + hello_len;
    let mut body = Cursor {
        data,
        pos: hs.pos,
        end: body_end,
    };
    let legacy_version = body.u16()?;

    let mut hello = ClientHello {
        sni: None,
        max_version: legacy_version,
        versions_seen: false,
        complete: false,
    };
    match read_hello_rest(&mut body, &mut hello) {
        Ok(()) => hello.complete = body_end <= data.len(),
        Err(TlsError::Truncated { .. }) => {}
        Err(e) => return Err(e),
    }
    Ok(hello)
}

/// Reads the ClientHello after `legacy_version`, filling in `hello` as facts become
/// certain. A `Truncated` error leaves `hello` holding everything seen before the cut.
fn read_hello_rest(body: &mut Cursor<'_>, hello: &mut ClientHello) -> Result<(), TlsError> {
    body.skip(32)?; // random
    let session_id_at = body.pos;
    let session_id_len = usize::from(body.u8()?);
    if session_id_len > 32 {
        return Err(TlsError::Malformed {
            offset: session_id_at,
        });
    }
    body.skip(session_id_len)?;
    let suites_at = body.pos;
    let suites_len = usize::from(body.u16()?);
    if suites_len == 0 || suites_len % 2 != 0 {
        return Err(TlsError::Malformed { offset: suites_at });
    }
    body.skip(suites_len)?;
    let compression_at = body.pos;
    let compression_len = usize::from(body.u8()?);
    if compression_len == 0 {
        return Err(TlsError::Malformed {
            offset: compression_at,
        });
    }
    body.skip(compression_len)?;
    if body.at_end() {
        // Hellos of TLS 1.2 and older may end here, without an extensions block.
        return Ok(());
    }
    let extensions_len = usize::from(body.u16()?);
    let mut exts = body.sub(extensions_len)?;
    if !body.at_end() {
        return Err(TlsError::Malformed { offset: body.pos });
    }
    while !exts.at_end() {
        let ext_type = exts.u16()?;
        let ext_len = usize::from(exts.u16()?);
        let mut ext = exts.sub(ext_len)?;
        match ext_type {
            EXT_SERVER_NAME if hello.sni.is_none() => {
                // Take the whole extension first so a cut inside it reports nothing.
                let mut whole = ext;
                whole.skip(ext_len)?;
                hello.sni = read_server_name(&mut ext)?;
            }
            EXT_SUPPORTED_VERSIONS if !hello.versions_seen => {
                let mut whole = ext;
                whole.skip(ext_len)?;
                let list_len = usize::from(ext.u8()?);
                if list_len % 2 != 0 {
                    return Err(TlsError::Malformed {
                        offset: ext.pos - 1,
                    });
                }
                let mut list = ext.sub(list_len)?;
                while !list.at_end() {
                    let v = list.u16()?;
                    if v >> 8 == 0x03 && !is_grease(v) {
                        hello.max_version = hello.max_version.max(v);
                    }
                }
                hello.versions_seen = true;
            }
            _ => ext.skip(ext_len)?,
        }
    }
    Ok(())
}

/// Reads a server_name extension body (RFC 6066 section 3) and returns its first
/// `host_name` entry. Entries of other (never assigned) types are stepped over.
fn read_server_name(ext: &mut Cursor<'_>) -> Result<Option<DnsName>, TlsError> {
    let list_len = usize::from(ext.u16()?);
    let mut list = ext.sub(list_len)?;
    while !list.at_end() {
        let name_type = list.u8()?;
        let name_at = list.pos;
        let name_len = usize::from(list.u16()?);
        let name = list.take(name_len)?;
        if name_type == SERVER_NAME_HOST_NAME {
            return match DnsName::from_dotted(name) {
                Some(n) => Ok(Some(n)),
                None => Err(TlsError::Malformed { offset: name_at }),
            };
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GREASE_A: u16 = 0x3a3a;
    const GREASE_B: u16 = 0xbaba;

    fn u16be(v: u16) -> [u8; 2] {
        v.to_be_bytes()
    }

    fn ext(out: &mut Vec<u8>, ext_type: u16, data: &[u8]) {
        out.extend_from_slice(&u16be(ext_type));
        out.extend_from_slice(&u16be(data.len() as u16));
        out.extend_from_slice(data);
    }

    fn sni_ext(host: &[u8]) -> Vec<u8> {
        let mut entry = vec![SERVER_NAME_HOST_NAME];
        entry.extend_from_slice(&u16be(host.len() as u16));
        entry.extend_from_slice(host);
        let mut data = u16be(entry.len() as u16).to_vec();
        data.extend_from_slice(&entry);
        data
    }

    fn versions_ext(versions: &[u16]) -> Vec<u8> {
        let mut data = vec![(versions.len() * 2) as u8];
        for v in versions {
            data.extend_from_slice(&u16be(*v));
        }
        data
    }

    /// A ClientHello record: `legacy` version, a session id, a cipher suite list,
    /// null compression, and `extensions` (already encoded) or no extensions block
    /// at all when `None`.
    fn hello(record_version: u16, legacy: u16, extensions: Option<&[u8]>) -> Vec<u8> {
        let mut body = u16be(legacy).to_vec();
        body.extend((0..32u8).map(|i| i.wrapping_mul(37) ^ 0x5c)); // random
        body.push(32);
        body.extend((0..32u8).map(|i| 0xe0 ^ i)); // session id
        let suites: &[u16] = &[
            GREASE_A, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
            0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ];
        body.extend_from_slice(&u16be((suites.len() * 2) as u16));
        for s in suites {
            body.extend_from_slice(&u16be(*s));
        }
        body.extend_from_slice(&[1, 0]); // null compression
        if let Some(exts) = extensions {
            body.extend_from_slice(&u16be(exts.len() as u16));
            body.extend_from_slice(exts);
        }
        let mut hs = vec![HANDSHAKE_CLIENT_HELLO];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut rec = vec![CONTENT_HANDSHAKE];
        rec.extend_from_slice(&u16be(record_version));
        rec.extend_from_slice(&u16be(hs.len() as u16));
        rec.extend_from_slice(&hs);
        rec
    }

    /// Extensions of a Chrome-like TLS 1.3 hello. `sni_last` moves the SNI behind a
    /// large (post-quantum sized) key share, as extension shuffling may.
    fn modern_extensions(sni: Option<&[u8]>, sni_last: bool) -> Vec<u8> {
        let mut e = Vec::new();
        ext(&mut e, GREASE_A, &[]);
        if let (Some(host), false) = (sni, sni_last) {
            ext(&mut e, EXT_SERVER_NAME, &sni_ext(host));
        }
        ext(&mut e, 23, &[]); // extended_master_secret
        ext(&mut e, 0xff01, &[0]); // renegotiation_info
        ext(
            &mut e,
            10,
            &[0, 8, 0x3a, 0x3a, 0x11, 0xec, 0x00, 0x1d, 0x00, 0x17],
        ); // groups
        ext(&mut e, 11, &[1, 0]); // ec_point_formats
        ext(&mut e, 35, &[]); // session_ticket
        ext(&mut e, 16, b"\x00\x0c\x02h2\x08http/1.1"); // ALPN
        ext(&mut e, 5, &[1, 0, 0, 0, 0]); // status_request
        ext(&mut e, 13, &[0, 8, 4, 3, 8, 4, 4, 1, 5, 3]); // signature_algorithms
        ext(&mut e, 18, &[]); // signed_certificate_timestamp
        let mut key_share = Vec::new();
        let mut shares = Vec::new();
        shares.extend_from_slice(&[0x3a, 0x3a, 0, 1, 0]);
        shares.extend_from_slice(&[0x11, 0xec]);
        shares.extend_from_slice(&u16be(1216));
        shares.extend((0..1216u32).map(|i| (i * 7) as u8));
        shares.extend_from_slice(&[0x00, 0x1d, 0, 32]);
        shares.extend_from_slice(&[0x42; 32]);
        key_share.extend_from_slice(&u16be(shares.len() as u16));
        key_share.extend_from_slice(&shares);
        ext(&mut e, 51, &key_share);
        ext(&mut e, 45, &[1, 1]); // psk_key_exchange_modes
        ext(
            &mut e,
            EXT_SUPPORTED_VERSIONS,
            &versions_ext(&[GREASE_B, 0x0304, 0x0303]),
        );
        ext(&mut e, 27, &[2, 0, 2]); // compress_certificate
        if let (Some(host), true) = (sni, sni_last) {
            ext(&mut e, EXT_SERVER_NAME, &sni_ext(host));
        }
        ext(&mut e, GREASE_B, &[0]);
        e
    }

    fn tls13_hello() -> Vec<u8> {
        hello(
            0x0301,
            0x0303,
            Some(&modern_extensions(Some(b"www.Example.com"), false)),
        )
    }

    fn tls12_hello() -> Vec<u8> {
        let mut e = Vec::new();
        ext(&mut e, EXT_SERVER_NAME, &sni_ext(b"api.example.org"));
        ext(&mut e, 10, &[0, 4, 0, 0x17, 0, 0x18]);
        ext(&mut e, 11, &[1, 0]);
        ext(&mut e, 13, &[0, 4, 4, 1, 5, 1]);
        ext(&mut e, 0xff01, &[0]);
        hello(0x0301, 0x0303, Some(&e))
    }

    fn tls10_hello() -> Vec<u8> {
        hello(0x0301, 0x0301, None)
    }

    fn name(s: &str) -> Option<DnsName> {
        DnsName::from_dotted(s.as_bytes())
    }

    #[test]
    fn tls13_hello_with_grease() {
        let m = tls13_hello();
        assert!(m.len() > 1460, "the key share makes it span a typical MSS");
        assert!(looks_like_client_hello(&m));
        let h = parse_client_hello(&m).unwrap();
        assert_eq!(
            h,
            ClientHello {
                sni: name("www.example.com"),
                max_version: 0x0304,
                versions_seen: true,
                complete: true,
            }
        );
        assert!(h.max_version_is_final() && h.sni_is_final());
    }

    #[test]
    fn tls12_only_hello() {
        let h = parse_client_hello(&tls12_hello()).unwrap();
        assert_eq!(h.sni, name("api.example.org"));
        assert_eq!(h.max_version, 0x0303);
        assert!(!h.versions_seen);
        assert!(h.complete);
        assert!(h.max_version_is_final());
    }

    #[test]
    fn tls10_hello_without_extensions_block() {
        let m = tls10_hello();
        let h = parse_client_hello(&m).unwrap();
        assert_eq!(
            h,
            ClientHello {
                sni: None,
                max_version: 0x0301,
                versions_seen: false,
                complete: true,
            }
        );
        assert!(h.sni_is_final());
        // Same with an empty extensions block, and with an SSL 3.0 record version.
        let h = parse_client_hello(&hello(0x0300, 0x0301, Some(&[]))).unwrap();
        assert_eq!((h.sni, h.max_version, h.complete), (None, 0x0301, true));
    }

    #[test]
    fn sni_missing() {
        let m = hello(0x0301, 0x0303, Some(&modern_extensions(None, false)));
        let h = parse_client_hello(&m).unwrap();
        assert_eq!(h.sni, None);
        assert_eq!(h.max_version, 0x0304);
        assert!(h.complete && h.sni_is_final());
    }

    #[test]
    fn grease_and_drafts_do_not_count() {
        for versions in [
            &[0x1a1a, 0xfafa][..],
            &[0x7f1c, 0x0303],
            &[0xfb1a, 0x0a0a, 0x0302],
        ] {
            let mut e = Vec::new();
            ext(&mut e, EXT_SUPPORTED_VERSIONS, &versions_ext(versions));
            let h = parse_client_hello(&hello(0x0301, 0x0303, Some(&e))).unwrap();
            assert_eq!(h.max_version, 0x0303, "{versions:x?}");
            assert!(h.versions_seen);
        }
        let mut e = Vec::new();
        ext(
            &mut e,
            EXT_SUPPORTED_VERSIONS,
            &versions_ext(&[0x0304, 0x0305]),
        );
        let h = parse_client_hello(&hello(0x0301, 0x0303, Some(&e))).unwrap();
        assert_eq!(h.max_version, 0x0305);
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && !is_grease(0x0a1a));
        assert!(!is_grease(0x0303) && !is_grease(0xaaab));
    }

    #[test]
    fn sni_after_big_key_share_is_lost_in_first_segment() {
        let full = hello(
            0x0301,
            0x0303,
            Some(&modern_extensions(Some(b"late.example"), true)),
        );
        let h = parse_client_hello(&full).unwrap();
        assert_eq!(h.sni, name("late.example"));
        let first_segment = &full[..1448];
        let h = parse_client_hello(first_segment).unwrap();
        assert_eq!(h.sni, None);
        assert!(!h.complete && !h.sni_is_final());
        assert_eq!(
            h.max_version, 0x0303,
            "supported_versions also lies beyond the cut"
        );
        assert!(!h.versions_seen && !h.max_version_is_final());
    }

    #[test]
    fn sni_normalised_and_other_name_types_skipped() {
        // An entry of an unassigned type first, then the host name with a trailing dot.
        let mut list = vec![7, 0, 3, b'x', b'y', b'z'];
        list.extend_from_slice(&[0, 0, 13]);
        list.extend_from_slice(b"MiXeD.Example.");
        let mut data = u16be(list.len() as u16).to_vec();
        data.extend_from_slice(&list);
        let mut e = Vec::new();
        ext(&mut e, EXT_SERVER_NAME, &data);
        let h = parse_client_hello(&hello(0x0301, 0x0303, Some(&e))).unwrap();
        assert_eq!(h.sni, name("mixed.example"));
        assert_eq!(h.sni.unwrap().as_str(), "mixed.example");
        // Only the unassigned type: no name.
        let mut e = Vec::new();
        ext(&mut e, EXT_SERVER_NAME, &[0, 6, 7, 0, 3, b'x', b'y', b'z']);
        let h = parse_client_hello(&hello(0x0301, 0x0303, Some(&e))).unwrap();
        assert_eq!(h.sni, None);
        assert!(h.complete);
    }

    #[test]
    fn invalid_host_names_are_malformed() {
        for host in [&b""[..], b".", b"a..b", &[b'a'; 64], &[b'a'; 300]] {
            let mut e = Vec::new();
            ext(&mut e, EXT_SERVER_NAME, &sni_ext(host));
            let res = parse_client_hello(&hello(0x0301, 0x0303, Some(&e)));
            assert!(
                matches!(res, Err(TlsError::Malformed { .. })),
                "{host:?}: {res:?}"
            );
        }
    }

    #[test]
    fn not_a_handshake() {
        assert_eq!(
            parse_client_hello(b"GET / HTTP/1.1\r\n"),
            Err(TlsError::NotHandshake)
        );
        let app_data = [0x17, 0x03, 0x03, 0x00, 0x10, 0xaa];
        assert_eq!(parse_client_hello(&app_data), Err(TlsError::NotHandshake));
        let bad_version = [0x16, 0x03, 0x05, 0x00, 0x10, 0x01];
        assert_eq!(
            parse_client_hello(&bad_version),
            Err(TlsError::NotHandshake)
        );
        let sslv2 = [0x80, 0x2e, 0x01, 0x03, 0x01];
        assert_eq!(parse_client_hello(&sslv2), Err(TlsError::NotHandshake));
        for m in [&b"GET / HTTP/1.1\r\n"[..], &app_data, &bad_version, &sslv2] {
            assert!(!looks_like_client_hello(m));
        }
    }

    #[test]
    fn server_hello_is_not_client_hello() {
        let mut m = tls12_hello();
        m[5] = 2;
        assert!(!looks_like_client_hello(&m));
        assert_eq!(parse_client_hello(&m), Err(TlsError::NotClientHello));
    }

    #[test]
    fn malformed_lengths() {
        let base = tls12_hello();
        let malformed = |m: &[u8]| matches!(parse_client_hello(m), Err(TlsError::Malformed { .. }));

        let mut m = base.clone();
        m[3..5].copy_from_slice(&[0, 0]); // empty record
        assert_eq!(
            parse_client_hello(&m),
            Err(TlsError::Malformed { offset: 3 })
        );
        m[3..5].copy_from_slice(&u16be(0x4001)); // oversized record
        assert_eq!(
            parse_client_hello(&m),
            Err(TlsError::Malformed { offset: 3 })
        );

        let mut m = base.clone();
        m[6..9].copy_from_slice(&[0, 0, 20]); // hello shorter than its fixed fields
        assert_eq!(
            parse_client_hello(&m),
            Err(TlsError::Malformed { offset: 6 })
        );

        let session_id_at = 9 + 2 + 32;
        let mut m = base.clone();
        m[session_id_at] = 33;
        assert_eq!(
            parse_client_hello(&m),
            Err(TlsError::Malformed {
                offset: session_id_at
            })
        );

        let suites_at = session_id_at + 1 + 32;
        let mut m = base.clone();
        m[suites_at + 1] |= 1; // odd cipher suite length
        assert!(malformed(&m));
        let mut m = base.clone();
        m[suites_at..suites_at + 2].copy_from_slice(&[0xff, 0xfe]); // overruns hello
        assert!(malformed(&m));

        let compression_at = suites_at + 2 + 32;
        let mut m = base.clone();
        m[compression_at] = 0;
        assert!(malformed(&m));

        let exts_at = compression_at + 2;
        let mut m = base.clone();
        let exts_len = u16::from_be_bytes([m[exts_at], m[exts_at + 1]]);
        m[exts_at..exts_at + 2].copy_from_slice(&u16be(exts_len + 1)); // overruns
        assert!(malformed(&m));
        m[exts_at..exts_at + 2].copy_from_slice(&u16be(exts_len - 1)); // leaves a byte
        assert!(malformed(&m));

        let first_ext_len_at = exts_at + 2 + 2;
        let mut m = base.clone();
        m[first_ext_len_at..first_ext_len_at + 2].copy_from_slice(&u16be(0xfff0));
        assert!(malformed(&m));

        // A lone byte where the extensions length should be.
        let mut m = hello(0x0301, 0x0301, None);
        m.push(0);
        let len = m.len() as u16;
        m[3..5].copy_from_slice(&u16be(len - 5));
        m[6..9].copy_from_slice(&(u32::from(len) - 9).to_be_bytes()[1..]);
        assert!(malformed(&m));

        // Odd supported_versions list and a list that overruns its extension.
        for data in [&[3, 3, 4, 3][..], &[4, 3, 4]] {
            let mut e = Vec::new();
            ext(&mut e, EXT_SUPPORTED_VERSIONS, data);
            assert!(malformed(&hello(0x0301, 0x0303, Some(&e))), "{data:?}");
        }
        // A server name list that overruns its extension.
        let mut e = Vec::new();
        ext(&mut e, EXT_SERVER_NAME, &[0, 9, 0, 0, 1, b'a']);
        assert!(malformed(&hello(0x0301, 0x0303, Some(&e))));
    }

    #[test]
    fn short_prefixes_are_errors() {
        let m = tls12_hello();
        assert_eq!(
            parse_client_hello(&[]),
            Err(TlsError::Truncated { offset: 0 })
        );
        assert_eq!(
            parse_client_hello(&m[..1]),
            Err(TlsError::Truncated { offset: 1 })
        );
        assert_eq!(
            parse_client_hello(&m[..3]),
            Err(TlsError::Truncated { offset: 3 })
        );
        assert_eq!(
            parse_client_hello(&m[..5]),
            Err(TlsError::Truncated { offset: 5 })
        );
        assert_eq!(
            parse_client_hello(&m[..6]),
            Err(TlsError::Truncated { offset: 6 })
        );
        assert_eq!(
            parse_client_hello(&m[..10]),
            Err(TlsError::Truncated { offset: 9 })
        );
        let h = parse_client_hello(&m[..11]).unwrap();
        assert_eq!((h.sni, h.max_version, h.complete), (None, 0x0303, false));
    }

    /// Cutting a valid hello anywhere: never a panic, an error only before
    /// `legacy_version`, and never a fact that contradicts the full hello.
    fn check_every_cut(m: &[u8]) {
        let full = parse_client_hello(m).unwrap();
        assert!(full.complete);
        for len in 0..m.len() {
            let cut = &m[..len];
            assert_eq!(looks_like_client_hello(cut), len >= 6, "len {len}");
            match parse_client_hello(cut) {
                Err(e) => {
                    assert!(len < 11, "len {len}: {e:?}");
                    assert!(matches!(e, TlsError::Truncated { offset } if offset <= len));
                }
                Ok(h) => {
                    assert!(len >= 11, "len {len}");
                    assert!(!h.complete, "len {len}");
                    assert!(h.sni.is_none() || h.sni == full.sni, "len {len}");
                    if h.sni_is_final() {
                        assert_eq!(h.sni, full.sni, "len {len}");
                    }
                    assert!(h.max_version <= full.max_version, "len {len}");
                    assert!(!h.versions_seen || full.versions_seen, "len {len}");
                    if h.max_version_is_final() {
                        assert_eq!(h.max_version, full.max_version, "len {len}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_cut_of_tls13_hello() {
        check_every_cut(&tls13_hello());
        check_every_cut(&hello(
            0x0301,
            0x0303,
            Some(&modern_extensions(Some(b"x.example"), true)),
        ));
    }

    #[test]
    fn every_cut_of_tls12_hello() {
        check_every_cut(&tls12_hello());
    }

    #[test]
    fn every_cut_of_tls10_hello() {
        check_every_cut(&tls10_hello());
    }

    #[test]
    fn every_cut_of_hello_without_sni() {
        check_every_cut(&hello(
            0x0301,
            0x0303,
            Some(&modern_extensions(None, false)),
        ));
    }

    #[test]
    fn sni_appears_exactly_when_its_extension_is_complete() {
        let m = tls12_hello();
        let exts_at = 9 + 2 + 32 + 1 + 32 + 2 + 32 + 2;
        let sni_end = exts_at + 2 + 4 + sni_ext(b"api.example.org").len();
        assert_eq!(parse_client_hello(&m[..sni_end - 1]).unwrap().sni, None);
        assert_eq!(
            parse_client_hello(&m[..sni_end]).unwrap().sni,
            name("api.example.org")
        );
    }

    #[test]
    fn fragmented_hello_is_never_complete() {
        // A hello whose last 100 bytes (inside a padding extension) travel in a second
        // record: everything before the split is read, the second record is not.
        let mut e = Vec::new();
        ext(&mut e, EXT_SERVER_NAME, &sni_ext(b"split.example"));
        ext(
            &mut e,
            EXT_SUPPORTED_VERSIONS,
            &versions_ext(&[0x0304, 0x0303]),
        );
        ext(&mut e, 21, &[0; 100]); // padding
        let whole = hello(0x0301, 0x0303, Some(&e));
        let hs = &whole[5..];
        let first_len = hs.len() - 100;
        let mut m = vec![0x16, 0x03, 0x01];
        m.extend_from_slice(&u16be(first_len as u16));
        m.extend_from_slice(&hs[..first_len]);
        m.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, 100]);
        m.extend_from_slice(&hs[first_len..]);
        assert_eq!(m.len(), whole.len() + 5);
        let h = parse_client_hello(&m).unwrap();
        assert_eq!(
            h,
            ClientHello {
                sni: name("split.example"),
                max_version: 0x0304,
                versions_seen: true,
                complete: false,
            }
        );
        assert!(parse_client_hello(&whole).unwrap().complete);
    }

    #[test]
    fn trailing_records_are_ignored() {
        let mut m = tls12_hello();
        m.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]); // change_cipher_spec
        let h = parse_client_hello(&m).unwrap();
        assert!(h.complete);
        assert_eq!(h.sni, name("api.example.org"));
    }

    #[test]
    fn errors_display() {
        assert_eq!(
            TlsError::Malformed { offset: 3 }.to_string(),
            "malformed TLS ClientHello at offset 3"
        );
        assert!(!TlsError::NotHandshake.to_string().is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let res = parse_client_hello(&bytes);
            if res.is_ok() {
                prop_assert!(looks_like_client_hello(&bytes));
            }
        }

        #[test]
        fn arbitrary_body_after_valid_headers(
            body in proptest::collection::vec(any::<u8>(), 0..600),
            declared in 0usize..700,
        ) {
            let mut m = vec![0x16, 0x03, 0x01];
            m.extend_from_slice(&u16be((declared + 4).min(MAX_RECORD_LEN) as u16));
            m.push(1);
            m.extend_from_slice(&(declared as u32).to_be_bytes()[1..]);
            m.extend_from_slice(&body);
            let _ = parse_client_hello(&m);
        }

        #[test]
        fn mutated_hello_never_panics(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut m = tls12_hello();
            for (at, v) in flips {
                let i = at.index(m.len());
                m[i] = v;
            }
            let len = cut.index(m.len() + 1);
            if let Ok(h) = parse_client_hello(&m[..len]) {
                if let Some(sni) = h.sni {
                    prop_assert!(!sni.is_empty() && sni.len() <= super::super::dns::MAX_NAME);
                }
            }
        }
    }
}
