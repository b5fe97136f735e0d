//! An HTTPS server on loopback: the test app served over rustls with a certificate made
//! here by rcgen for `localhost`, 127.0.0.1 and ::1, signed by a CA of its own (whose PEM
//! a test hands to `--ca-cert`). It counts TCP connections, failed and resumed
//! handshakes, and the SNI names it was sent.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// What the server saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// TCP connections accepted.
    pub connections: AtomicUsize,
    /// Handshakes that failed (the client refused the certificate, or hung up).
    pub failed_handshakes: AtomicUsize,
    /// Handshakes that resumed an earlier session.
    pub resumed: AtomicUsize,
    /// The SNI name of each handshake (`None`: none was sent).
    pub server_names: Mutex<Vec<Option<String>>>,
}

impl Seen {
    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Handshakes resumed so far.
    pub fn resumed(&self) -> usize {
        self.resumed.load(Ordering::SeqCst)
    }

    /// Handshakes that failed so far.
    pub fn failed_handshakes(&self) -> usize {
        self.failed_handshakes.load(Ordering::SeqCst)
    }
}

/// A running HTTPS server.
#[derive(Debug)]
pub struct HttpsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its CA certificate, PEM.
    pub ca_pem: String,
    /// What it saw.
    pub seen: Arc<Seen>,
}

/// A CA and a server certificate it signed for `localhost`, 127.0.0.1 and ::1.
fn certificates() -> (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "loadgen test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf =
        CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let chain = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (ca_cert.pem(), chain, key)
}

/// Starts the test app over HTTPS on `bind` (port 0: any free one).
pub async fn https_app(bind: &str) -> HttpsServer {
    let (ca_pem, chain, key) = certificates();
    // The provider loadgen uses (deprecated by rustls for lacking post-quantum key
    // exchange, which these tests do not need).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let counts = Arc::clone(&seen);
    tokio::spawn(async move {
        // Bounded: a test makes at most a few hundred connections.
        for _ in 0..10_000 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            counts.connections.fetch_add(1, Ordering::SeqCst);
            let (acceptor, counts) = (acceptor.clone(), Arc::clone(&counts));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    counts.failed_handshakes.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                let state = tls.get_ref().1;
                if state.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                    counts.resumed.fetch_add(1, Ordering::SeqCst);
                }
                let name = state.server_name().map(str::to_owned);
                counts.server_names.lock().unwrap().push(name);
                let service = TowerToHyperService::new(super::router());
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    HttpsServer { addr, ca_pem, seen }
}
