//! Why a message bounced, in the vocabulary of the widely used sisimai taxonomy (so results can
//! be compared), from the enhanced status code (RFC 3463), the SMTP reply and the diagnostic text.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    AuthFailure,
    BadReputation,
    Blocked,
    ContentError,
    Delivered,
    ExceedLimit,
    Expired,
    Feedback,
    Filtered,
    HasMoved,
    HostUnknown,
    MailboxFull,
    MailerError,
    MesgTooBig,
    NetworkError,
    NoRelaying,
    NotAccept,
    NotCompliantRfc,
    OnHold,
    PolicyViolation,
    Rejected,
    RequirePtr,
    SecurityError,
    SpamDetected,
    Speeding,
    Suspend,
    SyntaxError,
    SystemError,
    SystemFull,
    TooManyConn,
    Undefined,
    UserUnknown,
    Vacation,
    VirusDetected,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        use Reason::*;
        match self {
            AuthFailure => "authfailure",
            BadReputation => "badreputation",
            Blocked => "blocked",
            ContentError => "contenterror",
            Delivered => "delivered",
            ExceedLimit => "exceedlimit",
            Expired => "expired",
            Feedback => "feedback",
            Filtered => "filtered",
            HasMoved => "hasmoved",
            HostUnknown => "hostunknown",
            MailboxFull => "mailboxfull",
            MailerError => "mailererror",
            MesgTooBig => "mesgtoobig",
            NetworkError => "networkerror",
            NoRelaying => "norelaying",
            NotAccept => "notaccept",
            NotCompliantRfc => "notcompliantrfc",
            OnHold => "onhold",
            PolicyViolation => "policyviolation",
            Rejected => "rejected",
            RequirePtr => "requireptr",
            SecurityError => "securityerror",
            SpamDetected => "spamdetected",
            Speeding => "speeding",
            Suspend => "suspend",
            SyntaxError => "syntaxerror",
            SystemError => "systemerror",
            SystemFull => "systemfull",
            TooManyConn => "toomanyconn",
            Undefined => "undefined",
            UserUnknown => "userunknown",
            Vacation => "vacation",
            VirusDetected => "virusdetected",
        }
    }

    pub const ALL: &'static [Reason] = &[
        Reason::AuthFailure,
        Reason::BadReputation,
        Reason::Blocked,
        Reason::ContentError,
        Reason::Delivered,
        Reason::ExceedLimit,
        Reason::Expired,
        Reason::Feedback,
        Reason::Filtered,
        Reason::HasMoved,
        Reason::HostUnknown,
        Reason::MailboxFull,
        Reason::MailerError,
        Reason::MesgTooBig,
        Reason::NetworkError,
        Reason::NoRelaying,
        Reason::NotAccept,
        Reason::NotCompliantRfc,
        Reason::OnHold,
        Reason::PolicyViolation,
        Reason::Rejected,
        Reason::RequirePtr,
        Reason::SecurityError,
        Reason::SpamDetected,
        Reason::Speeding,
        Reason::Suspend,
        Reason::SyntaxError,
        Reason::SystemError,
        Reason::SystemFull,
        Reason::TooManyConn,
        Reason::Undefined,
        Reason::UserUnknown,
        Reason::Vacation,
        Reason::VirusDetected,
    ];
}

/// Diagnostic phrases, matched case-insensitively against the diagnostic text, in priority
/// order: what the receiver says about the recipient's mailbox first (full, too big, disabled,
/// moved), then authentication and reputation, then unknown users and hosts, then blocks,
/// then the transient network and system conditions. The first reason with a phrase in the
/// text wins. Phrases are the words MTAs and providers use; none is a single generic word
/// ("content", "policy", "header") that also appears in unrelated replies.
const PHRASES: &[(Reason, &[&str])] = &[
    (
        Reason::MailboxFull,
        &[
            "mailfolder is full",
            "mailbox exceeded the local limit",
            "mailbox full",
            "mailbox is full",
            "over quota",
            "quota exceeded",
            "exceeded storage",
            "insufficient storage",
            "mailbox size limit",
            "user is over",
            "disk quota",
            "mailbox exceeds",
            "5.2.2",
        ],
    ),
    (
        Reason::MesgTooBig,
        &[
            "message too large",
            "recipsizelimit",
            "line limit exceeded",
            "message too big",
            "message size exceeds",
            "message is too large",
            "size exceeds the limit",
            "exceeds the maximum",
            "size limit",
            "5.3.4",
        ],
    ),
    (
        Reason::Suspend,
        &[
            "account is disabled",
            "temporary locked",
            "temporarily locked",
            "account that you tried to reach is disabled",
            "account disabled",
            "account has been disabled",
            "mailbox disabled",
            "mailbox is disabled",
            "mailbox is frozen",
            "account is frozen",
            // Not "suspended" alone: Postfix writes "delivery temporarily suspended" for its
            // own queue.
            "account suspended",
            "account has been suspended",
            "mailbox suspended",
            "user suspended",
            "is suspended",
            "account is locked",
            "mailbox is inactive",
        ],
    ),
    (Reason::HasMoved, &["has moved", "no longer at this address", "5.1.6"]),
    (
        Reason::NoRelaying,
        &[
            "no relaying",
            "insecure mail relay",
            "email address is not verified",
            "relay access denied",
            "relaying denied",
            "relay not permitted",
            "not permitted to relay",
            "unable to relay",
            "relaying not allowed",
            "not configured to relay",
            "5.7.64",
        ],
    ),
    // SMTP AUTH, not SPF/DKIM: "Unauthenticated senders not allowed" asks the client to log in.
    (Reason::SecurityError, &["unauthenticated senders not allowed"]),
    (
        Reason::AuthFailure,
        &[
            "spf record",
            "does not have authentication information",
            "bad spf records",
            "5.7.26",
            "5.7.27",
            "5.7.30",
            "5.7.40",
            "5.7.515",
            "unauthenticated",
            "spf check failed",
            "spf fail",
            "dmarc policy",
            "dkim signature",
            "sender policy framework",
            "authentication required by policy",
            "5.7.23",
        ],
    ),
    (
        Reason::RequirePtr,
        &[
            "ip name lookup failed",
            "mismatches client ip",
            "unverifyable sending ip",
            "unverifiable sending ip",
            "5.7.25",
            "ptr record",
            "reverse dns",
            "reverse lookup",
            "no ptr",
            "does not have a ptr",
            "cannot find your hostname",
            "rdns",
        ],
    ),
    (
        Reason::NotCompliantRfc,
        &[
            "rfc 5322",
            "rfc5322",
            "rfc 2822",
            "not compliant",
            "multiple addresses in from",
        ],
    ),
    (
        Reason::BadReputation,
        &[
            "[tss04]",
            "bad reputation",
            "low reputation",
            "ip reputation",
            "domain reputation",
            "sender reputation",
            "5.7.350",
        ],
    ),
    (
        Reason::UserUnknown,
        &[
            "recipient address rejected: access denied",
            "no valid recipients",
            "user not exist",
            "not listed in public name & address book",
            "this user doesn't have a",
            "recipient address rejected.",
            "not listed in domino directory",
            "ディレクトリのリストにありません",
            "ディレクトリには見つかりません",
            "recipient name is not recognized",
            "invalid final delivery userid",
            "no such recipient",
            "unknown mailbox",
            "recipient not found",
            "user not known",
            "is not a valid mailbox",
            "mailbox does not exist",
            "invalid mailbox",
            "address does not exist",
            "no mailbox here by that name",
            "user does not exist",
            "recipient does not exist",
            "is not a known user",
            "unknown address",
            "user unknown",
            "unknown user",
            "no such user",
            "mailbox unavailable",
            "invalid recipient",
            "unknown recipient",
            "no mailbox",
            "undeliverable address",
            "user not found",
            "no such mailbox",
            "5.1.1",
        ],
    ),
    (Reason::Filtered, &["filtered", "content filter", "refuses to receive"]),
    // Temporary name-service failures are the network's, not a missing host: Postfix's "Host
    // not found, try again" is DNS TRY_AGAIN. A domain without MX is Yahoo's "not accepting".
    (
        Reason::NetworkError,
        &[
            "host not found, try again",
            "host name lookup failure",
            "network error on destination",
        ],
    ),
    (Reason::NotAccept, &["no mx record found", "no mx found for domain"]),
    (
        Reason::HostUnknown,
        &[
            "account or domain may not exist",
            "unrouteable address",
            "no such domain",
            "domain is not reachable",
            "dns lookup failure",
            "host or domain name not found",
            "host not found",
            "domain not found",
            "host unknown",
            "unknown host",
            "name or service not known",
            "no mx",
            "domain does not exist",
            "unrouteable mail domain",
            "nxdomain",
            "5.1.2",
        ],
    ),
    (
        Reason::Rejected,
        &[
            "please provide a valid from",
            "sending to/from an address that has been blacklisted",
            "does not exist e2110",
            "recipient addresses rejected : access denied",
            "unroutable sender address",
            "access denied (in reply to mail from command)",
            "sender address has been blacklisted",
            "domain of sender address",
            "can't determine purported responsible address",
            "sender address rejected",
            "sender rejected",
            "invalid sender",
            "sender verify failed",
            // Google Groups refuses a post (no such group, or no permission to post) in the
            // poster's language; its signature is the constant part.
            "google groups",
            "groups.google.com",
        ],
    ),
    (Reason::VirusDetected, &["virus", "malware", "infected"]),
    (
        Reason::SpamDetected,
        &[
            "ofr_506",
            "blacklisted url",
            "message content rejected",
            "content rejected, ube",
            "spam",
            "unsolicited",
            "junk mail",
            "bulk mail",
            "5.7.28",
        ],
    ),
    (
        Reason::TooManyConn,
        &[
            "connection rate limit",
            "too many connections",
            "too many concurrent",
            "connection limit",
            "too many recipients",
            "5.5.3",
        ],
    ),
    (
        Reason::Speeding,
        &[
            "receiving mail at a rate",
            "rate limit",
            "too many messages",
            "sending rate",
            "throttl",
        ],
    ),
    (
        Reason::ExceedLimit,
        &["exceeds a limit", "recipient limit", "limit exceeded"],
    ),
    // Before "blocked": Gmail's "This message was blocked because its content presents a
    // potential security issue" is about the content, not the sender.
    (Reason::PolicyViolation, &["content presents a potential"]),
    (
        Reason::Blocked,
        &[
            "which is an open relay",
            "banned sending ip",
            "too many unwanted messages",
            "use the smtp server of your isp",
            "refused to talk to me",
            "after initial connection",
            "my name was rejected",
            "not accepting connections",
            "invalid ip for sending",
            "blacklist",
            "blocklist",
            "block list",
            "black list",
            "spamhaus",
            "spamcop",
            "barracuda",
            "dnsbl",
            "not authorized to send email directly",
            "blocked",
            "client host rejected",
        ],
    ),
    (
        Reason::SecurityError,
        &[
            "tls negotiation failed",
            "certificate",
            "must issue a starttls",
            "encryption required",
            "authentication failed",
            "5.7.29",
        ],
    ),
    (
        Reason::PolicyViolation,
        &[
            "header error",
            "content presents a potential",
            "denied by policy",
            "policy violation",
            "policy reasons",
            "protocol violation",
            "violates",
            "prohibited by policy",
        ],
    ),
    // Exchange Online's "Message expired, DNS query failed": the cause, not the queue timer.
    (Reason::NetworkError, &["dns query failed"]),
    (
        Reason::Expired,
        &[
            "connection timed out",
            "operation timed out",
            "in the queue too long",
            "was aborted after",
            "host not reachable",
            "has not yet been delivered",
            "has been delayed",
            "attempts:",
            "all hosts have been failing for a long time",
            "was not delivered within",
            "did not accept our requests to connect",
            "could not be delivered within",
            "retry time not reached for any host",
            "retry timeout exceeded",
            "could not be delivered for",
            "too long in queue",
            "giving up",
            "expired",
            "4.4.7",
        ],
    ),
    (
        Reason::NetworkError,
        &[
            "wasn't able to establish an smtp connection",
            "malformed or unexpected name server reply",
            "too many hops",
            "hop count exceeded",
            "routing loop",
            "connection refused",
            "network is unreachable",
            "no route to host",
            "lost connection",
            "connection reset",
            "dns loop",
        ],
    ),
    (
        Reason::SyntaxError,
        &[
            "malformed address",
            "incorrectly constructed",
            "syntax error",
            "command unrecognized",
            "command parameter not implemented",
            "invalid helo",
            "bad sequence",
            "5.5.2",
            "5.5.4",
        ],
    ),
    (
        Reason::SystemFull,
        &["system full", "disk full", "insufficient system storage", "4.3.1"],
    ),
    (
        Reason::NotAccept,
        &[
            "couldn't find a mail exchanger",
            "indicated no smtp service",
            "does not accept mail",
            "null mx",
            "accept no mail",
            "5.1.10",
        ],
    ),
    (
        Reason::ContentError,
        &["content rejected", "message content", "duplicate header", "5.6."],
    ),
    (
        Reason::MailerError,
        &[
            "pipe to |",
            "mailer error",
            "command died",
            "program terminated",
            "procmail",
            "x-unix;",
        ],
    ),
    (
        Reason::SystemError,
        &[
            "does not support tls",
            "could not load drd",
            "service currently unavailable",
            "unable to contact ldap",
            "system error",
            "internal error",
            "local error",
            "transaction failed",
            "4.3.0",
            "5.3.0",
        ],
    ),
    // Last: "does not exist" alone, after "domain does not exist" (a host) and the rest had
    // their say.
    (Reason::UserUnknown, &["does not exist", "doesn't exist"]),
];

/// Reasons a specific status code can name but the text may refine: the code says "the
/// recipient failed", the text often says why (a full mailbox behind 5.1.1, a block behind
/// 5.7.1). For the others the code is decisive.
const TEXT_MAY_REFINE: &[Reason] = &[
    Reason::Undefined,
    Reason::Blocked,
    Reason::ContentError,
    Reason::ExceedLimit,
    Reason::NotAccept,
    Reason::Filtered,
    Reason::OnHold,
    Reason::SystemError,
    Reason::SecurityError,
    Reason::Expired,
    Reason::Suspend,
    Reason::NetworkError,
    Reason::HostUnknown,
    Reason::UserUnknown,
];

/// Classifies one failed recipient. `status` is the enhanced code, `text` the diagnostic.
///
/// Order: a 2.x code is a delivery; a specific code (RFC 3463, [`status_reason`]) decides
/// unless it is one the text may refine; then the text's phrases; then the code's meaning;
/// then the code's class (X.6.X content, X.7.X security).
pub fn classify(status: Option<&str>, text: &str) -> Reason {
    let t = text.to_ascii_lowercase();
    let status = status.map(str::trim).filter(|s| !s.is_empty());
    if status.is_some_and(|s| s.starts_with("2.")) {
        return Reason::Delivered;
    }
    let named = status.and_then(status_reason);
    if let Some(r) = named
        && !TEXT_MAY_REFINE.contains(&r)
    {
        return r;
    }
    if let Some(r) = phrase_reason(&t) {
        return r;
    }
    if let Some(r) = named {
        return r;
    }
    match status.map(|s| s.get(..3).unwrap_or(s)) {
        Some("5.6" | "4.6") => Reason::ContentError,
        Some("5.7" | "4.7") => Reason::SecurityError,
        Some(s) if s.starts_with('4') => Reason::OnHold,
        Some(_) => Reason::Undefined,
        None => Reason::Undefined,
    }
}

/// The reason a text's phrases name, if any (any case).
pub fn reason_in_words(text: &str) -> Option<Reason> {
    phrase_reason(&text.to_ascii_lowercase())
}

/// The first reason whose phrases the (lower-case) text contains. "X does not exist" where X
/// is a host name (no `@`) is an unknown host, checked before the table's last resort (a bare
/// "does not exist").
fn phrase_reason(t: &str) -> Option<Reason> {
    let t = &without_continuation_codes(t);
    let (last_resort, table) = PHRASES.split_last()?;
    let found = |entries: &[(Reason, &[&str])]| {
        entries
            .iter()
            .find(|(_, phrases)| phrases.iter().any(|p| t.contains(p)))
            .map(|(r, _)| *r)
    };
    found(table)
        .or_else(|| host_does_not_exist(t).then_some(Reason::HostUnknown))
        .or_else(|| found(std::slice::from_ref(last_resort)))
}

/// "553 mail.example.com does not exist": the word before "does not exist" is a domain name.
fn host_does_not_exist(t: &str) -> bool {
    let Some(i) = t.find(" does not exist") else {
        return false;
    };
    let word = t[..i].rsplit(char::is_whitespace).next().unwrap_or("");
    let word = word.trim_matches(|c: char| matches!(c, '<' | '>' | '"' | '\'' | ':' | ','));
    word.contains('.')
        && !word.contains('@')
        && word
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && word
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()))
}

/// A multi-line SMTP reply joined into one line repeats its codes in the middle of the text
/// (`Messages with multiple 550 5.7.1 addresses in From: header`); every reply code and status
/// pair after the first is dropped so phrases match across the joins.
fn without_continuation_codes(t: &str) -> String {
    let is_reply = |w: &str| {
        w.len() == 3 && w.bytes().all(|b| b.is_ascii_digit()) && matches!(w.as_bytes().first(), Some(b'4' | b'5'))
    };
    let is_status = |w: &str| {
        let p: Vec<&str> = w.split('.').collect();
        p.len() == 3
            && p.iter()
                .all(|x| !x.is_empty() && x.len() <= 3 && x.bytes().all(|b| b.is_ascii_digit()))
    };
    let words: Vec<&str> = t.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut seen_first = false;
    let mut i = 0;
    while let Some(&w) = words.get(i) {
        let (code, status_joined) = match w.split_once('-') {
            Some((c, st)) if is_reply(c) && is_status(st) => (true, true),
            _ => (is_reply(w) && words.get(i + 1).is_some_and(|n| is_status(n)), false),
        };
        if code {
            let span = if status_joined { 1 } else { 2 };
            if seen_first {
                i += span;
                continue;
            }
            seen_first = true;
            out.extend(words.iter().skip(i).take(span));
            i += span;
            continue;
        }
        out.push(w);
        i += 1;
    }
    out.join(" ")
}

/// The SMTP command a rejection answered, when the bounce says (Postfix "in reply to RCPT TO
/// command", a Sendmail transcript ">>> DATA", Exim "after end of data").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    MailFrom,
    RcptTo,
    Data,
}

/// The command stage a bounce's text names: first the phrases MTAs write about it ("in reply
/// to RCPT TO command", "after end of data"), else the last SMTP command written in capitals
/// in protocol order (a transcript `>>> RCPT TO:<...>` then `<<< 550 ...`).
pub fn stage_in(text: &str) -> Option<Stage> {
    stage_phrase(&text.to_ascii_lowercase()).or_else(|| last_command(text))
}

/// The last command stage the (lower-case) text names in words.
fn stage_phrase(t: &str) -> Option<Stage> {
    const MARKS: &[(&str, Stage)] = &[
        ("in reply to rcpt to command", Stage::RcptTo),
        ("after rcpt to", Stage::RcptTo),
        (">>> rcpt to", Stage::RcptTo),
        ("rcpt to response", Stage::RcptTo),
        ("in reply to mail from command", Stage::MailFrom),
        ("after mail from", Stage::MailFrom),
        (">>> mail from", Stage::MailFrom),
        ("in reply to end of data command", Stage::Data),
        ("in reply to data command", Stage::Data),
        ("after end of data", Stage::Data),
        ("after data", Stage::Data),
        (">>> data", Stage::Data),
        ("in reply to the data command", Stage::Data),
        ("refused to talk to me", Stage::Connect),
        // Exchange Online relaying a remote server's refusal of the recipient.
        ("unknown recipient or mailbox unavailable ->", Stage::RcptTo),
        // qmail names the stage in its own words.
        ("does not like recipient", Stage::RcptTo),
        ("does not like sender", Stage::MailFrom),
        ("but sender was rejected", Stage::MailFrom),
        ("failed on data command", Stage::Data),
        ("failed after i sent the message", Stage::Data),
        ("after initial connection", Stage::Connect),
    ];
    MARKS
        .iter()
        .filter_map(|(m, st)| t.rfind(m).map(|i| (i, *st)))
        .max_by_key(|(i, _)| *i)
        .map(|(_, st)| st)
}

/// The SMTP commands of a transcript in protocol order; each is looked for after the previous
/// one found, so `MAIL FROM ... RCPT TO ... DATA` ends at DATA and a later mention of an
/// earlier command does not move the stage back.
fn last_command(text: &str) -> Option<Stage> {
    const COMMANDS: &[(&str, Stage)] = &[
        ("HELO", Stage::Connect),
        ("EHLO", Stage::Connect),
        ("STARTTLS", Stage::Connect),
        ("AUTH ", Stage::Connect),
        ("MAIL F", Stage::MailFrom),
        ("RCPT", Stage::RcptTo),
        ("DATA", Stage::Data),
    ];
    let mut from = 0;
    let mut last = None;
    for (word, stage) in COMMANDS {
        if let Some(i) = text.get(from..).and_then(|t| t.find(word)) {
            from += i;
            last = Some(*stage);
        }
    }
    last
}

/// A reason in the light of the command it answered. A recipient is checked at RCPT TO (RFC
/// 5321 section 3.3), so "no such user" anywhere else (after DATA, or where the bounce does not
/// say which command) is a filter refusing the message, not proof the mailbox is missing: the
/// reference taxonomy calls that `filtered`. A status that itself names an unknown mailbox
/// (`5.1.0`, `5.1.1`, `5.1.3`) outweighs the stage: with pipelining a RCPT reply can arrive
/// after DATA was sent.
pub fn at_stage(reason: Reason, stage: Option<Stage>, status: Option<&str>, text: &str) -> Reason {
    let names_unknown_user = status.is_some_and(|s| status_reason(s.trim()) == Some(Reason::UserUnknown));
    let at_envelope = matches!(stage, Some(Stage::RcptTo | Stage::MailFrom));
    match reason {
        Reason::UserUnknown if !names_unknown_user && !at_envelope && !directory_lookup(text) => Reason::Filtered,
        Reason::OnHold | Reason::Undefined if stage == Some(Stage::Connect) => Reason::Blocked,
        // Refused at MAIL FROM: the sender address was not accepted, unless the text itself
        // names a security requirement (log in first, TLS first).
        Reason::OnHold | Reason::Undefined | Reason::SecurityError
            if stage == Some(Stage::MailFrom)
                && phrase_reason(&text.to_ascii_lowercase()) != Some(Reason::SecurityError) =>
        {
            Reason::Rejected
        }
        r => r,
    }
}

/// Whether the text is a mail system's own directory lookup of the recipient (Exchange's
/// "recipient name is not recognized", Lotus Domino's "not listed in ... directory"): the
/// recipient's own system said the name does not exist, whatever the command.
fn directory_lookup(text: &str) -> bool {
    const LOOKUPS: &[&str] = &[
        "recipient name is not recognized",
        "not listed in public name & address book",
        "not listed in domino directory",
        "invalid final delivery userid",
        "no valid recipients",
        "recipientnotfound",
        "recipient not found by smtp address lookup",
        // Lotus Notes and Domino in Japanese: "not in the directory list", "not found in the
        // Domino directory".
        "ディレクトリのリストにありません",
        "ディレクトリには見つかりません",
    ];
    let t = text.to_ascii_lowercase();
    LOOKUPS.iter().any(|l| t.contains(l))
}

/// PowerMTA's bounce categories (`X-PowerMTA-BounceCategory`) in this taxonomy; `other` and
/// unknown categories leave the reason to the text.
pub fn powermta_category(category: &str) -> Option<Reason> {
    use Reason::*;
    Some(match category.trim() {
        "bad-mailbox" => UserUnknown,
        "bad-domain" => HostUnknown,
        "inactive-mailbox" => Suspend,
        "quota-issues" => MailboxFull,
        "message-expired" => Expired,
        "no-answer-from-host" | "bad-connection" | "routing-errors" => NetworkError,
        "spam-related" => SpamDetected,
        "virus-related" => VirusDetected,
        "policy-related" | "content-related" => PolicyViolation,
        "relaying-issues" => NoRelaying,
        "invalid-sender" => Rejected,
        "protocol-errors" => SyntaxError,
        "message-too-large" => MesgTooBig,
        _ => return None,
    })
}

/// What a specific RFC 3463 / RFC 7372 enhanced status code names, in the sisimai taxonomy.
/// Generic codes (`X.0.0`, and subjects without a detail of their own) name nothing.
pub fn status_reason(s: &str) -> Option<Reason> {
    use Reason::*;
    let mut p = s.split('.');
    let (class, subject, detail) = (p.next()?, p.next()?, p.next()?);
    let temporary = class == "4";
    let r = match (subject, detail) {
        ("1", "0" | "1" | "3") if !temporary => UserUnknown,
        ("1", "2") if !temporary => HostUnknown,
        ("1", "4") if !temporary => Filtered,
        ("1", "6") => HasMoved,
        ("1", "7" | "8") => Rejected,
        ("1", "9") => SystemError,
        ("1", "10") if !temporary => NotAccept,
        ("2", "0") if !temporary => Filtered,
        ("2", "1") => {
            if temporary {
                Suspend
            } else {
                Filtered
            }
        }
        ("2", "2") => MailboxFull,
        ("2", "3") => ExceedLimit,
        ("2", "4") => Filtered,
        ("3", "0") => SystemError,
        ("3", "1") => SystemFull,
        ("3", "2") => NotAccept,
        ("3", "3" | "5") => SystemError,
        ("3", "4") if !temporary => MesgTooBig,
        ("4", "0") if !temporary => NetworkError,
        ("4", "1") if temporary => Expired,
        ("4", "2" | "6" | "8") if temporary => NetworkError,
        ("4", "3") => SystemError,
        ("4", "4") => {
            if temporary {
                NetworkError
            } else {
                HostUnknown
            }
        }
        ("4", "5") if temporary => SystemFull,
        ("4", "7") => Expired,
        ("5", "2" | "6") if !temporary => SyntaxError,
        ("5", "3") => {
            if temporary {
                SystemError
            } else {
                TooManyConn
            }
        }
        ("5", "4" | "5") => SystemError,
        ("6", "0" | "1" | "2" | "3" | "5" | "6" | "7" | "8" | "9") => ContentError,
        ("7", "1" | "2") if temporary => Blocked,
        ("7", "13") => Suspend,
        ("7", "16") => MesgTooBig,
        ("7", "17" | "18") => HasMoved,
        ("7", "20" | "21" | "22" | "23" | "24" | "26" | "29") => AuthFailure,
        ("7", "25") => RequirePtr,
        ("7", "27") => NotAccept,
        ("7", "28") => SpamDetected,
        ("7", _) => SecurityError,
        _ => return None,
    };
    Some(r)
}

/// The status a reason implies when none, or only a generic one (`5.0.0`, `4.0.0`), is
/// written: the pseudo codes of the sisimai taxonomy (`5.0.9xx`, `4.0.9xx` for temporary), so
/// results compare with that reference. Always labelled "implied" where shown.
pub fn implied_status(reason: Reason, temporary: bool) -> Option<String> {
    use Reason::*;
    let n = match reason {
        AuthFailure | PolicyViolation => 972,
        BadReputation => 975,
        Blocked | VirusDetected => 971,
        ContentError => 960,
        ExceedLimit => 923,
        Expired => 947,
        Filtered => {
            if temporary {
                924
            } else {
                910
            }
        }
        HasMoved => 916,
        HostUnknown => 912,
        MailboxFull => 922,
        MailerError => 939,
        MesgTooBig => 934,
        NetworkError => 944,
        NoRelaying => 909,
        NotAccept => 932,
        NotCompliantRfc => 974,
        OnHold => 901,
        Rejected => 918,
        RequirePtr => 973,
        SecurityError => 970,
        SpamDetected => 980,
        Speeding => 946,
        Suspend => 921,
        SystemError => 930,
        SystemFull => 931,
        SyntaxError => 902,
        TooManyConn => 945,
        UserUnknown => 911,
        Undefined => 900,
        Delivered | Feedback | Vacation => return None,
    };
    Some(format!("{}.0.{n}", if temporary { 4 } else { 5 }))
}

/// The status to put forward for a recipient when the `Status:` field and the diagnostic
/// text disagree. The field is what the reporting MTA wrote, often a summary of its own
/// (`5.0.0`, `4.4.7` "gave up"); the code in the remote server's reply is the evidence.
///
/// - only one of them: that one;
/// - classes differ (`4` vs `5`): the one whose class the SMTP reply code has;
/// - the field is generic (`X.0.0`) and the text is not: the text;
/// - the field has a generic part (`X.Y.0`, `X.0.Z`) and the text has none: the text;
/// - the field is `4.4.7` (the MTA's own "delivery time expired") or `5.3.X` (the MTA's own
///   system): the text, which says why;
/// - the field is `5.1.1` (written for any 550 at RCPT TO) and the text is specific, or `5.1.3`
///   and the text is a security status (`5.7.X`): the text;
/// - otherwise the field.
pub fn preferred_status(field: Option<&str>, in_text: Option<&str>, reply: Option<u16>) -> Option<String> {
    let (field, text) = match (field, in_text) {
        (None, t) => return t.map(str::to_string),
        (f, None) => return f.map(str::to_string),
        (Some(f), Some(t)) => (f, t),
    };
    let class = |s: &str| s.as_bytes().first().copied();
    let reply_class = reply.map(|r| b'0' + (r / 100) as u8);
    if class(field) != class(text) && reply_class.is_some() {
        if reply_class == class(field) {
            return Some(field.into());
        }
        if reply_class == class(text) {
            return Some(text.into());
        }
    }
    let generic = |s: &str| s.get(1..).is_some_and(|r| r.starts_with(".0.0"));
    let has_zero = |s: &str| s.split('.').skip(1).any(|p| p == "0");
    let chosen = if field == text || generic(text) && !generic(field) {
        field
    } else if generic(field) || has_zero(field) && !has_zero(text) || field == "4.4.7" || field.starts_with("5.3.") {
        text
    } else if field == "5.1.1" && !has_zero(text) || field == "5.1.3" && text.starts_with("5.7.") {
        // Sendmail and others write 5.1.1 for any 550 at RCPT TO; the reply says which.
        text
    } else {
        field
    };
    Some(chosen.into())
}

/// Enhanced status codes found in free text (`5.1.1`, `550-5.7.26`), in order.
pub fn status_codes_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | ',' | ';' | ':')) {
        let w = word.trim_start_matches(|c: char| {
            c.is_ascii_digit() && word.len() > 5 && word.as_bytes().get(3) == Some(&b'-')
        });
        // qmail writes its status as `(#4.4.1)`.
        let w = w
            .trim_start_matches(['-', '#', '\''])
            .trim_end_matches(['.', ':', '\'']);
        let parts: Vec<&str> = w.split('.').collect();
        if let [class, subject, detail] = parts.as_slice()
            && matches!(*class, "2" | "4" | "5")
            && subject.len() <= 3
            && detail.len() <= 3
            && [subject, detail]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            && !out.contains(&w.to_string())
        {
            out.push(w.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_reply_codes() {
        assert_eq!(
            classify(Some("5.7.25"), "550-5.7.25 ... does not have a PTR record setup"),
            Reason::RequirePtr
        );
        assert_eq!(
            classify(Some("5.7.26"), "550-5.7.26 This mail is unauthenticated"),
            Reason::AuthFailure
        );
        assert_eq!(
            classify(None, "550 5.7.1 not authorized to send email directly to our servers"),
            Reason::Blocked
        );
        assert_eq!(
            classify(None, "TLS Negotiation failed, the certificate doesn't match the host."),
            Reason::SecurityError
        );
        assert_eq!(
            classify(Some("5.1.1"), "550 5.1.1 <a@b> User Unknown"),
            Reason::UserUnknown
        );
        assert_eq!(classify(Some("5.2.2"), ""), Reason::MailboxFull);
        // A multi-line reply joined into one line: the repeated codes do not break the phrase.
        assert_eq!(
            classify(
                None,
                "550-5.7.1 Messages with multiple 550 5.7.1 addresses in From: header are not accepted"
            ),
            Reason::NotCompliantRfc
        );
        assert_eq!(classify(Some("4.4.7"), ""), Reason::Expired);
        assert_eq!(classify(Some("2.0.0"), "ok"), Reason::Delivered);
        assert_eq!(classify(None, ""), Reason::Undefined);
        assert_eq!(Reason::ALL.len(), 34);
    }

    #[test]
    fn codes_in_text() {
        assert_eq!(
            status_codes_in("550-5.7.26 This mail (5.7.26) is unauthenticated"),
            vec!["5.7.26"]
        );
        assert_eq!(status_codes_in("Status: 4.4.7, then 5.1.1."), vec!["4.4.7", "5.1.1"]);
        assert!(status_codes_in("version 1.2.3 of 10.0.0.1").is_empty());
    }
}
