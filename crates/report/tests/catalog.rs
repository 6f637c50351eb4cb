//! The catalogue and the registry agree: every id the engine can emit has English and Japanese
//! text, the catalogue has no text for unknown ids, and texts use only the args the engine fills.

use std::collections::{BTreeMap, BTreeSet};

use mxdoctor_engine::registry::catalog_ids;
use mxdoctor_explain::{Lang, ids, placeholders, text};

/// The args each id receives from the engine. A text using anything else would print `<name>`.
fn args_of(id: &str) -> &'static [&'static str] {
    match id {
        "dns.host.resolves" => &["host", "addresses"],
        "dns.host.not-found" => &["host", "rcode"],
        "smtp.starttls.offered" => &["server"],
        "smtp.starttls.missing" => &["server", "port"],
        "smtp.starttls.rejected" => &["server", "reply"],
        "smtp.auth.after-tls" | "smtp.auth.before-tls" => &["mechanisms"],
        "smtp.auth.missing-after-tls" => &["server"],
        "smtp.auth.accepted" => &["user", "mechanism"],
        "smtp.auth.rejected" => &["user", "reply"],
        "smtp.auth.untested" => &[],
        "tls.version.ok" => &["version", "cipher"],
        "tls.version.too-old" => &["best"],
        "tls.version.legacy-accepted" => &["versions"],
        "tls.handshake.failed" => &["reason"],
        "tls.handshake.not-tls" => &["server"],
        "tls.handshake.too-large" => &["server", "limit"],
        "tls.chain.too-long" => &["server", "count", "limit"],
        "smtp.reply.line-too-long" | "smtp.reply.too-many-lines" => &["server", "stage", "limit"],
        "smtp.reply.too-slow" => &["server", "stage", "secs", "received"],
        "smtp.starttls.injection" => &["server"],
        "verdict.run.unknown" => &["secs"],
        "tls.cert.name-match" => &["host", "matched", "by"],
        "tls.cert.name-mismatch" => &["host", "names"],
        "tls.cert.cn-only" => &["cn"],
        "tls.cert.trusted" | "tls.cert.unknown-issuer" | "tls.cert.incomplete-chain" | "tls.cert.issuer-not-sent" => {
            &["issuer"]
        }
        "tls.cert.self-signed" => &["subject"],
        "tls.cert.in-date" | "tls.cert.expires-soon" => &["not_after", "days_left"],
        "tls.cert.expired" => &["not_after", "days"],
        "tls.cert.not-yet-valid" => &["not_before"],
        "tls.sni.selects-cert" => &["default_names"],
        "sendas.candidates" => &["host", "candidates", "port"],
        "sendas.other-port" => &["port", "security"],
        "ptr.missing" => &["ip"],
        "ptr.not-forward-confirmed" | "ptr.multiple" => &["ip", "names"],
        "ptr.forward-confirmed" | "ptr.generic" => &["ip", "name"],
        "helo.matches" | "helo.not-found" => &["helo", "ip"],
        "helo.other-address" => &["helo", "ip", "addresses"],
        "dnsbl.listed" | "dnsbl.pbl" => &["ip", "list", "zone", "meaning", "reason", "delist"],
        "dnsbl.not-listed" => &["ip", "count", "lists"],
        "dnsbl.domain-listed" => &["domain", "list", "zone", "meaning", "reason", "delist"],
        "dnsbl.domain-not-listed" => &["domain", "lists"],
        "spf.valid" => &["domain", "record", "count"],
        "spf.missing" => &["domain", "suggested"],
        "spf.multiple-records" => &["domain", "count"],
        "spf.syntax-error" => &["domain", "error", "term", "position"],
        "spf.record-long" => &["domain", "length", "limit"],
        "spf.pass-all" | "spf.neutral-all" | "spf.no-all" | "spf.ptr-used" | "spf.deprecated-rr" => &["domain"],
        "spf.lookup-limit" => &["domain", "count"],
        "spf.void-limit" => &["domain", "count", "names"],
        "spf.include-without-spf" | "spf.loop" => &["domain", "target"],
        "spf.ip-authorized" => &["ip", "domain", "term"],
        "spf.ip-not-authorized" => &["ip", "domain", "result", "suggested"],
        "spf.temperror" | "spf.permerror" => &["ip", "domain", "reason"],
        "dkim.key-found" => &["selector", "type", "bits"],
        "dkim.not-found" => &["domain", "count"],
        "dkim.selector-missing" => &["selector", "domain"],
        "dkim.key-too-short" | "dkim.key-short" => &["selector", "bits"],
        "dkim.testing" | "dkim.revoked" => &["selector"],
        "dkim.syntax-error" => &["selector", "error"],
        "dkim.restricted" => &["selector", "hashes", "services"],
        "dkim.cname" => &["selector", "target"],
        "dmarc.found" => &["domain", "policy"],
        "dmarc.missing" => &["domain", "suggested"],
        "dmarc.no-policy" | "dmarc.policy-none" | "dmarc.testing" | "dmarc.no-rua" => &["domain"],
        "dmarc.multiple-records" => &["domain", "count"],
        "dmarc.syntax-error" => &["domain", "error"],
        "dmarc.removed-tags" => &["domain", "tags"],
        "dmarc.inherited" => &["domain", "from"],
        "dmarc.report-uri-invalid" => &["uri"],
        "dmarc.report-unauthorized" => &["uri", "destination", "record"],
        "domain.ips-derived" => &["ips"],
        "ip.not-public" => &["ip", "scope"],
        "smtp.not-smtp" => &["server", "what", "line", "expected"],
        "smtp.no-greeting" => &["server", "secs", "expected"],
        "smtp.refused" => &["server", "reply", "stage"],
        "sendas.wrong-security" => &["server", "port", "chosen", "right"],
        "mx.found" => &["domain", "hosts"],
        "mx.missing" | "mx.null" | "mx.null-mixed" | "mx.domain-not-found" | "tlsrpt.missing" => &["domain"],
        "tlsrpt.found" => &["domain", "rua"],
        "tlsrpt.multiple" => &["domain", "count"],
        "tlsrpt.syntax-error" => &["domain", "error"],
        "mx.ip-literal" | "mx.no-address" | "mx.duplicate" => &["domain", "exchange"],
        "mx.too-many" => &["domain", "count", "limit"],
        "mx.smtp.greets" => &["host", "banner", "ip"],
        "mx.smtp.not-smtp" => &["host", "what", "line", "ip"],
        "mx.smtp.no-greeting" => &["host", "secs", "ip"],
        "mx.smtp.refused" => &["host", "reply", "stage", "ip"],
        "mx.smtp.not-all-probed" => &["probed", "left_out"],
        "mx.banner.ptr-mismatch" => &["banner_name", "ptr"],
        "mx.starttls.offered" => &["host", "version", "cipher", "ip"],
        "mx.starttls.missing" => &["host", "ip"],
        "mx.starttls.rejected" => &["host", "reply", "ip"],
        "mx.tls.failed" => &["host", "reason", "ip"],
        "mx.tls.too-old" | "mx.tls.legacy-accepted" => &["host", "versions", "ip"],
        "mx.cert.valid" => &["host", "issuer", "not_after", "ip"],
        "mx.cert.name-mismatch" => &["host", "names", "ip"],
        "mx.cert.untrusted" => &["host", "issuer", "ip"],
        "mx.cert.expired" => &["host", "not_before", "not_after", "ip"],
        "mx.sni.selects-cert" => &["host", "default_names", "ip"],
        "mx.open-relay" => &["host", "rcpt", "reply", "ip"],
        "mx.relay-refused" => &["host", "reply", "ip"],
        "mtasts.missing" | "mtasts.mode-testing" | "mtasts.mode-none" => &["domain"],
        "mtasts.record-invalid" => &["domain", "error"],
        "mtasts.multiple" => &["domain", "count"],
        "mtasts.policy-unavailable" => &["url", "reason"],
        "mtasts.policy-too-large" => &["url", "limit"],
        "mtasts.policy-cert-invalid" => &["url", "host", "problem"],
        "mtasts.policy-redirect" => &["url", "status", "location"],
        "mtasts.policy-content-type" => &["url", "content_type"],
        "mtasts.policy-invalid" => &["url", "error"],
        "mtasts.valid" => &["domain", "mode", "max_age", "mx"],
        "mtasts.max-age-short" => &["max_age"],
        "mtasts.mx-not-covered" => &["domain", "mode", "hosts", "patterns"],
        "mtasts.mx-tls-fails" => &["domain", "mode", "hosts"],
        "dnssec.secure" | "dnssec.insecure" | "dnssec.bogus" => &["name"],
        "bimi.missing" | "bimi.declined" | "bimi.no-certificate" => &["domain"],
        "bimi.multiple" => &["domain", "count"],
        "bimi.syntax-error" => &["domain", "error"],
        "bimi.dmarc-not-enforcing" => &["domain", "policy"],
        "bimi.dmarc-pct" => &["domain", "pct"],
        "bimi.logo-ok" => &["url", "bytes"],
        "bimi.logo-invalid" => &["url", "problems"],
        "bimi.logo-too-large" => &["url", "limit"],
        "bimi.logo-unavailable" => &["url", "reason"],
        "bimi.certificate-present" => &["url"],
        "mailbox.greets" => &["server", "protocol", "greeting"],
        "mailbox.not-mailbox" => &["server", "expected", "what", "line"],
        "mailbox.no-greeting" => &["server", "secs"],
        "mailbox.refused" | "mailbox.starttls.rejected" => &["server", "reply"],
        "mailbox.starttls.missing" => &["server", "command"],
        "mailbox.login-before-tls" => &["server", "protocol"],
        "mailbox.candidates" => &["host", "candidates", "port"],
        "mailbox.gmail-fetch-ended" => &[],
        "provider.detected" => &["provider", "via"],
        // `how` comes as `how` (English) and `how_ja`; see mxdoctor_explain::text.
        "provider.dkim-setup" => &["provider", "how"],
        "dane.missing" => &["host", "dnssec"],
        "dane.valid" => &["host", "record"],
        "dane.mismatch" => &["host", "addresses", "records", "presented"],
        "dane.no-tls" => &["host", "addresses"],
        "dane.tlsa-insecure" | "dane.tlsa-malformed" | "dane.tlsa-unusable" | "dane.not-compared" => {
            &["host", "records"]
        }
        "mx.cname" => &["exchange", "target"],
        "phrase.assumed-sender" => &["assumed_sender", "assumed_from"],
        "verdict.domain.reject-if-derived" => &["domain", "ips"],
        "domain.no-ips" => &["domain"],
        "msg.dkim.pass" => &["domain", "selector"],
        "msg.dkim.key-too-short" => &["domain", "selector", "detail", "bits"],
        d if d.starts_with("msg.dkim.") && d != "msg.dkim.none" => &["domain", "selector", "detail"],
        "msg.dkim.none" => &["from"],
        s if s.starts_with("msg.spf.") => &["ip", "domain", "result", "source", "reason"],
        d if d.starts_with("msg.dmarc.") => &["domain", "policy", "dkim", "spf", "suggested"],
        "msg.unauthenticated" => &["from"],
        a if a.starts_with("msg.arc.") => &["count", "sealers", "detail"],
        "msg.path.hops" => &["count", "path"],
        "msg.arrival.tls" => &["ip", "helo", "by", "version", "cipher"],
        "msg.arrival.no-tls" => &["ip", "helo", "by"],
        "msg.path.no-tls" => &["from", "ip", "by"],
        "msg.path.delay" => &["by", "seconds"],
        "msg.hdr.from-count" => &["count"],
        "msg.hdr.no-message-id" => &["value"],
        "msg.hdr.one-click" => &["uris"],
        "msg.hdr.one-click-missing" => &["missing", "uris"],
        "msg.hdr.forged-gmail" => &["from"],
        "msg.hdr.no-date" | "msg.hdr.no-list-id" | "msg.hdr.ok" => &[],
        "msg.ar.shown" => &["host", "text"],
        "msg.ar.disagree" => &["method", "theirs", "ours", "host"],
        r if r.starts_with("req.") => &["state", "because", "code"],
        b if b.starts_with("bounce.") => &["recipient", "status", "next"],
        "verdict.message.bounce" => &["count"],
        v if v.starts_with("verdict.message.") => &[],
        v if v.starts_with("verdict.spf.") || v.starts_with("verdict.domain.") => &["domain"],
        v if v.starts_with("verdict.ip.") => &["ip"],
        v if v.starts_with("verdict.sendas.") => &["host", "port", "security"],
        v if v.starts_with("verdict.mailbox.") => &["host", "port", "protocol"],
        // Error texts are general; the printer shows each check's detail as evidence.
        e if e.starts_with("error.") => &[],
        s if s.starts_with("skip.") => &[],
        other => panic!("no args listed for {other}: add it to this table"),
    }
}

#[test]
fn every_registered_id_has_text_in_both_languages() {
    for id in catalog_ids() {
        for lang in [Lang::En, Lang::Ja] {
            assert!(
                text(lang, &id, &BTreeMap::new()).is_some(),
                "{id} has no {} text",
                lang.as_str()
            );
        }
    }
}

#[test]
fn the_catalogue_has_no_orphan_ids() {
    let registered: BTreeSet<String> = catalog_ids().into_iter().collect();
    for lang in [Lang::En, Lang::Ja] {
        for id in ids(lang) {
            // `ID@CONTEXT` is the wording of a registered id in one kind of report.
            let base = id.split_once('@').map_or(id, |(b, _)| b);
            assert!(
                registered.contains(base),
                "catalog/{}.toml has text for unknown id {id}",
                lang.as_str()
            );
        }
    }
}

#[test]
fn texts_use_only_the_args_the_engine_fills() {
    for id in catalog_ids() {
        let allowed: BTreeSet<String> = args_of(&id).iter().map(|s| s.to_string()).collect();
        for lang in [Lang::En, Lang::Ja] {
            let mut used = placeholders(lang, &id);
            for variant in ids(lang).into_iter().filter(|v| v.starts_with(&format!("{id}@"))) {
                used.extend(placeholders(lang, variant));
            }
            let extra: Vec<_> = used.difference(&allowed).collect();
            assert!(
                extra.is_empty(),
                "{id} ({}) uses args the engine does not fill: {extra:?}",
                lang.as_str()
            );
        }
    }
}

#[test]
fn certificate_and_reachability_failures_carry_gmails_own_words() {
    for id in [
        "tls.cert.name-mismatch",
        "tls.cert.self-signed",
        "tls.cert.expired",
        "tls.version.too-old",
        "error.refused",
    ] {
        for lang in [Lang::En, Lang::Ja] {
            assert!(
                text(lang, id, &BTreeMap::new()).unwrap().gmail.is_some(),
                "{id} ({}) lacks Gmail's text",
                lang.as_str()
            );
        }
    }
}

#[test]
fn the_context_arg_is_the_one_the_catalogue_reads() {
    assert_eq!(mxdoctor_engine::mailbox::CONTEXT_ARG, mxdoctor_explain::CONTEXT_ARG);
}
