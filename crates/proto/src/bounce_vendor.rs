//! Bounces written by a known product, in that product's own words. A mail gateway that
//! verifies recipients itself (McAfee's) means "550 Unknown user" as a directory answer, where
//! the same words relayed from elsewhere after DATA would be a filter's; Amazon SES's inbound
//! relay calls every rejection of a mailbox a filter's decision. Each product is recognised by
//! header fields only it writes; its phrases are final (the SMTP stage does not refine them).

use crate::bounce::Reason;

/// A product that writes bounces, how to recognise it, and what its phrases mean.
pub struct Vendor {
    pub name: &'static str,
    /// (lower-case header field name, lower-case substring of its value; "" for any value):
    /// any one identifies the product.
    marks: &'static [(&'static str, &'static str)],
    phrases: &'static [(Reason, &'static [&'static str])],
}

/// The products known; their header marks and phrases come from their own bounces.
pub const VENDORS: &[Vendor] = &[
    Vendor {
        name: "McAfee Email Gateway",
        marks: &[("x-nai-header", "mcafee")],
        phrases: &[(Reason::UserUnknown, &["user not exist", "unknown user", "no such user"])],
    },
    Vendor {
        name: "Outlook.com",
        marks: &[("x-message-delivery", ""), ("x-message-info", "")],
        phrases: &[
            (
                Reason::UserUnknown,
                &["requested action not taken: mailbox unavailable"],
            ),
            (Reason::HostUnknown, &["domain is not reachable"]),
        ],
    },
    Vendor {
        name: "Amazon SES (receiving)",
        marks: &[("x-ses-outgoing", "")],
        phrases: &[
            (Reason::Filtered, &["mailbox does not exist"]),
            (Reason::MesgTooBig, &["message too large"]),
            (Reason::MailboxFull, &["mailbox full"]),
            (Reason::ContentError, &["message content rejected"]),
        ],
    },
    Vendor {
        name: "Ipswitch IMail Server",
        marks: &[("x-mailer", "<smtp32 v")],
        phrases: &[(Reason::UserUnknown, &["unknown user", "invalid final delivery userid"])],
    },
];

/// The product whose header marks the message carries. `header` gives a field's raw value.
pub fn identify(header: impl Fn(&str) -> Option<String>) -> Option<&'static Vendor> {
    VENDORS.iter().find(|v| {
        v.marks.iter().any(|(name, needle)| {
            header(name).is_some_and(|value| needle.is_empty() || value.to_ascii_lowercase().contains(needle))
        })
    })
}

impl Vendor {
    /// What the product's own words in `text` mean, if it used any.
    pub fn reason(&self, text: &str) -> Option<Reason> {
        let t = text.to_ascii_lowercase();
        self.phrases
            .iter()
            .find(|(_, ps)| ps.iter().any(|p| t.contains(p)))
            .map(|(r, _)| *r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identified_by_header_and_read_in_its_own_words() {
        let v = identify(|n| (n == "x-nai-header").then(|| "Modified by McAfee Email Gateway".to_string())).unwrap();
        assert_eq!(
            v.reason("550 Unknown user kijitora@example.jp"),
            Some(Reason::UserUnknown)
        );
        assert_eq!(v.reason("552 message too big"), None);
        assert!(identify(|_| None).is_none());
        let ses = identify(|n| (n == "x-ses-outgoing").then(|| "2015.01.01".to_string())).unwrap();
        assert_eq!(ses.reason("550 5.1.1 Mailbox does not exist"), Some(Reason::Filtered));
    }
}
