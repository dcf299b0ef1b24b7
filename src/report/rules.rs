//! `flowaudit rules list`: the rules in effect as a table, CSV or JSON.

use std::io::{self, Write};

use super::audit::AuditFormat;
use super::flows::csv_field;
use crate::model::Feature;
use crate::rules::RuleSet;

/// Writes the rules, marking those whose features are not deployed.
pub fn write(
    rs: &RuleSet,
    deployed: &[Feature],
    format: AuditFormat,
    w: &mut dyn Write,
) -> io::Result<()> {
    let rows: Vec<[String; 11]> = rs
        .rules
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                r.set.clone(),
                r.table.clone(),
                r.level.as_str().to_string(),
                join(&r.from),
                join(&r.to),
                r.proto.as_str().to_string(),
                r.ports.to_string(),
                r.service.clone(),
                r.features
                    .iter()
                    .map(|f| f.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                if r.enabled(deployed) { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    let head = [
        "id", "set", "table", "level", "from", "to", "proto", "ports", "service", "features",
        "active",
    ];
    match format {
        AuditFormat::Csv => {
            writeln!(w, "{}", head.join(","))?;
            for r in &rows {
                let cells: Vec<_> = r.iter().map(|c| csv_field(c)).collect();
                writeln!(w, "{}", cells.join(","))?;
            }
        }
        AuditFormat::Json => {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut m = serde_json::Map::new();
                    for (k, v) in head.iter().zip(r) {
                        m.insert(k.to_string(), v.clone().into());
                    }
                    serde_json::Value::Object(m)
                })
                .collect();
            serde_json::to_writer_pretty(&mut *w, &v)?;
            writeln!(w)?;
        }
        AuditFormat::Text => {
            let mut width = head.map(|h| h.len());
            for r in &rows {
                for (i, c) in r.iter().enumerate() {
                    width[i] = width[i].max(c.len());
                }
            }
            let line = |cells: Vec<&str>| {
                cells
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("{c:<w$}", w = width[i]))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_string()
            };
            writeln!(w, "{}", line(head.to_vec()))?;
            for r in &rows {
                writeln!(w, "{}", line(r.iter().map(|s| s.as_str()).collect()))?;
            }
            let active = rows.iter().filter(|r| r[10] == "yes").count();
            writeln!(
                w,
                "{} rules, {active} active for features: {}",
                rows.len(),
                if deployed.is_empty() {
                    "none".to_string()
                } else {
                    deployed
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )?;
        }
    }
    Ok(())
}

fn join(v: &[crate::model::Role]) -> String {
    v.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}
