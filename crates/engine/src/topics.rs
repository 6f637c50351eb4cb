//! `--checks LIST`: which topics of the domain report run. A topic not selected is reported
//! as skipped (`skip.not-selected`), and a verdict or checklist row that rests on it says "not
//! known", never pass or fail.

use std::fmt;

/// One topic of `check`, named as its checks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    Mx,
    Spf,
    Dkim,
    Dmarc,
    /// The sending IPs' PTR (forward-confirmed) and HELO name.
    Ptr,
    /// The sending IPs on IP blocklists.
    Dnsbl,
    /// The domain on domain blocklists.
    Dbl,
    /// The submission server as Gmail's "Send mail as" uses it (connections).
    Submission,
    /// TLS-RPT: where senders report TLS failures of mail to the domain.
    Tlsrpt,
    /// Each MX address on port 25: greeting, STARTTLS, certificate, TLS versions (connections).
    Inbound,
    /// MTA-STS: the record and the policy (an HTTPS fetch), against the MX hosts.
    Mtasts,
    /// DNSSEC status of the domain and its MX hosts, and their TLSA records (DANE).
    Dane,
    /// BIMI: the logo record, DMARC enforcement, the logo itself (an HTTPS fetch).
    Bimi,
}

impl Topic {
    pub const ALL: [Topic; 13] = [
        Topic::Mx,
        Topic::Spf,
        Topic::Dkim,
        Topic::Dmarc,
        Topic::Ptr,
        Topic::Dnsbl,
        Topic::Dbl,
        Topic::Submission,
        Topic::Tlsrpt,
        Topic::Inbound,
        Topic::Mtasts,
        Topic::Dane,
        Topic::Bimi,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Topic::Mx => "mx",
            Topic::Spf => "spf",
            Topic::Dkim => "dkim",
            Topic::Dmarc => "dmarc",
            Topic::Ptr => "ptr",
            Topic::Dnsbl => "dnsbl",
            Topic::Dbl => "dbl",
            Topic::Submission => "submission",
            Topic::Tlsrpt => "tlsrpt",
            Topic::Inbound => "inbound",
            Topic::Mtasts => "mta-sts",
            Topic::Dane => "dane",
            Topic::Bimi => "bimi",
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topics(u16);

impl Default for Topics {
    fn default() -> Self {
        Self::all()
    }
}

impl Topics {
    pub fn all() -> Self {
        Topics::of(&Topic::ALL)
    }

    /// Everything answered by DNS alone (no connection to a mail or web server).
    pub fn dns() -> Self {
        let mut t = Self::all();
        for connects in [Topic::Submission, Topic::Inbound, Topic::Mtasts, Topic::Bimi] {
            t.0 &= !Self::bit(connects);
        }
        t
    }

    pub fn of(topics: &[Topic]) -> Self {
        Topics(topics.iter().fold(0, |acc, t| acc | Self::bit(*t)))
    }

    fn bit(t: Topic) -> u16 {
        1 << (t as u16)
    }

    pub fn has(self, t: Topic) -> bool {
        self.0 & Self::bit(t) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Topic> {
        Topic::ALL.into_iter().filter(move |t| self.has(*t))
    }

    /// `mx,spf,dkim`, with `dns` (every topic that needs no connection) and `all`; case and spaces are
    /// ignored. An unknown name is an error that lists the known ones.
    pub fn parse(list: &str) -> Result<Topics, String> {
        let mut bits = 0u16;
        for word in list
            .split(',')
            .map(|w| w.trim().to_ascii_lowercase())
            .filter(|w| !w.is_empty())
        {
            bits |= match word.as_str() {
                "all" => Topics::all().0,
                "dns" => Topics::dns().0,
                w => match Topic::ALL.iter().find(|t| t.name() == w) {
                    Some(t) => Self::bit(*t),
                    None => {
                        return Err(format!(
                            "unknown topic `{w}`; known: {}, dns (all but submission, inbound, mta-sts and bimi), all",
                            Topic::ALL.map(Topic::name).join(", ")
                        ));
                    }
                },
            };
        }
        if bits == 0 {
            return Err("no topic given; e.g. --checks spf,dkim,dmarc".into());
        }
        Ok(Topics(bits))
    }
}

impl fmt::Display for Topics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Topic::name).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_groups_and_errors() {
        let t = Topics::parse("SPF, dkim").unwrap();
        assert!(t.has(Topic::Spf) && t.has(Topic::Dkim) && !t.has(Topic::Mx));
        assert_eq!(t.to_string(), "spf,dkim");
        let dns = Topics::parse("dns").unwrap();
        assert!(!dns.has(Topic::Submission) && dns.has(Topic::Dbl));
        assert!(!dns.has(Topic::Inbound) && !dns.has(Topic::Mtasts) && dns.has(Topic::Tlsrpt));
        assert!(Topics::parse("mta-sts").unwrap().has(Topic::Mtasts));
        assert_eq!(Topics::parse("all").unwrap(), Topics::all());
        assert!(Topics::parse("spf,smtp").unwrap_err().contains("unknown topic `smtp`"));
        assert!(Topics::parse(" , ").is_err());
    }
}
