//! TLS on the gateway's own port: HTTPS, gRPC over TLS (HTTP/2 by ALPN),
//! and client certificates if asked for.
//!
//! Handshakes run each in a task of their own, so a client that connects
//! and says nothing (or speaks plain HTTP) delays nobody else; connections
//! reach the HTTP server only once their handshake is done.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

pub use rustls;

/// A TLS setting that could not be made: which file, and why.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct TlsError {
    what: String,
    reason: String,
}

impl TlsError {
    fn new(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        TlsError {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshaken connections waiting for the HTTP server to take them.
const ACCEPT_BACKLOG: usize = 64;

/// A server configuration from PEM files: the certificate chain (leaf
/// first) and its private key; with `client_ca`, clients must present a
/// certificate signed by one of the CAs in that file (mutual TLS).
/// Protocols offered by ALPN: HTTP/2 (gRPC needs it), then HTTP/1.1.
pub fn server_config(
    cert_chain: impl AsRef<Path>,
    key: impl AsRef<Path>,
    client_ca: Option<&Path>,
) -> Result<ServerConfig, TlsError> {
    let cert_chain = cert_chain.as_ref();
    let key = key.as_ref();
    let certs = CertificateDer::pem_file_iter(cert_chain)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::new(format!("certificate {}", cert_chain.display()), e))?;
    if certs.is_empty() {
        return Err(TlsError::new(
            format!("certificate {}", cert_chain.display()),
            "no certificate in the file",
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError::new(format!("private key {}", key.display()), e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::new("TLS", e))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let what = || format!("client CA {}", path.display());
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| TlsError::new(what(), e))? {
                let cert = cert.map_err(|e| TlsError::new(what(), e))?;
                roots.add(cert).map_err(|e| TlsError::new(what(), e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::new(what(), e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::new(format!("certificate {}", cert_chain.display()), e))?;
    config.alpn_protocols = alpn();
    Ok(config)
}

/// ALPN: HTTP/2 first (gRPC), then HTTP/1.1.
pub(crate) fn alpn() -> Vec<Vec<u8>> {
    vec![b"h2".to_vec(), b"http/1.1".to_vec()]
}

/// A listener whose connections are TLS, handshaken off the accept loop.
#[derive(Debug)]
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub(crate) fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(ACCEPT_BACKLOG);
        let acceptor = TlsAcceptor::from(config);
        let accepting = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: let some close.
                        tracing::warn!("nrpc-gateway: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!("nrpc-gateway: TCP_NODELAY not set: {e}");
                }
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!("nrpc-gateway: TLS handshake with {peer}: {e}")
                        }
                        Err(_) => {
                            tracing::debug!("nrpc-gateway: TLS handshake with {peer} timed out")
                        }
                    }
                });
            }
        });
        Ok(TlsListener {
            ready,
            local,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // The server stopped accepting (shutdown): so does the port.
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task ends only when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// What a connection says of its client: the name its certificate gives,
/// for a TLS connection whose client presented one (mutual TLS).
pub(crate) trait ClientName {
    fn client_name(&self) -> Option<String>;
}

impl ClientName for TcpStream {
    fn client_name(&self) -> Option<String> {
        None
    }
}

impl ClientName for TlsStream<TcpStream> {
    fn client_name(&self) -> Option<String> {
        let certificate = self.get_ref().1.peer_certificates()?.first()?;
        certificate_name(certificate)
    }
}

/// The name a client certificate gives its holder: its first URI
/// subject alternative name (a SPIFFE id), else DNS name, else e-mail,
/// else its subject's common name.
fn certificate_name(der: &[u8]) -> Option<String> {
    use x509_parser::extensions::GeneralName;
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    if let Ok(Some(alternatives)) = certificate.subject_alternative_name() {
        let names = &alternatives.value.general_names;
        let first = |pick: fn(&GeneralName<'_>) -> Option<String>| names.iter().find_map(pick);
        let found = first(|n| match n {
            GeneralName::URI(u) => Some(u.to_string()),
            _ => None,
        })
        .or_else(|| {
            first(|n| match n {
                GeneralName::DNSName(d) => Some(d.to_string()),
                _ => None,
            })
        })
        .or_else(|| {
            first(|n| match n {
                GeneralName::RFC822Name(m) => Some(m.to_string()),
                _ => None,
            })
        });
        if found.is_some() {
            return found;
        }
    }
    let common_name = certificate.subject().iter_common_name().next()?;
    common_name.as_str().ok().map(str::to_owned)
}
