//! The worker-wide rustls `ClientConfig`: root store (system roots plus an
//! optional extra CA), ALPN `http/1.1`, and the `insecure` verifier. Built once
//! per `HttpClient` and shared by every session; nothing is installed globally.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::error::HttpError;

/// Builds the shared client config. Missing system roots are not an error:
/// plain `http://` targets must still work, and `https://` then fails per
/// request with a tls error.
pub(crate) fn client_config(
    insecure: bool,
    ca_cert_pem: Option<&[u8]>,
) -> Result<ClientConfig, HttpError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Config(format!("tls: {e}")))?;
    let mut config = if insecure {
        let verifier = AcceptAnyCert {
            algorithms: provider.signature_verification_algorithms,
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(root_store(ca_cert_pem)?)
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn root_store(ca_cert_pem: Option<&[u8]>) -> Result<RootCertStore, HttpError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(
        added,
        ignored,
        errors = native.errors.len(),
        "loaded system root certificates"
    );
    if let Some(pem) = ca_cert_pem {
        let mut found = 0usize;
        for cert in rustls_pemfile::certs(&mut &pem[..]) {
            let cert = cert.map_err(|e| HttpError::Config(format!("ca certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| HttpError::Config(format!("ca certificate: {e}")))?;
            found += 1;
        }
        if found == 0 {
            return Err(HttpError::Config(
                "ca certificate: no PEM certificate found".into(),
            ));
        }
    }
    if roots.is_empty() {
        tracing::warn!(
            "no root certificates available: https requests will fail certificate verification"
        );
    }
    Ok(roots)
}

/// `insecure: true`: accepts any certificate chain and name, but still checks
/// that the server's handshake signatures are valid for the key it presented.
#[derive(Debug)]
struct AcceptAnyCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
