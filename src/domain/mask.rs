//! Keeping secrets off the screen, out of logs, errors and output: the one masker of the
//! crate. Two halves: a [`Redactor`] that knows the secret values in force (and their
//! base64 forms, as they appear in Secret `data`) and blanks them in any text — logs,
//! errors, warnings, rendered YAML —, and the Secret masker that replaces every value of a
//! core Secret (and of Secrets in a List's `items`) before an object is shown or diffed.
//!
//! Comparison of Secret values uses their decoded bytes: a `data` value is base64-decoded
//! (kept as the raw string when it is not valid base64), a `stringData` value is taken as
//! its UTF-8 bytes, and `stringData` wins over `data` for the same key, as the API server
//! does.

use crate::domain::diff::{Side, LAST_APPLIED_ANNOTATION};
use crate::domain::manifest::Object;
use base64::Engine as _;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

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

/// Marker for a masked value shown on its own ([`mask_secret`]).
pub const MASKED: &str = "(masked)";
/// Marker for a masked value equal on both sides.
pub const MASKED_UNCHANGED: &str = "(masked: unchanged)";
/// Marker for the old side of a masked value that changed.
pub const MASKED_CHANGED_OLD: &str = "(masked: changed, old)";
/// Marker for the new side of a masked value that changed.
pub const MASKED_CHANGED_NEW: &str = "(masked: changed, new)";
/// Marker for a masked value only on the new side.
pub const MASKED_ADDED: &str = "(masked: added)";
/// Marker for a masked value only on the old side.
pub const MASKED_REMOVED: &str = "(masked: removed)";

/// Returns a copy of `obj` fit to print: if it is a core Secret (or holds
/// Secrets in `items`), every value under `data` / `stringData` and the
/// last-applied annotation become [`MASKED`]. Other objects are returned as
/// they are.
pub fn mask_secret(obj: &Object) -> Object {
    let mut out = obj.clone();
    mask_pair_with(None, Some(&mut out.body), is_secret(obj), Some(MASKED));
    out
}

/// A copy of an object's body fit to show on screen or print: a core Secret's values (and
/// those of Secrets in a List's `items`) and its last-applied annotation become [`MASK`].
/// Render, the console's preview and the diff all mask through here.
pub fn masked(obj: &Object) -> Value {
    let mut body = obj.body.clone();
    mask_pair_with(None, Some(&mut body), is_secret(obj), Some(MASK));
    body
}

/// Whether an object is a core Secret (`v1`, kind `Secret`).
pub fn is_secret(obj: &Object) -> bool {
    (obj.kind == "Secret" && !obj.api_version.contains('/')) || body_is_core_secret(&obj.body)
}

fn body_is_core_secret(v: &Value) -> bool {
    v.get("kind").and_then(Value::as_str) == Some("Secret")
        && !v
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|a| a.contains('/'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counterpart {
    NoObject,
    Missing,
    Same,
    Different,
}

fn marker(single: Option<&'static str>, side: Side, c: Counterpart) -> &'static str {
    if let Some(m) = single {
        return m;
    }
    match (side, c) {
        (_, Counterpart::Same) => MASKED_UNCHANGED,
        (Side::Old, Counterpart::Different) => MASKED_CHANGED_OLD,
        (Side::New, Counterpart::Different) => MASKED_CHANGED_NEW,
        (Side::Old, _) => MASKED_REMOVED,
        (Side::New, _) => MASKED_ADDED,
    }
}

fn counterpart<T: PartialEq>(mine: Option<&T>, other: Option<Option<&T>>) -> Counterpart {
    match other {
        None => Counterpart::NoObject,
        Some(None) => Counterpart::Missing,
        Some(Some(o)) if Some(o) == mine => Counterpart::Same,
        Some(Some(_)) => Counterpart::Different,
    }
}

/// A Secret value reduced to what it means.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SecretValue {
    Bytes(Vec<u8>),
    Raw(Value),
}

/// The effective contents of a Secret's `data` and `stringData`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SecretData {
    values: BTreeMap<String, SecretValue>,
    /// `data` / `stringData` when present but not an object (nor null).
    opaque: [Option<Value>; 2],
}

pub(crate) const SECRET_FIELDS: [&str; 2] = ["data", "stringData"];

impl SecretData {
    pub(crate) fn of(body: &Value) -> SecretData {
        let mut d = SecretData::default();
        for (i, field) in SECRET_FIELDS.iter().enumerate() {
            match body.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::Object(m)) => {
                    for (k, v) in m {
                        let sv = match (i, v) {
                            (0, Value::String(s)) => match decode_base64(s) {
                                Some(bytes) => SecretValue::Bytes(bytes),
                                None => SecretValue::Raw(v.clone()),
                            },
                            (_, Value::String(s)) => SecretValue::Bytes(s.as_bytes().to_vec()),
                            _ => SecretValue::Raw(v.clone()),
                        };
                        d.values.insert(k.clone(), sv);
                    }
                }
                Some(other) => d.opaque[i] = Some(other.clone()),
            }
        }
        d
    }
}

fn last_applied(body: &Value) -> Option<&Value> {
    body.get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED_ANNOTATION)
}

/// Masks whatever must not be shown in `old` and `new`, two versions of the same object
/// (either may be absent), each value marked by how it compares with the other side.
/// `secret` forces Secret treatment.
pub fn mask_pair(old: Option<&mut Value>, new: Option<&mut Value>, secret: bool) {
    mask_pair_with(old, new, secret, None);
}

/// [`mask_pair`] with one marker for every value (`single`) instead of comparisons.
fn mask_pair_with(
    old: Option<&mut Value>,
    new: Option<&mut Value>,
    secret: bool,
    single: Option<&'static str>,
) {
    let secret = secret
        || old.as_deref().is_some_and(body_is_core_secret)
        || new.as_deref().is_some_and(body_is_core_secret);
    if secret {
        mask_secret_pair(old, new, single);
        return;
    }
    let old_items = old
        .and_then(|v| v.get_mut("items"))
        .and_then(Value::as_array_mut);
    let new_items = new
        .and_then(|v| v.get_mut("items"))
        .and_then(Value::as_array_mut);
    if old_items.is_some() || new_items.is_some() {
        mask_list_items(old_items, new_items, single);
    }
}

fn item_id(v: &Value) -> (String, String, String) {
    let s = |x: Option<&Value>| x.and_then(Value::as_str).unwrap_or_default().to_string();
    let meta = v.get("metadata");
    (
        s(v.get("kind")),
        s(meta.and_then(|m| m.get("namespace"))),
        s(meta.and_then(|m| m.get("name"))),
    )
}

/// Masks Secrets among list items, pairing old and new items by kind,
/// namespace and name.
fn mask_list_items(
    mut old: Option<&mut Vec<Value>>,
    new: Option<&mut Vec<Value>>,
    single: Option<&'static str>,
) {
    let mut index: HashMap<(String, String, String), usize> = HashMap::new();
    let old_len = old.as_deref().map_or(0, Vec::len);
    if let Some(items) = old.as_deref() {
        for (i, item) in items.iter().enumerate() {
            index.entry(item_id(item)).or_insert(i);
        }
    }
    let mut matched = vec![false; old_len];
    if let Some(items) = new {
        for item in items.iter_mut() {
            let j = index
                .get(&item_id(item))
                .copied()
                .filter(|&j| !matched.get(j).copied().unwrap_or(true));
            let old_item = match j {
                Some(j) => {
                    if let Some(m) = matched.get_mut(j) {
                        *m = true;
                    }
                    old.as_deref_mut().and_then(|o| o.get_mut(j))
                }
                None => None,
            };
            mask_pair_with(old_item, Some(item), false, single);
        }
    }
    if let Some(items) = old {
        for (j, item) in items.iter_mut().enumerate() {
            if !matched.get(j).copied().unwrap_or(false) {
                mask_pair_with(Some(item), None, false, single);
            }
        }
    }
}

fn mask_secret_pair(
    old: Option<&mut Value>,
    new: Option<&mut Value>,
    single: Option<&'static str>,
) {
    let old_data = old.as_deref().map(SecretData::of);
    let new_data = new.as_deref().map(SecretData::of);
    let old_la = old.as_deref().map(|v| last_applied(v).cloned());
    let new_la = new.as_deref().map(|v| last_applied(v).cloned());
    if let (Some(body), Some(own)) = (old, old_data.as_ref()) {
        let other_la = new_la.as_ref().map(Option::as_ref);
        mask_secret_side(body, Side::Old, own, new_data.as_ref(), other_la, single);
    }
    if let (Some(body), Some(own)) = (new, new_data.as_ref()) {
        let other_la = old_la.as_ref().map(Option::as_ref);
        mask_secret_side(body, Side::New, own, old_data.as_ref(), other_la, single);
    }
}

fn mask_secret_side(
    body: &mut Value,
    side: Side,
    own: &SecretData,
    other: Option<&SecretData>,
    other_last_applied: Option<Option<&Value>>,
    single: Option<&'static str>,
) {
    let Some(map) = body.as_object_mut() else {
        if !body.is_null() {
            *body = Value::String(MASKED.to_string());
        }
        return;
    };
    for (i, field) in SECRET_FIELDS.iter().enumerate() {
        let Some(fv) = map.get_mut(*field) else {
            continue;
        };
        match fv {
            Value::Null => {}
            Value::Object(entries) => {
                for (k, v) in entries.iter_mut() {
                    let c = counterpart(own.values.get(k), other.map(|o| o.values.get(k)));
                    *v = Value::String(marker(single, side, c).to_string());
                }
            }
            opaque => {
                let c = counterpart(own.opaque[i].as_ref(), other.map(|o| o.opaque[i].as_ref()));
                *opaque = Value::String(marker(single, side, c).to_string());
            }
        }
    }
    let annotation = map
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(|a| a.get_mut(LAST_APPLIED_ANNOTATION));
    if let Some(la) = annotation {
        let c = match other_last_applied {
            None => Counterpart::NoObject,
            Some(None) => Counterpart::Missing,
            Some(Some(o)) if o == la => Counterpart::Same,
            Some(Some(_)) => Counterpart::Different,
        };
        *la = Value::String(marker(single, side, c).to_string());
    }
}

/// Decodes standard or URL-safe base64, padded or not, ignoring ASCII
/// whitespace. `None` when `s` is not base64.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let mut padding = 0usize;
    for b in s.bytes() {
        if b.is_ascii_whitespace() {
            continue;
        }
        if b == b'=' {
            padding += 1;
            continue;
        }
        if padding > 0 {
            return None;
        }
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if padding > 2 || bits == 6 {
        return None;
    }
    Some(out)
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
