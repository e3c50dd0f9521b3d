//! Keeping secrets off the screen and out of logs: a redactor that knows the secret values
//! in force (and their base64 forms, as they appear in Secret `data`) and blanks them in any
//! text before it is shown.

use base64::Engine as _;
use std::borrow::Cow;

pub const MASK: &str = "********";

/// Shortest secret that is redacted: blanking every one- or two-letter string would destroy
/// the output while protecting nothing.
const MIN_LEN: usize = 3;

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    needles: Vec<String>,
}

impl Redactor {
    pub fn new<I: IntoIterator<Item = String>>(secrets: I) -> Self {
        let mut needles: Vec<String> = Vec::new();
        for s in secrets {
            if s.len() < MIN_LEN {
                continue;
            }
            let b64 = base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
            needles.push(b64);
            needles.push(s);
        }
        // Longest first, so that a secret containing another is blanked whole.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
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
    fn leaves_text_without_secrets_untouched() {
        let r = Redactor::new(vec!["hunter2".to_string(), "ab".to_string()]);
        assert!(matches!(r.redact("abc"), Cow::Borrowed(_)));
    }
}
