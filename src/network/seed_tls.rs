//! The HTTP clients seeds are read with (issue 13, attack 1). Service nodes have self-signed
//! certificates, so node requests accept any (the onion layers carry their security); a seed
//! answer is trusted as is, so seeds get verified TLS:
//!
//! * every host: the web PKI roots bundled with the client (`webpki-roots`, through reqwest);
//! * the mainnet seed hosts ([`SEED_PINS`]) also: their pinned certificate, matched by its
//!   SHA-256 fingerprint, as Session Desktop pins them (their certificates may not chain to a
//!   public root). A pinned host whose certificate neither matches nor verifies is refused.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, SignatureScheme};
use sha2::{Digest, Sha256};

use super::error::NetworkError;
use super::seeds::SEED_PINS;

/// The pinned fingerprints of `host`, if it is a pinned seed host.
fn pins_for(host: &str) -> Vec<[u8; 32]> {
    SEED_PINS
        .iter()
        .filter(|(h, _)| h.eq_ignore_ascii_case(host))
        .filter_map(|(_, pin)| hex::decode(pin).ok()?.try_into().ok())
        .collect()
}

/// Accepts exactly the pinned certificate of a pinned host; refuses everything else.
#[derive(Debug)]
struct PinnedVerifier {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let ServerName::DnsName(host) = server_name else {
            return Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName,
            ));
        };
        let fingerprint: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if pins_for(host.as_ref()).contains(&fingerprint) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(TlsError::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The two seed clients: web PKI for every host, pins for the mainnet seed hosts.
#[derive(Debug, Clone)]
pub struct SeedClients {
    verified: reqwest::Client,
    pinned: reqwest::Client,
}

impl SeedClients {
    /// Builds both clients.
    pub fn new() -> Result<Self, NetworkError> {
        let err = |e: &dyn std::fmt::Display| NetworkError::Config(format!("seed client: {e}"));
        let verified = reqwest::Client::builder()
            .https_only(false)
            .build()
            .map_err(|e| err(&e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| err(&e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedVerifier { provider }))
            .with_no_client_auth();
        let pinned = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()
            .map_err(|e| err(&e))?;
        Ok(Self { verified, pinned })
    }

    /// POSTs `body` as JSON to `url` with the SD headers: a pinned host is tried with its pin
    /// first, then (a renewed certificate) with the web PKI; any other host with the web PKI.
    pub async fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let send = |client: &reqwest::Client| {
            client
                .post(url)
                .header("User-Agent", "WhatsApp")
                .header("Accept-Language", "en-us")
                .timeout(timeout)
                .json(body)
                .send()
        };
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        let pinned = url.starts_with("https://") && host.is_some_and(|h| !pins_for(&h).is_empty());
        if pinned {
            match send(&self.pinned).await {
                Err(e) if e.is_connect() => {
                    tracing::debug!(error = %e, "pinned seed certificate did not match; trying the web PKI");
                }
                other => return other,
            }
        }
        send(&self.verified).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_per_host() {
        assert_eq!(pins_for("seed1.getsession.org").len(), 1);
        assert_eq!(pins_for("SEED2.getsession.org").len(), 1);
        assert!(pins_for("seed9.getsession.org").is_empty());
        assert!(pins_for("127.0.0.1").is_empty());
        assert!(SeedClients::new().is_ok());
    }
}
