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

/// Diagnostic phrases, most specific first. Matched case-insensitively against the text.
const PHRASES: &[(Reason, &[&str])] = &[
    (
        Reason::RequirePtr,
        &[
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
        Reason::AuthFailure,
        &[
            "5.7.26",
            "5.7.27",
            "5.7.30",
            "5.7.40",
            "5.7.515",
            "unauthenticated",
            "spf check failed",
            "spf fail",
            "dkim",
            "dmarc",
            "sender policy framework",
            "authentication required by policy",
            "5.7.23",
        ],
    ),
    (
        Reason::SecurityError,
        &[
            "tls negotiation failed",
            "certificate",
            "starttls",
            "5.7.29",
            "must issue a starttls",
            "encryption required",
            "authentication failed",
            "5.7.8 ",
        ],
    ),
    (Reason::VirusDetected, &["virus", "malware", "infected"]),
    (
        Reason::SpamDetected,
        &[
            "spam",
            "unsolicited",
            "junk mail",
            "bulk mail",
            "5.7.28",
            "content rejected as spam",
            "message looks like",
        ],
    ),
    (
        Reason::BadReputation,
        &[
            "bad reputation",
            "low reputation",
            "ip reputation",
            "domain reputation",
            "sender reputation",
            "5.7.350",
            "reputation",
        ],
    ),
    (
        Reason::ExceedLimit,
        &[
            "exceeds a limit",
            "too many recipients",
            "recipient limit",
            "limit exceeded",
            "5.5.3",
            "4.5.3",
        ],
    ),
    (
        Reason::Blocked,
        &[
            "blacklist",
            "blocklist",
            "block list",
            "black list",
            "spamhaus",
            "spamcop",
            "barracuda",
            "rbl",
            "dnsbl",
            "not authorized to send email directly",
            "blocked",
            "client host rejected",
            "access denied",
        ],
    ),
    (
        Reason::NoRelaying,
        &[
            "relay access denied",
            "relaying denied",
            "relay not permitted",
            "not permitted to relay",
            "unable to relay",
            "relaying not allowed",
            "5.7.64",
        ],
    ),
    (
        Reason::MesgTooBig,
        &[
            "message too big",
            "message size exceeds",
            "size limit",
            "too large",
            "exceeds the maximum",
            "5.3.4",
        ],
    ),
    (
        Reason::MailboxFull,
        &[
            "mailbox full",
            "mailbox is full",
            "over quota",
            "quota exceeded",
            "exceeded storage",
            "insufficient storage",
            "mailbox size limit",
            "user is over",
            "disk quota",
            "5.2.2",
        ],
    ),
    (
        Reason::Suspend,
        &[
            "account disabled",
            "account has been disabled",
            "mailbox disabled",
            "suspended",
            "inactive",
            "account is locked",
            "mailbox is disabled",
            "5.2.1",
        ],
    ),
    (Reason::HasMoved, &["has moved", "no longer at this address", "5.1.6"]),
    (
        Reason::UserUnknown,
        &[
            "user unknown",
            "unknown user",
            "no such user",
            "does not exist",
            "doesn't exist",
            "mailbox unavailable",
            "recipient address rejected",
            "invalid recipient",
            "unknown recipient",
            "no mailbox",
            "address rejected",
            "not found",
            "undeliverable address",
            "5.1.1",
            "user not found",
            "unrouteable address",
            "no such mailbox",
        ],
    ),
    (
        Reason::HostUnknown,
        &[
            "host not found",
            "domain not found",
            "host unknown",
            "unknown host",
            "name or service not known",
            "no mx",
            "domain does not exist",
            "unrouteable mail domain",
            "5.1.2",
            "nxdomain",
        ],
    ),
    (
        Reason::Expired,
        &[
            "expired",
            "retry timeout exceeded",
            "could not be delivered for",
            "delivery time",
            "4.4.7",
            "too long in queue",
            "giving up",
        ],
    ),
    (
        Reason::TooManyConn,
        &["too many connections", "too many concurrent", "connection limit"],
    ),
    (
        Reason::Speeding,
        &[
            "rate limit",
            "too many messages",
            "try again later",
            "sending rate",
            "4.7.0 ratelimit",
            "throttl",
        ],
    ),
    (
        Reason::NetworkError,
        &[
            "connection refused",
            "connection timed out",
            "timed out",
            "network is unreachable",
            "no route to host",
            "lost connection",
            "connection reset",
            "4.4.1",
            "4.4.2",
        ],
    ),
    (
        Reason::SyntaxError,
        &[
            "syntax error",
            "command unrecognized",
            "5.5.2",
            "5.5.4",
            "invalid helo",
            "bad sequence",
        ],
    ),
    (
        Reason::NotCompliantRfc,
        &[
            "rfc 5322",
            "rfc5322",
            "rfc 2822",
            "not compliant",
            "5.6.0",
            "malformed",
            "header",
        ],
    ),
    (
        Reason::SystemFull,
        &["system full", "disk full", "insufficient system storage", "4.3.1"],
    ),
    (
        Reason::NotAccept,
        &["does not accept mail", "null mx", "accept no mail", "5.1.10"],
    ),
    (
        Reason::PolicyViolation,
        &["policy", "5.7.1", "prohibited", "not allowed"],
    ),
    (Reason::Filtered, &["filtered", "content filter"]),
    (Reason::ContentError, &["content", "5.6."]),
    (
        Reason::MailerError,
        &["mailer error", "command died", "program terminated", "procmail"],
    ),
    (
        Reason::SystemError,
        &[
            "system error",
            "internal error",
            "local error",
            "temporary failure",
            "4.3.0",
            "5.3.0",
        ],
    ),
];

/// Classifies one failed recipient. `status` is the enhanced code, `text` the diagnostic.
pub fn classify(status: Option<&str>, text: &str) -> Reason {
    let t = text.to_ascii_lowercase();
    if let Some(s) = status
        && s.starts_with("2.")
    {
        return Reason::Delivered;
    }
    for (reason, phrases) in PHRASES {
        if phrases.iter().any(|p| t.contains(p)) {
            return *reason;
        }
    }
    match status.map(|s| s.trim()) {
        Some(s) => from_status(s),
        None => Reason::Undefined,
    }
}

/// RFC 3463 subject/detail codes to reasons, for when the text says nothing more specific.
fn from_status(s: &str) -> Reason {
    let mut p = s.split('.');
    let (class, subject, detail) = (p.next().unwrap_or(""), p.next().unwrap_or(""), p.next().unwrap_or(""));
    match (subject, detail) {
        ("1", "1") | ("1", "0") | ("1", "3") => Reason::UserUnknown,
        ("1", "2") => Reason::HostUnknown,
        ("1", "6") => Reason::HasMoved,
        ("1", "10") => Reason::NotAccept,
        ("2", "1") => Reason::Suspend,
        ("2", "2") | ("2", "0") => Reason::MailboxFull,
        ("2", "3") | ("3", "4") => Reason::MesgTooBig,
        ("3", "1") => Reason::SystemFull,
        ("3", _) => Reason::SystemError,
        ("4", "7") => Reason::Expired,
        ("4", "1") | ("4", "2") | ("4", "0") | ("4", _) => Reason::NetworkError,
        ("5", _) => Reason::SyntaxError,
        ("6", _) => Reason::ContentError,
        ("7", "1") => Reason::Rejected,
        ("7", "25") => Reason::RequirePtr,
        ("7", "26") | ("7", "27") | ("7", "30") | ("7", "40") | ("7", "23") | ("7", "515") => Reason::AuthFailure,
        ("7", "28") => Reason::SpamDetected,
        ("7", "29") => Reason::SecurityError,
        ("7", _) => Reason::SecurityError,
        _ if class == "4" => Reason::OnHold,
        _ if class == "5" => Reason::Rejected,
        _ => Reason::Undefined,
    }
}

/// Enhanced status codes found in free text (`5.1.1`, `550-5.7.26`), in order.
pub fn status_codes_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in
        text.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '[' || c == ']' || c == ',' || c == ';')
    {
        let w = word.trim_start_matches(|c: char| {
            c.is_ascii_digit() && word.len() > 5 && word.as_bytes().get(3) == Some(&b'-')
        });
        let w = w.trim_start_matches('-').trim_end_matches(['.', ':']);
        let parts: Vec<&str> = w.split('.').collect();
        if parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts[1].len() <= 3
            && parts[2].len() <= 3
            && parts[1..]
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
