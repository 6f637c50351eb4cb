//! The scan list: one domain a line, with optional columns, read as a stream.
//!
//! ```text
//! # comments and blank lines are skipped
//! example.com
//! shop.example  ips=203.0.113.45,2001:db8::25  selectors=s1,google  submission=mail.shop.example:587
//! bücher.example                 # Unicode: scanned as its A-label form
//! ```

use mxdoctor_engine::domain::DomainRequest;
use mxdoctor_input::{CheckInput, InputError};

/// A line of the list, read.
#[derive(Debug)]
pub enum Line {
    /// Nothing to scan (blank, comment).
    Skip,
    Domain(Box<DomainRequest>),
    /// Not scannable; the scan goes on.
    Invalid(String),
}

/// Longest line read (a domain and its columns); a longer one is invalid.
pub const MAX_LINE: usize = 4096;

/// Reads one line of the list.
pub fn parse_line(raw: &str) -> Line {
    let text = raw.split('#').next().unwrap_or("").trim();
    if text.is_empty() {
        return Line::Skip;
    }
    if raw.len() > MAX_LINE {
        return Line::Invalid(format!("longer than {MAX_LINE} bytes"));
    }
    let mut fields = text.split_whitespace();
    let mut input = CheckInput {
        domain: fields.next().unwrap_or("").to_string(),
        ..Default::default()
    };
    for f in fields {
        let Some((key, value)) = f.split_once('=') else {
            return Line::Invalid(format!("`{f}`: expected ips=, selectors= or submission="));
        };
        let list = || value.split(',').filter(|v| !v.is_empty()).map(str::to_string).collect();
        match key {
            "ips" => input.ips = list(),
            "selectors" => input.selectors = list(),
            "submission" => input.submission = Some(value.to_string()),
            other => return Line::Invalid(format!("`{other}=`: expected ips=, selectors= or submission=")),
        }
    }
    match input.request() {
        Ok(mut req) => {
            // A scan checks the submission server only when the line names it: guessing and
            // dialling one per domain would multiply the connections of a nightly run.
            req.check_submission = req.submission.is_some();
            Line::Domain(Box::new(req))
        }
        Err(e) => Line::Invalid(message(&e)),
    }
}

/// Scan errors are written for the operator, in English.
fn message(e: &InputError) -> String {
    e.message(mxdoctor_explain::Lang::En)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_with_columns_comments_and_unicode() {
        assert!(matches!(parse_line("   "), Line::Skip));
        assert!(matches!(parse_line("# a comment"), Line::Skip));
        let Line::Domain(r) =
            parse_line("Shop.Example ips=203.0.113.45 selectors=s1,s2 submission=mail.shop.example:465 # x")
        else {
            panic!("not a domain")
        };
        assert_eq!(r.domain, "shop.example");
        assert_eq!(r.ips.len(), 1);
        assert_eq!(r.selectors, ["s1", "s2"]);
        assert_eq!(
            r.submission.as_ref().map(|(h, p)| (h.as_str().to_string(), *p)),
            Some(("mail.shop.example".into(), 465))
        );
        assert!(r.check_submission);
        let Line::Domain(r) = parse_line("bücher.example") else {
            panic!()
        };
        assert_eq!(r.domain, "xn--bcher-kva.example");
        assert!(!r.check_submission);
    }

    #[test]
    fn invalid_lines_say_why() {
        for bad in [
            "-bad-.example",
            "a.example ips=not-an-ip",
            "a.example colour=blue",
            "a.example junk",
        ] {
            assert!(matches!(parse_line(bad), Line::Invalid(_)), "{bad}");
        }
    }
}
