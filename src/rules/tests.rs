//! Rule loading: the shipped set is valid; every kind of mistake is reported with its position.

use super::*;

#[test]
fn the_shipped_rule_set_loads_and_covers_every_table() {
    let rs = RuleSet::builtin();
    for table in [
        "Table 1", "Table 2", "Table 3", "Table 4", "Table 5", "Table 6a", "Table 6b", "Table 7a",
    ] {
        assert!(
            rs.rules.iter().any(|r| r.table == table),
            "no rule encodes {table}"
        );
    }
    assert!(rs.rules.iter().any(|r| r.set == BASELINE));
    assert!(rs
        .rules
        .iter()
        .all(|r| r.set != BASELINE || r.level == Level::Optional));
    // 3268 global catalog (2025 addition) and the deprecated Service Bus port.
    assert!(rs
        .rules
        .iter()
        .any(|r| r.ports.contains(3268) && r.from.contains(&Role::Connect)));
    assert!(rs.rules.iter().any(|r| r.ports.contains(5671)
        && r.level == Level::Deprecated
        && r.to.contains(&Role::Servicebus)));
    assert!(rs
        .endpoints
        .names
        .iter()
        .any(|(p, r)| *r == Role::Servicebus && p.matches("x.servicebus.windows.net")));
    assert!(!rs.background.is_empty());
}

#[test]
fn every_mistake_is_reported_with_file_line_and_column() {
    let text = r#"[ruleset]
name = "mine"
source = "test"

[[rule]]
id = "a"
table = "T"
from = "conect"
to = "dc"
proto = "tcpp"
ports = ["70000", "600-500"]
level = "mandatory"
features = ["password-hash-snyc"]
description = "d"
reason = "r"
colour = "blue"

[[rule]]
id = "a"
table = "T"
from = "connect"
to = "dc"
proto = "tcp"
ports = "389"
level = "required"
description = "d"
reason = "r"
"#;
    let mut b = Builder::default();
    b.add_text(Path::new("mine.toml"), text);
    let e = b.finish().unwrap_err();
    let msgs: Vec<String> = e.diagnostics.iter().map(|d| d.to_string()).collect();
    let want = [
        "mine.toml:8:8: unknown role 'conect'",
        "mine.toml:10:9: unknown protocol 'tcpp'",
        "mine.toml:11:10: port 70000 is out of range",
        "mine.toml:11:19: range 600-500 is reversed",
        "mine.toml:12:9: unknown level 'mandatory'",
        "mine.toml:13:13: unknown feature 'password-hash-snyc'",
        "mine.toml:16:1: unknown key 'colour'",
        "mine.toml:19:6: duplicate rule id 'a'",
    ];
    for w in want {
        assert!(
            msgs.iter().any(|m| m.starts_with(w)),
            "missing {w:?} in {msgs:#?}"
        );
    }
    assert_eq!(msgs.len(), want.len(), "{msgs:#?}");
}

#[test]
fn a_file_without_ruleset_header_is_an_error() {
    let mut b = Builder::default();
    b.add_text(
        Path::new("x.toml"),
        "[[background]]\nname = \"x\"\nproto = \"udp\"\nports = \"1\"\n",
    );
    let e = b.finish().unwrap_err();
    assert!(e.diagnostics[0].message.contains("missing [ruleset]"));
}

#[test]
fn rule_sets_can_be_switched_off_by_name() {
    let mut rs = RuleSet::builtin();
    rs.select(&[BASELINE.to_string()], &[]).unwrap();
    assert!(rs.rules.iter().all(|r| r.set != BASELINE));
    assert!(rs.select(&["nope".into()], &[]).is_err());
}

#[test]
fn port_sets_parse_and_contain() {
    let p = PortSet(vec![(135, 135), (49152, 65535)]);
    assert!(p.contains(135) && p.contains(49152) && p.contains(65535));
    assert!(!p.contains(49151));
    assert_eq!(p.to_string(), "135,49152-65535");
    assert!(PortSet::parse_item("0").is_err());
    assert!(PortSet::parse_item("x").is_err());
}
