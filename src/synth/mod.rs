//! Deterministic synthetic traffic: the project's own capture generator.
//!
//! Why this exists: flowaudit has to be tested and benchmarked on captures
//! whose content is known exactly (every flow, every outcome, every byte),
//! that can be shipped in the repository without privacy concerns, and that
//! can be regenerated bit for bit from source. Real captures give none of
//! that, so this module builds traffic from first principles:
//!
//! * [`rng`]: a seeded, dependency-free PRNG so output is reproducible;
//! * [`frame`]: link (Ethernet/VLAN/QinQ, Linux SLL and SLL2, raw IP),
//!   network (IPv4/IPv6) and transport (TCP/UDP/ICMP) encoders with correct
//!   checksums;
//! * [`payload`]: realistic application bytes (DNS, TLS hellos, opaque
//!   Kerberos/LDAP-like blobs);
//! * [`scenario`]: the [`scenario::Traffic`] builder that turns conversation
//!   descriptions (a TCP session, a refused connection, an unanswered SYN, a
//!   DNS lookup…) into timestamped frames and emits them in time order;
//! * [`writer`]: streaming pcap and pcapng encoders (plus gzip), which never
//!   hold a capture in memory;
//! * [`stream`]: a bounded-memory generator that writes captures of a target
//!   size (the basis for large benchmark captures);
//! * [`samples`]: the named sample captures shipped in `samples/`, among
//!   them the [`audit_samples`] (captures of a hybrid identity deployment,
//!   each with its inventory and known verdicts).
//!
//! Everything here is deterministic: the same inputs and seed always give the
//! same bytes.

pub mod audit_samples;
pub mod frame;
pub mod payload;
pub mod rng;
pub mod samples;
pub mod scenario;
pub mod stream;
pub mod writer;

use std::net::IpAddr;

/// Errors raised while synthesising traffic.
///
/// They describe caller mistakes (mixed address families, invalid DNS names,
/// oversized packets, timestamps going backwards) or I/O failures of the
/// capture sink; nothing in this module panics on such input.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Two addresses of one packet or conversation are of different families.
    #[error("address family mismatch: {0} and {1}")]
    FamilyMismatch(IpAddr, IpAddr),
    /// A DNS name is empty, has an empty or over-long label, or is too long.
    #[error("invalid DNS name {0:?}")]
    InvalidDnsName(String),
    /// A packet would exceed the 65535-byte limit of its IP length field.
    #[error("packet too large: {0} bytes of IP payload")]
    PacketTooLarge(usize),
    /// A packet was scheduled before data that was already written out.
    #[error("packet at {ts_ns} ns is earlier than already emitted data at {watermark_ns} ns")]
    OutOfOrder {
        /// Timestamp of the rejected packet.
        ts_ns: i64,
        /// Latest timestamp already released to the writer.
        watermark_ns: i64,
    },
    /// A parameter is outside its valid range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// Writing the capture failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Result alias used throughout the synth module.
pub type Result<T, E = SynthError> = std::result::Result<T, E>;
