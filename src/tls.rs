//! Choosing the TLS connector for a [`NodeConfig`].
//!
//! Without the `rustls` feature every connection is plain (`TlsMode::Require` and
//! `TlsMode::VerifyFull` are refused by [`NodeConfig::validate`]). With it, `prefer` and
//! `require` encrypt without verifying the certificate (as libpq does without a root
//! certificate), and `verify-full` verifies the chain against the configured roots and the
//! host name (or IP address).

use tokio_postgres::NoTls;

use crate::config::{NodeConfig, TlsMode};
use crate::error::Result;

/// The connector for one connection attempt (kept by a session for its cancel requests).
#[derive(Clone)]
pub(crate) enum Connector {
    /// No TLS.
    Plain(NoTls),
    /// rustls.
    #[cfg(feature = "rustls")]
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Connector::Plain(_) => f.write_str("Connector::Plain"),
            #[cfg(feature = "rustls")]
            Connector::Rustls(_) => f.write_str("Connector::Rustls"),
        }
    }
}

impl Connector {
    #[cfg_attr(not(feature = "rustls"), allow(clippy::unnecessary_wraps))]
    pub(crate) fn for_config(config: &NodeConfig, op: &'static str) -> Result<Connector> {
        match config.get_tls() {
            TlsMode::Disable => Ok(Connector::Plain(NoTls)),
            #[cfg(not(feature = "rustls"))]
            _ => {
                let _ = op;
                Ok(Connector::Plain(NoTls))
            }
            #[cfg(feature = "rustls")]
            mode => rustls_impl::connector(config, mode, op).map(Connector::Rustls),
        }
    }
}

#[cfg(feature = "rustls")]
mod rustls_impl {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
    use tokio_postgres_rustls::MakeRustlsConnect;

    use crate::config::{NodeConfig, TlsMode};
    use crate::error::{Error, Result};

    pub(super) fn connector(
        config: &NodeConfig,
        mode: TlsMode,
        op: &'static str,
    ) -> Result<MakeRustlsConnect> {
        let node = config.node_name();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::invalid(op, Some(&node), format!("TLS setup: {e}")))?;
        let client = if mode == TlsMode::VerifyFull {
            let mut roots = RootCertStore::empty();
            for pem in config.get_root_certificates_pem() {
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let cert = cert.map_err(|e| {
                        Error::invalid(op, Some(&node), format!("root certificate PEM: {e}"))
                    })?;
                    roots.add(cert).map_err(|e| {
                        Error::invalid(op, Some(&node), format!("root certificate: {e}"))
                    })?;
                }
            }
            if roots.is_empty() {
                return Err(Error::invalid(
                    op,
                    Some(&node),
                    "no certificate found in the root certificate PEM",
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
                .with_no_client_auth()
        };
        Ok(MakeRustlsConnect::new(client))
    }

    /// Accepts any server certificate (libpq's `prefer`/`require` without a root
    /// certificate) while still checking the handshake signatures.
    #[derive(Debug)]
    struct EncryptOnly(Arc<CryptoProvider>);

    impl ServerCertVerifier for EncryptOnly {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> std::result::Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}
