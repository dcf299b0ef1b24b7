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
use crate::flow::{Flow, Outcome};
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

#[derive(Default)]
struct Acc {
    rule: Option<usize>,
    from_role: String,
    to_role: String,
    connections: u64,
    packets: u64,
    bytes: u64,
    first: Option<i64>,
    last: Option<i64>,
    outcomes: BTreeMap<&'static str, u64>,
    evidence: BTreeSet<String>,
}

type GroupKey = (Kind, String, Addr, Addr, u8, u16);

/// Judges flows and required paths.
pub fn evaluate(
    flows: &[Flow],
    hosts: &HostTable,
    rules: &RuleSet,
    features: &[Feature],
) -> AuditResult {
    let enabled: Vec<&Rule> = rules.rules.iter().filter(|r| r.enabled(features)).collect();
    let mut res = AuditResult {
        features: features.to_vec(),
        ..AuditResult::default()
    };
    let mut groups: BTreeMap<GroupKey, Acc> = BTreeMap::new();
    let mut present: BTreeSet<(usize, usize)> = BTreeSet::new();

    for f in flows {
        let (s, _) = f.src();
        let (d, dport) = f.dst();
        if let Some(bg) = background(f, rules) {
            let b = res.background.entry(bg).or_default();
            b.flows += 1;
            b.packets += f.total_packets();
            continue;
        }
        let (Some(sh), Some(dh)) = (hosts.get(&s), hosts.get(&d)) else {
            continue;
        };
        if sh.ignored.is_some() || dh.ignored.is_some() {
            res.ignored += 1;
            continue;
        }
        if !judged(sh, dh) {
            res.not_judged += 1;
            continue;
        }
        res.judged += 1;

        let mut allowing: Vec<(usize, Role, Role)> = Vec::new();
        let mut deprecated: Vec<(usize, Role, Role)> = Vec::new();
        for (i, r) in enabled.iter().enumerate() {
            if !r.proto.admits(f.key.proto) || !r.ports.contains(dport) {
                continue;
            }
            let (Some(fr), Some(tr)) = (role_match(&r.from, sh), role_match(&r.to, dh)) else {
                continue;
            };
            if let Some(below) = r.tls_below {
                if f.tls_max == 0 || f.tls_max >= below {
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
        let outcome = f.outcome();
        let proto = f.key.proto.0;
        if let Some(&(i, fr, tr)) = allowing
            .iter()
            .min_by_key(|(i, _, _)| (level_rank(enabled[*i].level), *i))
        {
            let kind = if outcome.is_failure() {
                Kind::Blocked
            } else {
                Kind::Ok
            };
            let key = (kind, enabled[i].id.clone(), s, d, proto, dport);
            add(&mut groups, key, Some(i), fr.as_str(), tr.as_str(), f);
        }
        for &(i, fr, tr) in &deprecated {
            let key = (Kind::Deprecated, enabled[i].id.clone(), s, d, proto, dport);
            let acc = add(&mut groups, key, Some(i), fr.as_str(), tr.as_str(), f);
            if enabled[i].tls_below.is_some() {
                acc.evidence.insert(format!(
                    "TLS ClientHello offered at most {}",
                    tls_name(f.tls_max)
                ));
            }
        }
        if allowing.is_empty() && deprecated.is_empty() {
            let key = (Kind::Unexpected, String::new(), s, d, proto, dport);
            add(&mut groups, key, None, &roles_str(sh), &roles_str(dh), f);
        }
    }

    for ((kind, _, s, d, proto, port), acc) in groups {
        let rule = acc.rule.map(|i| enabled[i]);
        res.findings.push(Finding {
            kind,
            rule: rule.map(|r| r.id.clone()),
            source: rule.map(source_of).unwrap_or_default(),
            level: rule.map(|r| r.level),
            service: rule.map(|r| r.service.clone()).unwrap_or_default(),
            description: rule.map(|r| r.description.clone()).unwrap_or_default(),
            from_role: acc.from_role,
            to_role: acc.to_role,
            proto: IpProto(proto).name().into_owned(),
            port: port.to_string(),
            from_addrs: vec![s],
            to_addrs: vec![d],
            unit: None,
            connections: acc.connections,
            packets: acc.packets,
            bytes: acc.bytes,
            first_ns: acc.first,
            last_ns: acc.last,
            outcomes: acc.outcomes,
            evidence: acc.evidence.into_iter().take(6).collect(),
            explanation: if kind == Kind::Ok {
                None
            } else {
                rule.and_then(|r| r.explanation.clone())
            },
        });
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

fn add<'g>(
    groups: &'g mut BTreeMap<GroupKey, Acc>,
    key: GroupKey,
    rule: Option<usize>,
    from_role: &str,
    to_role: &str,
    f: &Flow,
) -> &'g mut Acc {
    let acc = groups.entry(key).or_insert_with(|| Acc {
        rule,
        from_role: from_role.to_string(),
        to_role: to_role.to_string(),
        ..Acc::default()
    });
    acc.connections += 1;
    acc.packets += f.total_packets();
    acc.bytes += f.total_bytes();
    acc.first = Some(acc.first.map_or(f.first_ns, |x| x.min(f.first_ns)));
    acc.last = Some(acc.last.map_or(f.last_ns, |x| x.max(f.last_ns)));
    let outcome = f.outcome();
    *acc.outcomes.entry(outcome.as_str()).or_default() += 1;
    if outcome.is_failure() && acc.evidence.len() < 6 {
        acc.evidence.insert(failure_evidence(f, outcome));
    }
    acc
}

/// How an attempt failed, in words an auditor can check in Wireshark.
fn failure_evidence(f: &Flow, outcome: Outcome) -> String {
    let o = f.orig_side();
    let secs = (f.last_ns - f.first_ns) as f64 / 1e9;
    match outcome {
        Outcome::Refused => format!(
            "refused by RST ({}) at {}",
            f.conn_state(),
            format_rfc3339_ns(f.first_ns)
        ),
        Outcome::Unreachable => match f.icmp {
            Some(e) => format!(
                "ICMP{} {}/{} ({}) from {}",
                if e.v6 { "v6" } else { "" },
                e.kind,
                e.code,
                icmp_meaning(e.v6, e.kind, e.code),
                e.reporter
            ),
            None => "unreachable".into(),
        },
        _ => {
            if f.key.proto == IpProto::TCP {
                format!(
                    "unanswered: {} SYN attempt{} over {secs:.1} s, no reply",
                    f.packets[o],
                    if f.packets[o] == 1 { "" } else { "s" }
                )
            } else {
                format!(
                    "unanswered: {} datagram{} over {secs:.1} s, no reply",
                    f.packets[o],
                    if f.packets[o] == 1 { "" } else { "s" }
                )
            }
        }
    }
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

fn tls_name(v: u16) -> &'static str {
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

/// The background kind of a flow, if it is known background.
fn background(f: &Flow, rules: &RuleSet) -> Option<String> {
    let p = f.key.proto;
    if p == IpProto::IGMP {
        return Some("IGMP".into());
    }
    if p == IpProto::ICMPV6 {
        let nd = |t: u16| (130..=143).contains(&t);
        return Some(if nd(f.key.pa) || nd(f.key.pb) {
            "ICMPv6 neighbour discovery and MLD".into()
        } else {
            "ICMP messages (ping and others)".into()
        });
    }
    if p == IpProto::ICMP {
        return Some("ICMP messages (ping and others)".into());
    }
    let (d, _) = f.dst();
    if d.is_multicast_or_broadcast() {
        return Some("multicast and broadcast".into());
    }
    let (_, sp) = f.src();
    let (_, dp) = f.dst();
    rules
        .background
        .iter()
        .find(|b| b.proto.admits(p) && (b.ports.contains(dp) || b.ports.contains(sp)))
        .map(|b| b.name.clone())
}
