//! The target host (`-H`): an `http://` URL on a loopback address only, since this tool
//! is for local tests. Resolved once, before the run.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// Why a host was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an `http://host[:port][/base]` URL.
    #[error("bad host {url:?}: {reason}; expected http://HOST[:PORT], e.g. http://127.0.0.1:8000")]
    Malformed {
        /// The URL given.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The host is not a loopback address.
    #[error("refusing host {url:?}: loadgen only targets loopback addresses (127.0.0.0/8, ::1, localhost)")]
    NotLoopback {
        /// The URL given.
        url: String,
    },
}

/// A validated target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given, without a trailing slash.
    pub url: String,
    /// `host:port` for the Host header.
    pub authority: String,
    /// Loopback socket addresses to connect to.
    pub addrs: Vec<SocketAddr>,
    /// A path prefix from the URL (`http://h/base` gives `/base`), usually empty.
    pub base_path: String,
}

impl Target {
    /// Parses and checks a host URL.
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let malformed = |reason: &str| TargetError::Malformed {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = url.trim().trim_end_matches('/');
        let rest = match trimmed.split_once("://") {
            Some(("http", rest)) => rest,
            Some(("https", _)) => {
                return Err(malformed("https is not supported (local plain HTTP only)"))
            }
            Some(_) => return Err(malformed("the scheme must be http")),
            None => return Err(malformed("it has no http:// scheme")),
        };
        let (authority, base_path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(malformed("it has no host"));
        }
        let (host, port) =
            split_host_port(authority).ok_or_else(|| malformed("the port is not a number"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = if host.eq_ignore_ascii_case("localhost") {
            (host, port)
                .to_socket_addrs()
                .map_err(|e| malformed(&format!("cannot resolve localhost: {e}")))?
                .filter(|a| a.ip().is_loopback())
                .collect()
        } else {
            let ip: IpAddr = host.parse().map_err(|_| TargetError::NotLoopback {
                url: url.to_owned(),
            })?;
            if !ip.is_loopback() {
                return Err(TargetError::NotLoopback {
                    url: url.to_owned(),
                });
            }
            vec![SocketAddr::new(ip, port)]
        };
        if addrs.is_empty() {
            return Err(TargetError::NotLoopback {
                url: url.to_owned(),
            });
        }
        Ok(Self {
            url: trimmed.to_owned(),
            authority: authority.to_owned(),
            addrs,
            base_path: base_path.to_owned(),
        })
    }
}

/// Splits `host[:port]`, IPv6 in brackets; the port defaults to 80.
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    if let Some(end) = authority.rfind(']') {
        let (host, rest) = authority.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(p) => p.parse().ok().map(|p| (host, p)),
            None if rest.is_empty() => Some((host, 80)),
            None => None,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, p)) => p.parse().ok().map(|p| (host, p)),
        None => Some((authority, 80)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_accepted() {
        let t = Target::parse("http://127.0.0.1:8000/").unwrap();
        assert_eq!(t.addrs, ["127.0.0.1:8000".parse::<SocketAddr>().unwrap()]);
        assert_eq!(
            (t.authority.as_str(), t.base_path.as_str()),
            ("127.0.0.1:8000", "")
        );
        let t = Target::parse("http://127.8.9.10/base").unwrap();
        assert_eq!((t.addrs[0].port(), t.base_path.as_str()), (80, "/base"));
        let t = Target::parse("http://[::1]:9000").unwrap();
        assert_eq!(t.addrs, ["[::1]:9000".parse::<SocketAddr>().unwrap()]);
        let t = Target::parse("http://localhost:8000").unwrap();
        assert!(t
            .addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 8000));
    }

    #[test]
    fn others_are_refused() {
        for url in [
            "http://10.0.0.1:80",
            "http://example.com",
            "http://0.0.0.0:80",
            "http://[2001:db8::1]:80",
        ] {
            assert!(
                matches!(Target::parse(url), Err(TargetError::NotLoopback { .. })),
                "{url}"
            );
        }
        for url in [
            "https://127.0.0.1",
            "127.0.0.1:80",
            "ftp://127.0.0.1",
            "http://127.0.0.1:x",
            "http://",
        ] {
            assert!(
                matches!(Target::parse(url), Err(TargetError::Malformed { .. })),
                "{url}"
            );
        }
    }
}
