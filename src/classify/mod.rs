//! Names and roles: which host is the Connect server, a domain controller, a WAP, a cloud endpoint.
//!
//! Roles come first from the inventory (what the auditor knows), then, for hosts it does not name,
//! from the traffic, each with its evidence (DECISIONS 16):
//! - a host that answers on a domain-controller service (Kerberos 88, kpasswd 464, LDAP/CLDAP 389,
//!   LDAPS 636, global catalog 3268/3269, AD web services 9389) is a `dc`;
//! - a host that answers on 49443 is a `wap`;
//! - cloud hosts get their roles from names tied to their address by DNS answers, TLS server names
//!   or name resolution blocks, matched against the endpoint patterns, or from address ranges;
//! - a host that talks to a `dc` on 389 and to `aad` on 443 is a `connect` server;
//! - a host that reaches the pass-through authentication service (a `pta-cloud` host that is not
//!   also `aad`) and is not a Connect server is a `pta-agent`;
//! - a host a WAP reaches on 443 is an `adfs` server;
//! - a host with no other role that opens connections to a WAP is a `user`.
//!
//! Every inventory entry is one unit; every host given an on-premises role by inference is its own
//! unit. Units are what "missing" is judged for.

pub mod endpoints;
pub mod inventory;

use std::collections::{BTreeMap, BTreeSet};

use crate::decode::names::{NameEntry, NameTable};
use crate::flow::edge::Edge;
use crate::model::{Addr, IpProto, Role};
pub use endpoints::{EndpointMap, NamePattern};
pub use inventory::{AddrSpec, Inventory, InventoryHost};

/// A host seen in the traffic.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its address.
    pub addr: Addr,
    /// Its roles, each with the evidence for it.
    pub roles: BTreeMap<Role, Vec<String>>,
    /// The names it was reached by.
    pub names: Vec<NameEntry>,
    /// The unit it belongs to, if it has an on-premises role.
    pub unit: Option<usize>,
    /// Set when one of its names is on the endpoint ignore list.
    pub ignored: Option<String>,
}

impl Host {
    /// Whether it holds a role.
    pub fn has(&self, r: Role) -> bool {
        self.roles.contains_key(&r)
    }

    /// Its roles, or `unknown`.
    pub fn role_list(&self) -> Vec<Role> {
        if self.roles.is_empty() {
            vec![Role::Unknown]
        } else {
            self.roles.keys().copied().collect()
        }
    }
}

/// A unit: one inventory entry, or one host whose on-premises role was inferred.
#[derive(Debug, Clone)]
pub struct Unit {
    /// How the report names it (`connect 10.1.0.10`, `dc 10.1.0.0/28 (inventory line 5)`).
    pub label: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// Addresses of it that appear in the traffic.
    pub addrs: Vec<Addr>,
    /// Whether it comes from the inventory.
    pub from_inventory: bool,
}

/// Every host of the traffic with its roles, and the units.
#[derive(Debug, Clone, Default)]
pub struct HostTable {
    /// Hosts by address.
    pub hosts: BTreeMap<Addr, Host>,
    /// Units, inventory entries first, in inventory order.
    pub units: Vec<Unit>,
}

impl HostTable {
    /// The host of an address (every address of a flow has one).
    pub fn get(&self, a: &Addr) -> Option<&Host> {
        self.hosts.get(a)
    }

    /// Whether an address holds a role.
    pub fn has(&self, a: &Addr, r: Role) -> bool {
        self.hosts.get(a).is_some_and(|h| h.has(r))
    }
}

/// Ports on which answering makes a host a domain controller.
fn dc_service(proto: IpProto, port: u16) -> Option<&'static str> {
    match (proto, port) {
        (_, 88) => Some("Kerberos 88"),
        (_, 464) => Some("kpasswd 464"),
        (IpProto::TCP, 389) => Some("LDAP 389/tcp"),
        (IpProto::UDP, 389) => Some("CLDAP 389/udp"),
        (IpProto::TCP, 636) => Some("LDAPS 636"),
        (IpProto::TCP, 3268) => Some("global catalog 3268"),
        (IpProto::TCP, 3269) => Some("global catalog over TLS 3269"),
        (IpProto::TCP, 9389) => Some("AD web services 9389"),
        _ => None,
    }
}

/// Gives every address of the edges its roles.
pub fn classify(
    edges: &[Edge],
    names: &NameTable,
    inventory: Option<&Inventory>,
    endpoints: &EndpointMap,
) -> HostTable {
    let mut t = HostTable::default();
    for e in edges {
        for a in [e.key.orig, e.key.resp] {
            t.hosts.entry(a).or_insert_with(|| Host {
                addr: a,
                roles: BTreeMap::new(),
                names: names.names(&a).to_vec(),
                unit: None,
                ignored: None,
            });
        }
    }

    // 1. The inventory. An address belongs to the most specific entry that names it: an exact
    //    address or a host name before a range, a narrower range before a wider one.
    let mut in_inventory: BTreeSet<Addr> = BTreeSet::new();
    if let Some(inv) = inventory {
        for h in &inv.hosts {
            let label = inventory_label(h);
            t.units.push(Unit {
                label,
                roles: h.roles.clone(),
                addrs: Vec::new(),
                from_inventory: true,
            });
        }
        let addrs: Vec<Addr> = t.hosts.keys().copied().collect();
        for a in addrs {
            let host_names = names.names(&a);
            let mut best: Option<(u16, usize, String)> = None;
            for (i, h) in inv.hosts.iter().enumerate() {
                for spec in &h.addrs {
                    let (score, how) = match spec {
                        AddrSpec::Range(c) if c.contains(&a) => {
                            let full = if a.is_v6() { 128 } else { 32 };
                            if c.prefix == full {
                                (300, format!("inventory line {}: {a}", h.line))
                            } else {
                                (
                                    u16::from(c.prefix),
                                    format!("inventory line {}: {c}", h.line),
                                )
                            }
                        }
                        AddrSpec::Name(n) if host_names.iter().any(|e| e.name == *n) => (
                            250,
                            format!("inventory line {}: {n} (name seen in the capture)", h.line),
                        ),
                        _ => continue,
                    };
                    if best.as_ref().is_none_or(|b| score > b.0) {
                        best = Some((score, i, how));
                    }
                }
            }
            if let Some((_, i, how)) = best {
                in_inventory.insert(a);
                let host = t.hosts.get_mut(&a).expect("every address has a host");
                host.unit = Some(i);
                for r in &inv.hosts[i].roles {
                    host.roles.entry(*r).or_default().push(how.clone());
                }
                t.units[i].addrs.push(a);
            }
        }
    }

    // 2. Cloud endpoints by name and address range; the ignore list.
    for (a, host) in t.hosts.iter_mut() {
        for e in &host.names {
            if let Some(p) = endpoints.ignored(&e.name) {
                host.ignored = Some(format!("{} matches ignored {p}", e.name));
            }
            for (role, pat) in endpoints.roles_of_name(&e.name) {
                if in_inventory.contains(a) && !role.is_cloud() {
                    continue;
                }
                host.roles
                    .entry(role)
                    .or_default()
                    .push(format!("{} answer {} matches {pat}", e.source, e.name));
            }
        }
        for (role, c) in endpoints.roles_of_addr(a) {
            host.roles
                .entry(role)
                .or_default()
                .push(format!("address in published range {c}"));
        }
    }

    // 3. Inference for hosts the inventory does not name.
    let free = |t: &HostTable, a: &Addr| {
        !in_inventory.contains(a)
            && t.hosts
                .get(a)
                .is_some_and(|h| !h.roles.keys().any(|r| r.is_cloud()))
    };
    // Domain controllers and WAPs, from the services they answer.
    let mut evidence: Vec<(Addr, Role, String)> = Vec::new();
    for e in edges {
        if e.answered_flows == 0 {
            continue;
        }
        let (orig, resp, port) = (e.key.orig, e.key.resp, e.key.port);
        if let Some(svc) = dc_service(e.key.proto, port) {
            evidence.push((resp, Role::Dc, format!("answered {svc} from {orig}")));
        }
        if e.key.proto == IpProto::TCP && port == 49443 {
            evidence.push((resp, Role::Wap, format!("answered 49443/tcp from {orig}")));
        }
    }
    add_evidence(&mut t, evidence, &free);

    // Connect servers and PTA agents, from what they reach.
    let mut to_dc_ldap: BTreeMap<Addr, Addr> = BTreeMap::new();
    let mut to_aad: BTreeMap<Addr, Addr> = BTreeMap::new();
    let mut to_pta: BTreeMap<Addr, Addr> = BTreeMap::new();
    for e in edges {
        let (orig, resp, port) = (e.key.orig, e.key.resp, e.key.port);
        if port == 389 && t.has(&resp, Role::Dc) {
            to_dc_ldap.entry(orig).or_insert(resp);
        }
        if e.key.proto == IpProto::TCP && port == 443 {
            if t.has(&resp, Role::Aad) {
                to_aad.entry(orig).or_insert(resp);
            }
            if t.has(&resp, Role::PtaCloud) && !t.has(&resp, Role::Aad) {
                to_pta.entry(orig).or_insert(resp);
            }
        }
    }
    let mut evidence = Vec::new();
    for (a, dc) in &to_dc_ldap {
        if let Some(aad) = to_aad.get(a) {
            evidence.push((
                *a,
                Role::Connect,
                format!("talks to dc {dc} on 389 and to aad {aad} on 443"),
            ));
        }
    }
    for (a, pta) in &to_pta {
        if !(to_dc_ldap.contains_key(a) && to_aad.contains_key(a)) {
            evidence.push((
                *a,
                Role::PtaAgent,
                format!("reaches the pass-through authentication service {pta} on 443"),
            ));
        }
    }
    add_evidence(&mut t, evidence, &free);

    // AD FS behind a WAP, then users of the WAP.
    let mut evidence = Vec::new();
    for e in edges {
        let (orig, resp, port) = (e.key.orig, e.key.resp, e.key.port);
        if e.key.proto == IpProto::TCP
            && port == 443
            && t.has(&orig, Role::Wap)
            && e.answered_flows > 0
        {
            evidence.push((resp, Role::Adfs, format!("answered 443 from wap {orig}")));
        }
    }
    add_evidence(&mut t, evidence, &free);
    let mut evidence = Vec::new();
    for e in edges {
        let (orig, resp, port) = (e.key.orig, e.key.resp, e.key.port);
        if t.has(&resp, Role::Wap) && t.hosts.get(&orig).is_some_and(|h| h.roles.is_empty()) {
            evidence.push((
                orig,
                Role::User,
                format!("opens connections to wap {resp} on {port}"),
            ));
        }
    }
    add_evidence(&mut t, evidence, &free);

    // A name on the ignore list sets aside only hosts that hold no role: a cloud endpoint reached
    // through an ignored CNAME target is still judged.
    for h in t.hosts.values_mut() {
        if !h.roles.is_empty() {
            h.ignored = None;
        }
    }

    // Units for hosts whose on-premises role was inferred.
    let inferred: Vec<Addr> = t
        .hosts
        .values()
        .filter(|h| h.unit.is_none() && h.roles.keys().any(|r| !r.is_cloud()))
        .map(|h| h.addr)
        .collect();
    for a in inferred {
        let roles: Vec<Role> = t.hosts[&a]
            .roles
            .keys()
            .copied()
            .filter(|r| !r.is_cloud())
            .collect();
        let label = format!(
            "{} {a} (inferred)",
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join("+")
        );
        t.units.push(Unit {
            label,
            roles,
            addrs: vec![a],
            from_inventory: false,
        });
        let u = t.units.len() - 1;
        if let Some(h) = t.hosts.get_mut(&a) {
            h.unit = Some(u);
        }
    }
    t
}

fn inventory_label(h: &InventoryHost) -> String {
    let roles: Vec<&str> = h.roles.iter().map(|r| r.as_str()).collect();
    let addrs: Vec<String> = h
        .addrs
        .iter()
        .map(|a| match a {
            AddrSpec::Range(c) => {
                let full = if c.addr.is_v6() { 128 } else { 32 };
                if c.prefix == full {
                    c.addr.to_string()
                } else {
                    c.to_string()
                }
            }
            AddrSpec::Name(n) => n.clone(),
        })
        .collect();
    match &h.name {
        Some(n) => format!("{} {n} ({})", roles.join("+"), addrs.join(", ")),
        None => format!("{} {}", roles.join("+"), addrs.join(", ")),
    }
}

/// Adds inferred roles (at most a few pieces of evidence each) to hosts the inventory leaves free.
fn add_evidence(
    t: &mut HostTable,
    evidence: Vec<(Addr, Role, String)>,
    free: &dyn Fn(&HostTable, &Addr) -> bool,
) {
    let allowed: Vec<bool> = evidence.iter().map(|(a, _, _)| free(t, a)).collect();
    for ((a, role, why), ok) in evidence.into_iter().zip(allowed) {
        if !ok {
            continue;
        }
        if let Some(h) = t.hosts.get_mut(&a) {
            let ev = h.roles.entry(role).or_default();
            if ev.len() < 4 && !ev.contains(&why) {
                ev.push(why);
            }
        }
    }
}
