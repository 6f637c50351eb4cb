//! The TLS probe: a rustls client whose verifier *records* the presented chain and lets the
//! handshake finish, so the SMTP session can go on (EHLO after TLS, AUTH) even when Gmail would
//! refuse the certificate. The real verdict is computed afterwards against the injected clock,
//! once for the chain (webpki) and once per name (our own RFC 6125 matcher, which explains).

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use mxdoctor_proto::tls_hello::TlsVersion;

use crate::cert::CertSummary;
use crate::clock::SharedClock;

/// The one crypto provider of the project.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Trust anchors and time for verdicts.
#[derive(Clone)]
pub struct TlsSettings {
    pub roots: Arc<RootCertStore>,
    /// Where the anchors came from, for evidence ("webpki-roots", "webpki-roots + lab-ca.pem").
    pub roots_label: String,
    pub clock: SharedClock,
    pub timeout: Duration,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("roots", &self.roots_label)
            .finish_non_exhaustive()
    }
}

impl TlsSettings {
    /// Mozilla's roots (webpki-roots): the same verdict on every OS, close to what Gmail trusts.
    pub fn webpki_roots(clock: SharedClock, timeout: Duration) -> Self {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Self {
            roots: Arc::new(roots),
            roots_label: "webpki-roots".into(),
            clock,
            timeout,
        }
    }

    /// Adds the PEM certificates of `pem` as extra anchors (`--ca-file`, the lab CA).
    pub fn add_pem(&mut self, pem: &str, label: &str) -> Result<usize, String> {
        use rustls::pki_types::pem::PemObject;
        let mut roots = (*self.roots).clone();
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("{label}: not a PEM certificate file ({e})"))?;
            roots
                .add(cert)
                .map_err(|e| format!("{label}: unusable certificate ({e})"))?;
            n += 1;
        }
        if n == 0 {
            return Err(format!("{label}: no certificate found"));
        }
        self.roots = Arc::new(roots);
        self.roots_label = format!("{} + {label}", self.roots_label);
        Ok(n)
    }
}

/// What the verifier saw.
#[derive(Debug, Default)]
struct Recorded {
    chain: Vec<CertificateDer<'static>>,
    presented: usize,
}

/// Records the chain and accepts it, so the handshake completes; signatures over the handshake
/// are still checked for real (a verifier that accepted any signature would accept garbage).
#[derive(Debug)]
struct RecordingVerifier {
    seen: Arc<Mutex<Recorded>>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.presented = 1 + intermediates.len();
            seen.chain = std::iter::once(end_entity.clone().into_owned())
                .chain(intermediates.iter().map(|c| c.clone().into_owned()))
                .take(MAX_CHAIN_CERTS)
                .collect();
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Trust verdict on the presented chain, independent of the name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum ChainVerdict {
    /// Leads to a trust anchor.
    Trusted,
    /// One certificate, issuer == subject, not an anchor.
    SelfSigned,
    /// Only the leaf was sent and its issuer is not an anchor: usually a missing intermediate.
    IncompleteChain { issuer: String },
    /// The chain ends at an issuer that is not an anchor.
    UnknownIssuer { issuer: String },
    /// Anything else webpki refused (bad signature, wrong key usage...).
    Invalid { reason: String },
    /// Nothing was presented.
    Empty,
}

/// Dates of the leaf against the clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum DateVerdict {
    InDate { days_left: i64 },
    Expired { days_ago: i64 },
    NotYetValid { days_until: i64 },
    Unknown,
}

/// A completed handshake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TlsOutcome {
    pub version: TlsVersion,
    pub cipher: String,
    /// The SNI name sent, if any.
    pub sni: Option<String>,
    /// The first [`MAX_CHAIN_CERTS`] certificates the server sent.
    pub chain: Vec<CertSummary>,
    /// How many certificates the server sent in all.
    #[serde(default)]
    pub presented: usize,
    #[serde(skip)]
    pub chain_der: Vec<Vec<u8>>,
    pub chain_verdict: ChainVerdict,
    pub dates: DateVerdict,
    /// When the verdict was computed (the clock's time).
    pub checked_at: String,
    pub trust_store: String,
}

impl TlsOutcome {
    pub fn leaf(&self) -> Option<&CertSummary> {
        self.chain.first()
    }
}

/// A handshake that did not complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TlsFailure {
    #[error("the server sent the TLS alert {alert}")]
    Alert { alert: String },
    #[error("the server offers no TLS version or cipher this client accepts ({detail})")]
    Incompatible { detail: String },
    #[error("the connection was closed or reset during the TLS handshake ({detail})")]
    Closed { detail: String },
    #[error("the TLS handshake did not finish within {secs} s")]
    Timeout { secs: u64 },
    #[error("the server's TLS messages were not valid ({detail})")]
    Protocol { detail: String },
    /// What came back was not TLS at all (plain text after a "go ahead" to STARTTLS).
    #[error("the server did not speak TLS: its answer to the ClientHello was not a TLS record ({detail})")]
    NotTls { detail: String },
    /// A handshake message (the certificate list, typically) larger than TLS clients accept.
    #[error("a handshake message from the server is larger than {limit} bytes, which TLS clients refuse")]
    TooLarge { limit: usize },
}

/// The largest handshake message rustls (and so mxdoctor) accepts: a certificate list larger
/// than this fails the handshake. OpenSSL's default is about 100 KiB; real chains are 2-8 KiB.
pub const MAX_HANDSHAKE_MESSAGE: usize = 65535;

/// Certificates of a presented chain that are kept and judged. Real chains have two to four;
/// the rest are counted (`TlsOutcome::presented`) and reported, not parsed.
pub const MAX_CHAIN_CERTS: usize = 10;

pub type VersionSet = &'static [&'static rustls::SupportedProtocolVersion];
pub static BOTH: VersionSet = &[&rustls::version::TLS13, &rustls::version::TLS12];
pub static ONLY_13: VersionSet = &[&rustls::version::TLS13];
pub static ONLY_12: VersionSet = &[&rustls::version::TLS12];

/// Runs a TLS handshake over `stream` (a fresh TCP stream, or an SMTP stream after STARTTLS).
/// `server_name` is the name checked; `send_sni` decides whether it goes in the ClientHello.
pub async fn handshake<S>(
    stream: S,
    server_name: &str,
    send_sni: bool,
    versions: VersionSet,
    settings: &TlsSettings,
) -> Result<(TlsStream<S>, TlsOutcome), TlsFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let provider = provider();
    let seen = Arc::new(Mutex::new(Recorded::default()));
    let verifier = RecordingVerifier {
        seen: seen.clone(),
        algs: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| TlsFailure::Incompatible { detail: e.to_string() })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.enable_sni = send_sni;
    let name = ServerName::try_from(server_name.to_string()).map_err(|e| TlsFailure::Protocol {
        detail: format!("{server_name}: {e}"),
    })?;
    let connector = TlsConnector::from(Arc::new(config));
    let secs = settings.timeout.as_secs().max(1);
    let tls = match tokio::time::timeout(settings.timeout, connector.connect(name, stream)).await {
        Err(_) => return Err(TlsFailure::Timeout { secs }),
        Ok(Err(e)) => return Err(classify_io(e)),
        Ok(Ok(tls)) => tls,
    };
    let (_, conn) = tls.get_ref();
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => TlsVersion::Tls13,
        _ => TlsVersion::Tls12,
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    let (chain_der, presented) = seen.lock().map(|s| (s.chain.clone(), s.presented)).unwrap_or_default();
    let mut outcome = assess(
        &chain_der,
        version,
        cipher,
        if send_sni { Some(server_name.to_string()) } else { None },
        settings,
    );
    outcome.presented = presented.max(chain_der.len());
    Ok((tls, outcome))
}

/// The verdicts on a presented chain, at the clock's time.
pub fn assess(
    chain_der: &[CertificateDer<'static>],
    version: TlsVersion,
    cipher: String,
    sni: Option<String>,
    settings: &TlsSettings,
) -> TlsOutcome {
    let now = settings.clock.now();
    let chain: Vec<CertSummary> = chain_der
        .iter()
        .map(|c| {
            CertSummary::parse(c.as_ref()).unwrap_or_else(|e| CertSummary {
                subject: e,
                issuer: String::new(),
                common_names: vec![],
                dns_names: vec![],
                ip_addresses: vec![],
                has_san: false,
                not_before: String::new(),
                not_after: String::new(),
                not_before_t: None,
                not_after_t: None,
                serial: String::new(),
                key: String::new(),
                signature_algorithm: String::new(),
                self_issued: false,
                is_ca: false,
                ca_issuers: vec![],
            })
        })
        .collect();
    let dates = match chain.first() {
        Some(leaf) => date_verdict(leaf, now),
        None => DateVerdict::Unknown,
    };
    let chain_verdict = chain_verdict(chain_der, &chain, now, settings);
    TlsOutcome {
        version,
        cipher,
        sni,
        presented: chain.len(),
        chain,
        chain_der: chain_der.iter().map(|c| c.as_ref().to_vec()).collect(),
        chain_verdict,
        dates,
        checked_at: crate::clock::rfc3339(now),
        trust_store: settings.roots_label.clone(),
    }
}

fn date_verdict(leaf: &CertSummary, now: OffsetDateTime) -> DateVerdict {
    match (leaf.not_before_t, leaf.not_after_t) {
        (Some(nb), Some(na)) => {
            if now < nb {
                DateVerdict::NotYetValid {
                    days_until: (nb - now).whole_days().max(0),
                }
            } else if now > na {
                DateVerdict::Expired {
                    days_ago: (now - na).whole_days().max(0),
                }
            } else {
                DateVerdict::InDate {
                    days_left: (na - now).whole_days(),
                }
            }
        }
        _ => DateVerdict::Unknown,
    }
}

/// The chain verdict of the presented leaf completed by an issuer certificate obtained
/// elsewhere (the AIA caIssuers URI): Trusted means the server only failed to send it.
pub fn verdict_with_issuer(tls: &TlsOutcome, issuer_der: &[u8], settings: &TlsSettings) -> ChainVerdict {
    let Some(leaf_der) = tls.chain_der.first() else {
        return ChainVerdict::Empty;
    };
    let der = vec![
        CertificateDer::from(leaf_der.clone()),
        CertificateDer::from(issuer_der.to_vec()),
    ];
    let summaries: Vec<CertSummary> = der.iter().filter_map(|c| CertSummary::parse(c.as_ref()).ok()).collect();
    if summaries.len() != 2 {
        return ChainVerdict::Invalid {
            reason: "the fetched issuer is not a certificate".into(),
        };
    }
    chain_verdict(&der, &summaries, settings.clock.now(), settings)
}

/// Chain trust, independent of the date: webpki is asked at an instant inside the leaf's
/// validity window, so an expired certificate still gets an honest trust verdict, and the date
/// is reported separately.
fn chain_verdict(
    der: &[CertificateDer<'static>],
    chain: &[CertSummary],
    now: OffsetDateTime,
    settings: &TlsSettings,
) -> ChainVerdict {
    let Some(leaf) = chain.first() else {
        return ChainVerdict::Empty;
    };
    let at = match (leaf.not_before_t, leaf.not_after_t) {
        (Some(nb), Some(na)) if now < nb || now > na => nb + (na - nb) / 2,
        _ => now,
    };
    let unix = UnixTime::since_unix_epoch(Duration::from_secs(at.unix_timestamp().max(0) as u64));
    let verifier = match WebPkiServerVerifier::builder_with_provider(settings.roots.clone(), provider()).build() {
        Ok(v) => v,
        Err(e) => {
            return ChainVerdict::Invalid {
                reason: format!("no trust anchors: {e}"),
            };
        }
    };
    // Any name will do: a name mismatch is reported after the chain checks pass, and we
    // treat NotValidForName as "the chain is fine".
    #[allow(clippy::expect_used, reason = "a constant, valid DNS name: not outside data")]
    let name = ServerName::try_from("mxdoctor.invalid").expect("static name is valid");
    let Some((end_entity, intermediates)) = der.split_first() else {
        return ChainVerdict::Empty;
    };
    let result = verifier.verify_server_cert(end_entity, intermediates, &name, &[], unix);
    match result {
        Ok(_) => ChainVerdict::Trusted,
        Err(rustls::Error::InvalidCertificate(e)) => match e {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                ChainVerdict::Trusted
            }
            CertificateError::UnknownIssuer => {
                if chain.len() == 1 && leaf.self_issued {
                    ChainVerdict::SelfSigned
                } else if chain.len() == 1 {
                    ChainVerdict::IncompleteChain {
                        issuer: leaf.issuer.clone(),
                    }
                } else {
                    let top = chain.last().map(|c| c.issuer.clone()).unwrap_or_default();
                    ChainVerdict::UnknownIssuer { issuer: top }
                }
            }
            other => {
                if chain.len() == 1 && leaf.self_issued {
                    ChainVerdict::SelfSigned
                } else {
                    ChainVerdict::Invalid {
                        reason: format!("{other:?}"),
                    }
                }
            }
        },
        Err(other) => ChainVerdict::Invalid {
            reason: other.to_string(),
        },
    }
}

fn classify_io(e: io::Error) -> TlsFailure {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match inner {
            rustls::Error::AlertReceived(a) => TlsFailure::Alert {
                alert: format!("{a:?}"),
            },
            rustls::Error::PeerIncompatible(p) => TlsFailure::Incompatible {
                detail: format!("{p:?}"),
            },
            rustls::Error::InvalidMessage(
                m @ (rustls::InvalidMessage::InvalidContentType | rustls::InvalidMessage::UnknownProtocolVersion),
            ) => TlsFailure::NotTls {
                detail: format!("{m:?}"),
            },
            rustls::Error::InvalidMessage(
                rustls::InvalidMessage::HandshakePayloadTooLarge | rustls::InvalidMessage::MessageTooLarge,
            ) => TlsFailure::TooLarge {
                limit: MAX_HANDSHAKE_MESSAGE,
            },
            rustls::Error::InvalidMessage(m) => TlsFailure::Protocol {
                detail: format!("{m:?}"),
            },
            other => TlsFailure::Protocol {
                detail: other.to_string(),
            },
        };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => TlsFailure::Closed { detail: e.to_string() },
        io::ErrorKind::InvalidData => TlsFailure::Protocol { detail: e.to_string() },
        _ => TlsFailure::Closed { detail: e.to_string() },
    }
}
