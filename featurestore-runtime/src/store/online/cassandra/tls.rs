//! The rustls client configuration of `[online.cassandra.tls]`.

use std::io::{ErrorKind, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, StreamOwned,
};

use super::config::TlsConfig;
use crate::error::{Error, Result};

/// The client side of the nodes' TLS: the trusted roots, the client
/// certificate if any, and whether the nodes' certificates must name their
/// addresses. Files are read here, once per store, so that a wrong path or
/// a file without certificates is said before any node is contacted.
pub(super) fn client_config(tls: &TlsConfig, shown: &str) -> Result<Arc<ClientConfig>> {
    let invalid = |message: String| Error::Location {
        location: shown.to_string(),
        message: format!("[online.cassandra.tls] {message}"),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            for cert in certificates(path).map_err(&invalid)? {
                roots.add(cert).map_err(|e| {
                    invalid(format!(
                        "ca_file {}: a certificate is not usable as a root: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(invalid(
                    "no trusted root certificate was found on this system: set ca_file to the cluster's CA certificates (PEM)".to_string(),
                ));
            }
        }
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| invalid(format!("the trusted roots cannot verify certificates: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if tls.verify_hostname {
        webpki
    } else {
        Arc::new(AnyName(webpki))
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match &tls.client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = certificates(cert).map_err(&invalid)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                invalid(format!(
                    "key_file {}: no unencrypted PEM private key could be read: {e}",
                    key.display()
                ))
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| invalid(format!("cert_file and key_file do not go together: {e}")))?
        }
    };
    Ok(Arc::new(config))
}

/// The PEM certificates of `path`, at least one.
fn certificates(path: &Path) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// Checks a node's certificate chain against the trusted roots, and not
/// the name in it (`verify_hostname = false`). The webpki verifier checks
/// the chain first and the name last, so only a name that does not match is
/// let through: an untrusted, expired or badly signed certificate is still
/// refused.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Why the nodes end TLS connections made with `config`, when they do.
///
/// The driver reports a node that ends the handshake (a node that wants a
/// client certificate and gets none, with TLS 1.3) as a connection broken
/// while it sent its first request: the node's alert is read or lost
/// depending on which of the driver's tasks notices first, so a refusal
/// would read as an unreachable node. This handshake sends nothing after
/// it, so the node's alert is always read. `None` when no node could be
/// reached, or when a node kept the connection open for `wait`.
pub(super) fn refusal(
    nodes: &[String],
    config: &Arc<ClientConfig>,
    wait: Duration,
) -> Option<String> {
    nodes.iter().find_map(|node| {
        let addr = node.to_socket_addrs().ok()?.next()?;
        let tcp = TcpStream::connect_timeout(&addr, wait).ok()?;
        tcp.set_read_timeout(Some(wait)).ok()?;
        tcp.set_write_timeout(Some(wait)).ok()?;
        let name = ServerName::IpAddress(addr.ip().into());
        let conn = ClientConnection::new(config.clone(), name).ok()?;
        let mut tls = StreamOwned::new(conn, tcp);
        let mut byte = [0u8; 1];
        let refused = |e: std::io::Error| {
            // A node that closes the connection is a refusal; a read that
            // timed out is a node waiting for the first request.
            (!matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
                .then(|| format!("node {node}: {e}"))
        };
        while tls.conn.is_handshaking() {
            if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
                return refused(e);
            }
        }
        match tls.read(&mut byte) {
            Ok(0) => Some(format!(
                "node {node} closed the connection right after the TLS handshake"
            )),
            Ok(_) => None,
            Err(e) => refused(e),
        }
    })
}
