//! Rule sets: loading and checking rule files, and judging flows and roles against them.
//!
//! A rule set is a list of TOML files (the schema is documented in `rules/README.md`). The shipped
//! files are built into the binary, so `flowaudit audit` works from any directory; `--rules PATH`
//! replaces them and `--add-rules PATH` adds to them. Every file is checked fully before any packet
//! is read: an unknown key, role, feature, protocol or level, a port out of range, a reversed range,
//! a duplicate id: each is an error with its file, line and column, and checking goes on to find the
//! rest.

pub mod eval;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::classify::{EndpointMap, NamePattern};
use crate::error::{ConfigError, Diagnostic};
use crate::model::{Cidr, Feature, IpProto, Level, Role};
use crate::tomlcheck::Doc;

/// The shipped rule files, built into the binary.
pub const BUILTIN: [(&str, &str); 3] = [
    (
        "rules/hybrid-identity.toml",
        include_str!("../../rules/hybrid-identity.toml"),
    ),
    (
        "rules/domain-member-baseline.toml",
        include_str!("../../rules/domain-member-baseline.toml"),
    ),
    (
        "rules/endpoints.toml",
        include_str!("../../rules/endpoints.toml"),
    ),
];

/// The name of the shipped baseline for domain members.
pub const BASELINE: &str = "domain-member-baseline";

/// Which transports a rule admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtoSel {
    /// TCP only.
    Tcp,
    /// UDP only.
    Udp,
    /// Either: one requirement, met by traffic on either transport (DECISIONS 11).
    TcpUdp,
}

impl ProtoSel {
    /// Parses `tcp`, `udp` or `tcp/udp`.
    pub fn parse(s: &str) -> Option<ProtoSel> {
        match s {
            "tcp" => Some(ProtoSel::Tcp),
            "udp" => Some(ProtoSel::Udp),
            "tcp/udp" | "udp/tcp" => Some(ProtoSel::TcpUdp),
            _ => None,
        }
    }

    /// Whether a transport is admitted.
    pub fn admits(self, p: IpProto) -> bool {
        match self {
            ProtoSel::Tcp => p == IpProto::TCP,
            ProtoSel::Udp => p == IpProto::UDP,
            ProtoSel::TcpUdp => p == IpProto::TCP || p == IpProto::UDP,
        }
    }

    /// The spelling used in files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtoSel::Tcp => "tcp",
            ProtoSel::Udp => "udp",
            ProtoSel::TcpUdp => "tcp/udp",
        }
    }
}

/// A set of ports: single ports and inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortSet(pub Vec<(u16, u16)>);

impl PortSet {
    /// Whether a port is in the set.
    pub fn contains(&self, p: u16) -> bool {
        self.0.iter().any(|&(a, b)| a <= p && p <= b)
    }

    /// Parses `N` or `N-M`.
    fn parse_item(s: &str) -> Result<(u16, u16), String> {
        let num = |t: &str| -> Result<u16, String> {
            let n: u64 = t
                .trim()
                .parse()
                .map_err(|_| format!("'{t}' is not a port number"))?;
            if (1..=65535).contains(&n) {
                Ok(n as u16)
            } else {
                Err(format!("port {n} is out of range (1 to 65535)"))
            }
        };
        match s.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    Err(format!("range {a}-{b} is reversed"))
                } else {
                    Ok((a, b))
                }
            }
            None => num(s).map(|p| (p, p)),
        }
    }
}

impl std::fmt::Display for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// One rule: a network path, who opens it, and how much it matters.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id.
    pub id: String,
    /// The source table ("Table 1", "Baseline").
    pub table: String,
    /// The row as the source states it.
    pub row: String,
    /// Initiating roles.
    pub from: Vec<Role>,
    /// Responding roles.
    pub to: Vec<Role>,
    /// Transports.
    pub proto: ProtoSel,
    /// The table's protocol name.
    pub service: String,
    /// Responder ports.
    pub ports: PortSet,
    /// How much it matters.
    pub level: Level,
    /// Features that must all be deployed.
    pub features: Vec<Feature>,
    /// What the path is for.
    pub description: String,
    /// Why this level.
    pub reason: String,
    /// Extra text for findings.
    pub explanation: Option<String>,
    /// Only flows whose TLS ClientHello offered nothing at or above this version (wire code).
    pub tls_below: Option<u16>,
    /// The rule set it belongs to.
    pub set: String,
    /// Where it was written.
    pub file: PathBuf,
    /// Its line.
    pub line: usize,
}

impl Rule {
    /// Whether every feature it depends on is deployed.
    pub fn enabled(&self, deployed: &[Feature]) -> bool {
        self.features.iter().all(|f| deployed.contains(f))
    }
}

/// Traffic that is known background: counted, never a finding.
#[derive(Debug, Clone)]
pub struct Background {
    /// What it is.
    pub name: String,
    /// Transports.
    pub proto: ProtoSel,
    /// Ports (either side).
    pub ports: PortSet,
}

/// A loaded rule set's header.
#[derive(Debug, Clone)]
pub struct SetInfo {
    /// Its name.
    pub name: String,
    /// One line.
    pub title: String,
    /// Where its rules come from.
    pub source: String,
    /// Whether it is on unless switched off.
    pub default: bool,
    /// Its file.
    pub file: PathBuf,
}

/// Rules, background and endpoint lists from one or more files.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Every rule of every loaded file.
    pub rules: Vec<Rule>,
    /// Known background traffic.
    pub background: Vec<Background>,
    /// Cloud endpoint patterns and ranges.
    pub endpoints: EndpointMap,
    /// The loaded sets.
    pub sets: Vec<SetInfo>,
}

impl RuleSet {
    /// The shipped rule set.
    pub fn builtin() -> RuleSet {
        let mut b = Builder::default();
        for (name, text) in BUILTIN {
            b.add_text(Path::new(name), text);
        }
        b.finish()
            .expect("the shipped rule files are valid (a unit test checks them)")
    }

    /// Loads rule files or folders of them (every `*.toml`, in name order).
    pub fn load(paths: &[PathBuf]) -> Result<RuleSet, ConfigError> {
        let mut b = Builder::default();
        b.add_paths(paths);
        b.finish()
    }

    /// The shipped rules plus these files.
    pub fn builtin_plus(paths: &[PathBuf]) -> Result<RuleSet, ConfigError> {
        let mut b = Builder::default();
        for (name, text) in BUILTIN {
            b.add_text(Path::new(name), text);
        }
        b.add_paths(paths);
        b.finish()
    }

    /// Switches rule sets off by name (and on, for sets that are off by default). Unknown names
    /// are returned as errors.
    pub fn select(&mut self, disable: &[String], enable: &[String]) -> Result<(), String> {
        for n in disable.iter().chain(enable) {
            if !self.sets.iter().any(|s| &s.name == n) {
                return Err(format!(
                    "no rule set is named '{n}' (loaded: {})",
                    self.sets
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        let active: Vec<String> = self
            .sets
            .iter()
            .filter(|s| (s.default || enable.contains(&s.name)) && !disable.contains(&s.name))
            .map(|s| s.name.clone())
            .collect();
        self.rules.retain(|r| active.contains(&r.set));
        Ok(())
    }
}

/// Collects files, then checks them together (ids must be unique across files).
#[derive(Default)]
struct Builder {
    set: RuleSet,
    diags: Vec<Diagnostic>,
    ids: BTreeMap<String, (PathBuf, usize)>,
}

impl Builder {
    fn add_paths(&mut self, paths: &[PathBuf]) {
        for p in paths {
            if p.is_dir() {
                let mut files: Vec<PathBuf> = match std::fs::read_dir(p) {
                    Ok(rd) => rd
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                        .collect(),
                    Err(e) => {
                        self.io_error(p, e);
                        continue;
                    }
                };
                files.sort();
                if files.is_empty() {
                    self.diags.push(Diagnostic {
                        file: p.clone(),
                        line: 0,
                        col: 0,
                        message: "folder holds no .toml rule files".into(),
                    });
                }
                for f in files {
                    self.add_file(&f);
                }
            } else {
                self.add_file(p);
            }
        }
    }

    fn io_error(&mut self, p: &Path, e: std::io::Error) {
        self.diags.push(Diagnostic {
            file: p.to_path_buf(),
            line: 0,
            col: 0,
            message: format!("cannot read: {e}"),
        });
    }

    fn add_file(&mut self, p: &Path) {
        match std::fs::read_to_string(p) {
            Ok(text) => self.add_text(p, &text),
            Err(e) => self.io_error(p, e),
        }
    }

    fn add_text(&mut self, file: &Path, text: &str) {
        let (mut doc, root) = Doc::parse(file, text);
        if let Some(root) = root {
            self.check_file(&mut doc, root.get_ref(), root.span(), file);
        }
        self.diags.append(&mut doc.diags);
    }

    fn check_file(
        &mut self,
        doc: &mut Doc<'_>,
        root: &crate::tomlcheck::Table<'_>,
        root_span: std::ops::Range<usize>,
        file: &Path,
    ) {
        doc.check_keys(
            root,
            &[
                "ruleset",
                "rule",
                "endpoints",
                "endpoint",
                "ignore",
                "background",
            ],
            "a rules file",
        );
        let set_name = match doc.table(root, "ruleset") {
            Some((t, span)) => {
                doc.check_keys(t, &["name", "title", "source", "default"], "[ruleset]");
                let name = doc.string(t, span.clone(), "name", true);
                let title = doc.string(t, span.clone(), "title", false);
                let source = doc.string(t, span.clone(), "source", true);
                let default = doc.boolean(t, "default").unwrap_or(true);
                let name = name.map(|(n, _)| n).unwrap_or_default();
                if let Some(prev) = self.set.sets.iter().find(|s| s.name == name) {
                    let msg = format!(
                        "rule set '{name}' is already loaded from {}",
                        prev.file.display()
                    );
                    doc.err(span, msg);
                }
                self.set.sets.push(SetInfo {
                    name: name.clone(),
                    title: title.map(|t| t.0).unwrap_or_default(),
                    source: source.map(|s| s.0).unwrap_or_default(),
                    default,
                    file: file.to_path_buf(),
                });
                name
            }
            None => {
                doc.err(root_span, "missing [ruleset] table (name, source)");
                String::new()
            }
        };

        for (t, span) in doc.tables(root, "rule") {
            // Ids are checked for uniqueness even when the rest of the rule is wrong.
            if let Some(v) = crate::tomlcheck::get(t, "id") {
                if let toml::de::DeValue::String(id) = v.get_ref() {
                    let (line, _) = doc.position(span.start);
                    if let Some((f, l)) = self.ids.get(id.as_ref()) {
                        let msg = format!(
                            "duplicate rule id '{id}' (first defined at {}:{l})",
                            f.display()
                        );
                        doc.err(v.span(), msg);
                    } else {
                        self.ids.insert(id.to_string(), (file.to_path_buf(), line));
                    }
                }
            }
            if let Some((r, _)) = check_rule(doc, t, span, &set_name, file) {
                self.set.rules.push(r);
            }
        }

        if let Some((t, span)) = doc.table(root, "endpoints") {
            doc.check_keys(t, &["taken", "source"], "[endpoints]");
            if let Some((taken, _)) = doc.string(t, span, "taken", false) {
                self.set.endpoints.taken = Some(taken);
            }
        }
        for (t, span) in doc.tables(root, "endpoint") {
            doc.check_keys(
                t,
                &["role", "names", "ranges", "note"],
                "an [[endpoint]] entry",
            );
            let role = doc.string(t, span.clone(), "role", true).and_then(|(r, rs)| {
                match Role::parse(&r) {
                    Some(role) if role.is_cloud() => Some(role),
                    _ => {
                        doc.err(
                            rs,
                            format!(
                                "'{r}' is not a cloud role (expected one of: aad, crl, health, servicebus, pta-cloud)"
                            ),
                        );
                        None
                    }
                }
            });
            let names = doc
                .strings(t, span.clone(), "names", false)
                .unwrap_or_default();
            let ranges = doc
                .strings(t, span.clone(), "ranges", false)
                .unwrap_or_default();
            let _ = doc.string(t, span, "note", false);
            for (n, ns) in names {
                match NamePattern::parse(&n) {
                    Ok(p) => {
                        if let Some(r) = role {
                            self.set.endpoints.names.push((p, r));
                        }
                    }
                    Err(e) => doc.err(ns, e),
                }
            }
            for (c, cs) in ranges {
                match Cidr::parse(&c) {
                    Ok(c) => {
                        if let Some(r) = role {
                            self.set.endpoints.ranges.push((c, r));
                        }
                    }
                    Err(e) => doc.err(cs, e),
                }
            }
        }
        for (t, span) in doc.tables(root, "ignore") {
            doc.check_keys(t, &["names", "reason"], "an [[ignore]] entry");
            for (n, ns) in doc
                .strings(t, span.clone(), "names", true)
                .unwrap_or_default()
            {
                match NamePattern::parse(&n) {
                    Ok(p) => self.set.endpoints.ignore.push(p),
                    Err(e) => doc.err(ns, e),
                }
            }
            let _ = doc.string(t, span, "reason", false);
        }
        for (t, span) in doc.tables(root, "background") {
            doc.check_keys(t, &["name", "proto", "ports"], "a [[background]] entry");
            let name = doc.string(t, span.clone(), "name", true).map(|n| n.0);
            let proto = parse_proto(doc, t, span.clone());
            let ports = parse_ports(doc, t, span);
            if let (Some(name), Some(proto), Some(ports)) = (name, proto, ports) {
                self.set.background.push(Background { name, proto, ports });
            }
        }
    }

    fn finish(mut self) -> Result<RuleSet, ConfigError> {
        if self.diags.is_empty() {
            Ok(self.set)
        } else {
            self.diags.sort();
            Err(ConfigError {
                diagnostics: self.diags,
            })
        }
    }
}

fn parse_proto(
    doc: &mut Doc<'_>,
    t: &crate::tomlcheck::Table<'_>,
    span: std::ops::Range<usize>,
) -> Option<ProtoSel> {
    let (p, ps) = doc.string(t, span, "proto", true)?;
    let sel = ProtoSel::parse(&p);
    if sel.is_none() {
        doc.err(
            ps,
            format!("unknown protocol '{p}' (expected tcp, udp or tcp/udp)"),
        );
    }
    sel
}

fn parse_ports(
    doc: &mut Doc<'_>,
    t: &crate::tomlcheck::Table<'_>,
    span: std::ops::Range<usize>,
) -> Option<PortSet> {
    let items = doc.strings(t, span.clone(), "ports", true)?;
    if items.is_empty() {
        doc.err(span, "'ports' is empty");
        return None;
    }
    let mut set = PortSet::default();
    let mut ok = true;
    for (s, ss) in items {
        match PortSet::parse_item(&s) {
            Ok(r) => set.0.push(r),
            Err(e) => {
                doc.err(ss, e);
                ok = false;
            }
        }
    }
    ok.then_some(set)
}

fn parse_roles(
    doc: &mut Doc<'_>,
    t: &crate::tomlcheck::Table<'_>,
    span: std::ops::Range<usize>,
    key: &str,
) -> Option<Vec<Role>> {
    let items = doc.strings(t, span, key, true)?;
    let mut out = Vec::new();
    let mut ok = !items.is_empty();
    for (s, ss) in items {
        match Role::parse(&s) {
            Some(r) => out.push(r),
            None => {
                doc.err(
                    ss,
                    format!("unknown role '{s}' (expected one of: {})", Role::names()),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

fn check_rule(
    doc: &mut Doc<'_>,
    t: &crate::tomlcheck::Table<'_>,
    span: std::ops::Range<usize>,
    set: &str,
    file: &Path,
) -> Option<(Rule, std::ops::Range<usize>)> {
    doc.check_keys(
        t,
        &[
            "id",
            "table",
            "row",
            "from",
            "to",
            "proto",
            "service",
            "ports",
            "level",
            "features",
            "description",
            "reason",
            "explanation",
            "tls_below",
        ],
        "a [[rule]]",
    );
    let (line, _) = doc.position(span.start);
    let id = doc.string(t, span.clone(), "id", true);
    if let Some((id, is)) = &id {
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            doc.err(
                is.clone(),
                format!("rule id '{id}' must be kebab-case (a-z, 0-9, -)"),
            );
        }
    }
    let table = doc.string(t, span.clone(), "table", true);
    let row = doc.string(t, span.clone(), "row", false);
    let from = parse_roles(doc, t, span.clone(), "from");
    let to = parse_roles(doc, t, span.clone(), "to");
    let proto = parse_proto(doc, t, span.clone());
    let service = doc.string(t, span.clone(), "service", false);
    let ports = parse_ports(doc, t, span.clone());
    let level = doc
        .string(t, span.clone(), "level", true)
        .and_then(|(l, ls)| {
            let v = Level::parse(&l);
            if v.is_none() {
                doc.err(
                    ls,
                    format!("unknown level '{l}' (expected one of: {})", Level::names()),
                );
            }
            v
        });
    let mut features = Vec::new();
    let mut features_ok = true;
    for (f, fs) in doc
        .strings(t, span.clone(), "features", false)
        .unwrap_or_default()
    {
        match Feature::parse(&f) {
            Some(f) => features.push(f),
            None => {
                doc.err(
                    fs,
                    format!(
                        "unknown feature '{f}' (expected one of: {})",
                        Feature::names()
                    ),
                );
                features_ok = false;
            }
        }
    }
    let description = doc.string(t, span.clone(), "description", true);
    let reason = doc.string(t, span.clone(), "reason", true);
    let explanation = doc.string(t, span.clone(), "explanation", false);
    let tls_below = match doc.string(t, span.clone(), "tls_below", false) {
        Some((v, vs)) => {
            let code = match v.as_str() {
                "1.0" => Some(0x0301),
                "1.1" => Some(0x0302),
                "1.2" => Some(0x0303),
                "1.3" => Some(0x0304),
                _ => None,
            };
            if code.is_none() {
                doc.err(
                    vs,
                    format!("unknown TLS version '{v}' (expected 1.0, 1.1, 1.2 or 1.3)"),
                );
                return None;
            }
            code
        }
        None => None,
    };
    let (id, id_span) = id?;
    let rule = Rule {
        id,
        table: table?.0,
        row: row.map(|r| r.0).unwrap_or_default(),
        from: from?,
        to: to?,
        proto: proto?,
        service: service.map(|s| s.0).unwrap_or_default(),
        ports: ports?,
        level: level?,
        features: if features_ok { features } else { return None },
        description: description?.0,
        reason: reason?.0,
        explanation: explanation.map(|e| e.0),
        tls_below,
        set: set.to_string(),
        file: file.to_path_buf(),
        line,
    };
    Some((rule, id_span))
}

#[cfg(test)]
mod tests;
