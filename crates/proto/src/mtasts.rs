//! MTA-STS (RFC 8461): the `_mta-sts` TXT record (section 3.1) and the policy file served at
//! `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` (section 3.2), and which MX names a policy
//! covers (section 4.1). Pure: fetching is the engine's job.
//!
//! ```text
//! sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//! sts-version     = %s"v=STSv1"
//! sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//! sts-field-delim = *WSP ";" *WSP
//!
//! sts-policy-record = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP) [sts-policy-term]
//! sts-policy-term   = LF / CRLF
//! version: STSv1 / mode: enforce|testing|none / max_age: 0..31557600 / mx: pattern (repeatable)
//! ```

/// Largest policy body a sender need read (section 3.3 suggests senders limit it; 64 KiB is
/// what common implementations allow).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// Section 3.2: max_age is at most 31557600 seconds (about one year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// A valid `_mta-sts` TXT record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsRecord {
    pub id: String,
    pub extensions: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A valid policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    pub max_age: u64,
    /// `mx:` patterns, lower case: a name or `*.` and a name.
    pub mx: Vec<String>,
}

/// Whether a TXT string is an MTA-STS record (section 3.1: others are ignored).
pub fn is_sts(txt: &str) -> bool {
    txt.strip_prefix("v=STSv1")
        .is_some_and(|rest| rest.is_empty() || rest.trim_start_matches([' ', '\t']).starts_with(';'))
}

/// Parses a TXT record that [`is_sts`] accepted.
pub fn parse_record(txt: &str) -> Result<StsRecord, String> {
    let rest = txt
        .strip_prefix("v=STSv1")
        .ok_or("the record must start with v=STSv1")?;
    let mut id = None;
    let mut extensions = Vec::new();
    for field in rest
        .split(';')
        .map(|f| f.trim_matches([' ', '\t']))
        .filter(|f| !f.is_empty())
    {
        let (name, value) = field
            .split_once('=')
            .ok_or_else(|| format!("`{field}` is not name=value"))?;
        match name {
            "id" => {
                if id.is_some() {
                    return Err("id= appears twice".into());
                }
                if value.is_empty() || value.len() > 32 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(format!("id=`{value}` must be 1 to 32 letters and digits"));
                }
                id = Some(value.to_string());
            }
            "v" => return Err("v= appears twice".into()),
            _ => extensions.push((name.to_string(), value.to_string())),
        }
    }
    Ok(StsRecord {
        id: id.ok_or("id= is required")?,
        extensions,
    })
}

/// Parses a policy body (section 3.2). Unknown keys are ignored, as senders do.
pub fn parse_policy(body: &str) -> Result<Policy, String> {
    let mut version = None;
    let mut mode = None;
    let mut max_age = None;
    let mut mx = Vec::new();
    for (n, line) in body.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line).trim_end_matches([' ', '\t']);
        if line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("line {}: `{line}` is not key: value", n + 1))?;
        let value = value.trim_matches([' ', '\t']);
        let once = |seen: bool| match seen {
            true => Err(format!("line {}: `{key}` appears twice", n + 1)),
            false => Ok(()),
        };
        match key {
            "version" => {
                once(version.is_some())?;
                version = Some(value.to_string());
            }
            "mode" => {
                once(mode.is_some())?;
                mode = Some(match value {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    other => {
                        return Err(format!(
                            "line {}: mode `{other}` is not enforce, testing or none",
                            n + 1
                        ));
                    }
                });
            }
            "max_age" => {
                once(max_age.is_some())?;
                let v = (value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| value.parse::<u64>().ok())
                    .flatten()
                    .filter(|v| *v <= MAX_AGE_LIMIT)
                    .ok_or_else(|| format!("line {}: max_age `{value}` is not 0 to {MAX_AGE_LIMIT}", n + 1))?;
                max_age = Some(v);
            }
            "mx" => mx.push(check_pattern(value).map_err(|e| format!("line {}: {e}", n + 1))?),
            _ => {}
        }
    }
    if version.as_deref() != Some("STSv1") {
        return Err("version: STSv1 is required".into());
    }
    let mode = mode.ok_or("mode: is required")?;
    let max_age = max_age.ok_or("max_age: is required")?;
    if mx.is_empty() && mode != Mode::None {
        return Err("at least one mx: is required unless mode is none".into());
    }
    Ok(Policy { mode, max_age, mx })
}

fn check_pattern(value: &str) -> Result<String, String> {
    let p = value.trim_end_matches('.').to_ascii_lowercase();
    let name = p.strip_prefix("*.").unwrap_or(&p);
    let ok = !name.is_empty()
        && name.split('.').count() >= 2
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(p)
    } else {
        Err(format!("mx `{value}` is not a host name or *. pattern"))
    }
}

/// Section 4.1: whether an MX host name is covered by a pattern; `*.example.com` covers one
/// label to the left only (`mail.example.com`, not `example.com` nor `a.b.example.com`).
pub fn covers(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(base) => host
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == base),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_3_1_record() {
        assert!(is_sts("v=STSv1; id=20160831085700Z;"));
        assert!(!is_sts("v=STSv10; id=1"));
        assert_eq!(
            parse_record("v=STSv1; id=20160831085700Z;").unwrap().id,
            "20160831085700Z"
        );
        assert!(parse_record("v=STSv1;").unwrap_err().contains("id= is required"));
        assert!(
            parse_record("v=STSv1; id=2016-08-31")
                .unwrap_err()
                .contains("letters and digits")
        );
        assert!(parse_record(&format!("v=STSv1; id={}", "a".repeat(33))).is_err());
    }

    #[test]
    fn section_3_2_policy() {
        let body = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";
        let p = parse_policy(body).unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604_800);
        assert_eq!(p.mx, vec!["mail.example.com", "*.example.net", "backupmx.example.com"]);
        let e = |b: &str| parse_policy(b).unwrap_err();
        assert!(e("mode: enforce\nmx: a.example\nmax_age: 1").contains("version"));
        assert!(e("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1").contains("not enforce"));
        assert!(e("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601").contains("max_age"));
        assert!(e("version: STSv1\nmode: enforce\nmax_age: 86400").contains("at least one mx"));
        assert!(parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n").is_ok());
    }

    #[test]
    fn section_4_1_wildcards_cover_one_label() {
        assert!(covers("*.example.net", "mx1.example.net."));
        assert!(!covers("*.example.net", "example.net"));
        assert!(!covers("*.example.net", "a.mx1.example.net"));
        assert!(covers("mail.example.com", "MAIL.example.com"));
        assert!(!covers("mail.example.com", "mail2.example.com"));
    }
}
