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

/// What stands in a diff for a secret's place: whether it changed, never what it holds.
pub const MASK_UNCHANGED: &str = "(masked: unchanged)";
pub const MASK_OLD: &str = "(masked: changed, old)";
pub const MASK_NEW: &str = "(masked: changed, new)";

/// Masks, in two versions of one object about to be compared, every string that holds a
/// known secret in either version, and the same place in the other version: a value a chart
/// copies from a secret into a ConfigMap or an env literal then shows as changed or
/// unchanged, never as itself — also when only one version's value is known (the old
/// value of a rotated secret). List items with a `name` are paired by name, others by index.
pub fn mask_secret_places(old: &mut serde_json::Value, new: &mut serde_json::Value, r: &Redactor) {
    use serde_json::Value;
    if r.is_empty() {
        return;
    }
    let holds = |v: &Value| matches!(v, Value::String(s) if r.redact(s).as_ref() != s.as_str());
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (k, nv) in n.iter_mut() {
                match o.get_mut(k) {
                    Some(ov) => mask_secret_places(ov, nv, r),
                    None if holds(nv) => *nv = Value::String(MASK_NEW.into()),
                    None => {}
                }
            }
            for (k, ov) in o.iter_mut() {
                if !n.contains_key(k) && holds(ov) {
                    *ov = Value::String(MASK_OLD.into());
                }
            }
        }
        (Value::Array(o), Value::Array(n)) => {
            let name = |v: &Value| v.get("name").and_then(Value::as_str).map(str::to_string);
            let by_name =
                n.iter().all(|v| name(v).is_some()) && o.iter().all(|v| name(v).is_some());
            for (i, nv) in n.iter_mut().enumerate() {
                let partner = if by_name {
                    let want = name(nv);
                    o.iter_mut().find(|ov| name(ov) == want)
                } else {
                    o.get_mut(i)
                };
                match partner {
                    Some(ov) => mask_secret_places(ov, nv, r),
                    None => mask_secret_places(&mut Value::Null, nv, r),
                }
            }
        }
        (ov, nv) => {
            if holds(ov) || holds(nv) {
                if ov == nv {
                    *ov = Value::String(MASK_UNCHANGED.into());
                    *nv = Value::String(MASK_UNCHANGED.into());
                } else {
                    if !ov.is_null() {
                        *ov = Value::String(MASK_OLD.into());
                    }
                    if !nv.is_null() {
                        *nv = Value::String(MASK_NEW.into());
                    }
                }
            } else if ov.is_null() {
                // A new subtree with nothing to pair: mask what it holds.
                if let Value::Object(_) | Value::Array(_) = nv {
                    let mut empty = match nv {
                        Value::Object(_) => Value::Object(Default::default()),
                        _ => Value::Array(Vec::new()),
                    };
                    mask_secret_places(&mut empty, nv, r);
                }
            }
        }
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
    fn a_copied_secret_shows_changed_on_both_sides_even_when_the_old_value_is_unknown() {
        use serde_json::json;
        let r = Redactor::new(vec!["new-api-key".to_string()]);
        let mut old = json!({"data": {"API_KEY": "old-api-key", "HOST": "db"},
            "env": [{"name": "B", "value": "x"}, {"name": "KEY", "value": "old-api-key"}]});
        let mut new = json!({"data": {"API_KEY": "new-api-key", "HOST": "db"},
            "env": [{"name": "KEY", "value": "new-api-key"}, {"name": "B", "value": "x"}]});
        mask_secret_places(&mut old, &mut new, &r);
        assert_eq!(old["data"]["API_KEY"], MASK_OLD);
        assert_eq!(new["data"]["API_KEY"], MASK_NEW);
        assert_eq!(old["data"]["HOST"], "db");
        assert_eq!(old["env"][1]["value"], MASK_OLD);
        assert_eq!(new["env"][0]["value"], MASK_NEW);
        let mut same_old = json!({"k": "new-api-key"});
        let mut same_new = json!({"k": "new-api-key", "added": {"x": "new-api-key"}});
        mask_secret_places(&mut same_old, &mut same_new, &r);
        assert_eq!(same_old["k"], MASK_UNCHANGED);
        assert_eq!(same_new["added"]["x"], MASK_NEW);
    }

    #[test]
    fn leaves_text_without_secrets_untouched() {
        let r = Redactor::new(vec!["hunter2".to_string(), "ab".to_string()]);
        assert!(matches!(r.redact("abc"), Cow::Borrowed(_)));
    }
}
