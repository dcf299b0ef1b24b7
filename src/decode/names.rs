//! Host names seen in the traffic: DNS answers, TLS server names (SNI), and pcapng name resolution
//! blocks. They are how cloud endpoints are recognised without decrypting anything.
//!
//! The table grows with the number of distinct (address, name) pairs, never with packets: a name
//! already known for an address costs one hash lookup and a short scan.

use crate::model::Addr;
use rustc_hash::FxHashMap;
use std::fmt;

/// At most this many names are kept per address (CDN addresses can answer for thousands).
const MAX_NAMES_PER_ADDR: usize = 64;

/// Where a name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameSource {
    /// A DNS answer (A/AAAA, directly or through a CNAME chain).
    Dns,
    /// The server name of a TLS ClientHello sent to the address.
    Sni,
    /// A pcapng name resolution block.
    Capture,
}

impl NameSource {
    /// The word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            NameSource::Dns => "dns",
            NameSource::Sni => "sni",
            NameSource::Capture => "capture",
        }
    }
}

impl fmt::Display for NameSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name known for an address, and how it became known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameEntry {
    /// Lower-case, without a trailing dot.
    pub name: String,
    /// Where it was seen first.
    pub source: NameSource,
}

/// Names by address.
#[derive(Debug, Clone, Default)]
pub struct NameTable {
    by_addr: FxHashMap<Addr, Vec<NameEntry>>,
}

impl NameTable {
    /// An empty table.
    pub fn new() -> NameTable {
        NameTable::default()
    }

    /// Records that `name` refers to `addr`. Allocates only for a new pair.
    pub fn insert(&mut self, addr: Addr, name: &str, source: NameSource) {
        let name = name.trim_end_matches('.');
        if name.is_empty() {
            return;
        }
        let v = self.by_addr.entry(addr).or_default();
        if v.iter().any(|e| e.name.eq_ignore_ascii_case(name)) || v.len() >= MAX_NAMES_PER_ADDR {
            return;
        }
        v.push(NameEntry {
            name: name.to_ascii_lowercase(),
            source,
        });
    }

    /// The names of an address, in the order first seen.
    pub fn names(&self, addr: &Addr) -> &[NameEntry] {
        self.by_addr.get(addr).map_or(&[], |v| v.as_slice())
    }

    /// Every address that carries `name` (case-insensitive), sorted.
    pub fn addrs_named(&self, name: &str) -> Vec<Addr> {
        let name = name.trim_end_matches('.');
        let mut v: Vec<Addr> = self
            .by_addr
            .iter()
            .filter(|(_, ns)| ns.iter().any(|e| e.name.eq_ignore_ascii_case(name)))
            .map(|(a, _)| *a)
            .collect();
        v.sort();
        v
    }

    /// Adds every entry of another table.
    pub fn merge(&mut self, other: &NameTable) {
        for (a, ns) in &other.by_addr {
            for e in ns {
                self.insert(*a, &e.name, e.source);
            }
        }
    }

    /// Number of addresses with a name.
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    /// Whether no name is known.
    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deduplicated_case_insensitively_and_bounded() {
        let mut t = NameTable::new();
        let a = Addr::v4([20, 190, 128, 10]);
        t.insert(a, "Login.MicrosoftOnline.com.", NameSource::Dns);
        t.insert(a, "login.microsoftonline.com", NameSource::Sni);
        assert_eq!(t.names(&a).len(), 1);
        assert_eq!(t.names(&a)[0].name, "login.microsoftonline.com");
        assert_eq!(t.names(&a)[0].source, NameSource::Dns);
        for i in 0..100 {
            t.insert(a, &format!("n{i}.example"), NameSource::Dns);
        }
        assert_eq!(t.names(&a).len(), MAX_NAMES_PER_ADDR);
        assert_eq!(t.addrs_named("LOGIN.microsoftonline.com"), vec![a]);
    }
}
