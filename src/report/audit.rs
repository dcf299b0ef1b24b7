//! The audit report: text for people (a summary readable in ten seconds, then details), JSON for
//! tools (documented in `docs/audit-json.md`), and CSV with one row per finding.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::flows::csv_field;
use super::CaptureJson;
use crate::classify::HostTable;
use crate::engine::AuditReport;
use crate::model::{format_rfc3339_ns, Addr};
use crate::rules::eval::{Finding, Kind};

/// Version of the JSON document's schema.
pub const JSON_VERSION: u32 = 1;

/// Audit output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFormat {
    /// For people.
    Text,
    /// One JSON document.
    Json,
    /// One row per finding.
    Csv,
}

impl std::str::FromStr for AuditFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<AuditFormat, String> {
        match s {
            "text" | "table" => Ok(AuditFormat::Text),
            "json" => Ok(AuditFormat::Json),
            "csv" => Ok(AuditFormat::Csv),
            _ => Err(format!("unknown format '{s}' (expected text, json or csv)")),
        }
    }
}

/// Writes the report in a format.
pub fn write(
    r: &AuditReport,
    format: AuditFormat,
    strict: bool,
    w: &mut dyn Write,
) -> io::Result<()> {
    match format {
        AuditFormat::Text => write_text(r, strict, w),
        AuditFormat::Json => {
            serde_json::to_writer_pretty(&mut *w, &document(r, strict))?;
            writeln!(w)
        }
        AuditFormat::Csv => write_csv(r, w),
    }
}

/// The Wireshark display filter that shows a finding's packets.
pub fn wireshark_filter(f: &Finding) -> String {
    let addr = |a: &Addr| {
        if a.is_v6() {
            format!("ipv6.addr=={a}")
        } else {
            format!("ip.addr=={a}")
        }
    };
    let group = |v: &[Addr]| -> Option<String> {
        match v.len() {
            0 => None,
            1 => Some(addr(&v[0])),
            _ => Some(format!(
                "({})",
                v.iter().map(addr).collect::<Vec<_>>().join(" || ")
            )),
        }
    };
    let ports = |proto: &str| -> String {
        if f.port.contains(['-', ',']) {
            let set: Vec<String> = f.port.split(',').map(|p| p.replace('-', "..")).collect();
            format!("{proto}.port in {{{}}}", set.join(" "))
        } else {
            format!("{proto}.port=={}", f.port)
        }
    };
    let transport = match f.proto.as_str() {
        "tcp" | "udp" => Some(ports(&f.proto)),
        "tcp/udp" => Some(format!("({} || {})", ports("tcp"), ports("udp"))),
        "icmp" => Some("icmp".to_string()),
        "icmpv6" => Some("icmpv6".to_string()),
        p => p
            .parse::<u8>()
            .ok()
            .map(|n| format!("ip.proto=={n}"))
            .or(Some(p.to_string())),
    };
    [group(&f.from_addrs), group(&f.to_addrs), transport]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" && ")
}

fn addrs(v: &[Addr]) -> String {
    v.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn outcomes(f: &Finding) -> String {
    f.outcomes
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn time(ns: Option<i64>) -> String {
    ns.map(format_rfc3339_ns).unwrap_or_default()
}

fn write_text(r: &AuditReport, strict: bool, w: &mut dyn Write) -> io::Result<()> {
    let res = &r.result;
    let n = |k| res.count(k);
    let fails = res.fails(strict);
    let input_failed = !r.analysis.input_errors.is_empty();
    writeln!(
        w,
        "flowaudit audit: {} missing, {} blocked, {} unexpected, {} deprecated; {} ok, {} not observed",
        n(Kind::Missing),
        n(Kind::Blocked),
        n(Kind::Unexpected),
        n(Kind::Deprecated),
        n(Kind::Ok),
        n(Kind::NotObserved)
    )?;
    writeln!(
        w,
        "verdict: {}",
        if input_failed {
            "INPUT ERRORS (exit 2): some inputs could not be read at all; the results cover the rest"
        } else if fails {
            "FINDINGS (exit 1)"
        } else if n(Kind::Deprecated) > 0 {
            "compliant, with deprecated paths (exit 0; --strict makes them findings)"
        } else {
            "compliant (exit 0)"
        }
    )?;
    let feats: Vec<&str> = res.features.iter().map(|f| f.as_str()).collect();
    writeln!(
        w,
        "features: {} ({})",
        if feats.is_empty() {
            "none".to_string()
        } else {
            feats.join(", ")
        },
        r.features_from
    )?;
    for c in &r.analysis.captures {
        let j = CaptureJson::from(c);
        writeln!(
            w,
            "capture: {} ({}{}, {} packets, {} .. {}, {:.3} s){}",
            j.path,
            j.format,
            if j.compressed { "+gzip" } else { "" },
            j.packets,
            j.first_seen.clone().unwrap_or_default(),
            j.last_seen.clone().unwrap_or_default(),
            j.duration_s,
            j.error
                .as_ref()
                .map(|e| format!(" WARNING: {e}"))
                .unwrap_or_default()
        )?;
        if let Some(live) = &j.live {
            writeln!(w, "{}", live.line())?;
        }
    }
    for e in &r.analysis.input_errors {
        writeln!(w, "input error: {e}")?;
    }

    // The findings, worst first, one line each.
    for kind in [
        Kind::Missing,
        Kind::Blocked,
        Kind::Unexpected,
        Kind::Deprecated,
    ] {
        let list: Vec<&Finding> = res.findings.iter().filter(|f| f.kind == kind).collect();
        if list.is_empty() {
            continue;
        }
        writeln!(w)?;
        writeln!(w, "{} ({})", kind.as_str().to_uppercase(), list.len())?;
        for f in list {
            writeln!(w, "  {}", one_line(f))?;
        }
    }

    // Details.
    let detailed: Vec<&Finding> = res
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                Kind::Missing | Kind::Blocked | Kind::Unexpected | Kind::Deprecated
            )
        })
        .collect();
    if !detailed.is_empty() {
        writeln!(w)?;
        writeln!(w, "DETAILS")?;
        for f in detailed {
            writeln!(w)?;
            write_detail(f, &r.hosts, w)?;
        }
    }

    let not_observed: Vec<&Finding> = res
        .findings
        .iter()
        .filter(|f| f.kind == Kind::NotObserved)
        .collect();
    if !not_observed.is_empty() {
        writeln!(w)?;
        writeln!(w, "NOT OBSERVED ({}): not findings", not_observed.len())?;
        for f in not_observed {
            writeln!(
                w,
                "  {:<34} {:<9} {} -> {} {} {}  ({})",
                f.rule.as_deref().unwrap_or("-"),
                f.level.map(|l| l.as_str()).unwrap_or(""),
                f.unit.as_deref().unwrap_or(&f.from_role),
                f.to_role,
                f.proto,
                f.port,
                f.evidence.first().map(|s| s.as_str()).unwrap_or("")
            )?;
        }
    }
    let ok: Vec<&Finding> = res.findings.iter().filter(|f| f.kind == Kind::Ok).collect();
    if !ok.is_empty() {
        writeln!(w)?;
        writeln!(w, "OK ({}): rules satisfied", ok.len())?;
        for f in ok {
            writeln!(w, "  {}", one_line(f))?;
        }
    }

    writeln!(w)?;
    writeln!(w, "HOSTS")?;
    for h in r.hosts.hosts.values() {
        if h.roles.is_empty() && h.names.is_empty() {
            continue;
        }
        let roles: Vec<&str> = h.role_list().iter().map(|r| r.as_str()).collect();
        let names: Vec<&str> = h.names.iter().map(|n| n.name.as_str()).take(3).collect();
        writeln!(
            w,
            "  {:<40} {:<22} {}",
            h.addr.to_string(),
            roles.join("+"),
            names.join(", ")
        )?;
        for (role, ev) in &h.roles {
            for e in ev.iter().take(2) {
                writeln!(w, "      {role}: {e}")?;
            }
        }
        if let Some(i) = &h.ignored {
            writeln!(w, "      ignored: {i}")?;
        }
    }
    let unknown = r
        .hosts
        .hosts
        .values()
        .filter(|h| h.roles.is_empty())
        .count();
    writeln!(w, "  ({unknown} hosts without a role)")?;

    writeln!(w)?;
    writeln!(
        w,
        "FLOWS: {} judged, {} outside the audited roles, {} to ignored names, {} background",
        res.judged,
        res.not_judged,
        res.ignored,
        res.background.values().map(|b| b.flows).sum::<u64>()
    )?;
    for (name, b) in &res.background {
        writeln!(
            w,
            "  background: {name}: {} flows, {} packets",
            b.flows, b.packets
        )?;
    }
    Ok(())
}

fn one_line(f: &Finding) -> String {
    let from = if f.from_addrs.is_empty() {
        f.unit.clone().unwrap_or_default()
    } else {
        addrs(&f.from_addrs)
    };
    let to = if f.kind == Kind::Missing {
        format!("any {}", f.to_role)
    } else {
        format!("{} {}", f.to_role, addrs(&f.to_addrs))
    };
    let counts = if f.connections > 0 {
        format!(
            "  {} conn, {} pkts  [{}]",
            f.connections,
            f.packets,
            outcomes(f)
        )
    } else {
        String::new()
    };
    format!(
        "{:<34} {} {} -> {} {}/{}{}",
        f.rule.as_deref().unwrap_or("(no rule)"),
        f.from_role,
        from,
        to,
        f.proto,
        f.port,
        counts
    )
}

fn write_detail(f: &Finding, hosts: &HostTable, w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "[{}] {}",
        f.kind,
        match &f.rule {
            Some(r) => format!(
                "{r}: {} {} {}/{}",
                f.service, f.description, f.proto, f.port
            ),
            None => format!(
                "no rule allows {} -> {} on {}/{}",
                f.from_role, f.to_role, f.proto, f.port
            ),
        }
    )?;
    if !f.source.is_empty() {
        writeln!(
            w,
            "  rule:      {} (level {})",
            f.source,
            f.level.map(|l| l.as_str()).unwrap_or("-")
        )?;
    }
    let name_of = |a: &Addr| -> String {
        hosts
            .get(a)
            .and_then(|h| h.names.first())
            .map(|n| format!(" ({})", n.name))
            .unwrap_or_default()
    };
    let list = |v: &[Addr]| {
        v.iter()
            .map(|a| format!("{a}{}", name_of(a)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &f.unit {
        Some(u) => writeln!(w, "  from:      {} [{u}]", f.from_role)?,
        None => writeln!(w, "  from:      {} {}", f.from_role, list(&f.from_addrs))?,
    }
    writeln!(w, "  to:        {} {}", f.to_role, list(&f.to_addrs))?;
    if f.connections > 0 {
        writeln!(
            w,
            "  traffic:   {} connections, {} packets, {} bytes, {} .. {}",
            f.connections,
            f.packets,
            f.bytes,
            time(f.first_ns),
            time(f.last_ns)
        )?;
        writeln!(w, "  outcomes:  {}", outcomes(f))?;
    }
    for e in &f.evidence {
        writeln!(w, "  evidence:  {e}")?;
    }
    if let Some(x) = &f.explanation {
        writeln!(w, "  note:      {x}")?;
    }
    writeln!(w, "  wireshark: {}", wireshark_filter(f))
}

/// A finding in JSON.
#[derive(Debug, Serialize)]
pub struct FindingJson {
    /// missing, blocked, unexpected, deprecated, not-observed, ok.
    pub kind: &'static str,
    /// Rule id (null for unexpected).
    pub rule: Option<String>,
    /// Source table and row.
    pub source: String,
    /// Rule level.
    pub level: Option<&'static str>,
    /// Service name.
    pub service: String,
    /// What the path is for.
    pub description: String,
    /// Initiating role.
    pub from_role: String,
    /// Responding role.
    pub to_role: String,
    /// Transport.
    pub proto: String,
    /// Port or range.
    pub port: String,
    /// Initiating addresses.
    pub from_addrs: Vec<String>,
    /// Responding addresses.
    pub to_addrs: Vec<String>,
    /// The unit (missing, not-observed).
    pub unit: Option<String>,
    /// Connections.
    pub connections: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// First packet.
    pub first_seen: Option<String>,
    /// Last packet.
    pub last_seen: Option<String>,
    /// First packet, ns.
    pub first_seen_ns: Option<i64>,
    /// Last packet, ns.
    pub last_seen_ns: Option<i64>,
    /// Outcomes and counts.
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Evidence lines.
    pub evidence: Vec<String>,
    /// Extra explanation.
    pub explanation: Option<String>,
    /// Wireshark display filter.
    pub wireshark_filter: String,
}

impl From<&Finding> for FindingJson {
    fn from(f: &Finding) -> FindingJson {
        FindingJson {
            kind: f.kind.as_str(),
            rule: f.rule.clone(),
            source: f.source.clone(),
            level: f.level.map(|l| l.as_str()),
            service: f.service.clone(),
            description: f.description.clone(),
            from_role: f.from_role.clone(),
            to_role: f.to_role.clone(),
            proto: f.proto.clone(),
            port: f.port.clone(),
            from_addrs: f.from_addrs.iter().map(|a| a.to_string()).collect(),
            to_addrs: f.to_addrs.iter().map(|a| a.to_string()).collect(),
            unit: f.unit.clone(),
            connections: f.connections,
            packets: f.packets,
            bytes: f.bytes,
            first_seen: f.first_ns.map(format_rfc3339_ns),
            last_seen: f.last_ns.map(format_rfc3339_ns),
            first_seen_ns: f.first_ns,
            last_seen_ns: f.last_ns,
            outcomes: f.outcomes.clone(),
            evidence: f.evidence.clone(),
            explanation: f.explanation.clone(),
            wireshark_filter: wireshark_filter(f),
        }
    }
}

/// A host in JSON.
#[derive(Debug, Serialize)]
pub struct HostJson {
    /// Address.
    pub addr: String,
    /// Roles.
    pub roles: Vec<&'static str>,
    /// Names and where they were seen.
    pub names: Vec<String>,
    /// Evidence per role.
    pub evidence: BTreeMap<&'static str, Vec<String>>,
    /// The unit.
    pub unit: Option<String>,
    /// Why its flows are ignored.
    pub ignored: Option<String>,
}

/// Hosts with a role or a name, as JSON.
pub fn hosts_json(hosts: &HostTable) -> Vec<HostJson> {
    hosts
        .hosts
        .values()
        .filter(|h| !h.roles.is_empty() || !h.names.is_empty())
        .map(|h| HostJson {
            addr: h.addr.to_string(),
            roles: h.role_list().iter().map(|r| r.as_str()).collect(),
            names: h
                .names
                .iter()
                .map(|n| format!("{} ({})", n.name, n.source))
                .collect(),
            evidence: h
                .roles
                .iter()
                .map(|(r, e)| (r.as_str(), e.clone()))
                .collect(),
            unit: h
                .unit
                .and_then(|u| hosts.units.get(u))
                .map(|u| u.label.clone()),
            ignored: h.ignored.clone(),
        })
        .collect()
}

fn document(r: &AuditReport, strict: bool) -> serde_json::Value {
    let res = &r.result;
    let (verdict, exit_code) = if !r.analysis.input_errors.is_empty() {
        ("input-errors", 2)
    } else if res.fails(strict) {
        ("findings", 1)
    } else {
        ("compliant", 0)
    };
    let mut summary = serde_json::Map::new();
    for k in Kind::ALL {
        summary.insert(k.as_str().to_string(), res.count(k).into());
    }
    let background: BTreeMap<&String, serde_json::Value> = res
        .background
        .iter()
        .map(|(k, b)| {
            (
                k,
                serde_json::json!({"flows": b.flows, "packets": b.packets}),
            )
        })
        .collect();
    serde_json::json!({
        "version": JSON_VERSION,
        "verdict": verdict,
        "exit_code": exit_code,
        "features": res.features.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        "features_from": r.features_from,
        "rulesets": r.rulesets,
        "captures": r.analysis.captures.iter().map(CaptureJson::from).collect::<Vec<_>>(),
        "input_errors": r.analysis.input_errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        "summary": summary,
        "flows": {"judged": res.judged, "not_judged": res.not_judged, "ignored": res.ignored},
        "background": background,
        "hosts": hosts_json(&r.hosts),
        "findings": res.findings.iter().map(FindingJson::from).collect::<Vec<_>>(),
    })
}

/// The CSV columns.
pub const CSV_COLUMNS: [&str; 20] = [
    "kind",
    "rule",
    "source",
    "level",
    "service",
    "from_role",
    "to_role",
    "proto",
    "port",
    "from_addrs",
    "to_addrs",
    "unit",
    "connections",
    "packets",
    "bytes",
    "first_seen",
    "last_seen",
    "outcomes",
    "evidence",
    "wireshark_filter",
];

fn write_csv(r: &AuditReport, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "{}", CSV_COLUMNS.join(","))?;
    for f in &r.result.findings {
        let cells = [
            f.kind.as_str().to_string(),
            f.rule.clone().unwrap_or_default(),
            f.source.clone(),
            f.level.map(|l| l.as_str().to_string()).unwrap_or_default(),
            f.service.clone(),
            f.from_role.clone(),
            f.to_role.clone(),
            f.proto.clone(),
            f.port.clone(),
            addrs(&f.from_addrs),
            addrs(&f.to_addrs),
            f.unit.clone().unwrap_or_default(),
            f.connections.to_string(),
            f.packets.to_string(),
            f.bytes.to_string(),
            time(f.first_ns),
            time(f.last_ns),
            outcomes(f),
            f.evidence.join("; "),
            wireshark_filter(f),
        ];
        let line: Vec<_> = cells.iter().map(|c| csv_field(c)).collect();
        writeln!(w, "{}", line.join(","))?;
    }
    Ok(())
}
