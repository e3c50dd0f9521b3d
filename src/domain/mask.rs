//! Keeping secrets off the screen and out of logs: a redactor that knows the secret values
//! in force and blanks them in any text before it is shown, stored or logged. It is the one
//! mechanism every output goes through, so it hunts each value in every form it is likely to
//! take on the way: raw, base64 (as in Secret `data`, also inside a longer encoded blob, at
//! each of the three byte alignments), URL-encoded, JSON-escaped, and line by line for a
//! value of several lines (a YAML block scalar indents each line).

use base64::Engine as _;
use std::borrow::Cow;

pub const MASK: &str = "********";

/// Shortest secret that is redacted: blanking every one- or two-letter string would destroy
/// the output while protecting nothing.
const MIN_LEN: usize = 3;

/// Shortest piece of a longer base64 blob (or one line of a multi-line value) that is
/// hunted: shorter pieces would blank innocent text.
const MIN_PIECE: usize = 6;

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    needles: Vec<String>,
}

/// The forms `s` takes in output, besides itself.
fn forms(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    for engine in [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE,
    ] {
        out.push(engine.encode(b));
    }
    // Inside a longer base64 blob the value's encoding depends on its offset modulo 3: the
    // characters that come from its bytes alone are the same at every such offset.
    for offset in 0..3usize {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(b);
        let enc = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&padded);
        let first = (offset * 8).div_ceil(6);
        let end = (8 * (offset + b.len())) / 6;
        if let Some(piece) = enc.get(first..end) {
            if piece.len() >= MIN_PIECE {
                out.push(piece.to_string());
            }
        }
    }
    out.push(urlencoding::encode(s).into_owned());
    out.push(urlencoding::encode(s).replace("%20", "+"));
    if let Ok(json) = serde_json::to_string(s) {
        out.push(json[1..json.len() - 1].to_string());
    }
    if s.contains('\n') {
        out.extend(
            s.lines()
                .map(str::trim)
                .filter(|l| l.len() >= MIN_PIECE)
                .map(str::to_string),
        );
    }
    out
}

impl Redactor {
    pub fn new<I: IntoIterator<Item = String>>(secrets: I) -> Self {
        let mut needles: Vec<String> = Vec::new();
        for s in secrets {
            if s.len() < MIN_LEN {
                continue;
            }
            needles.extend(forms(&s));
            needles.push(s);
        }
        needles.retain(|n| n.len() >= MIN_LEN);
        // Longest first, so that a secret containing another is blanked whole.
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        Redactor { needles }
    }

    /// This redactor and `other`'s secrets together.
    pub fn merged(&self, other: &Redactor) -> Redactor {
        let mut needles: Vec<String> = self.needles.iter().chain(&other.needles).cloned().collect();
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        Redactor { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.needles.iter().any(|n| text.contains(n.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), MASK);
            }
        }
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_raw_and_base64_forms() {
        let r = Redactor::new(vec!["hunter2".to_string()]);
        let text = "password: hunter2\ndata: aHVudGVyMg==\n";
        let out = r.redact(text);
        assert!(
            !out.contains("hunter2") && !out.contains("aHVudGVyMg=="),
            "{out}"
        );
        assert_eq!(out.matches(MASK).count(), 2);
    }

    #[test]
    fn blanks_url_encoded_json_escaped_and_embedded_base64_forms() {
        use base64::Engine as _;
        let secret = "p@ss word/\"quoted\"+1";
        let r = Redactor::new(vec![secret.to_string()]);
        let url = urlencoding::encode(secret).into_owned();
        let json = serde_json::to_string(secret).expect("json");
        for prefix in ["", "a", "ab"] {
            let blob = base64::engine::general_purpose::STANDARD
                .encode(format!("{prefix}user=admin\npassword={secret}\n"));
            let out = r.redact(&blob);
            assert!(out.contains(MASK), "alignment {prefix:?}: {blob} -> {out}");
        }
        let text = format!("url: https://x/?p={url}\njson: {json}\n");
        let out = r.redact(&text);
        assert!(
            !out.contains(&url) && !out.contains(&json[1..json.len() - 1]),
            "{out}"
        );
    }

    #[test]
    fn blanks_each_line_of_a_multi_line_value() {
        let key = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----";
        let r = Redactor::new(vec![key.to_string()]);
        let yaml = "tls:\n  key: |\n    -----BEGIN KEY-----\n    MIIBOgIBAAJBAKj34GkxFhD9\n";
        assert!(!r.redact(yaml).contains("MIIBOgIBAAJBAKj34GkxFhD9"));
    }

    #[test]
    fn leaves_text_without_secrets_untouched() {
        let r = Redactor::new(vec!["hunter2".to_string(), "ab".to_string()]);
        assert!(matches!(r.redact("abc"), Cow::Borrowed(_)));
    }
}
