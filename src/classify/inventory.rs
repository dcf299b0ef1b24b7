//! The inventory: what the auditor knows about the deployment (features, and which hosts have
//! which role), read from a TOML file with every error reported at its line and column.
//!
//! ```toml
//! features = ["password-hash-sync", "seamless-sso"]
//! [[hosts]]
//! role = "connect"                  # or a list: ["connect", "pta-agent"]
//! addrs = ["10.1.0.10", "fd00::10"] # addresses, CIDR ranges, or host names
//! name = "AADC01"                   # optional label
//! ```
//!
//! Each `[[hosts]]` entry is one unit: the audit judges missing paths per unit (one server with its
//! IPv4 and IPv6 addresses, or a farm given as a range).

use std::path::{Path, PathBuf};

use crate::error::{ConfigError, Diagnostic};
use crate::model::{Cidr, Feature, Role};
use crate::tomlcheck::Doc;

/// How an inventory names a host's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrSpec {
    /// An address or a range.
    Range(Cidr),
    /// A host name, resolved through the names seen in the capture.
    Name(String),
}

/// One `[[hosts]]` entry.
#[derive(Debug, Clone)]
pub struct InventoryHost {
    /// Its roles.
    pub roles: Vec<Role>,
    /// Its addresses.
    pub addrs: Vec<AddrSpec>,
    /// An optional label.
    pub name: Option<String>,
    /// The line of the entry, for reports.
    pub line: usize,
}

/// A parsed inventory.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// The file it came from.
    pub path: PathBuf,
    /// Deployed features.
    pub features: Vec<Feature>,
    /// Hosts and their roles.
    pub hosts: Vec<InventoryHost>,
}

impl Inventory {
    /// Reads and checks an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            diagnostics: vec![Diagnostic {
                file: path.to_path_buf(),
                line: 0,
                col: 0,
                message: format!("cannot read the inventory: {e}"),
            }],
        })?;
        Inventory::parse(path, &text)
    }

    /// Checks an inventory's text.
    pub fn parse(path: &Path, text: &str) -> Result<Inventory, ConfigError> {
        let (mut doc, root) = Doc::parse(path, text);
        let mut inv = Inventory {
            path: path.to_path_buf(),
            ..Inventory::default()
        };
        if let Some(root) = root {
            let root_span = root.span();
            let root = root.get_ref();
            doc.check_keys(root, &["features", "hosts"], "the inventory");
            if let Some(fs) = doc.strings(root, root_span.clone(), "features", false) {
                for (f, span) in fs {
                    match Feature::parse(&f) {
                        Some(f) => inv.features.push(f),
                        None => doc.err(
                            span,
                            format!(
                                "unknown feature '{f}' (expected one of: {})",
                                Feature::names()
                            ),
                        ),
                    }
                }
            }
            for (h, span) in doc.tables(root, "hosts") {
                doc.check_keys(h, &["role", "addrs", "name"], "a [[hosts]] entry");
                let mut roles = Vec::new();
                if let Some(rs) = doc.strings(h, span.clone(), "role", true) {
                    for (r, rspan) in rs {
                        match Role::parse(&r) {
                            Some(Role::Unknown) | None => doc.err(
                                rspan,
                                format!(
                                    "unknown role '{r}' (expected one of: {})",
                                    Role::ALL
                                        .iter()
                                        .filter(|r| **r != Role::Unknown)
                                        .map(|r| r.as_str())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            ),
                            Some(role) => roles.push(role),
                        }
                    }
                }
                let mut addrs = Vec::new();
                if let Some(list) = doc.strings(h, span.clone(), "addrs", true) {
                    if list.is_empty() {
                        doc.err(span.clone(), "'addrs' is empty");
                    }
                    for (a, aspan) in list {
                        match parse_addr_spec(&a) {
                            Ok(spec) => addrs.push(spec),
                            Err(e) => doc.err(aspan, e),
                        }
                    }
                }
                let name = doc.string(h, span.clone(), "name", false).map(|(n, _)| n);
                let (line, _) = doc.position(span.start);
                inv.hosts.push(InventoryHost {
                    roles,
                    addrs,
                    name,
                    line,
                });
            }
        }
        if doc.diags.is_empty() {
            Ok(inv)
        } else {
            doc.diags.sort();
            Err(ConfigError {
                diagnostics: doc.diags,
            })
        }
    }
}

/// An address, a CIDR range, or a host name.
fn parse_addr_spec(s: &str) -> Result<AddrSpec, String> {
    let t = s.trim();
    if t.contains('/') || t.parse::<std::net::IpAddr>().is_ok() {
        return Cidr::parse(t).map(AddrSpec::Range);
    }
    let ok = !t.is_empty()
        && t.len() <= 253
        && t.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok && t.chars().any(|c| c.is_ascii_alphabetic()) {
        Ok(AddrSpec::Name(t.trim_end_matches('.').to_ascii_lowercase()))
    } else {
        Err(format!(
            "'{s}' is neither an address, a CIDR range nor a host name"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_example() {
        let inv = Inventory::parse(
            Path::new("inv.toml"),
            r#"features = ["password-hash-sync", "seamless-sso"]
[[hosts]]
role = "connect"
addrs = ["10.1.0.10"]
[[hosts]]
role = "dc"
addrs = ["10.1.0.0/28", "fd00::2", "dc01.corp.example"]
"#,
        )
        .unwrap();
        assert_eq!(
            inv.features,
            vec![Feature::PasswordHashSync, Feature::SeamlessSso]
        );
        assert_eq!(inv.hosts.len(), 2);
        assert_eq!(inv.hosts[1].roles, vec![Role::Dc]);
        assert_eq!(inv.hosts[1].line, 5);
        assert_eq!(
            inv.hosts[1].addrs[2],
            AddrSpec::Name("dc01.corp.example".into())
        );
    }

    #[test]
    fn every_error_is_reported_with_its_line_and_column() {
        let e = Inventory::parse(
            Path::new("inv.toml"),
            r#"features = ["password-hash-snyc"]
[[hosts]]
role = "domain-controller"
addrs = ["10.1.0.300", "10.0.0.0/40"]
adress = "typo"
"#,
        )
        .unwrap_err();
        let msgs: Vec<String> = e.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(msgs.len(), 5, "{msgs:#?}");
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("inv.toml:1:13: unknown feature 'password-hash-snyc'")),
            "{msgs:#?}"
        );
        assert!(msgs
            .iter()
            .any(|m| m.starts_with("inv.toml:3:8: unknown role 'domain-controller'")));
        assert!(msgs
            .iter()
            .any(|m| m.starts_with("inv.toml:4:10:") && m.contains("10.1.0.300")));
        assert!(msgs
            .iter()
            .any(|m| m.contains("'40' is not a prefix length")));
        assert!(msgs
            .iter()
            .any(|m| m.starts_with("inv.toml:5:1: unknown key 'adress'")));
    }

    #[test]
    fn syntax_errors_name_the_position() {
        let e = Inventory::parse(Path::new("i.toml"), "features = [\n[[hosts]\n").unwrap_err();
        assert_eq!(e.diagnostics.len(), 1);
        assert!(e.diagnostics[0].to_string().starts_with("i.toml:"));
    }
}
