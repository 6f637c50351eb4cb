//! `tag=value` lists as DKIM (RFC 6376 section 3.2) and DMARC (RFC 9989) records use them.

/// Splits a tag-list into (name, value) pairs, names lowercased, values trimmed. Errors name
/// the first malformed element. Duplicate tags are an error (RFC 6376 section 3.2).
pub fn parse_tag_list(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, part) in text.split(';').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!("element {} (`{part}`) is not tag=value", i + 1));
        };
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || !name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        {
            return Err(format!("`{name}` is not a valid tag name"));
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("tag `{name}` appears twice"));
        }
        // Folding white space inside values is removed (base64 keys are often split).
        out.push((name, value.split_whitespace().collect::<Vec<_>>().join(" ")));
    }
    Ok(out)
}

pub fn get<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}
