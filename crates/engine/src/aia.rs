//! Missing intermediate or private CA? The server sent only its own certificate and its issuer
//! is not a trust anchor. Both look the same in the handshake; the leaf's Authority Information
//! Access caIssuers URI (RFC 5280 section 4.2.2.1) tells them apart: fetch the issuer there and
//! ask webpki again. If the chain then leads to a trusted root, the server only fails to send
//! the intermediate; if not, the issuer is not a public CA. Without that evidence mxdoctor says
//! it cannot tell, and gives both fixes.

use serde::Serialize;

use mxdoctor_net::cert::{CertSummary, certificate_der};
use mxdoctor_net::http::{MAX_RESPONSE, get};
use mxdoctor_net::tls::{ChainVerdict, TlsOutcome, verdict_with_issuer};

use crate::context::Context;

/// What the caIssuers URIs of the leaf showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum IssuerEvidence {
    /// The fetched issuer completes a trusted chain: the intermediate is missing.
    Chains { url: String, issuer: String },
    /// The fetched issuer leads to no trusted root: the CA is not public.
    NotTrusted { url: String, issuer: String },
    /// No URI, or none could be fetched and read: which of the two is unknown.
    Unavailable { tried: Vec<String> },
}

/// Looks for the issuer only when the verdict is "leaf alone, issuer not an anchor".
pub async fn issuer_evidence(ctx: &Context, tls: &TlsOutcome) -> Option<IssuerEvidence> {
    if !matches!(tls.chain_verdict, ChainVerdict::IncompleteChain { .. }) {
        return None;
    }
    let urls = tls.leaf().map(|l| l.ca_issuers.clone()).unwrap_or_default();
    let mut tried = Vec::new();
    for url in urls {
        match get(&ctx.dns, &ctx.connector, &url, ctx.timeout, MAX_RESPONSE).await {
            Ok(body) => match certificate_der(&body) {
                Some(der) => {
                    let issuer = CertSummary::parse(&der).map(|c| c.subject).unwrap_or_default();
                    return Some(match verdict_with_issuer(tls, &der, &ctx.tls) {
                        ChainVerdict::Trusted => IssuerEvidence::Chains { url, issuer },
                        _ => IssuerEvidence::NotTrusted { url, issuer },
                    });
                }
                None => tried.push(format!("{url}: not a certificate")),
            },
            Err(e) => tried.push(format!("{url}: {e}")),
        }
    }
    Some(IssuerEvidence::Unavailable { tried })
}
