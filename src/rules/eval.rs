//! Judging: every flow of a host with a role against the rules in effect, and every required path
//! of a deployed feature against the flows.
//!
//! A flow is judged when it involves the hybrid identity servers: its originator holds an
//! on-premises role (connect, adfs, wap, pta-agent, dc), or its responder is one of the servers
//! (connect, adfs, wap, pta-agent), or a user reaches a host with a role. Clients of domain
//! controllers and of the cloud that hold no role are outside the audit and only counted.
//!
//! For a judged flow, the rules whose roles, transport and port match decide its verdict:
//! - an allowing rule (required, setup, optional) and a failed attempt: **blocked**, per host pair;
//! - an allowing rule and an answer: **ok**, the evidence that the rule was checked;
//! - a deprecated rule: **deprecated** (Service Bus 5671; a TLS hello offering nothing above 1.1);
//! - no rule at all: **unexpected**.
//!
//! A required rule is **missing** for a unit (an inventory entry, or an inferred host) that was seen
//! in the capture but never attempted the path, to any host of the responding role: one reachable
//! DC is enough, and an attempt that failed is reported once, as blocked. When the unit was not seen
//! at all, or the rule is a setup rule, the path is only listed as **not-observed**.
//! Known background (NetBIOS, LLMNR, mDNS, SSDP, DHCP, multicast, broadcast, IGMP, ICMP messages)
//! is counted in its own section and never a finding.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{Rule, RuleSet};
use crate::classify::{Host, HostTable};
use crate::flow::edge::{Edge, Totals, OUTCOMES};
use crate::flow::Outcome;
use crate::model::{format_rfc3339_ns, Addr, Feature, IpProto, Level, Role};

/// The kinds of verdict, in report order (worst first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A required path never attempted.
    Missing,
    /// An allowed path attempted and failed.
    Blocked,
    /// Traffic no rule allows.
    Unexpected,
    /// An allowed but outdated path.
    Deprecated,
    /// A required or setup path not seen, where that is not a finding.
    NotObserved,
    /// A rule satisfied.
    Ok,
}

impl Kind {
    /// The word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Missing => "missing",
            Kind::Blocked => "blocked",
            Kind::Unexpected => "unexpected",
            Kind::Deprecated => "deprecated",
            Kind::NotObserved => "not-observed",
            Kind::Ok => "ok",
        }
    }

    /// Every kind, in report order.
    pub const ALL: [Kind; 6] = [
        Kind::Missing,
        Kind::Blocked,
        Kind::Unexpected,
        Kind::Deprecated,
        Kind::NotObserved,
        Kind::Ok,
    ];

    /// Whether this kind is a finding that fails the audit (deprecated only with `--strict`).
    pub fn fails(self, strict: bool) -> bool {
        matches!(self, Kind::Missing | Kind::Blocked | Kind::Unexpected)
            || (strict && self == Kind::Deprecated)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One verdict with its evidence.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What kind of verdict.
    pub kind: Kind,
    /// The rule (none for unexpected traffic).
    pub rule: Option<String>,
    /// The rule's source table and row.
    pub source: String,
    /// The rule's level.
    pub level: Option<Level>,
    /// The service name (LDAP, Kerberos...).
    pub service: String,
    /// What the path is for.
    pub description: String,
    /// The initiating role the rule used (or the host's roles).
    pub from_role: String,
    /// The responding role.
    pub to_role: String,
    /// Transport: `tcp`, `udp`, `tcp/udp` (for a missing TCP/UDP row), or another protocol.
    pub proto: String,
    /// Port or range.
    pub port: String,
    /// Initiating addresses.
    pub from_addrs: Vec<Addr>,
    /// Responding addresses.
    pub to_addrs: Vec<Addr>,
    /// The unit, for missing and not-observed paths.
    pub unit: Option<String>,
    /// Connections (flows).
    pub connections: u64,
    /// Packets, both directions.
    pub packets: u64,
    /// Wire bytes, both directions.
    pub bytes: u64,
    /// First packet.
    pub first_ns: Option<i64>,
    /// Last packet.
    pub last_ns: Option<i64>,
    /// Outcomes seen, with their counts.
    pub outcomes: BTreeMap<&'static str, u64>,
    /// How it failed, what matched: a few lines for people.
    pub evidence: Vec<String>,
    /// Extra text from the rule.
    pub explanation: Option<String>,
}

/// Background traffic of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackgroundCount {
    /// Flows.
    pub flows: u64,
    /// Packets.
    pub packets: u64,
}

/// The result of an audit.
#[derive(Debug, Clone, Default)]
pub struct AuditResult {
    /// Every verdict, sorted by kind, then rule, then hosts.
    pub findings: Vec<Finding>,
    /// Known background traffic by kind.
    pub background: BTreeMap<String, BackgroundCount>,
    /// Flows judged.
    pub judged: u64,
    /// Flows outside the audit (no audited role involved).
    pub not_judged: u64,
    /// Flows to hosts whose names are on the ignore list.
    pub ignored: u64,
    /// The features the audit assumed deployed.
    pub features: Vec<Feature>,
}

impl AuditResult {
    /// How many findings of a kind.
    pub fn count(&self, k: Kind) -> usize {
        self.findings.iter().filter(|f| f.kind == k).count()
    }

    /// Whether anything fails the audit.
    pub fn fails(&self, strict: bool) -> bool {
        self.findings.iter().any(|f| f.kind.fails(strict))
    }
}

/// Judges edges and required paths.
pub fn evaluate(
    edges: &[Edge],
    hosts: &HostTable,
    rules: &RuleSet,
    features: &[Feature],
) -> AuditResult {
    let enabled: Vec<&Rule> = rules.rules.iter().filter(|r| r.enabled(features)).collect();
    let mut res = AuditResult {
        features: features.to_vec(),
        ..AuditResult::default()
    };
    let mut present: BTreeSet<(usize, usize)> = BTreeSet::new();

    for e in edges {
        let (s, d, dport) = (e.key.orig, e.key.resp, e.key.port);
        let all = e.all();
        if let Some(bg) = background(e, rules) {
            let b = res.background.entry(bg).or_default();
            b.flows += all.flows;
            b.packets += all.packets;
            continue;
        }
        let (Some(sh), Some(dh)) = (hosts.get(&s), hosts.get(&d)) else {
            continue;
        };
        if sh.ignored.is_some() || dh.ignored.is_some() {
            res.ignored += all.flows;
            continue;
        }
        if !judged(sh, dh) {
            res.not_judged += all.flows;
            continue;
        }
        res.judged += all.flows;

        let mut allowing: Vec<(usize, Role, Role)> = Vec::new();
        let mut deprecated: Vec<(usize, Role, Role)> = Vec::new();
        for (i, r) in enabled.iter().enumerate() {
            if !r.proto.admits(e.key.proto) || !r.ports.contains(dport) {
                continue;
            }
            let (Some(fr), Some(tr)) = (role_match(&r.from, sh), role_match(&r.to, dh)) else {
                continue;
            };
            if let Some(below) = r.tls_below {
                if e.tls_below(below).is_none_or(|t| t.flows == 0) {
                    continue;
                }
            }
            if r.level == Level::Deprecated {
                deprecated.push((i, fr, tr));
            } else {
                allowing.push((i, fr, tr));
            }
        }
        if let Some(u) = sh.unit {
            for (i, _, _) in allowing.iter().chain(&deprecated) {
                present.insert((*i, u));
            }
        }
        if let Some(&(i, fr, tr)) = allowing
            .iter()
            .min_by_key(|(i, _, _)| (level_rank(enabled[*i].level), *i))
        {
            let failed = e.failed();
            if failed.flows > 0 {
                let mut f = finding(
                    Kind::Blocked,
                    Some(enabled[i]),
                    fr.as_str(),
                    tr.as_str(),
                    e,
                    &failed,
                );
                f.outcomes = outcome_counts(e, true);
                f.evidence = failure_evidence(e);
                res.findings.push(f);
            }
            let ok = e.succeeded();
            if ok.flows > 0 {
                let mut f = finding(Kind::Ok, Some(enabled[i]), fr.as_str(), tr.as_str(), e, &ok);
                f.outcomes = outcome_counts(e, false);
                f.explanation = None;
                res.findings.push(f);
            }
        }
        for &(i, fr, tr) in &deprecated {
            let r = enabled[i];
            let totals = match r.tls_below.and_then(|b| e.tls_below(b)) {
                Some(t) => *t,
                None => all,
            };
            let mut f = finding(
                Kind::Deprecated,
                Some(r),
                fr.as_str(),
                tr.as_str(),
                e,
                &totals,
            );
            f.outcomes = outcome_counts_all(e);
            if r.tls_below.is_some() {
                f.evidence.push(format!(
                    "TLS ClientHello offered at most {}",
                    tls_name(e.tls_lowest)
                ));
            }
            f.evidence.extend(failure_evidence(e));
            res.findings.push(f);
        }
        if allowing.is_empty() && deprecated.is_empty() {
            let mut f = finding(
                Kind::Unexpected,
                None,
                &roles_str(sh),
                &roles_str(dh),
                e,
                &all,
            );
            f.outcomes = outcome_counts_all(e);
            f.evidence = failure_evidence(e);
            res.findings.push(f);
        }
    }

    // Required and setup paths that no unit of the initiating role attempted.
    for (i, r) in enabled.iter().enumerate() {
        if !matches!(r.level, Level::Required | Level::Setup) {
            continue;
        }
        for (u, unit) in hosts.units.iter().enumerate() {
            let Some(fr) = r.from.iter().find(|x| unit.roles.contains(x)) else {
                continue;
            };
            if present.contains(&(i, u)) {
                continue;
            }
            let observed = !unit.addrs.is_empty();
            let kind = if r.level == Level::Required && observed {
                Kind::Missing
            } else {
                Kind::NotObserved
            };
            let to_hosts: Vec<Addr> = hosts
                .hosts
                .values()
                .filter(|h| r.to.iter().any(|t| h.has(*t)))
                .map(|h| h.addr)
                .collect();
            let to_role =
                r.to.iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join("+");
            let mut evidence = Vec::new();
            if !observed {
                evidence.push(format!("{} does not appear in the capture", unit.label));
            } else {
                evidence.push(format!(
                    "no {} {} connection from {} to any {} host",
                    r.proto.as_str(),
                    r.ports,
                    unit.label,
                    to_role
                ));
            }
            evidence.push(if to_hosts.is_empty() {
                format!("no {to_role} host was seen in the capture")
            } else {
                format!(
                    "{to_role} hosts seen: {}",
                    to_hosts
                        .iter()
                        .take(8)
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
            if r.level == Level::Setup {
                evidence.push("a setup path: used at install or configuration time only".into());
            }
            res.findings.push(Finding {
                kind,
                rule: Some(r.id.clone()),
                source: source_of(r),
                level: Some(r.level),
                service: r.service.clone(),
                description: r.description.clone(),
                from_role: fr.as_str().to_string(),
                to_role,
                proto: r.proto.as_str().to_string(),
                port: r.ports.to_string(),
                from_addrs: unit.addrs.clone(),
                to_addrs: to_hosts.into_iter().take(8).collect(),
                unit: Some(unit.label.clone()),
                connections: 0,
                packets: 0,
                bytes: 0,
                first_ns: None,
                last_ns: None,
                outcomes: BTreeMap::new(),
                evidence,
                explanation: r.explanation.clone(),
            });
        }
    }
    res.findings.sort_by(|a, b| {
        (
            a.kind,
            &a.rule,
            &a.from_addrs,
            &a.to_addrs,
            &a.proto,
            &a.port,
            &a.unit,
        )
            .cmp(&(
                b.kind,
                &b.rule,
                &b.from_addrs,
                &b.to_addrs,
                &b.proto,
                &b.port,
                &b.unit,
            ))
    });
    res
}

/// A finding for an edge, with the totals of the flows it is about.
fn finding(
    kind: Kind,
    rule: Option<&Rule>,
    from_role: &str,
    to_role: &str,
    e: &Edge,
    t: &Totals,
) -> Finding {
    Finding {
        kind,
        rule: rule.map(|r| r.id.clone()),
        source: rule.map(source_of).unwrap_or_default(),
        level: rule.map(|r| r.level),
        service: rule.map(|r| r.service.clone()).unwrap_or_default(),
        description: rule.map(|r| r.description.clone()).unwrap_or_default(),
        from_role: from_role.to_string(),
        to_role: to_role.to_string(),
        proto: e.key.proto.name().into_owned(),
        port: e.key.port.to_string(),
        from_addrs: vec![e.key.orig],
        to_addrs: vec![e.key.resp],
        unit: None,
        connections: t.flows,
        packets: t.packets,
        bytes: t.bytes,
        first_ns: t.first_ns(),
        last_ns: t.last_ns(),
        outcomes: BTreeMap::new(),
        evidence: Vec::new(),
        explanation: rule.and_then(|r| r.explanation.clone()),
    }
}

fn outcome_counts(e: &Edge, failed: bool) -> BTreeMap<&'static str, u64> {
    OUTCOMES
        .iter()
        .filter(|o| o.is_failure() == failed)
        .map(|o| (o.as_str(), e.outcome(*o).flows))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn outcome_counts_all(e: &Edge) -> BTreeMap<&'static str, u64> {
    OUTCOMES
        .iter()
        .map(|o| (o.as_str(), e.outcome(*o).flows))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// How the edge's attempts failed, in words an auditor can check in Wireshark.
fn failure_evidence(e: &Edge) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &e.failures {
        let secs = f.last_ns.saturating_sub(f.first_ns) as f64 / 1e9;
        let attempts = if f.orig_packets > 1 {
            format!(", {} attempts over {secs:.1} s", f.orig_packets)
        } else {
            String::new()
        };
        let s = match f.outcome {
            Outcome::Refused => format!(
                "refused by RST ({}) at {}{attempts}",
                f.state,
                format_rfc3339_ns(f.first_ns)
            ),
            Outcome::Unreachable => match f.icmp {
                Some(i) => format!(
                    "ICMP{} {}/{} ({}) from {}{attempts}",
                    if i.v6 { "v6" } else { "" },
                    i.kind,
                    i.code,
                    icmp_meaning(i.v6, i.kind, i.code),
                    i.reporter
                ),
                None => "unreachable".into(),
            },
            _ => {
                let what = if e.key.proto == IpProto::TCP {
                    "SYN attempt"
                } else {
                    "datagram"
                };
                format!(
                    "unanswered: {} {what}{} over {secs:.1} s, no reply",
                    f.orig_packets,
                    if f.orig_packets == 1 { "" } else { "s" }
                )
            }
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// What an ICMP destination-unreachable code means.
pub fn icmp_meaning(v6: bool, kind: u8, code: u8) -> &'static str {
    match (v6, kind, code) {
        (false, 3, 0) => "network unreachable",
        (false, 3, 1) => "host unreachable",
        (false, 3, 2) => "protocol unreachable",
        (false, 3, 3) => "port unreachable",
        (false, 3, 4) => "fragmentation needed",
        (false, 3, 9) | (false, 3, 10) | (false, 3, 13) => "administratively prohibited",
        (false, 3, _) => "destination unreachable",
        (false, 11, _) => "time exceeded",
        (true, 1, 0) => "no route to destination",
        (true, 1, 1) => "administratively prohibited",
        (true, 1, 3) => "address unreachable",
        (true, 1, 4) => "port unreachable",
        (true, 1, 5) | (true, 1, 6) => "rejected by policy",
        (true, 1, _) => "destination unreachable",
        (true, 3, _) => "time exceeded",
        _ => "ICMP error",
    }
}

/// The name of a TLS version's wire code.
pub fn tls_name(v: u16) -> &'static str {
    match v {
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => "an unknown version",
    }
}

fn source_of(r: &Rule) -> String {
    if r.row.is_empty() {
        r.table.clone()
    } else {
        format!("{}: {}", r.table, r.row)
    }
}

fn level_rank(l: Level) -> u8 {
    match l {
        Level::Required => 0,
        Level::Setup => 1,
        Level::Optional => 2,
        Level::Deprecated => 3,
    }
}

fn roles_str(h: &Host) -> String {
    h.role_list()
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join("+")
}

/// The first of `wanted` that the host holds (`unknown` when it holds none).
fn role_match(wanted: &[Role], h: &Host) -> Option<Role> {
    wanted.iter().copied().find(|r| {
        if *r == Role::Unknown {
            h.roles.is_empty()
        } else {
            h.has(*r)
        }
    })
}

/// Whether a flow involves the audited hosts (see the module docs).
fn judged(s: &Host, d: &Host) -> bool {
    let onprem_origin = s.roles.keys().any(|r| r.is_server() || *r == Role::Dc);
    let server_resp = d.roles.keys().any(|r| r.is_server());
    let user_to_role = s.has(Role::User) && !d.roles.is_empty();
    onprem_origin || server_resp || user_to_role
}

/// Local-link and background protocols (DECISIONS 13): known background whatever rule files are
/// loaded, so that replacing the shipped rules never turns them into findings. Rule files may add
/// more with `[[background]]`.
const BUILTIN_BACKGROUND: [(super::ProtoSel, u16, u16, &str); 6] = [
    (
        super::ProtoSel::Udp,
        137,
        138,
        "NetBIOS name and datagram services",
    ),
    (super::ProtoSel::TcpUdp, 5355, 5355, "LLMNR"),
    (super::ProtoSel::Udp, 5353, 5353, "mDNS"),
    (super::ProtoSel::Udp, 1900, 1900, "SSDP"),
    (super::ProtoSel::Udp, 67, 68, "DHCP"),
    (super::ProtoSel::Udp, 546, 547, "DHCPv6"),
];

/// The background kind of an edge, if it is known background.
fn background(e: &Edge, rules: &RuleSet) -> Option<String> {
    let p = e.key.proto;
    if p == IpProto::IGMP {
        return Some("IGMP".into());
    }
    if p == IpProto::ICMPV6 {
        return Some(if (130..=143).contains(&e.key.port) {
            "ICMPv6 neighbour discovery and MLD".into()
        } else {
            "ICMP messages (ping and others)".into()
        });
    }
    if p == IpProto::ICMP {
        return Some("ICMP messages (ping and others)".into());
    }
    if e.key.resp.is_multicast_or_broadcast() {
        return Some("multicast and broadcast".into());
    }
    if let Some(name) = BUILTIN_BACKGROUND
        .iter()
        .find(|(proto, lo, hi, _)| proto.admits(p) && (*lo..=*hi).contains(&e.key.port))
        .map(|b| b.3)
    {
        return Some(name.into());
    }
    rules
        .background
        .iter()
        .find(|b| b.proto.admits(p) && b.ports.contains(e.key.port))
        .map(|b| b.name.clone())
}
