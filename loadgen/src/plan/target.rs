//! The target host (`-H`) and the origins requests go to: an `http://` or `https://` URL
//! with a host name or an IP literal (IPv6 in brackets), any port, an optional base path.
//! Parsing only: a host name is resolved each time a connection opens (in the engine's
//! session), as Locust's clients do. The TLS options (`--ca-cert`, `--insecure`) are read
//! and checked here too, so that a bad certificate file is refused before the run.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;

/// Why a host or a CA file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an `http(s)://host[:port][/base]` URL.
    #[error("bad host {url:?}: {reason}; expected http://HOST[:PORT] or https://HOST[:PORT], e.g. http://127.0.0.1:8000")]
    Malformed {
        /// The URL given.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The `--ca-cert` file could not be read or holds no certificate.
    #[error("bad --ca-cert {path}: {reason}; expected a PEM file with one or more BEGIN CERTIFICATE blocks")]
    CaCert {
        /// The file given.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP/1.1.
    Http,
    /// HTTP/1.1 over TLS.
    Https,
}

impl Scheme {
    /// The port a URL without one means.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// Where a connection goes: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Plain or TLS.
    pub scheme: Scheme,
    /// A host name (lower case) or an IP literal, without brackets.
    pub host: String,
    /// The port, the scheme's default when the URL has none.
    pub port: u16,
    /// `host[:port]` as the Host header carries it: IPv6 in brackets, the port only when
    /// it is not the scheme's default (as Python's http.client writes it).
    pub authority: String,
}

impl Origin {
    /// Parses `scheme://host[:port]` at the start of `url`; returns the origin and the
    /// rest (the path and query, possibly empty).
    pub fn split_url(url: &str) -> Result<(Self, &str), String> {
        let (scheme, rest) = match url.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("http") => (Scheme::Http, rest),
            Some((s, rest)) if s.eq_ignore_ascii_case("https") => (Scheme::Https, rest),
            Some((s, _)) => return Err(format!("the scheme {s:?} is neither http nor https")),
            None => return Err("it has no http:// or https:// scheme".to_owned()),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err("credentials in the URL are not supported (send an Authorization header from the scenario)".to_owned());
        }
        Ok((Self::new(scheme, authority)?, path))
    }

    /// The origin of `host[:port]` under `scheme`.
    fn new(scheme: Scheme, authority: &str) -> Result<Self, String> {
        let (host, port) = split_host_port(authority)?;
        let port = port.unwrap_or(scheme.default_port());
        let bracketed = host.starts_with('[');
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err("it has no host".to_owned());
        }
        let ip = host.parse::<IpAddr>().ok();
        match ip {
            Some(IpAddr::V6(_)) if !bracketed => return Err(NEEDS_BRACKETS.to_owned()),
            Some(_) => {}
            None if bracketed => return Err(format!("[{host}] is not an IPv6 address")),
            None => {
                let valid = host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
                if !valid {
                    return Err(format!("{host:?} is not a host name"));
                }
            }
        }
        let host = host.to_ascii_lowercase();
        let shown = match ip {
            Some(IpAddr::V6(_)) => format!("[{host}]"),
            _ => host.clone(),
        };
        let authority = if port == scheme.default_port() {
            shown
        } else {
            format!("{shown}:{port}")
        };
        Ok(Self {
            scheme,
            host,
            port,
            authority,
        })
    }

    /// The host as an IP address, when it is a literal.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.authority)
    }
}

const NEEDS_BRACKETS: &str = "an IPv6 address must be in brackets, as in http://[::1]:8000";

/// Splits `host[:port]`, IPv6 in brackets.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let bad_port = |p: &str| format!("the port {p:?} is not a number from 1 to 65535");
    let port = |p: &str| match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(bad_port(p)),
    };
    if let Some(end) = authority.rfind(']') {
        let (host, rest) = authority.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(p) => Ok((host, port(p)?)),
            None if rest.is_empty() => Ok((host, None)),
            None => Err(bad_port(rest)),
        };
    }
    match authority.split_once(':') {
        // More than one colon outside brackets: an IPv6 address without them.
        Some((_, p)) if p.contains(':') => Err(NEEDS_BRACKETS.to_owned()),
        Some((host, p)) => Ok((host, port(p)?)),
        None => Ok((authority, None)),
    }
}

/// Whether `url` is absolute (`http://...` or `https://...`), as Locust's clients decide
/// it before prepending the host.
pub(crate) fn is_absolute_url(url: &str) -> bool {
    let starts = |prefix: &str| {
        url.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    starts("http://") || starts("https://")
}

/// The stats name Locust's `HttpUser` gives an unnamed request: its path and query,
/// also when the URL is absolute (requests' `path_url`), so `https://h/x?y=1` is `/x?y=1`.
pub(crate) fn request_name(url: &str) -> &str {
    if !is_absolute_url(url) {
        return url;
    }
    let rest = url.split_once("://").map_or("", |(_, rest)| rest);
    rest.find(['/', '?']).map_or("/", |i| &rest[i..])
}

/// A validated target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given, without a trailing slash.
    pub url: String,
    /// Scheme, host and port.
    pub origin: Origin,
    /// A path prefix from the URL (`http://h/base` gives `/base`), usually empty.
    pub base_path: String,
}

impl Target {
    /// Parses and checks a host URL.
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let given = url.trim();
        let malformed = |reason: String| TargetError::Malformed {
            url: url.to_owned(),
            reason,
        };
        let (origin, path) = Origin::split_url(given).map_err(malformed)?;
        let base_path = path.trim_end_matches('/');
        let trimmed = &given[..given.len() - (path.len() - base_path.len())];
        if path.contains(['?', '#']) {
            return Err(malformed(
                "a host URL takes no query or fragment (put them in the scenario's paths)"
                    .to_owned(),
            ));
        }
        Ok(Self {
            url: trimmed.to_owned(),
            origin,
            base_path: base_path.to_owned(),
        })
    }

    /// Whether the host is a loopback literal or `localhost` (which resolves to loopback
    /// by RFC 6761), so no resolution is needed to know the load stays on this machine.
    pub fn is_loopback(&self) -> bool {
        match self.origin.ip() {
            Some(ip) => ip.is_loopback(),
            None => self.origin.host == "localhost",
        }
    }
}

/// How TLS connections are checked: the system's roots plus `--ca-cert`'s, or nothing
/// at all with `--insecure`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Certificates trusted besides the system's roots (`--ca-cert`).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Accept any certificate (`--insecure`), as Locust's `verify=False`.
    pub insecure: bool,
}

impl TlsOptions {
    /// Adds the certificates of a PEM file to the trusted roots.
    pub fn add_ca_file(&mut self, path: &Path) -> Result<(), TargetError> {
        let refuse = |reason: String| TargetError::CaCert {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read(path).map_err(|e| refuse(e.to_string()))?;
        let certs = CertificateDer::pem_slice_iter(&text)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| refuse(format!("it is not PEM ({e})")))?;
        if certs.is_empty() {
            return Err(refuse("it holds no certificate".to_owned()));
        }
        for (i, cert) in certs.iter().enumerate() {
            rustls::RootCertStore::empty()
                .add(cert.clone())
                .map_err(|e| {
                    refuse(format!("certificate {} is not usable as a CA ({e})", i + 1))
                })?;
        }
        self.extra_roots.extend(certs);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> (Scheme, String, u16, String) {
        let t = Target::parse(url).unwrap();
        (
            t.origin.scheme,
            t.origin.host,
            t.origin.port,
            t.origin.authority,
        )
    }

    #[test]
    fn any_host_and_port_is_accepted() {
        let t = Target::parse("http://127.0.0.1:8000/").unwrap();
        assert_eq!(
            (t.origin.authority.as_str(), t.base_path.as_str()),
            ("127.0.0.1:8000", "")
        );
        let t = Target::parse("http://127.8.9.10/base").unwrap();
        assert_eq!((t.origin.port, t.base_path.as_str()), (80, "/base"));
        assert_eq!(
            origin("http://[::1]:9000"),
            (Scheme::Http, "::1".into(), 9000, "[::1]:9000".into())
        );
        assert_eq!(
            origin("https://Staging.Example.com"),
            (
                Scheme::Https,
                "staging.example.com".into(),
                443,
                "staging.example.com".into()
            )
        );
        assert_eq!(
            origin("HTTPS://10.0.0.1:8443"),
            (
                Scheme::Https,
                "10.0.0.1".into(),
                8443,
                "10.0.0.1:8443".into()
            )
        );
        // The default port is left out of the Host header, as Python writes it.
        assert_eq!(origin("http://localhost:80").3, "localhost");
        assert_eq!(origin("https://[2001:db8::1]").3, "[2001:db8::1]");
        assert!(Target::parse("http://localhost:8000")
            .unwrap()
            .is_loopback());
        assert!(Target::parse("https://[::1]").unwrap().is_loopback());
        assert!(!Target::parse("http://10.0.0.1").unwrap().is_loopback());
        assert!(!Target::parse("http://mock-api:8000").unwrap().is_loopback());
    }

    #[test]
    fn malformed_hosts_say_what_is_wrong() {
        for (url, words) in [
            ("127.0.0.1:80", "no http:// or https:// scheme"),
            ("ftp://127.0.0.1", "neither http nor https"),
            ("http://127.0.0.1:x", "not a number"),
            ("http://127.0.0.1:0", "not a number from 1 to 65535"),
            ("http://127.0.0.1:70000", "not a number"),
            ("http://", "no host"),
            ("http://::1", "must be in brackets"),
            ("http://[nothost]", "not an IPv6 address"),
            ("http://a b", "not a host name"),
            ("http://user:pw@host", "credentials"),
            ("http://host/x?y=1", "no query"),
        ] {
            let e = Target::parse(url).unwrap_err().to_string();
            assert!(e.contains(words), "{url}: {e}");
        }
    }

    #[test]
    fn absolute_urls_are_recognised_as_locust_does() {
        assert!(is_absolute_url("http://a/x"));
        assert!(is_absolute_url("HTTPS://a"));
        assert!(!is_absolute_url("/http://a"));
        assert!(!is_absolute_url("ftp://a"));
        assert_eq!(request_name("/a?b=1"), "/a?b=1");
        assert_eq!(request_name("https://h:8443/x?y=1"), "/x?y=1");
        assert_eq!(request_name("http://h"), "/");
        let (o, rest) = Origin::split_url("https://api.example.com:8443/v1?q=1").unwrap();
        assert_eq!(
            (o.to_string(), rest),
            ("https://api.example.com:8443".into(), "/v1?q=1")
        );
    }

    #[test]
    fn ca_files_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let mut tls = TlsOptions::default();
        let e = tls.add_ca_file(&empty).unwrap_err().to_string();
        assert!(
            e.contains("holds no certificate") && e.contains("empty.pem"),
            "{e}"
        );
        let e = tls
            .add_ca_file(&dir.path().join("missing.pem"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.pem"), "{e}");
        assert!(tls.extra_roots.is_empty());
    }
}
