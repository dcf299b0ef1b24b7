//! Cloud endpoint patterns: which host names and address ranges belong to which cloud role.
//!
//! The lists themselves are data (`rules/endpoints.toml`); this is how they are matched. A pattern
//! `*.example.net` matches any name ending in `.example.net`, at any depth, but not `example.net`
//! itself; matching ignores case and a trailing dot (DECISIONS 15).

use crate::model::{Addr, Cidr, Role};

/// A host name pattern: an exact name or `*.suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    /// Lower-case; for a wildcard, the suffix with its leading dot (`.example.net`).
    text: String,
    wildcard: bool,
}

impl NamePattern {
    /// Parses `name` or `*.suffix`.
    pub fn parse(s: &str) -> Result<NamePattern, String> {
        let s = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let (text, wildcard) = match s.strip_prefix('*') {
            Some(rest) if rest.starts_with('.') && rest.len() > 1 => (rest.to_string(), true),
            Some(_) => return Err(format!("'{s}': a wildcard must be a leading '*.'")),
            None => (s.clone(), false),
        };
        if text.is_empty()
            || text.contains('*')
            || !text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(format!("'{s}' is not a host name or '*.' pattern"));
        }
        Ok(NamePattern { text, wildcard })
    }

    /// Whether a name matches.
    pub fn matches(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.');
        if self.wildcard {
            name.len() > self.text.len()
                && name
                    .get(name.len() - self.text.len()..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(&self.text))
        } else {
            name.eq_ignore_ascii_case(&self.text)
        }
    }
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.wildcard {
            write!(f, "*{}", self.text)
        } else {
            f.write_str(&self.text)
        }
    }
}

/// Which cloud role a name or address belongs to.
#[derive(Debug, Clone, Default)]
pub struct EndpointMap {
    /// Name patterns and their roles (a name may match several).
    pub names: Vec<(NamePattern, Role)>,
    /// Address ranges and their roles.
    pub ranges: Vec<(Cidr, Role)>,
    /// Names that are neither required nor a violation (telemetry, CDN aliases).
    pub ignore: Vec<NamePattern>,
    /// When the lists were taken from their sources.
    pub taken: Option<String>,
}

impl EndpointMap {
    /// The roles a name gives, with the pattern that matched.
    pub fn roles_of_name<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (Role, &'a NamePattern)> + 'a {
        self.names
            .iter()
            .filter(move |(p, _)| p.matches(name))
            .map(|(p, r)| (*r, p))
    }

    /// The roles an address range gives.
    pub fn roles_of_addr<'a>(&'a self, a: &'a Addr) -> impl Iterator<Item = (Role, &'a Cidr)> + 'a {
        self.ranges
            .iter()
            .filter(move |(c, _)| c.contains(a))
            .map(|(c, r)| (*r, c))
    }

    /// Whether a name is on the ignore list.
    pub fn ignored(&self, name: &str) -> Option<&NamePattern> {
        self.ignore.iter().find(|p| p.matches(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_matches_any_depth_but_not_the_bare_suffix() {
        let p = NamePattern::parse("*.servicebus.windows.net").unwrap();
        assert!(p.matches("x.servicebus.windows.net"));
        assert!(p.matches("a.b.ServiceBus.Windows.NET."));
        assert!(!p.matches("servicebus.windows.net"));
        assert!(!p.matches("evilservicebus.windows.net"));
        let e = NamePattern::parse("login.windows.net").unwrap();
        assert!(e.matches("LOGIN.windows.net."));
        assert!(!e.matches("x.login.windows.net"));
        assert!(NamePattern::parse("a.*.net").is_err());
        assert!(NamePattern::parse("*").is_err());
    }
}
