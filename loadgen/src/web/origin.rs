//! Who may talk to the web UI: a browser page from anywhere else must not drive it.
//!
//! - DNS rebinding: a page on `evil.example` whose name is made to resolve to 127.0.0.1
//!   reaches the UI with `Host: evil.example`. Without `--web-auth`, a request whose
//!   Host names anything but the address the UI listens on, or localhost, is refused.
//!   (With credentials the Host may be any name: a rebound page cannot supply them.)
//! - Cross-site requests: a form on any page can POST to `/swarm`. A request that
//!   changes state (any method but GET, HEAD and OPTIONS, and Locust's GET `/stop` and
//!   `/stats/reset`) is refused when its `Origin` is not the UI's own, or when the
//!   browser marks it `Sec-Fetch-Site: cross-site` or `same-site`. Scripts and curl,
//!   which send neither header, are served as before.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// What the check needs to know of the UI.
#[derive(Debug, Clone)]
pub(super) struct OwnAddress {
    /// The IP the UI listens on (unspecified: every address of the machine).
    pub ip: IpAddr,
    /// Credentials are required, so any Host name may be used.
    pub any_host: bool,
}

/// The layer: refuses foreign Hosts and foreign state-changing requests with 403.
pub(super) async fn require_own_origin(
    State(own): State<OwnAddress>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let Some(host) = host {
        if !own.any_host && !own.allows_host(host) {
            return refuse(format!(
                "Host {host:?} is not this web UI's address ({}) or localhost: refused, as a page that rebinds its name to this machine would be",
                own.ip
            ));
        }
    }
    if changes_state(request.method(), request.uri().path()) {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("?");
            let own_origin = host.is_some_and(|h| {
                origin.eq_ignore_ascii_case(&format!("http://{h}"))
                    || origin.eq_ignore_ascii_case(&format!("https://{h}"))
            });
            if !own_origin {
                return refuse(format!(
                    "Origin {origin:?} is not this web UI's: a request that changes the run must come from the UI's own page"
                ));
            }
        }
        let site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none");
        if matches!(site, "cross-site" | "same-site") {
            return refuse(format!(
                "a {site} request may not change the run: use the UI's own page"
            ));
        }
    }
    next.run(request).await
}

impl OwnAddress {
    /// True when `host` (a Host header: name or IP, maybe a port) names this UI.
    fn allows_host(&self, host: &str) -> bool {
        let name = host_name(host);
        if name.eq_ignore_ascii_case("localhost") {
            return true;
        }
        match name.parse::<IpAddr>() {
            Ok(ip) if self.ip.is_unspecified() => !ip.is_unspecified(),
            Ok(ip) => ip == self.ip || (self.ip.is_loopback() && ip.is_loopback()),
            Err(_) => false,
        }
    }
}

/// The name part of a Host header: `[::1]:8089` -> `::1`, `127.0.0.1:8089` -> `127.0.0.1`.
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name)
}

/// Whether a request changes the run (Locust also stops and resets on GET).
fn changes_state(method: &Method, path: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || matches!(path, "/stop" | "/stats/reset")
}

fn refuse(message: String) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(json!({ "success": false, "message": message })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(ip: [u8; 4]) -> OwnAddress {
        OwnAddress {
            ip: IpAddr::from(ip),
            any_host: false,
        }
    }

    #[test]
    fn hosts_are_the_address_or_localhost() {
        let loopback = own([127, 0, 0, 1]);
        for ok in [
            "127.0.0.1:8089",
            "localhost:8089",
            "LOCALHOST",
            "127.0.0.1",
            "[::1]:8089",
        ] {
            assert!(loopback.allows_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:8089",
            "evil.example",
            "127.0.0.1.evil.example:8089",
            "10.0.0.1:8089",
            "",
        ] {
            assert!(!loopback.allows_host(bad), "{bad}");
        }
        let lan = own([192, 168, 1, 5]);
        assert!(lan.allows_host("192.168.1.5:8089"));
        assert!(!lan.allows_host("192.168.1.6:8089"));
        let every = own([0, 0, 0, 0]);
        assert!(every.allows_host("192.168.1.6:8089"));
        assert!(!every.allows_host("evil.example"));
    }

    #[test]
    fn state_changes_are_posts_and_locust_s_get_stop_and_reset() {
        assert!(changes_state(&Method::POST, "/swarm"));
        assert!(changes_state(&Method::GET, "/stop"));
        assert!(changes_state(&Method::GET, "/stats/reset"));
        assert!(!changes_state(&Method::GET, "/stats/requests"));
    }
}
