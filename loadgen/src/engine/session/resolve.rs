//! How a host name becomes addresses: the system's resolver (getaddrinfo, on tokio's
//! blocking pool) each time a connection opens, as Locust's clients resolve, or a
//! resolver the embedding program gives (a test's stub, a fixed table). IP literals are
//! never looked up. Every address found is tried in order when connecting.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use crate::plan::target::{Origin, Target};

type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;
type LookupFn = dyn Fn(&str, u16) -> Lookup + Send + Sync;

/// Turns host names into the addresses to try, in order.
#[derive(Clone, Default)]
pub struct Resolver {
    /// `None`: the system's resolver.
    custom: Option<Arc<LookupFn>>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.custom.is_some() {
            "Resolver(custom)"
        } else {
            "Resolver(system)"
        })
    }
}

impl Resolver {
    /// The system's resolver.
    pub fn system() -> Self {
        Self::default()
    }

    /// A resolver of one's own: `lookup(host, port)` gives the addresses to try in order,
    /// or the error each request to that host then fails with.
    pub fn from_fn<F, Fut>(lookup: F) -> Self
    where
        F: Fn(&str, u16) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static,
    {
        Self {
            custom: Some(Arc::new(move |host, port| Box::pin(lookup(host, port)))),
        }
    }

    /// The addresses of `origin`, at least one.
    pub(crate) async fn resolve(&self, origin: &Origin) -> io::Result<Vec<SocketAddr>> {
        if let Some(ip) = origin.ip() {
            return Ok(vec![SocketAddr::new(ip, origin.port)]);
        }
        let addrs: Vec<SocketAddr> = match &self.custom {
            Some(lookup) => lookup(&origin.host, origin.port).await?,
            None => tokio::net::lookup_host((origin.host.as_str(), origin.port))
                .await?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the name has no addresses",
            ));
        }
        Ok(addrs)
    }
}

/// The line shown before a run whose target is not on loopback: the address it resolves
/// to now, so that nobody loads a host by mistake without seeing where the load goes.
/// `None` for a loopback target.
pub(crate) async fn target_notice(target: &Target, resolver: &Resolver) -> Option<String> {
    if target.is_loopback() {
        return None;
    }
    let url = &target.url;
    Some(match resolver.resolve(&target.origin).await {
        Ok(addrs) if addrs.iter().all(|a| a.ip().is_loopback()) => return None,
        Ok(addrs) => {
            let first = addrs[0].ip();
            let verb = if target.origin.ip().is_some() {
                "is"
            } else {
                "resolves to"
            };
            let more = match addrs.len() {
                1 => String::new(),
                n => format!(" (the first of {n} addresses)"),
            };
            format!("Target {url} {verb} {first}{more}, not loopback: the load goes there.")
        }
        Err(e) => {
            format!("Target {url} does not resolve now ({e}): each request fails until it does.")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stub() -> Resolver {
        Resolver::from_fn(|host, port| {
            let found = match host {
                "staging.test" => Ok(vec![
                    SocketAddr::from(([192, 0, 2, 7], port)),
                    SocketAddr::from(([192, 0, 2, 8], port)),
                ]),
                "loop.test" => Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]),
                _ => Err(io::Error::new(io::ErrorKind::NotFound, "no such name")),
            };
            std::future::ready(found)
        })
    }

    async fn notice(url: &str) -> Option<String> {
        target_notice(&Target::parse(url).unwrap(), &stub()).await
    }

    #[tokio::test]
    async fn a_target_off_loopback_is_named_with_its_address() {
        assert_eq!(
            notice("https://staging.test").await.as_deref(),
            Some("Target https://staging.test resolves to 192.0.2.7 (the first of 2 addresses), not loopback: the load goes there.")
        );
        assert_eq!(
            notice("http://192.0.2.9:8000").await.as_deref(),
            Some("Target http://192.0.2.9:8000 is 192.0.2.9, not loopback: the load goes there.")
        );
        let missing = notice("http://nowhere.test").await.unwrap();
        assert!(
            missing.contains("does not resolve now (no such name)"),
            "{missing}"
        );
        // Loopback, whether a literal or a name that resolves there, says nothing.
        for url in [
            "http://127.0.0.1:1",
            "http://[::1]:1",
            "http://localhost",
            "http://loop.test",
        ] {
            assert_eq!(notice(url).await, None, "{url}");
        }
    }

    #[tokio::test]
    async fn literals_are_never_looked_up() {
        let refuse_all =
            Resolver::from_fn(|_, _| std::future::ready(Err(io::Error::other("looked up"))));
        let origin = Target::parse("https://[::1]:8443").unwrap().origin;
        assert_eq!(
            refuse_all.resolve(&origin).await.unwrap(),
            ["[::1]:8443".parse::<SocketAddr>().unwrap()]
        );
    }
}
