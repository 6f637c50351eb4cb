//! The SPF record grammar (RFC 7208 section 4.6 and 12), parsed strictly, with positions.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::macros::validate_macro_string;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Qualifier {
    #[serde(rename = "+")]
    Pass,
    #[serde(rename = "-")]
    Fail,
    #[serde(rename = "~")]
    SoftFail,
    #[serde(rename = "?")]
    Neutral,
}

impl Qualifier {
    pub fn symbol(self) -> char {
        match self {
            Qualifier::Pass => '+',
            Qualifier::Fail => '-',
            Qualifier::SoftFail => '~',
            Qualifier::Neutral => '?',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Mechanism {
    All,
    Include {
        domain: String,
    },
    A {
        domain: Option<String>,
        cidr4: u8,
        cidr6: u8,
    },
    Mx {
        domain: Option<String>,
        cidr4: u8,
        cidr6: u8,
    },
    Ptr {
        domain: Option<String>,
    },
    Ip4 {
        addr: Ipv4Addr,
        cidr: u8,
    },
    Ip6 {
        addr: Ipv6Addr,
        cidr: u8,
    },
    Exists {
        domain: String,
    },
}

impl Mechanism {
    /// Terms that cost a DNS lookup (section 4.6.4).
    pub fn queries_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include { .. }
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr { .. }
                | Mechanism::Exists { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directive {
    pub qualifier: Qualifier,
    pub mechanism: Mechanism,
    /// The term as written, for traces.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Modifier {
    Redirect(String),
    Exp(String),
    Unknown { name: String, value: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfRecord {
    pub directives: Vec<Directive>,
    pub redirect: Option<String>,
    pub exp: Option<String>,
    pub unknown_modifiers: Vec<(String, String)>,
}

/// A syntax error and where it is (byte offset into the record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("at position {position} (`{term}`): {message}")]
pub struct ParseError {
    pub position: usize,
    pub term: String,
    pub message: String,
}

fn err(position: usize, term: &str, message: impl Into<String>) -> ParseError {
    ParseError {
        position,
        term: term.to_string(),
        message: message.into(),
    }
}

/// Is this TXT string an SPF record (`v=spf1` followed by a space or the end)?
pub fn is_spf_record(txt: &str) -> bool {
    let b = txt.as_bytes();
    b.get(..6).is_some_and(|v| v.eq_ignore_ascii_case(b"v=spf1")) && matches!(b.get(6), None | Some(b' '))
}

/// Parses a record that starts with `v=spf1`.
pub fn parse_record(text: &str) -> Result<SpfRecord, ParseError> {
    if !is_spf_record(text) {
        return Err(err(0, text, "does not start with v=spf1"));
    }
    let mut rec = SpfRecord {
        directives: Vec::new(),
        redirect: None,
        exp: None,
        unknown_modifiers: Vec::new(),
    };
    let mut pos = 6;
    // Terms are separated by one or more spaces (section 4.6.1); only SP counts.
    for term in text[6..].split(' ') {
        let here = pos;
        pos += term.len() + 1;
        if term.is_empty() {
            continue;
        }
        if !term.is_ascii() {
            return Err(err(here, term, "non-ASCII characters"));
        }
        parse_term(term, here, &mut rec)?;
    }
    Ok(rec)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

fn parse_term(term: &str, pos: usize, rec: &mut SpfRecord) -> Result<(), ParseError> {
    // Modifier: name "=" macro-string, where name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
    let name_end = term.find(|c: char| !is_name_char(c)).unwrap_or(term.len());
    let (name, rest) = term.split_at_checked(name_end).unwrap_or((term, ""));
    if let Some(value) = rest.strip_prefix('=')
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        match name.to_ascii_lowercase().as_str() {
            "redirect" => {
                if rec.redirect.is_some() {
                    return Err(err(pos, term, "redirect appears twice"));
                }
                check_domain_spec(value).map_err(|m| err(pos, term, m))?;
                rec.redirect = Some(value.to_string());
            }
            "exp" => {
                if rec.exp.is_some() {
                    return Err(err(pos, term, "exp appears twice"));
                }
                check_domain_spec(value).map_err(|m| err(pos, term, m))?;
                rec.exp = Some(value.to_string());
            }
            _ => {
                validate_macro_string(value, false).map_err(|m| err(pos, term, m))?;
                rec.unknown_modifiers.push((name.to_string(), value.to_string()));
            }
        }
        return Ok(());
    }
    let (qualifier, body) = match term.as_bytes().first() {
        Some(b'+') => (Qualifier::Pass, term.get(1..).unwrap_or_default()),
        Some(b'-') => (Qualifier::Fail, term.get(1..).unwrap_or_default()),
        Some(b'~') => (Qualifier::SoftFail, term.get(1..).unwrap_or_default()),
        Some(b'?') => (Qualifier::Neutral, term.get(1..).unwrap_or_default()),
        _ => (Qualifier::Pass, term),
    };
    let name_len = body.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(body.len());
    let name = body[..name_len].to_ascii_lowercase();
    let rest = &body[name_len..];
    let e = |m: &str| err(pos, term, m);
    let mechanism = match name.as_str() {
        "all" => {
            if !rest.is_empty() {
                return Err(e("`all` takes no argument"));
            }
            Mechanism::All
        }
        "include" | "exists" => {
            let d = rest.strip_prefix(':').ok_or_else(|| e("needs `:domain`"))?;
            check_domain_spec(d).map_err(|m| e(&m))?;
            if name == "include" {
                Mechanism::Include { domain: d.to_string() }
            } else {
                Mechanism::Exists { domain: d.to_string() }
            }
        }
        "a" | "mx" => {
            let (domain, cidr4, cidr6) = parse_domain_dual_cidr(rest).map_err(|m| e(&m))?;
            if name == "a" {
                Mechanism::A { domain, cidr4, cidr6 }
            } else {
                Mechanism::Mx { domain, cidr4, cidr6 }
            }
        }
        "ptr" => {
            let domain = match rest {
                "" => None,
                r => {
                    let d = r.strip_prefix(':').ok_or_else(|| e("unexpected text after ptr"))?;
                    check_domain_spec(d).map_err(|m| e(&m))?;
                    Some(d.to_string())
                }
            };
            Mechanism::Ptr { domain }
        }
        "ip4" => {
            let v = rest.strip_prefix(':').ok_or_else(|| e("needs `:address`"))?;
            let (addr, cidr) = match v.split_once('/') {
                Some((a, c)) => (a, parse_cidr(c, 32).map_err(|m| e(&m))?),
                None => (v, 32),
            };
            let addr: Ipv4Addr = parse_ip4_strict(addr).ok_or_else(|| e("not a valid IPv4 address"))?;
            Mechanism::Ip4 { addr, cidr }
        }
        "ip6" => {
            let v = rest.strip_prefix(':').ok_or_else(|| e("needs `:address`"))?;
            let (addr, cidr) = match v.split_once('/') {
                Some((a, c)) => (a, parse_cidr(c, 128).map_err(|m| e(&m))?),
                None => (v, 128),
            };
            let addr: Ipv6Addr = addr.parse().map_err(|_| e("not a valid IPv6 address"))?;
            Mechanism::Ip6 { addr, cidr }
        }
        "" => return Err(e("not a mechanism or modifier")),
        other => return Err(e(&format!("unknown mechanism `{other}`"))),
    };
    rec.directives.push(Directive {
        qualifier,
        mechanism,
        text: term.to_string(),
    });
    Ok(())
}

/// Dotted quad with no leading zeros or extras (section 4.6.1 ip4-network).
fn parse_ip4_strict(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut o = [0u8; 4];
    for (octet, p) in o.iter_mut().zip(parts.iter()) {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        *octet = p.parse().ok()?;
    }
    Some(Ipv4Addr::from(o))
}

/// `"0" / %x31-39 0*1DIGIT` (no leading zeros), up to `max`.
fn parse_cidr(s: &str, max: u8) -> Result<u8, String> {
    let ok =
        !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()) && !(s.len() > 1 && s.starts_with('0'));
    let v: u32 = if ok {
        s.parse().map_err(|_| format!("bad prefix length /{s}"))?
    } else {
        return Err(format!("bad prefix length /{s}"));
    };
    if v > max as u32 {
        return Err(format!("prefix length /{v} is larger than {max}"));
    }
    Ok(v as u8)
}

/// `[ ":" domain-spec ] [ dual-cidr-length ]` for a and mx. The CIDR suffix is taken from the
/// end, because "/" may also appear inside a domain-spec (`a:foo:bar/baz.example.com`).
fn parse_domain_dual_cidr(rest: &str) -> Result<(Option<String>, u8, u8), String> {
    let (mut body, mut c4, mut c6) = (rest, 32u8, 128u8);
    let digits_suffix = |s: &str, sep: &str| -> Option<(usize, String)> {
        let i = s.rfind(sep)?;
        let tail = &s[i + sep.len()..];
        (!tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit())).then(|| (i, tail.to_string()))
    };
    if let Some((i, v6)) = digits_suffix(body, "//") {
        c6 = parse_cidr(&v6, 128)?;
        body = &body[..i];
    }
    if let Some((i, v4)) = digits_suffix(body, "/")
        && !body[..i].ends_with('/')
    {
        c4 = parse_cidr(&v4, 32)?;
        body = &body[..i];
    }
    if body.ends_with('/') {
        return Err(format!("bad prefix length in `{rest}`"));
    }
    let domain = match body {
        "" => None,
        d => {
            let d = d.strip_prefix(':').ok_or("unexpected text after the mechanism")?;
            check_domain_spec(d)?;
            Some(d.to_string())
        }
    };
    Ok((domain, c4, c6))
}

/// domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand.
pub fn check_domain_spec(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty domain".into());
    }
    validate_macro_string(spec, false)?;
    // Ends with a macro expansion: acceptable.
    if spec.ends_with('}')
        && let Some(open) = spec.rfind("%{")
        && !spec[open..].contains(' ')
    {
        return Ok(());
    }
    let trimmed = spec.strip_suffix('.').unwrap_or(spec);
    let top = trimmed.rsplit('.').next().unwrap_or("");
    if !trimmed.contains('.') && !spec.contains('%') {
        return Err(format!("`{spec}` is not a fully qualified domain"));
    }
    if !is_toplabel(top) {
        return Err(format!("`{spec}` does not end in a valid top-level label"));
    }
    Ok(())
}

/// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
fn is_toplabel(l: &str) -> bool {
    if l.is_empty() || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return false;
    }
    if l.contains('-') {
        let b = l.as_bytes();
        b.first().is_some_and(u8::is_ascii_alphanumeric) && b.last().is_some_and(u8::is_ascii_alphanumeric)
    } else {
        l.bytes().any(|b| b.is_ascii_alphabetic())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7208_4_6_1_terms() {
        let r = parse_record("v=spf1 ip4:192.0.2.0/24 a mx:mail.example.com/28//64 -include:_spf.example.com ~all")
            .unwrap();
        assert_eq!(r.directives.len(), 5);
        assert_eq!(
            r.directives[2].mechanism,
            Mechanism::Mx {
                domain: Some("mail.example.com".into()),
                cidr4: 28,
                cidr6: 64
            }
        );
        assert_eq!(r.directives[3].qualifier, Qualifier::Fail);
    }

    #[test]
    fn rfc7208_4_6_syntax_errors_have_positions() {
        let e = parse_record("v=spf1 ip4:192.0.2.0/33 -all").unwrap_err();
        assert_eq!(e.position, 7);
        assert!(parse_record("v=spf1 foo:bar").is_err());
        assert!(parse_record("v=spf1 a:foo.-").is_err());
        assert!(parse_record("v=spf1 ip4:1.2.3.04").is_err());
        assert!(parse_record("v=spf1 redirect=a.example redirect=b.example").is_err());
        assert!(parse_record("v=spf1 include").is_err());
        assert!(parse_record("v=spf1 -all foo=%{x}").is_err());
        assert!(parse_record("v=spf10").is_err());
        assert!(is_spf_record("V=SPF1 -all"));
    }
}
