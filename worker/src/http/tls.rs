//! The worker's rustls client configs: root store (system roots plus an
//! optional extra CA) and the `insecure` verifier, in three ALPN variants
//! ([`Alpn`]: `http/1.1`, `h2` then `http/1.1`, `h2`). Built once per
//! `HttpClient`; nothing is installed globally. A session that resumes TLS
//! sessions takes its own copy of a variant with its own ticket store
//! ([`UserTls`]), so each virtual user resumes its own sessions, as each
//! browser does, and a new user pays a full handshake.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientSessionMemoryCache, Resumption};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::error::HttpError;

/// What a TLS connection offers in ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alpn {
    /// `http/1.1` only.
    Http1,
    /// `h2`, then `http/1.1`: the server picks (a browser's offer).
    Either,
    /// `h2` only.
    H2,
}

/// TLS sessions (tickets) a user keeps: one per origin it talks to.
const TICKETS_PER_USER: usize = crate::http::MAX_ORIGINS;
/// Sessions the shared connections of a worker keep.
const TICKETS_SHARED: usize = 256;

/// The three ALPN variants of the worker's config.
#[derive(Debug)]
pub(crate) struct Configs {
    http1: Arc<ClientConfig>,
    either: Arc<ClientConfig>,
    h2: Arc<ClientConfig>,
    /// Users resume their TLS sessions.
    pub resumption: bool,
}

impl Configs {
    /// Builds the configs. Missing system roots are not an error: plain
    /// `http://` targets must still work, and `https://` then fails per
    /// request with a tls error.
    pub fn new(
        insecure: bool,
        ca_cert_pem: Option<&[u8]>,
        resumption: bool,
    ) -> Result<Self, HttpError> {
        let mut base = client_config(insecure, ca_cert_pem)?;
        base.resumption = if resumption {
            Resumption::in_memory_sessions(TICKETS_SHARED)
        } else {
            Resumption::disabled()
        };
        let with = |alpn: &[&[u8]]| {
            let mut c = base.clone();
            c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Arc::new(c)
        };
        Ok(Self {
            http1: with(&[b"http/1.1"]),
            either: with(&[b"h2", b"http/1.1"]),
            h2: with(&[b"h2"]),
            resumption,
        })
    }

    /// The worker-wide variant (its tickets shared by whoever uses it).
    pub fn shared(&self, alpn: Alpn) -> &Arc<ClientConfig> {
        match alpn {
            Alpn::Http1 => &self.http1,
            Alpn::Either => &self.either,
            Alpn::H2 => &self.h2,
        }
    }
}

/// One user's TLS state between connections: its ticket store and the
/// variant it last connected with, made on its first https connection.
#[derive(Debug, Default)]
pub(crate) struct UserTls {
    tickets: Option<Arc<ClientSessionMemoryCache>>,
    config: Option<(Alpn, Arc<ClientConfig>)>,
}

impl UserTls {
    /// The config of this user's next connection offering `alpn`.
    pub fn config(&mut self, configs: &Configs, alpn: Alpn) -> Arc<ClientConfig> {
        if !configs.resumption {
            return Arc::clone(configs.shared(alpn));
        }
        if let Some((a, c)) = &self.config
            && *a == alpn
        {
            return Arc::clone(c);
        }
        let tickets = self
            .tickets
            .get_or_insert_with(|| Arc::new(ClientSessionMemoryCache::new(TICKETS_PER_USER)));
        let mut config = ClientConfig::clone(configs.shared(alpn));
        config.resumption = Resumption::store(Arc::clone(tickets) as _);
        let config = Arc::new(config);
        self.config = Some((alpn, Arc::clone(&config)));
        config
    }
}

fn client_config(insecure: bool, ca_cert_pem: Option<&[u8]>) -> Result<ClientConfig, HttpError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Config(format!("tls: {e}")))?;
    let config = if insecure {
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
