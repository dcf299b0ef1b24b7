//! The shared vocabulary: link types, IP protocols, addresses and timestamps.
//!
//! Every layer of the pipeline speaks in these types. Codes read off the wire become newtypes with
//! named constants (the pcap-parser habit) so that an unknown value still has a home and a printable
//! name, and so that no layer passes bare integers around.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A capture link type (the `LINKTYPE_*` registry of tcpdump.org), as found in a pcap header or a
/// pcapng interface description block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II and 802.3.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Point-to-point protocol, with or without HDLC-like framing.
    pub const PPP: LinkType = LinkType(9);
    /// Raw IP (value used by OpenBSD and some writers).
    pub const RAW_OPENBSD: LinkType = LinkType(12);
    /// Raw IP (old value of `DLT_RAW` on some systems).
    pub const RAW_14: LinkType = LinkType(14);
    /// PPP in HDLC-like framing (RFC 1662).
    pub const PPP_HDLC: LinkType = LinkType(50);
    /// PPP over Ethernet, session stage (PPPoE header first).
    pub const PPP_ETHER: LinkType = LinkType(51);
    /// RFC 1483 LLC/SNAP-encapsulated ATM.
    pub const ATM_RFC1483: LinkType = LinkType(100);
    /// Raw IPv4 or IPv6, told apart by the version nibble.
    pub const RAW: LinkType = LinkType(101);
    /// Cisco HDLC.
    pub const C_HDLC: LinkType = LinkType(104);
    /// IEEE 802.11 without a radio header.
    pub const IEEE802_11: LinkType = LinkType(105);
    /// Frame relay.
    pub const FRELAY: LinkType = LinkType(107);
    /// OpenBSD loopback: the address family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1 (`tcpdump -i any` before libpcap 1.10).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// SunATM.
    pub const SUNATM: LinkType = LinkType(123);
    /// 802.11 with a radiotap header.
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    /// Linux ARCNET.
    pub const ARCNET_LINUX: LinkType = LinkType(129);
    /// `DLT_USER2`, which Apple's tools also use for PKTAP.
    pub const USER2: LinkType = LinkType(149);
    /// Juniper Ethernet.
    pub const JUNIPER_ETHER: LinkType = LinkType(178);
    /// 802.11 with a Per-Packet Information header.
    pub const PPI: LinkType = LinkType(192);
    /// Solaris IPNET.
    pub const IPNET: LinkType = LinkType(226);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux netfilter log messages.
    pub const NFLOG: LinkType = LinkType(239);
    /// Apple PKTAP.
    pub const PKTAP: LinkType = LinkType(258);
    /// Linux cooked capture v2 (`tcpdump -i any` with libpcap 1.10 and later).
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The short name tcpdump and Wireshark use, or `linktype-N`.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "null",
            1 => "ethernet",
            8 => "slip",
            9 => "ppp",
            12 | 14 | 101 => "raw",
            50 => "ppp-hdlc",
            51 => "pppoe",
            100 => "atm-rfc1483",
            104 => "c-hdlc",
            105 => "ieee802-11",
            107 => "frelay",
            108 => "loop",
            113 => "linux-sll",
            123 => "sunatm",
            127 => "ieee802-11-radiotap",
            129 => "arcnet-linux",
            137 => "juniper-atm1",
            149 => "user2",
            178 => "juniper-ether",
            192 => "ppi",
            195 => "ieee802-15-4",
            226 => "ipnet",
            228 => "ipv4",
            229 => "ipv6",
            230 => "ieee802-15-4-nofcs",
            231 => "dbus",
            239 => "nflog",
            258 => "pktap",
            271 => "vsock",
            274 => "ether-mpacket",
            276 => "linux-sll2",
            _ => "other",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            "other" => write!(f, "linktype-{}", self.0),
            n => write!(f, "{n}"),
        }
    }
}

/// An IP protocol number (the transport, in flowaudit's vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpProto(pub u8);

impl IpProto {
    /// ICMP for IPv4.
    pub const ICMP: IpProto = IpProto(1);
    /// IGMP.
    pub const IGMP: IpProto = IpProto(2);
    /// IPv4 encapsulated in IP.
    pub const IPIP: IpProto = IpProto(4);
    /// TCP.
    pub const TCP: IpProto = IpProto(6);
    /// UDP.
    pub const UDP: IpProto = IpProto(17);
    /// IPv6 encapsulated in IP.
    pub const IPV6: IpProto = IpProto(41);
    /// Generic routing encapsulation.
    pub const GRE: IpProto = IpProto(47);
    /// Encapsulating security payload.
    pub const ESP: IpProto = IpProto(50);
    /// ICMP for IPv6.
    pub const ICMPV6: IpProto = IpProto(58);
    /// SCTP.
    pub const SCTP: IpProto = IpProto(132);

    /// The lower-case name used in every output (`tcp`, `udp`, ...), or the number.
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        let n = match self.0 {
            1 => "icmp",
            2 => "igmp",
            4 => "ipip",
            6 => "tcp",
            17 => "udp",
            41 => "ipv6",
            47 => "gre",
            50 => "esp",
            51 => "ah",
            58 => "icmpv6",
            89 => "ospf",
            103 => "pim",
            112 => "vrrp",
            132 => "sctp",
            n => return std::borrow::Cow::Owned(n.to_string()),
        };
        std::borrow::Cow::Borrowed(n)
    }

    /// Whether flows of this protocol carry port numbers.
    pub fn has_ports(self) -> bool {
        matches!(self.0, 6 | 17 | 132)
    }
}

impl fmt::Display for IpProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// An IPv4 or IPv6 address stored inline, cheap to copy and hash on the per-packet path.
///
/// IPv4 addresses occupy the first four bytes and leave the rest zero, so that two equal addresses
/// always have equal bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Addr {
    bytes: [u8; 16],
    v6: bool,
}

impl Addr {
    /// The address as two words, for hashing in two steps instead of seventeen bytes.
    #[inline(always)]
    pub fn words(&self) -> (u64, u64) {
        let mut lo = [0u8; 8];
        let mut hi = [0u8; 8];
        lo.copy_from_slice(&self.bytes[..8]);
        hi.copy_from_slice(&self.bytes[8..]);
        (u64::from_ne_bytes(lo), u64::from_ne_bytes(hi))
    }

    /// An IPv4 address from its four network-order bytes.
    #[inline]
    pub fn v4(b: [u8; 4]) -> Addr {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&b);
        Addr { bytes, v6: false }
    }

    /// An IPv6 address from its sixteen network-order bytes.
    #[inline]
    pub fn v6(bytes: [u8; 16]) -> Addr {
        Addr { bytes, v6: true }
    }

    /// Whether this is an IPv6 address.
    pub fn is_v6(&self) -> bool {
        self.v6
    }

    /// The standard library form.
    pub fn to_ip(self) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(self.bytes))
        } else {
            let [a, b, c, d, ..] = self.bytes;
            IpAddr::V4(Ipv4Addr::new(a, b, c, d))
        }
    }
}

impl From<IpAddr> for Addr {
    fn from(ip: IpAddr) -> Addr {
        match ip {
            IpAddr::V4(a) => Addr::v4(a.octets()),
            IpAddr::V6(a) => Addr::v6(a.octets()),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_ip().fmt(f)
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_ip().fmt(f)
    }
}

/// An address range in CIDR notation (`10.1.0.0/28`, `fd00::/64`), or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    /// The network address (host bits cleared).
    pub addr: Addr,
    /// Prefix length in bits.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `ADDR/LEN` or a bare address (a /32 or /128).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let ip: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("'{a}' is not an IPv4 or IPv6 address"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("'{p}' is not a prefix length (0 to {max})"))?,
            None => max,
        };
        let mut addr = Addr::from(ip);
        let bits = if ip.is_ipv4() { 4 } else { 16 };
        for i in 0..bits {
            let keep = (u32::from(prefix)).saturating_sub(i as u32 * 8).min(8);
            let mask = if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
            addr.bytes[i] &= mask;
        }
        Ok(Cidr { addr, prefix })
    }

    /// Whether the range contains an address.
    pub fn contains(&self, a: &Addr) -> bool {
        if a.v6 != self.addr.v6 {
            return false;
        }
        let full = usize::from(self.prefix / 8);
        if a.bytes[..full] != self.addr.bytes[..full] {
            return false;
        }
        let rest = self.prefix % 8;
        rest == 0 || (a.bytes[full] >> (8 - rest)) == (self.addr.bytes[full] >> (8 - rest))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Addr {
    /// Whether this is a multicast or broadcast address (never a flow anyone opened on purpose).
    pub fn is_multicast_or_broadcast(&self) -> bool {
        if self.v6 {
            self.bytes[0] == 0xff
        } else {
            self.bytes[0] & 0xf0 == 0xe0 || self.bytes[..4] == [255, 255, 255, 255]
        }
    }
}

/// Declares a closed vocabulary parsed once at the boundary: an enum with its kebab-case names.
macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $v,)* }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];

            /// The name used in files and reports.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }

            /// Parses a name; `None` for anything else.
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$v),)* _ => None }
            }

            /// All names, for error messages.
            pub fn names() -> String {
                $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// What a host is, on premises or in the cloud (DECISIONS 14).
    Role {
        /// Azure AD Connect sync server.
        Connect = "connect",
        /// Domain controller.
        Dc = "dc",
        /// AD FS federation server.
        Adfs = "adfs",
        /// Web Application Proxy.
        Wap = "wap",
        /// Pass-through authentication agent on its own host.
        PtaAgent = "pta-agent",
        /// A user reaching the WAP.
        User = "user",
        /// Azure AD sign-in and sync.
        Aad = "aad",
        /// Certificate revocation (CRL, OCSP).
        Crl = "crl",
        /// Azure AD Connect Health.
        Health = "health",
        /// Azure Service Bus.
        Servicebus = "servicebus",
        /// The pass-through authentication service and connector updates.
        PtaCloud = "pta-cloud",
        /// A host with no role.
        Unknown = "unknown",
    }
}

impl Role {
    /// Whether this is a cloud role (named by DNS, SNI or address ranges).
    pub fn is_cloud(self) -> bool {
        matches!(
            self,
            Role::Aad | Role::Crl | Role::Health | Role::Servicebus | Role::PtaCloud
        )
    }

    /// Whether this is one of the on-premises servers whose traffic the audit judges both ways.
    pub fn is_server(self) -> bool {
        matches!(
            self,
            Role::Connect | Role::Adfs | Role::Wap | Role::PtaAgent
        )
    }
}

vocabulary! {
    /// A deployment feature that switches rules on.
    Feature {
        /// Password hash synchronisation.
        PasswordHashSync = "password-hash-sync",
        /// Pass-through authentication.
        PassThroughAuth = "pass-through-auth",
        /// Seamless single sign-on.
        SeamlessSso = "seamless-sso",
        /// Federation with AD FS and WAP.
        Federation = "federation",
        /// AD FS installed with a group managed service account by the Connect wizard.
        AdfsGmsa = "adfs-gmsa",
        /// LDAP over TLS to the domain controllers.
        Ldaps = "ldaps",
        /// Certificate authentication through the WAP.
        CertAuth = "cert-auth",
        /// Password writeback.
        PasswordWriteback = "password-writeback",
        /// Connect Health agent on the Connect server and AD FS servers.
        HealthAgent = "health-agent",
        /// Connect Health agent for AD DS on domain controllers.
        HealthAgentAdds = "health-agent-adds",
    }
}

vocabulary! {
    /// How much a rule matters.
    Level {
        /// Used continuously by a healthy deployment: absent means missing.
        Required = "required",
        /// Used at install or configuration time only: absent is not a finding.
        Setup = "setup",
        /// Allowed, never required.
        Optional = "optional",
        /// Allowed but outdated: reported as a warning.
        Deprecated = "deprecated",
    }
}

/// Formats nanoseconds since the Unix epoch as RFC 3339 in UTC with nanoseconds
/// (`2026-01-15T09:00:00.000000000Z`).
pub fn format_rfc3339_ns(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    // Howard Hinnant's well-known days-from-civil inverse, written out from its description.
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(format_rfc3339_ns(0), "1970-01-01T00:00:00.000000000Z");
        // 2026-01-15T09:00:00Z = 1768467600
        assert_eq!(
            format_rfc3339_ns(1_768_467_600_000_000_123),
            "2026-01-15T09:00:00.000000123Z"
        );
        // leap day
        assert_eq!(
            format_rfc3339_ns(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(format_rfc3339_ns(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn cidr_contains_exactly_its_range() {
        let c = Cidr::parse("10.1.0.0/28").unwrap();
        assert!(c.contains(&Addr::v4([10, 1, 0, 15])));
        assert!(!c.contains(&Addr::v4([10, 1, 0, 16])));
        let c = Cidr::parse("20.190.128.0/18").unwrap();
        assert!(c.contains(&Addr::v4([20, 190, 191, 255])));
        assert!(!c.contains(&Addr::v4([20, 190, 192, 0])));
        let c = Cidr::parse("fd00::2").unwrap();
        assert_eq!(c.prefix, 128);
        assert!(c.contains(&Addr::from("fd00::2".parse::<IpAddr>().unwrap())));
        assert!(!c.contains(&Addr::v4([0, 0, 0, 0])));
        let c = Cidr::parse("2603:1006:2000::/48").unwrap();
        assert!(c.contains(&Addr::from(
            "2603:1006:2000:5::1".parse::<IpAddr>().unwrap()
        )));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("dc01").is_err());
        assert_eq!(
            Cidr::parse("10.1.2.3/24").unwrap().to_string(),
            "10.1.2.0/24"
        );
    }

    #[test]
    fn v4_addresses_compare_by_value() {
        let a = Addr::v4([10, 0, 0, 1]);
        assert_eq!(a, Addr::from("10.0.0.1".parse::<IpAddr>().unwrap()));
        assert_eq!(a.to_string(), "10.0.0.1");
        assert_ne!(a, Addr::v6([0; 16]));
    }
}
