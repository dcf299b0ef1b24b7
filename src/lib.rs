//! flowaudit audits network traffic against a port-and-protocol policy.
//!
//! The library is a pipeline that runs in one direction; each layer uses only those to its left and
//! the shared vocabulary in [`model`] and [`error`]:
//!
//! - [`capture`]: where frames come from. pcap and pcapng (any byte order, resolution, several
//!   interfaces with their own link types), gzip-compressed or not, files, folders and standard
//!   input, recognised by content. Files are memory-mapped; frames are borrowed slices.
//! - [`decode`]: bytes to headers. Link layers, IPv4/IPv6, tunnels, TCP/UDP/ICMP, down to the
//!   innermost IP packet; ICMP errors are tied to the flow they quote. Never panics; counts what it
//!   cannot decode, by reason.
//! - [`flow`]: the flow table. Who opened what to whom, packet and byte counters per direction,
//!   Zeek's `conn_state` and `history`, and a plain-words outcome (answered, refused, unanswered,
//!   unreachable, midstream).
//! - [`classify`]: names and roles. The inventory says what the auditor knows; the rest is inferred
//!   from the services hosts answer and the names they were reached by (DNS answers, TLS SNI).
//! - [`rules`]: rule files, checked fully before any packet is read, and the judgment of flows and
//!   roles against them: missing, blocked, unexpected, deprecated, ok.
//! - [`report`]: writers for the results (table, CSV, JSON), and Wireshark display filters.
//!
//! [`engine`] drives the pipeline over a set of inputs: in order on one thread, or over chunks and
//! flow-key partitions on several threads with identical results. Live capture
//! ([`capture::live`]) feeds the same engine session frame by frame. [`synth`] is the project's
//! deterministic traffic generator, behind the samples and the benchmarks. The library never prints
//! and never exits; the `flowaudit` binary parses arguments, calls it, and maps results to exit
//! codes.

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod capture;
pub mod classify;
pub mod decode;
pub mod engine;
pub mod error;
pub mod flow;
pub mod model;
pub mod report;
pub mod rules;
pub mod synth;
pub mod tomlcheck;
