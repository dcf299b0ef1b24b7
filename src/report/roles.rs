//! `flowaudit roles`: every host with a role, how it got it, and the evidence.

use std::io::{self, Write};

use super::audit::{hosts_json, AuditFormat};
use crate::classify::HostTable;

/// Writes the hosts that hold a role, as a table or JSON (CSV is refused by the command).
pub fn write(hosts: &HostTable, format: AuditFormat, w: &mut dyn Write) -> io::Result<()> {
    if format == AuditFormat::Json {
        serde_json::to_writer_pretty(&mut *w, &hosts_json(hosts))?;
        return writeln!(w);
    }
    writeln!(w, "{:<40} {:<24} {:<9} evidence", "host", "roles", "unit")?;
    for h in hosts.hosts.values().filter(|h| !h.roles.is_empty()) {
        let roles: Vec<&str> = h.role_list().iter().map(|r| r.as_str()).collect();
        let mut evidence = h.roles.values().flatten();
        let from = if h.unit.is_some_and(|u| hosts.units[u].from_inventory) {
            "inventory"
        } else {
            "inferred"
        };
        writeln!(
            w,
            "{:<40} {:<24} {:<9} {}",
            h.addr.to_string(),
            roles.join("+"),
            from,
            evidence.next().map_or("", |e| e.as_str())
        )?;
        for e in evidence.take(3) {
            writeln!(w, "{:<40} {:<24} {:<9} {e}", "", "", "")?;
        }
    }
    let unknown = hosts.hosts.values().filter(|h| h.roles.is_empty()).count();
    writeln!(w, "({unknown} other hosts have no role)")
}
