//! SPF macros (RFC 7208 section 7): validation and expansion.

use std::net::IpAddr;

/// The values macros expand to.
#[derive(Debug, Clone)]
pub struct MacroContext {
    /// `<sender>`: local-part@domain (postmaster@helo when MAIL FROM is empty).
    pub sender: String,
    /// Current domain (`d`).
    pub domain: String,
    pub ip: IpAddr,
    /// HELO/EHLO name (`h`).
    pub helo: String,
    /// Validated PTR name (`p`), when the evaluator looked it up.
    pub validated: Option<String>,
    /// Receiving host (`r`, explanations only).
    pub receiver: String,
    /// Seconds since the epoch (`t`, explanations only).
    pub timestamp: u64,
}

fn letter_ok(c: char, exp: bool) -> bool {
    matches!(c.to_ascii_lowercase(), 's' | 'l' | 'o' | 'd' | 'i' | 'p' | 'h' | 'v')
        || (exp && matches!(c.to_ascii_lowercase(), 'c' | 'r' | 't'))
}

fn is_delimiter(c: char) -> bool {
    matches!(c, '.' | '-' | '+' | ',' | '/' | '_' | '=')
}

/// One parsed `%{...}`.
struct Macro {
    letter: char,
    digits: Option<usize>,
    reverse: bool,
    delimiters: Vec<char>,
}

/// Parses the body of `%{...}` (without the braces).
fn parse_macro(body: &str, exp: bool) -> Result<Macro, String> {
    let mut chars = body.chars().peekable();
    let letter = chars.next().ok_or("empty macro %{}")?;
    if !letter_ok(letter, exp) {
        return Err(format!("invalid macro letter `{letter}`"));
    }
    let mut digits = String::new();
    while let Some(c) = chars.peek().copied().filter(char::is_ascii_digit) {
        digits.push(c);
        chars.next();
    }
    let digits = if digits.is_empty() {
        None
    } else {
        let n: usize = digits.parse().map_err(|_| "macro digit transformer too large")?;
        if n == 0 {
            return Err("macro digit transformer 0".into());
        }
        Some(n.min(128))
    };
    let mut reverse = false;
    if matches!(chars.peek(), Some('r') | Some('R')) {
        reverse = true;
        chars.next();
    }
    let mut delimiters = Vec::new();
    for c in chars {
        if !is_delimiter(c) {
            return Err(format!("invalid macro delimiter `{c}`"));
        }
        delimiters.push(c);
    }
    Ok(Macro {
        letter,
        digits,
        reverse,
        delimiters,
    })
}

/// Checks a macro-string (section 7.1) without expanding it.
pub fn validate_macro_string(s: &str, exp: bool) -> Result<(), String> {
    walk(s, exp, &mut |_| Ok(String::new())).map(|_| ())
}

fn walk(s: &str, exp: bool, f: &mut dyn FnMut(&Macro) -> Result<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '%' {
            // macro-literal = %x21-24 / %x26-7E (visible characters except "%"); explanations
            // allow spaces too.
            let visible = ('\x21'..='\x7e').contains(&c);
            if !(visible || (c == ' ' && exp)) {
                return Err(format!("invalid character {c:?} in macro string"));
            }
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '%')) => out.push('%'),
            Some((_, '_')) => out.push(' '),
            Some((_, '-')) => out.push_str("%20"),
            Some((_, '{')) => {
                let rest = &s[i + 2..];
                let end = rest.find('}').ok_or("unterminated macro %{")?;
                let m = parse_macro(&rest[..end], exp)?;
                out.push_str(&f(&m)?);
                for _ in 0..=end {
                    chars.next();
                }
            }
            Some((_, other)) => return Err(format!("invalid macro escape %{other}")),
            None => return Err("a lone % at the end".into()),
        }
    }
    Ok(out)
}

fn nibbles(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v) => v.to_string(),
        IpAddr::V6(v) => {
            let mut parts = Vec::with_capacity(32);
            for b in v.octets() {
                parts.push(format!("{:x}", b >> 4));
                parts.push(format!("{:x}", b & 0x0f));
            }
            parts.join(".")
        }
    }
}

/// RFC 3986 escaping of everything but unreserved characters (uppercase macro letters).
fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Expands a macro-string. `exp` allows c, r, t (explanation strings only).
pub fn expand(s: &str, ctx: &MacroContext, exp: bool) -> Result<String, String> {
    let (local, sdomain) = match ctx.sender.rsplit_once('@') {
        Some((l, d)) => (l.to_string(), d.to_string()),
        None => ("postmaster".to_string(), ctx.sender.clone()),
    };
    walk(s, exp, &mut |m| {
        let value = match m.letter.to_ascii_lowercase() {
            's' => ctx.sender.clone(),
            'l' => local.clone(),
            'o' => sdomain.clone(),
            'd' => ctx.domain.clone(),
            'i' => nibbles(ctx.ip),
            'p' => ctx.validated.clone().unwrap_or_else(|| "unknown".into()),
            'h' => ctx.helo.clone(),
            'v' => {
                if ctx.ip.is_ipv4() {
                    "in-addr".into()
                } else {
                    "ip6".into()
                }
            }
            'c' => ctx.ip.to_string(),
            'r' => ctx.receiver.clone(),
            't' => ctx.timestamp.to_string(),
            _ => return Err(format!("invalid macro letter `{}`", m.letter)),
        };
        let delims: &[char] = if m.delimiters.is_empty() { &['.'] } else { &m.delimiters };
        let mut parts: Vec<&str> = value.split(|c| delims.contains(&c)).collect();
        if m.reverse {
            parts.reverse();
        }
        if let Some(n) = m.digits
            && parts.len() > n
        {
            parts = parts.split_off(parts.len() - n);
        }
        let joined = parts.join(".");
        Ok(if m.letter.is_ascii_uppercase() {
            url_escape(&joined)
        } else {
            joined
        })
    })
}

/// Section 7.3: an expanded domain longer than 253 characters loses labels on the left.
pub fn truncate_domain(d: &str) -> String {
    let mut s = d.trim_end_matches('.');
    while s.len() > 253 {
        match s.find('.') {
            Some(i) => s = &s[i + 1..],
            None => break,
        }
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> MacroContext {
        MacroContext {
            sender: "strong-bad@email.example.com".into(),
            domain: "email.example.com".into(),
            ip: "192.0.2.3".parse().unwrap(),
            helo: "mx.example.org".into(),
            validated: None,
            receiver: "mx.example.net".into(),
            timestamp: 0,
        }
    }

    #[test]
    fn rfc7208_7_4_examples() {
        let c = ctx();
        assert_eq!(expand("%{s}", &c, false).unwrap(), "strong-bad@email.example.com");
        assert_eq!(expand("%{o}", &c, false).unwrap(), "email.example.com");
        assert_eq!(expand("%{d4}", &c, false).unwrap(), "email.example.com");
        assert_eq!(expand("%{d3}", &c, false).unwrap(), "email.example.com");
        assert_eq!(expand("%{d2}", &c, false).unwrap(), "example.com");
        assert_eq!(expand("%{d1}", &c, false).unwrap(), "com");
        assert_eq!(expand("%{dr}", &c, false).unwrap(), "com.example.email");
        assert_eq!(expand("%{d2r}", &c, false).unwrap(), "example.email");
        assert_eq!(expand("%{l}", &c, false).unwrap(), "strong-bad");
        assert_eq!(expand("%{l-}", &c, false).unwrap(), "strong.bad");
        assert_eq!(expand("%{lr}", &c, false).unwrap(), "strong-bad");
        assert_eq!(expand("%{lr-}", &c, false).unwrap(), "bad.strong");
        assert_eq!(expand("%{l1r-}", &c, false).unwrap(), "strong");
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", &c, false).unwrap(),
            "3.2.0.192.in-addr._spf.example.com"
        );
        let mut c6 = ctx();
        c6.ip = "2001:db8::cb01".parse().unwrap();
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", &c6, false).unwrap(),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn rfc7208_7_1_invalid_macros() {
        assert!(validate_macro_string("%{x}", false).is_err());
        assert!(validate_macro_string("%{c}", false).is_err());
        assert!(validate_macro_string("%{c}", true).is_ok());
        assert!(validate_macro_string("%{d0}", false).is_err());
        assert!(validate_macro_string("%{d", false).is_err());
        assert!(validate_macro_string("100%", false).is_err());
        assert!(validate_macro_string("%a", false).is_err());
        assert_eq!(expand("%%%_%-", &ctx(), false).unwrap(), "% %20");
    }
}
