//! Application payloads: DNS messages, TLS hellos, opaque protocol blobs.
//!
//! Why: flowaudit looks inside some payloads (DNS answers to name the cloud
//! endpoints a flow talks to, TLS ClientHello SNI and offered versions to
//! flag legacy TLS), so synthetic captures must carry real, parseable
//! messages there: DNS with name compression and CNAME chains, ClientHellos
//! for TLS 1.0, 1.2 and 1.3 that differ the way real clients do. Protocols
//! flowaudit does not parse (Kerberos, LDAP, SMB…) only need plausible,
//! deterministic bytes of a given length.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::rng::Rng;
use super::{Result, SynthError};

/// DNS record type A.
pub const DNS_TYPE_A: u16 = 1;
/// DNS record type CNAME.
pub const DNS_TYPE_CNAME: u16 = 5;
/// DNS record type AAAA.
pub const DNS_TYPE_AAAA: u16 = 28;

/// One answer record of a DNS response.
///
/// Owner names are implicit: the first answer is owned by the query name and
/// each CNAME makes its target the owner of the following answers, which is
/// how a resolver lays out a CNAME chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsAnswer {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Alias to another name.
    Cname(String),
}

/// Splits and validates a DNS name into labels (a trailing dot is allowed).
fn labels(name: &str) -> Result<Vec<&str>> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let bad = || SynthError::InvalidDnsName(name.to_string());
    if trimmed.is_empty() || trimmed.len() > 253 {
        return Err(bad());
    }
    let parts: Vec<&str> = trimmed.split('.').collect();
    if parts
        .iter()
        .any(|l| l.is_empty() || l.len() > 63 || !l.is_ascii())
    {
        return Err(bad());
    }
    Ok(parts)
}

/// Writes names with RFC 1035 message compression: every suffix written
/// once is remembered, later occurrences become 2-byte pointers.
struct NameWriter {
    suffixes: HashMap<String, u16>,
}

impl NameWriter {
    fn new() -> Self {
        NameWriter {
            suffixes: HashMap::new(),
        }
    }

    fn write(&mut self, msg: &mut Vec<u8>, name: &str, compress: bool) -> Result<()> {
        let parts = labels(name)?;
        for i in 0..parts.len() {
            let key = parts[i..].join(".").to_ascii_lowercase();
            if compress {
                if let Some(&off) = self.suffixes.get(&key) {
                    msg.extend_from_slice(&(0xc000 | off).to_be_bytes());
                    return Ok(());
                }
            }
            if msg.len() < 0x3fff {
                self.suffixes.entry(key).or_insert(msg.len() as u16);
            }
            msg.push(parts[i].len() as u8);
            msg.extend_from_slice(parts[i].as_bytes());
        }
        msg.push(0);
        Ok(())
    }
}

fn dns_header(msg: &mut Vec<u8>, id: u16, flags: u16, qd: u16, an: u16) {
    for v in [id, flags, qd, an, 0, 0] {
        msg.extend_from_slice(&v.to_be_bytes());
    }
}

/// A standard recursive DNS query (RD set) for `name`/`qtype`, class IN.
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>> {
    let mut msg = Vec::with_capacity(12 + name.len() + 6);
    dns_header(&mut msg, id, 0x0100, 1, 0);
    NameWriter::new().write(&mut msg, name, false)?;
    msg.extend_from_slice(&qtype.to_be_bytes());
    msg.extend_from_slice(&1u16.to_be_bytes());
    Ok(msg)
}

/// The response to [`dns_query`]: question echoed, then `answers` (see
/// [`DnsAnswer`] for owner names), all names compressed. Flags: QR, RD, RA,
/// NOERROR (an empty `answers` is a NODATA response).
pub fn dns_response(
    id: u16,
    name: &str,
    qtype: u16,
    answers: &[DnsAnswer],
    ttl: u32,
) -> Result<Vec<u8>> {
    let an = u16::try_from(answers.len())
        .map_err(|_| SynthError::InvalidParameter("too many DNS answers".into()))?;
    let mut msg = Vec::with_capacity(64 + 32 * answers.len());
    dns_header(&mut msg, id, 0x8180, 1, an);
    let mut names = NameWriter::new();
    names.write(&mut msg, name, true)?;
    msg.extend_from_slice(&qtype.to_be_bytes());
    msg.extend_from_slice(&1u16.to_be_bytes());
    let mut owner = name.to_string();
    for ans in answers {
        names.write(&mut msg, &owner, true)?;
        let rtype = match ans {
            DnsAnswer::A(_) => DNS_TYPE_A,
            DnsAnswer::Aaaa(_) => DNS_TYPE_AAAA,
            DnsAnswer::Cname(_) => DNS_TYPE_CNAME,
        };
        msg.extend_from_slice(&rtype.to_be_bytes());
        msg.extend_from_slice(&1u16.to_be_bytes());
        msg.extend_from_slice(&ttl.to_be_bytes());
        match ans {
            DnsAnswer::A(a) => {
                msg.extend_from_slice(&4u16.to_be_bytes());
                msg.extend_from_slice(&a.octets());
            }
            DnsAnswer::Aaaa(a) => {
                msg.extend_from_slice(&16u16.to_be_bytes());
                msg.extend_from_slice(&a.octets());
            }
            DnsAnswer::Cname(target) => {
                let len_pos = msg.len();
                msg.extend_from_slice(&[0, 0]);
                names.write(&mut msg, target, true)?;
                let rdlen = (msg.len() - len_pos - 2) as u16;
                msg[len_pos..len_pos + 2].copy_from_slice(&rdlen.to_be_bytes());
                owner = target.clone();
            }
        }
    }
    Ok(msg)
}

/// TLS protocol versions a synthetic client may offer as its maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum TlsVersion {
    /// TLS 1.0 (0x0301).
    Tls10,
    /// TLS 1.1 (0x0302).
    Tls11,
    /// TLS 1.2 (0x0303).
    Tls12,
    /// TLS 1.3 (0x0304, negotiated through `supported_versions`).
    Tls13,
}

impl TlsVersion {
    /// Wire value of the version.
    pub fn wire(self) -> u16 {
        match self {
            TlsVersion::Tls10 => 0x0301,
            TlsVersion::Tls11 => 0x0302,
            TlsVersion::Tls12 => 0x0303,
            TlsVersion::Tls13 => 0x0304,
        }
    }

    /// `legacy_version` / `client_version` field of a hello (capped at 0x0303).
    pub fn legacy_wire(self) -> u16 {
        self.wire().min(0x0303)
    }
}

/// TLS record content type: change_cipher_spec.
pub const TLS_CHANGE_CIPHER_SPEC: u8 = 20;
/// TLS record content type: handshake.
pub const TLS_HANDSHAKE: u8 = 22;
/// TLS record content type: application_data.
pub const TLS_APPLICATION_DATA: u8 = 23;

fn put_u16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_be_bytes());
}

fn put_u24(v: &mut Vec<u8>, x: usize) {
    v.extend_from_slice(&(x as u32).to_be_bytes()[1..]);
}

fn extension(v: &mut Vec<u8>, ext_type: u16, body: &[u8]) {
    put_u16(v, ext_type);
    put_u16(v, body.len() as u16);
    v.extend_from_slice(body);
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    rng.fill(&mut b);
    b
}

/// Wraps a handshake message body into a handshake record.
fn handshake_record(record_version: u16, msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut rec = Vec::with_capacity(body.len() + 9);
    rec.push(TLS_HANDSHAKE);
    put_u16(&mut rec, record_version);
    put_u16(&mut rec, (body.len() + 4) as u16);
    rec.push(msg_type);
    put_u24(&mut rec, body.len());
    rec.extend_from_slice(body);
    rec
}

/// A ClientHello record offering versions up to `max_version`.
///
/// * TLS 1.0/1.1: `client_version` 0x0301/0x0302, CBC suites, no
///   `supported_versions` and no `signature_algorithms`;
/// * TLS 1.2: `client_version` 0x0303, AEAD and CBC suites,
///   `signature_algorithms`;
/// * TLS 1.3: `legacy_version` 0x0303, a 32-byte legacy session id,
///   `supported_versions` listing 0x0304 and 0x0303, `key_share` (x25519).
///
/// The record layer version is 0x0301 for 1.0 and 1.3 (as RFC 8446
/// recommends) and equals `client_version` for 1.1 and 1.2 (as Windows
/// SChannel does). `sni`, when given, becomes a `server_name` extension.
pub fn tls_client_hello(
    sni: Option<&str>,
    max_version: TlsVersion,
    rng: &mut Rng,
) -> Result<Vec<u8>> {
    let mut body = Vec::with_capacity(512);
    put_u16(&mut body, max_version.legacy_wire());
    body.extend_from_slice(&random_bytes(rng, 32));
    if max_version == TlsVersion::Tls13 {
        body.push(32);
        body.extend_from_slice(&random_bytes(rng, 32));
    } else {
        body.push(0);
    }
    let suites: &[u16] = match max_version {
        TlsVersion::Tls10 | TlsVersion::Tls11 => &[0xc014, 0xc013, 0x0035, 0x002f, 0x000a],
        TlsVersion::Tls12 => &[
            0xc02c, 0xc02b, 0xc030, 0xc02f, 0xc024, 0xc023, 0xc014, 0xc013, 0x009d, 0x009c, 0x0035,
            0x002f,
        ],
        TlsVersion::Tls13 => &[
            0x1302, 0x1301, 0xc02c, 0xc02b, 0xc030, 0xc02f, 0x009d, 0x009c,
        ],
    };
    put_u16(&mut body, (suites.len() * 2) as u16);
    for s in suites {
        put_u16(&mut body, *s);
    }
    body.extend_from_slice(&[1, 0]); // compression methods: null

    let mut exts = Vec::with_capacity(256);
    if let Some(host) = sni {
        labels(host)?; // SNI carries a DNS host name
        let mut sn = Vec::with_capacity(host.len() + 5);
        put_u16(&mut sn, (host.len() + 3) as u16);
        sn.push(0); // host_name
        put_u16(&mut sn, host.len() as u16);
        sn.extend_from_slice(host.as_bytes());
        extension(&mut exts, 0, &sn);
    }
    extension(&mut exts, 10, &[0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]); // supported_groups
    extension(&mut exts, 11, &[1, 0]); // ec_point_formats
    if max_version >= TlsVersion::Tls12 {
        let algs: [u16; 8] = [
            0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0403, 0x0503,
        ];
        let mut sa = Vec::with_capacity(18);
        put_u16(&mut sa, 16);
        for a in algs {
            put_u16(&mut sa, a);
        }
        extension(&mut exts, 13, &sa); // signature_algorithms
        extension(&mut exts, 23, &[]); // extended_master_secret
        extension(&mut exts, 65281, &[0]); // renegotiation_info
    }
    if max_version == TlsVersion::Tls13 {
        extension(&mut exts, 43, &[4, 0x03, 0x04, 0x03, 0x03]); // supported_versions
        extension(&mut exts, 45, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
        let mut ks = Vec::with_capacity(38);
        put_u16(&mut ks, 36);
        put_u16(&mut ks, 0x001d);
        put_u16(&mut ks, 32);
        ks.extend_from_slice(&random_bytes(rng, 32));
        extension(&mut exts, 51, &ks); // key_share
    }
    put_u16(&mut body, exts.len() as u16);
    body.extend_from_slice(&exts);

    let record_version = match max_version {
        TlsVersion::Tls10 | TlsVersion::Tls13 => 0x0301,
        v => v.legacy_wire(),
    };
    Ok(handshake_record(record_version, 1, &body))
}

/// Appends records of `content_type` whose opaque bodies total exactly
/// `total_len` bytes on the wire (headers included, at most 16 KiB bodies).
/// Lengths below 6 are raised to 6 (one header and one body byte).
pub fn tls_records(
    out: &mut Vec<u8>,
    content_type: u8,
    version: u16,
    total_len: usize,
    rng: &mut Rng,
) {
    let mut remaining = total_len.max(6);
    while remaining > 0 {
        let body = (remaining - 5).min(16_384);
        // Never leave fewer than 6 bytes for a trailing record.
        let body = if remaining - 5 - body > 0 && remaining - 5 - body < 6 {
            body - 6
        } else {
            body
        };
        out.push(content_type);
        put_u16(out, version);
        put_u16(out, body as u16);
        out.extend_from_slice(&random_bytes(rng, body));
        remaining -= body + 5;
    }
}

/// The server's first flight in answer to a ClientHello offering `version`:
/// a ServerHello record (selecting `version`; for 1.3 through
/// `supported_versions`) followed by opaque records bringing the flight to
/// `total_len` bytes (certificate and friends for ≤ 1.2 as handshake
/// records, change_cipher_spec plus encrypted records for 1.3).
pub fn tls_server_flight(version: TlsVersion, total_len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut body = Vec::with_capacity(128);
    put_u16(&mut body, version.legacy_wire());
    body.extend_from_slice(&random_bytes(rng, 32));
    let mut exts = Vec::new();
    if version == TlsVersion::Tls13 {
        body.push(32);
        body.extend_from_slice(&random_bytes(rng, 32));
        put_u16(&mut body, 0x1302);
        extension(&mut exts, 43, &[0x03, 0x04]);
        let mut ks = Vec::with_capacity(36);
        put_u16(&mut ks, 0x001d);
        put_u16(&mut ks, 32);
        ks.extend_from_slice(&random_bytes(rng, 32));
        extension(&mut exts, 51, &ks);
    } else {
        body.push(0);
        put_u16(
            &mut body,
            if version == TlsVersion::Tls12 {
                0xc030
            } else {
                0xc014
            },
        );
        extension(&mut exts, 65281, &[0]);
    }
    body.push(0); // compression: null
    put_u16(&mut body, exts.len() as u16);
    body.extend_from_slice(&exts);
    let record_version = version.legacy_wire();
    let mut out = handshake_record(record_version, 2, &body);
    let rest = total_len.saturating_sub(out.len());
    if version == TlsVersion::Tls13 {
        out.extend_from_slice(&[TLS_CHANGE_CIPHER_SPEC, 0x03, 0x03, 0, 1, 1]);
        tls_records(
            &mut out,
            TLS_APPLICATION_DATA,
            0x0303,
            rest.saturating_sub(6),
            rng,
        );
    } else if rest > 0 {
        tls_records(&mut out, TLS_HANDSHAKE, record_version, rest, rng);
    }
    out
}

/// The client's second flight: for ≤ 1.2 ClientKeyExchange (handshake),
/// change_cipher_spec and the encrypted Finished; for 1.3 change_cipher_spec
/// and the encrypted Finished.
pub fn tls_client_finish(version: TlsVersion, rng: &mut Rng) -> Vec<u8> {
    let v = version.legacy_wire();
    let mut out = Vec::with_capacity(160);
    if version != TlsVersion::Tls13 {
        let mut kx = vec![32];
        kx.extend_from_slice(&random_bytes(rng, 32));
        out.extend_from_slice(&handshake_record(v, 16, &kx));
    }
    out.extend_from_slice(&[TLS_CHANGE_CIPHER_SPEC, (v >> 8) as u8, v as u8, 0, 1, 1]);
    let fin_len = if version == TlsVersion::Tls13 { 58 } else { 45 };
    let ct = if version == TlsVersion::Tls13 {
        TLS_APPLICATION_DATA
    } else {
        TLS_HANDSHAKE
    };
    tls_records(&mut out, ct, v, fin_len, rng);
    out
}

/// The server's change_cipher_spec and encrypted Finished (TLS ≤ 1.2).
pub fn tls_server_finish(version: TlsVersion, rng: &mut Rng) -> Vec<u8> {
    let v = version.legacy_wire();
    let mut out = vec![TLS_CHANGE_CIPHER_SPEC, (v >> 8) as u8, v as u8, 0, 1, 1];
    tls_records(&mut out, TLS_HANDSHAKE, v, 45, rng);
    out
}

/// Application data records totalling `len` bytes (see [`tls_records`]).
pub fn tls_app_data(len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(len.max(6));
    tls_records(&mut out, TLS_APPLICATION_DATA, 0x0303, len, rng);
    out
}

/// Opaque bytes of length `len` framed like an ASN.1/BER element with
/// `tag` (e.g. 0x30 for an LDAP message, 0x6a for a Kerberos AS-REQ): tag,
/// long-form length, random content. Lengths below 6 give plain random bytes.
pub fn ber_like(tag: u8, len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = random_bytes(rng, len);
    if len >= 6 {
        out[0] = tag;
        out[1] = 0x84;
        out[2..6].copy_from_slice(&((len - 6) as u32).to_be_bytes());
    }
    out
}

/// LDAP-like message of `len` bytes (a BER SEQUENCE).
pub fn ldap_like(len: usize, rng: &mut Rng) -> Vec<u8> {
    ber_like(0x30, len, rng)
}

/// Kerberos-like message of `len` bytes; over TCP it starts with the
/// 4-byte record mark (length of the rest) that RFC 4120 prescribes.
pub fn kerberos_like(len: usize, over_tcp: bool, rng: &mut Rng) -> Vec<u8> {
    if over_tcp && len >= 10 {
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&((len - 4) as u32).to_be_bytes());
        out.extend_from_slice(&ber_like(0x6a, len - 4, rng));
        out
    } else {
        ber_like(0x6a, len, rng)
    }
}

/// Deterministic opaque bytes of length `len`.
pub fn opaque(len: usize, rng: &mut Rng) -> Vec<u8> {
    random_bytes(rng, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::rng::Rng;
    use proptest::prelude::*;

    /// Minimal DNS name reader following compression pointers (test oracle).
    fn read_name(msg: &[u8], mut off: usize) -> (String, usize) {
        let mut labels = Vec::new();
        let mut end = None;
        let mut hops = 0;
        loop {
            let len = msg[off] as usize;
            if len & 0xc0 == 0xc0 {
                let ptr = ((len & 0x3f) << 8) | msg[off + 1] as usize;
                assert!(ptr < off, "pointers go backwards");
                end.get_or_insert(off + 2);
                off = ptr;
                hops += 1;
                assert!(hops < 20);
                continue;
            }
            if len == 0 {
                end.get_or_insert(off + 1);
                break;
            }
            labels.push(String::from_utf8(msg[off + 1..off + 1 + len].to_vec()).unwrap());
            off += 1 + len;
        }
        (labels.join("."), end.unwrap())
    }

    fn u16_at(b: &[u8], off: usize) -> u16 {
        u16::from_be_bytes([b[off], b[off + 1]])
    }

    type Rr = (String, u16, Vec<u8>, Option<String>);

    fn parse_response(msg: &[u8]) -> (u16, String, Vec<Rr>) {
        let an = u16_at(msg, 6);
        let (qname, mut off) = read_name(msg, 12);
        off += 4;
        let mut rrs = Vec::new();
        for _ in 0..an {
            let (owner, o) = read_name(msg, off);
            let rtype = u16_at(msg, o);
            assert_eq!(u16_at(msg, o + 2), 1);
            let rdlen = u16_at(msg, o + 8) as usize;
            let rdata = msg[o + 10..o + 10 + rdlen].to_vec();
            let target = (rtype == DNS_TYPE_CNAME).then(|| read_name(msg, o + 10).0);
            rrs.push((owner, rtype, rdata, target));
            off = o + 10 + rdlen;
        }
        assert_eq!(off, msg.len());
        (u16_at(msg, 2), qname, rrs)
    }

    #[test]
    fn dns_query_layout() {
        let q = dns_query(0xbeef, "dc01.corp.example", DNS_TYPE_A).unwrap();
        assert_eq!(&q[..12], &[0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&q[12..17], b"\x04dc01");
        assert_eq!(&q[q.len() - 5..], &[0, 0, 1, 0, 1]);
        assert_eq!(q.len(), 12 + 19 + 4);
    }

    #[test]
    fn dns_response_cname_chain_compressed() {
        let answers = [
            DnsAnswer::Cname("login.mso.msidentity.com".into()),
            DnsAnswer::Cname("ak.privatelink.msidentity.com".into()),
            DnsAnswer::A(Ipv4Addr::new(20, 190, 128, 10)),
            DnsAnswer::A(Ipv4Addr::new(20, 190, 128, 11)),
        ];
        let r = dns_response(7, "login.microsoftonline.com", DNS_TYPE_A, &answers, 300).unwrap();
        let (flags, qname, rrs) = parse_response(&r);
        assert_eq!(flags, 0x8180);
        assert_eq!(qname, "login.microsoftonline.com");
        assert_eq!(rrs.len(), 4);
        assert_eq!(rrs[0].0, "login.microsoftonline.com");
        assert_eq!(rrs[0].3.as_deref(), Some("login.mso.msidentity.com"));
        assert_eq!(rrs[1].0, "login.mso.msidentity.com");
        assert_eq!(rrs[1].3.as_deref(), Some("ak.privatelink.msidentity.com"));
        assert_eq!(rrs[2].0, "ak.privatelink.msidentity.com");
        assert_eq!(rrs[2].2, vec![20, 190, 128, 10]);
        assert_eq!(rrs[3].1, DNS_TYPE_A);
        // Compression: the owner of the first answer is a pointer to the question.
        let first_rr = 12 + 27 + 4;
        assert_eq!(&r[first_rr..first_rr + 2], &[0xc0, 12]);
        // "msidentity.com" in the second CNAME target is compressed too.
        // Without compression: 43 (header, question) + 63 + 67 + 45 + 45 = 263.
        assert_eq!(r.len(), 139);
    }

    #[test]
    fn dns_aaaa_and_nodata() {
        let a6: Ipv6Addr = "fd00::2".parse().unwrap();
        let r = dns_response(
            1,
            "dc01.corp.example.",
            DNS_TYPE_AAAA,
            &[DnsAnswer::Aaaa(a6)],
            60,
        )
        .unwrap();
        let (_, _, rrs) = parse_response(&r);
        assert_eq!(rrs[0].1, DNS_TYPE_AAAA);
        assert_eq!(rrs[0].2, a6.octets().to_vec());
        let r = dns_response(1, "nothing.example", DNS_TYPE_A, &[], 60).unwrap();
        assert_eq!(parse_response(&r).2.len(), 0);
    }

    #[test]
    fn dns_rejects_bad_names() {
        for bad in ["", ".", "a..b", &"x".repeat(64), &["abc"; 70].join(".")] {
            assert!(
                matches!(dns_query(1, bad, 1), Err(SynthError::InvalidDnsName(_))),
                "{bad}"
            );
        }
        assert!(tls_client_hello(Some("bad..name"), TlsVersion::Tls12, &mut Rng::new(1)).is_err());
    }

    /// Parses a ClientHello record; returns (record version, client_version, extensions).
    fn parse_client_hello(rec: &[u8]) -> (u16, u16, Vec<(u16, Vec<u8>)>) {
        assert_eq!(rec[0], TLS_HANDSHAKE);
        let rec_len = u16_at(rec, 3) as usize;
        assert_eq!(rec.len(), 5 + rec_len);
        assert_eq!(rec[5], 1);
        let hs_len = u32::from_be_bytes([0, rec[6], rec[7], rec[8]]) as usize;
        assert_eq!(hs_len + 4, rec_len);
        let b = &rec[9..];
        let mut off = 2 + 32;
        off += 1 + b[off] as usize;
        off += 2 + u16_at(b, off) as usize;
        off += 1 + b[off] as usize;
        let ext_len = u16_at(b, off) as usize;
        off += 2;
        assert_eq!(off + ext_len, b.len());
        let mut exts = Vec::new();
        while off < b.len() {
            let t = u16_at(b, off);
            let l = u16_at(b, off + 2) as usize;
            exts.push((t, b[off + 4..off + 4 + l].to_vec()));
            off += 4 + l;
        }
        (u16_at(rec, 1), u16_at(b, 0), exts)
    }

    #[test]
    fn client_hello_versions() {
        let mut rng = Rng::new(5);
        let ch = tls_client_hello(
            Some("login.microsoftonline.com"),
            TlsVersion::Tls13,
            &mut rng,
        )
        .unwrap();
        let (rv, cv, exts) = parse_client_hello(&ch);
        assert_eq!((rv, cv), (0x0301, 0x0303));
        let sni = &exts.iter().find(|e| e.0 == 0).unwrap().1;
        assert_eq!(sni[2], 0);
        assert_eq!(&sni[5..], b"login.microsoftonline.com");
        assert_eq!(u16_at(sni, 0) as usize, sni.len() - 2);
        let sv = &exts.iter().find(|e| e.0 == 43).unwrap().1;
        assert_eq!(sv, &vec![4, 3, 4, 3, 3]);
        assert!(exts.iter().any(|e| e.0 == 51));

        let ch = tls_client_hello(Some("sts.corp.example"), TlsVersion::Tls10, &mut rng).unwrap();
        let (rv, cv, exts) = parse_client_hello(&ch);
        assert_eq!((rv, cv), (0x0301, 0x0301));
        assert!(!exts.iter().any(|e| e.0 == 43 || e.0 == 13));

        let ch = tls_client_hello(None, TlsVersion::Tls12, &mut rng).unwrap();
        let (rv, cv, exts) = parse_client_hello(&ch);
        assert_eq!((rv, cv), (0x0303, 0x0303));
        assert!(!exts.iter().any(|e| e.0 == 43 || e.0 == 0));
        assert!(exts.iter().any(|e| e.0 == 13));
    }

    /// Splits a byte stream into TLS records, checking the framing.
    fn records(mut b: &[u8]) -> Vec<(u8, u16, usize)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let len = u16_at(b, 3) as usize;
            assert!(len <= 16_384 + 256);
            out.push((b[0], u16_at(b, 1), len));
            b = &b[5 + len..];
        }
        out
    }

    #[test]
    fn server_flights_and_records_have_exact_sizes() {
        let mut rng = Rng::new(9);
        for v in [TlsVersion::Tls10, TlsVersion::Tls12, TlsVersion::Tls13] {
            let f = tls_server_flight(v, 1200, &mut rng);
            assert_eq!(f.len(), 1200, "{v:?}");
            let recs = records(&f);
            assert_eq!(recs[0].0, TLS_HANDSHAKE);
            assert_eq!(f[5], 2, "ServerHello");
            assert_eq!(u16_at(&f, 9), v.legacy_wire());
            let c = tls_client_finish(v, &mut rng);
            records(&c);
        }
        for len in [
            0, 5, 6, 7, 11, 12, 100, 16_389, 16_390, 16_394, 16_395, 40_000,
        ] {
            let d = tls_app_data(len, &mut rng);
            assert_eq!(d.len(), len.max(6), "len {len}");
            assert!(records(&d)
                .iter()
                .all(|r| r.0 == TLS_APPLICATION_DATA && r.2 >= 1));
        }
        records(&tls_server_finish(TlsVersion::Tls12, &mut rng));
    }

    #[test]
    fn opaque_payloads() {
        let mut rng = Rng::new(1);
        let l = ldap_like(100, &mut rng);
        assert_eq!((l.len(), l[0], l[1]), (100, 0x30, 0x84));
        assert_eq!(u32::from_be_bytes([l[2], l[3], l[4], l[5]]), 94);
        let k = kerberos_like(200, true, &mut rng);
        assert_eq!(u32::from_be_bytes([k[0], k[1], k[2], k[3]]), 196);
        assert_eq!(k[4], 0x6a);
        assert_eq!(kerberos_like(3, true, &mut rng).len(), 3);
        assert_eq!(opaque(17, &mut Rng::new(2)), opaque(17, &mut Rng::new(2)));
    }

    proptest! {
        #[test]
        fn dns_roundtrip(labels_v in proptest::collection::vec("[a-z0-9]{1,12}", 1..5),
                         chain in proptest::collection::vec("[a-z]{1,8}", 0..4)) {
            let name = labels_v.join(".");
            let mut answers: Vec<DnsAnswer> =
                chain.iter().map(|c| DnsAnswer::Cname(format!("{c}.{name}"))).collect();
            answers.push(DnsAnswer::A(Ipv4Addr::new(1, 2, 3, 4)));
            let r = dns_response(3, &name, DNS_TYPE_A, &answers, 1).unwrap();
            let (_, q, rrs) = parse_response(&r);
            prop_assert_eq!(q, name.clone());
            let mut owner = name.clone();
            for (rr, a) in rrs.iter().zip(&answers) {
                prop_assert_eq!(&rr.0, &owner);
                if let DnsAnswer::Cname(t) = a {
                    prop_assert_eq!(rr.3.as_deref(), Some(t.as_str()));
                    owner = t.clone();
                }
            }
        }
    }
}
