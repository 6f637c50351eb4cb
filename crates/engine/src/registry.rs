//! Every finding id the engine can emit, as a static list (like ripgrep's flag registry).
//!
//! The message catalogue must have English and Japanese text for each of these, for every
//! verdict id and for every error cause; `crates/report/tests/catalog.rs` enforces it both ways.
//! Each id also has a test that makes it fire (grep the id under `tests/`).

use crate::model::{ErrorCause, Severity};

/// One finding id, its usual severity and what it means (for docs and `--explain`).
#[derive(Debug, Clone, Copy)]
pub struct FindingDef {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

const fn def(id: &'static str, severity: Severity, summary: &'static str) -> FindingDef {
    FindingDef { id, severity, summary }
}

use Severity::*;

#[rustfmt::skip]
pub static FINDINGS: &[FindingDef] = &[
    // DNS of the name typed into Gmail.
    def("dns.host.resolves", Pass, "the host name resolves to addresses"),
    def("dns.host.not-found", Fail, "the host name does not exist or has no A/AAAA record"),
    // SMTP session.
    def("smtp.not-smtp", Fail, "another protocol (POP3, IMAP, HTTP, TLS...) answered, not SMTP"),
    def("smtp.no-greeting", Fail, "the server accepted the connection and never greeted"),
    def("smtp.refused", Fail, "the greeting was not 220, or EHLO was not answered with 250"),
    def("smtp.reply.line-too-long", Fail, "a reply line without end (longer than mxdoctor reads)"),
    def("smtp.reply.too-many-lines", Fail, "a multi-line reply with more lines than any client reads"),
    def("smtp.reply.too-slow", Fail, "a reply that trickled in and was not complete in time"),
    def("smtp.starttls.injection", Fail, "replies arrived after the 220 to STARTTLS, before TLS (injection)"),
    def("smtp.starttls.offered", Pass, "the server offers STARTTLS"),
    def("smtp.starttls.missing", Fail, "the server does not offer STARTTLS on a submission port"),
    def("smtp.starttls.rejected", Fail, "the server refused the STARTTLS command"),
    def("smtp.auth.after-tls", Pass, "AUTH is offered after TLS"),
    def("smtp.auth.missing-after-tls", Fail, "AUTH is not offered after TLS"),
    def("smtp.auth.before-tls", Warning, "AUTH is offered before TLS (passwords could be sent in clear)"),
    def("smtp.auth.accepted", Pass, "the credentials were accepted"),
    def("smtp.auth.rejected", Fail, "the credentials were rejected"),
    def("smtp.auth.untested", Info, "credentials were not tried (no --user)"),
    // TLS protocol.
    def("tls.version.ok", Pass, "TLS 1.2 or newer is negotiated"),
    def("tls.version.too-old", Fail, "the server speaks only TLS older than 1.2"),
    def("tls.version.legacy-accepted", Notice, "the server still accepts TLS 1.0 or 1.1"),
    def("tls.handshake.failed", Fail, "the TLS handshake failed"),
    def("tls.handshake.not-tls", Fail, "after agreeing to TLS the server did not speak TLS"),
    def("tls.handshake.too-large", Fail, "a handshake message (the certificates) is larger than TLS clients accept"),
    def("tls.chain.too-long", Warning, "the server sends more certificates than any chain needs"),
    // Certificate.
    def("tls.cert.name-match", Pass, "the certificate covers the name typed"),
    def("tls.cert.name-mismatch", Fail, "the certificate does not cover the name typed"),
    def("tls.cert.cn-only", Warning, "the certificate has no subjectAltName; only the CN names the host"),
    def("tls.cert.trusted", Pass, "the chain leads to a public root"),
    def("tls.cert.self-signed", Fail, "the certificate is self-signed"),
    def("tls.cert.unknown-issuer", Fail, "the chain does not lead to a trusted root"),
    def("tls.cert.incomplete-chain", Fail, "the server sends no intermediate (the AIA-fetched issuer completes a trusted chain)"),
    def("tls.cert.issuer-not-sent", Fail, "only the leaf is sent, its issuer is no trusted root, and no AIA evidence says why"),
    def("tls.cert.in-date", Pass, "the certificate is within its validity period"),
    def("tls.cert.expired", Fail, "the certificate has expired"),
    def("tls.cert.not-yet-valid", Fail, "the certificate is not valid yet"),
    def("tls.cert.expires-soon", Warning, "the certificate expires within 14 days"),
    def("tls.sni.selects-cert", Info, "the server chooses its certificate by SNI"),
    // Send-mail-as specific advice.
    def("sendas.wrong-security", Fail, "the other security button of Gmail's dialog (TLS vs SSL) is the one this port needs"),
    def("sendas.candidates", Info, "names the certificate covers that reach the same server and pass"),
    def("sendas.other-port", Info, "the other Gmail port/security setting would work"),
    // Sending IP: reverse DNS (FCrDNS, RFC 8601 iprev), HELO, blocklists.
    def("ip.not-public", Warning, "the sending IP is loopback, private or otherwise not public"),
    def("ptr.missing", Fail, "the sending IP has no PTR record"),
    def("ptr.not-forward-confirmed", Fail, "no PTR name of the IP resolves back to it"),
    def("ptr.forward-confirmed", Pass, "a PTR name resolves back to the IP"),
    def("ptr.multiple", Notice, "the IP has several PTR records"),
    def("ptr.generic", Notice, "the PTR name looks generic (ISP or cloud default)"),
    def("helo.matches", Pass, "the HELO name resolves to the sending IP"),
    def("helo.other-address", Warning, "the HELO name resolves, but not to the sending IP"),
    def("helo.not-found", Warning, "the HELO name does not resolve"),
    def("dnsbl.listed", Fail, "the IP is on a DNS blocklist"),
    def("dnsbl.pbl", Fail, "the IP is in the Spamhaus PBL (end-user range)"),
    def("dnsbl.not-listed", Pass, "the IP is on none of the lists that answered"),
    def("dnsbl.domain-listed", Fail, "the domain is on a domain blocklist (Spamhaus DBL)"),
    def("dnsbl.domain-not-listed", Pass, "the domain is on none of the domain lists that answered"),
    // SPF (RFC 7208).
    def("spf.valid", Pass, "one valid SPF record within the limits"),
    def("spf.missing", Fail, "the domain has no SPF record"),
    def("spf.multiple-records", Fail, "the domain has more than one SPF record (permerror)"),
    def("spf.syntax-error", Fail, "the SPF record does not parse (permerror)"),
    def("spf.record-long", Notice, "the SPF record is longer than 450 bytes"),
    def("spf.pass-all", Fail, "+all authorises every host on the Internet"),
    def("spf.neutral-all", Warning, "?all asserts nothing about other hosts"),
    def("spf.no-all", Notice, "no all and no redirect: other hosts get neutral"),
    def("spf.ptr-used", Notice, "the deprecated ptr mechanism is used"),
    def("spf.deprecated-rr", Notice, "an SPF-type (99) record is published; only TXT is used"),
    def("spf.lookup-limit", Fail, "more than 10 DNS-querying terms in the include tree"),
    def("spf.void-limit", Fail, "more than 2 lookups that return nothing"),
    def("spf.include-without-spf", Fail, "an included domain has no SPF record (permerror)"),
    def("spf.loop", Fail, "includes or redirects form a loop"),
    def("spf.ip-authorized", Pass, "SPF passes for the sending IP"),
    def("spf.ip-not-authorized", Fail, "SPF does not pass for the sending IP"),
    def("spf.temperror", Warning, "SPF evaluation hit a temporary DNS error"),
    def("spf.permerror", Fail, "SPF evaluation ended in a permanent error"),
    // DKIM keys (RFC 6376, RFC 8463).
    def("dkim.key-found", Pass, "a DKIM key is published at a selector"),
    def("dkim.not-found", Warning, "no DKIM key among the common selectors"),
    def("dkim.selector-missing", Fail, "a selector given with --selector has no key"),
    def("dkim.key-too-short", Fail, "an RSA key shorter than 1024 bits (Gmail ignores it)"),
    def("dkim.key-short", Notice, "an RSA key shorter than 2048 bits"),
    def("dkim.testing", Notice, "the key is in testing mode (t=y)"),
    def("dkim.revoked", Warning, "the key is revoked (empty p=)"),
    def("dkim.syntax-error", Fail, "the key record does not parse"),
    def("dkim.restricted", Warning, "h= or s= exclude sha256 or email"),
    def("dkim.cname", Info, "the selector is delegated by CNAME"),
    // DMARC (RFC 9989).
    def("dmarc.found", Pass, "a DMARC policy applies"),
    def("dmarc.missing", Warning, "no DMARC record for the domain or its parents"),
    def("dmarc.multiple-records", Fail, "more than one DMARC record"),
    def("dmarc.syntax-error", Fail, "the DMARC record does not parse"),
    def("dmarc.no-policy", Fail, "the DMARC record has no p= policy"),
    def("dmarc.policy-none", Info, "p=none: monitoring only"),
    def("dmarc.testing", Notice, "t=y: the policy is in test mode"),
    def("dmarc.no-rua", Notice, "no rua=: no aggregate reports are sent to the domain owner"),
    def("dmarc.removed-tags", Notice, "pct, rf or ri, which RFC 9989 removed"),
    def("dmarc.inherited", Info, "the record that applies is a parent domain's"),
    def("dmarc.report-uri-invalid", Warning, "a rua/ruf URI is not a mailto: address"),
    def("dmarc.report-unauthorized", Warning, "an external report destination has not authorised the domain"),
    // MX (RFC 5321 section 5.1, RFC 7505, RFC 2181 section 10.3).
    def("mx.found", Pass, "the MX hosts and their addresses"),
    def("tlsrpt.missing", Info, "no TLS-RPT record: TLS failures of mail to the domain are not reported"),
    def("tlsrpt.found", Pass, "a valid TLS-RPT record"),
    def("tlsrpt.multiple", Warning, "several TLS-RPT records: senders treat the domain as having none"),
    def("tlsrpt.syntax-error", Warning, "the TLS-RPT record is invalid: senders treat the domain as having none"),
    def("mx.domain-not-found", Fail, "the domain does not exist in the DNS (NXDOMAIN)"),
    def("mx.too-many", Notice, "more MX records than are looked up; the rest are not checked"),
    def("mx.duplicate", Notice, "the same exchange is listed twice"),
    // Each MX address on port 25, as a sending MTA sees it (crates/engine/src/inbound.rs).
    def("mx.smtp.greets", Pass, "the MX answers on port 25 with 220 and EHLO 250"),
    def("mx.smtp.not-smtp", Fail, "something other than SMTP answers on the MX's port 25"),
    def("mx.smtp.no-greeting", Warning, "the MX accepted the connection and never greeted"),
    def("mx.smtp.refused", Warning, "the MX answered the greeting or EHLO with an error"),
    def("mx.smtp.not-all-probed", Info, "more MX addresses than are probed; the rest were not"),
    def("mx.banner.ptr-mismatch", Info, "the greeting names another host than the address's PTR"),
    def("mx.starttls.offered", Pass, "the MX offers STARTTLS and the handshake completes"),
    def("mx.starttls.missing", Warning, "the MX does not offer STARTTLS: mail to it travels in clear"),
    def("mx.starttls.rejected", Warning, "the MX advertises STARTTLS and refuses the command"),
    def("mx.tls.failed", Warning, "the TLS handshake with the MX fails"),
    def("mx.tls.too-old", Warning, "the MX speaks only TLS older than 1.2"),
    def("mx.tls.legacy-accepted", Notice, "the MX still accepts TLS 1.0 or 1.1"),
    def("mx.cert.valid", Pass, "the MX certificate is valid for its name (what MTA-STS requires)"),
    def("mx.cert.name-mismatch", Info, "the MX certificate does not cover the MX name"),
    def("mx.cert.untrusted", Info, "the MX certificate does not chain to a public root"),
    def("mx.cert.expired", Info, "the MX certificate is outside its validity dates"),
    def("mx.sni.selects-cert", Info, "without SNI the MX presents another certificate"),
    def("mx.open-relay", Fail, "the MX accepts mail for outside addresses without authentication"),
    def("mx.relay-refused", Pass, "the MX refuses to relay for outside addresses"),
    // MTA-STS (RFC 8461).
    def("mtasts.missing", Info, "no MTA-STS record: senders may deliver without verified TLS"),
    def("mtasts.record-invalid", Warning, "the _mta-sts record is invalid"),
    def("mtasts.multiple", Warning, "several _mta-sts records: senders treat the domain as having none"),
    def("mtasts.policy-unavailable", Fail, "the MTA-STS policy could not be fetched"),
    def("mtasts.policy-too-large", Fail, "the MTA-STS policy is larger than senders read"),
    def("mtasts.policy-cert-invalid", Fail, "the policy host's certificate is not valid for it"),
    def("mtasts.policy-redirect", Fail, "the policy URL redirects, which senders do not follow"),
    def("mtasts.policy-content-type", Fail, "the policy is not served as text/plain"),
    def("mtasts.policy-invalid", Fail, "the MTA-STS policy does not parse"),
    def("mtasts.valid", Pass, "a valid MTA-STS record and policy"),
    def("mtasts.mode-testing", Notice, "mode: testing: failures are reported, not enforced"),
    def("mtasts.mode-none", Notice, "mode: none: the policy is withdrawn"),
    def("mtasts.max-age-short", Notice, "max_age below one day"),
    def("mtasts.mx-not-covered", Fail, "an MX host matches no mx: pattern of the policy"),
    def("mtasts.mx-tls-fails", Fail, "an MX's TLS would not verify, which the policy requires"),
    // Provider awareness (crates/engine/src/provider.rs, data/providers.toml).
    def("provider.detected", Info, "the domain's mail provider, recognised from MX or SPF"),
    def("provider.dkim-setup", Notice, "no DKIM key found: where the provider turns DKIM signing on"),
    // The IMAP/POP3 server as mail apps see it (crates/engine/src/mailbox.rs).
    def("mailbox.greets", Pass, "the server greets as IMAP or POP3"),
    def("mailbox.not-mailbox", Fail, "another protocol answered on the mailbox port"),
    def("mailbox.no-greeting", Fail, "the server accepted the connection and never greeted"),
    def("mailbox.refused", Fail, "the greeting was an error (* BYE, -ERR)"),
    def("mailbox.starttls.missing", Fail, "STARTTLS/STLS is not offered on 143/110"),
    def("mailbox.starttls.rejected", Fail, "STARTTLS/STLS was refused"),
    def("mailbox.login-before-tls", Warning, "the server would take a password before TLS"),
    def("mailbox.candidates", Info, "names the certificate covers that work: type one of these"),
    def("mailbox.gmail-fetch-ended", Info, "Gmail's POP fetcher (Check mail from other accounts) and Gmailify ended in 2026"),
    // BIMI (crates/engine/src/bimi.rs).
    def("bimi.missing", Info, "no BIMI record: no logo beside the domain's mail"),
    def("bimi.declined", Info, "a BIMI record that declines to show a logo (empty l=)"),
    def("bimi.multiple", Warning, "several BIMI records: none is used"),
    def("bimi.syntax-error", Warning, "the BIMI record is invalid"),
    def("bimi.dmarc-not-enforcing", Fail, "BIMI needs DMARC p=quarantine or p=reject"),
    def("bimi.dmarc-pct", Warning, "DMARC pct= below 100 (a tag RFC 9989 removed)"),
    def("bimi.logo-ok", Pass, "the logo is fetched and meets SVG Tiny PS basics"),
    def("bimi.logo-invalid", Fail, "the logo breaks SVG Tiny PS (profile, script, external references)"),
    def("bimi.logo-too-large", Fail, "the logo is larger than 32 KiB"),
    def("bimi.logo-unavailable", Fail, "the logo could not be fetched over HTTPS"),
    def("bimi.certificate-present", Info, "a VMC or CMC is named (a=); not validated"),
    def("bimi.no-certificate", Info, "no VMC or CMC: Gmail and Apple do not show the logo"),
    // DNSSEC and DANE (RFC 4035, RFC 7672; crates/engine/src/dane.rs).
    def("dnssec.secure", Pass, "the name validates with DNSSEC"),
    def("dnssec.insecure", Info, "the name is not DNSSEC-signed (DANE is not possible)"),
    def("dnssec.bogus", Fail, "DNSSEC validation fails: validating resolvers answer SERVFAIL"),
    def("dane.missing", Info, "the MX host publishes no TLSA record"),
    def("dane.valid", Pass, "a TLSA record matches the certificate the MX presents"),
    def("dane.mismatch", Fail, "no TLSA record matches the presented certificate (stale after a change)"),
    def("dane.no-tls", Fail, "TLSA is published and the MX offers no working STARTTLS"),
    def("dane.tlsa-insecure", Warning, "TLSA records in a zone that is not signed: senders ignore them"),
    def("dane.tlsa-malformed", Warning, "a TLSA record is malformed (digest length, undefined fields)"),
    def("dane.tlsa-unusable", Warning, "no TLSA record is usable for SMTP (only PKIX usages or malformed)"),
    def("dane.not-compared", Info, "TLSA records found; the MX's certificate could not be seen to compare"),
    def("mx.missing", Warning, "no MX record: mail goes to the domain's own address, if any"),
    def("mx.null", Warning, "Null MX (RFC 7505): the domain accepts no mail"),
    def("mx.null-mixed", Fail, "a Null MX beside other MX records"),
    def("mx.ip-literal", Fail, "an MX exchange written as an IP address"),
    def("mx.cname", Warning, "an MX exchange that is an alias (CNAME)"),
    def("mx.no-address", Fail, "an MX exchange without A/AAAA records"),
    // The domain report.
    def("domain.ips-derived", Info, "sending IPs were derived from SPF and MX"),
    def("domain.no-ips", Notice, "no sending IP given or derivable"),
    // Sender checklist: one id per requirement; severity says met (pass) / broken / not checkable.
    def("req.gmail.authenticated", Fail, "Gmail, all senders: SPF or DKIM passes"),
    def("req.gmail.ptr", Fail, "Gmail, all senders: sending IPs have forward-confirmed PTR"),
    def("req.gmail.dkim-key-length", Fail, "Gmail, all senders: DKIM keys of 1024 bits or more"),
    def("req.gmail.tls", Info, "Gmail, all senders: TLS for transmission (not checkable from DNS)"),
    def("req.gmail.spam-rate", Info, "Gmail, all senders: spam rate below 0.3% (not checkable)"),
    def("req.gmail.bulk.spf-and-dkim", Fail, "Gmail, bulk senders: both SPF and DKIM"),
    def("req.gmail.bulk.dmarc", Fail, "Gmail, bulk senders: a DMARC policy"),
    def("req.gmail.bulk.alignment", Fail, "Gmail, bulk senders: From aligned with SPF or DKIM"),
    def("req.gmail.bulk.unsubscribe", Info, "Gmail, bulk senders: one-click unsubscribe (not checkable from DNS)"),
    def("req.yahoo.ptr-meaningful", Notice, "Yahoo: a meaningful, non-generic PTR"),
    def("req.microsoft.bulk", Fail, "Outlook.com, bulk senders: SPF, DKIM and DMARC"),
    def("req.apple.authenticated", Fail, "Apple: SPF, DKIM, DMARC and PTR"),
    def("req.receive.starttls", Notice, "receiving: every MX offers working STARTTLS"),
    def("req.receive.protected", Notice, "receiving: MTA-STS enforce or DANE protects TLS to every MX"),
    // A received message (`message FILE`, crates/engine/src/received.rs).
    def("msg.dkim.pass", Pass, "a DKIM signature verifies"),
    def("msg.dkim.none", Warning, "the message has no DKIM signature"),
    def("msg.dkim.body-hash", Fail, "the body changed after signing (body hash mismatch)"),
    def("msg.dkim.bad-signature", Fail, "the signature does not verify against the published key"),
    def("msg.dkim.no-key", Fail, "no key is published at the signature's selector"),
    def("msg.dkim.expired", Fail, "the signature's x= expiry has passed"),
    def("msg.dkim.sha1", Fail, "an rsa-sha1 signature, which RFC 8301 forbids accepting"),
    def("msg.dkim.key-too-short", Fail, "the signing key is an RSA key under 1024 bits (RFC 8301)"),
    def("msg.dkim.permerror", Fail, "the signature or key is malformed or unsupported"),
    def("msg.dkim.temperror", Warning, "the key lookup failed temporarily"),
    def("msg.spf.pass", Pass, "SPF passes for the sending server"),
    def("msg.spf.fail", Fail, "SPF fails (or softfails) for the sending server"),
    def("msg.spf.none", Warning, "SPF gives no verdict (none or neutral)"),
    def("msg.spf.error", Warning, "SPF evaluation ended in temperror or permerror"),
    def("msg.dmarc.pass", Pass, "DMARC passes: SPF or DKIM passes aligned with the From domain"),
    def("msg.dmarc.none", Warning, "the From domain publishes no DMARC policy"),
    def("msg.dmarc.fail", Fail, "DMARC fails: nothing aligned with the From domain passes"),
    def("msg.unauthenticated", Fail, "neither SPF nor DKIM passes (Gmail 5.7.26)"),
    def("msg.arc.pass", Pass, "the ARC chain of forwarders validates"),
    def("msg.arc.fail", Warning, "the ARC chain does not validate"),
    def("msg.arrival.tls", Pass, "the message reached the test address over TLS (Gmail's 4.7.29 rule met)"),
    def("msg.arrival.no-tls", Fail, "the message reached the test address without TLS: Gmail answers 421 4.7.29"),
    def("msg.path.hops", Info, "the Received path, hop by hop"),
    def("msg.path.no-tls", Notice, "a hop across the Internet without TLS"),
    def("msg.path.delay", Notice, "a hop took more than 10 minutes"),
    def("msg.hdr.from-count", Fail, "not exactly one From field (RFC 5322)"),
    def("msg.hdr.no-message-id", Fail, "no valid Message-ID field"),
    def("msg.hdr.no-date", Warning, "no Date field"),
    def("msg.hdr.one-click", Pass, "RFC 8058 one-click unsubscribe is offered"),
    def("msg.hdr.one-click-missing", Fail, "bulk mail without RFC 8058 one-click unsubscribe"),
    def("msg.hdr.no-list-id", Notice, "list mail without List-Id"),
    def("msg.hdr.forged-gmail", Fail, "a gmail.com From not signed by gmail.com"),
    def("msg.hdr.ok", Pass, "the header fields meet Gmail's format rules"),
    def("msg.ar.shown", Info, "the receiver's own Authentication-Results"),
    def("msg.ar.disagree", Notice, "the receiver's result differs from ours"),
];

/// Verdict sentence ids.
pub static VERDICTS: &[&str] = &[
    "verdict.sendas.accept",
    "verdict.sendas.refuse",
    "verdict.sendas.unreachable",
    "verdict.sendas.unknown",
    "verdict.mailbox.accept",
    "verdict.mailbox.refuse",
    "verdict.mailbox.unreachable",
    "verdict.mailbox.unknown",
    "verdict.ip.accept",
    "verdict.ip.reject",
    "verdict.ip.unknown",
    "verdict.spf.ok",
    "verdict.spf.broken",
    "verdict.spf.unknown",
    "verdict.domain.accept",
    "verdict.domain.accept-with-problems",
    "verdict.domain.reject",
    "verdict.domain.reject-if-derived",
    "verdict.domain.accept-unchecked-ips",
    "verdict.domain.spam",
    "verdict.domain.unknown",
    "verdict.message.bounce",
    "verdict.message.delivered",
    "verdict.message.feedback",
    "verdict.message.autoreply",
    "verdict.message.gmail-sendas",
    "verdict.message.ordinary",
    "verdict.message.received-inbox",
    "verdict.message.received-spam",
    "verdict.message.received-reject",
    "verdict.message.received-defer",
    "verdict.run.unknown",
];

/// Why a check was skipped: catalogue ids used as `CheckStatus::Skipped { reason }`.
pub static SKIP_REASONS: &[&str] = &[
    "skip.message.unparsable",
    "skip.message.no-client-ip",
    "skip.message.no-identity",
    "skip.message.from-count",
    "skip.message.no-received",
    "skip.not-selected",
];

/// Phrases the printers put around findings (not findings themselves).
pub static PHRASES: &[&str] = &["phrase.assumed-sender"];

pub static ERROR_CAUSES: &[ErrorCause] = &[
    ErrorCause::DnsFailure,
    ErrorCause::DnsTimeout,
    ErrorCause::Refused,
    ErrorCause::Timeout,
    ErrorCause::Unmapped,
    ErrorCause::NotPublic,
    ErrorCause::Protocol,
    ErrorCause::Io,
    ErrorCause::ListRefused,
    ErrorCause::ListUnavailable,
    ErrorCause::Budget,
    ErrorCause::Deadline,
];

/// Bounce findings: one id per reason of the sisimai taxonomy, `bounce.<reason>`.
pub fn bounce_ids() -> Vec<String> {
    mxdoctor_proto::bounce::Reason::ALL
        .iter()
        .map(|r| format!("bounce.{}", r.as_str()))
        .collect()
}

pub fn finding(id: &str) -> Option<&'static FindingDef> {
    FINDINGS.iter().find(|d| d.id == id)
}

/// Every id that needs catalogue text: findings, verdicts and error causes.
pub fn catalog_ids() -> Vec<String> {
    FINDINGS
        .iter()
        .map(|d| d.id.to_string())
        .chain(VERDICTS.iter().map(|v| v.to_string()))
        .chain(ERROR_CAUSES.iter().map(|c| c.catalog_id()))
        .chain(SKIP_REASONS.iter().map(|s| s.to_string()))
        .chain(PHRASES.iter().map(|s| s.to_string()))
        .chain(bounce_ids())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_dotted() {
        let ids = catalog_ids();
        let mut seen = std::collections::BTreeSet::new();
        for id in &ids {
            assert!(seen.insert(id.clone()), "duplicate id {id}");
            assert!(id.contains('.'), "id {id} is not dotted");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'),
                "id {id} has characters outside [a-z0-9.-]"
            );
        }
    }
}
