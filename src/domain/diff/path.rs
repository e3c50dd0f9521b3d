//! Field paths (JSON pointers with `*`) to leave out of a comparison, and comparison of
//! JSON values that skips them without copying.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde_json::Value;

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// An object member, or an array index when the text is a number.
    Key(String),
    /// `*`: any object member or any array element.
    Any,
}

impl Segment {
    fn matches_key(&self, key: &str) -> bool {
        match self {
            Segment::Any => true,
            Segment::Key(k) => k == key,
        }
    }

    fn matches_index(&self, index: usize) -> bool {
        match self {
            Segment::Any => true,
            Segment::Key(k) => k.parse::<usize>().ok() == Some(index),
        }
    }
}

/// A path to a field to ignore, written as a JSON pointer (RFC 6901):
/// `/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration`
/// (`~1` is `/`, `~0` is `~`). A segment `*` matches any member or array
/// element: `/spec/template/spec/containers/*/image`.
///
/// A path removes object members only: a path whose last step lands on an
/// array element removes nothing. When removing a field empties the object
/// holding it (say `metadata.annotations`), that object is removed too, so a
/// live object whose only annotation was stripped equals a rendered one with
/// no annotations.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    segments: Vec<Segment>,
}

/// Why a [`FieldPath`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldPathError {
    #[error("field path is empty: it would ignore the whole object")]
    Empty,
    #[error("field path {0:?} must be a JSON pointer starting with '/', e.g. /metadata/uid")]
    NotAPointer(String),
    #[error("field path {0:?} has an invalid escape: only ~0 (~) and ~1 (/) are allowed")]
    InvalidEscape(String),
}

impl FieldPath {
    /// Parses a JSON pointer such as `/metadata/managedFields`.
    pub fn parse(pointer: &str) -> Result<Self, FieldPathError> {
        if pointer.is_empty() {
            return Err(FieldPathError::Empty);
        }
        let Some(rest) = pointer.strip_prefix('/') else {
            return Err(FieldPathError::NotAPointer(pointer.to_string()));
        };
        let mut segments = Vec::new();
        for token in rest.split('/') {
            if token == "*" {
                segments.push(Segment::Any);
                continue;
            }
            let mut key = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    key.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => key.push('~'),
                    Some('1') => key.push('/'),
                    _ => return Err(FieldPathError::InvalidEscape(pointer.to_string())),
                }
            }
            segments.push(Segment::Key(key));
        }
        Ok(FieldPath { segments })
    }

    /// Builds a path from literal member names (no escapes, no wildcard).
    pub fn from_keys<I, S>(keys: I) -> Result<Self, FieldPathError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let segments: Vec<Segment> = keys.into_iter().map(|k| Segment::Key(k.into())).collect();
        if segments.is_empty() {
            return Err(FieldPathError::Empty);
        }
        Ok(FieldPath { segments })
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

impl FromStr for FieldPath {
    type Err = FieldPathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldPath::parse(s)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for seg in &self.segments {
            f.write_char('/')?;
            match seg {
                Segment::Any => f.write_char('*')?,
                Segment::Key(k) => f.write_str(&crate::domain::yaml::escape_segment(k))?,
            }
        }
        Ok(())
    }
}

/// The annotation `kubectl apply` stores the whole applied object in.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Fields the API server sets, as JSON pointers: the default list used by
/// [`strip_server_fields`] and [`DiffOptions::ignoring_server_fields`].
pub const SERVER_FIELDS: &[&str] = &[
    "/status",
    "/metadata/managedFields",
    "/metadata/resourceVersion",
    "/metadata/uid",
    "/metadata/generation",
    "/metadata/creationTimestamp",
    "/metadata/selfLink",
    "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
    "/metadata/annotations/deployment.kubernetes.io~1revision",
];

/// [`SERVER_FIELDS`] parsed.
pub fn server_field_paths() -> Vec<FieldPath> {
    SERVER_FIELDS
        .iter()
        .filter_map(|p| FieldPath::parse(p).ok())
        .collect()
}

/// Removes the [`SERVER_FIELDS`] from `body` (and objects they leave empty).
pub fn strip_server_fields(body: &mut Value) {
    strip_fields(body, &server_field_paths());
}

/// Removes the fields named by `paths` from `body` (and objects they leave
/// empty). The root itself is never removed.
pub fn strip_fields(body: &mut Value, paths: &[FieldPath]) {
    let active = active_paths(paths);
    strip_in(body, &active);
}

type Active<'p> = Vec<&'p [Segment]>;

pub(super) fn active_paths(paths: &[FieldPath]) -> Active<'_> {
    paths
        .iter()
        .map(|p| p.segments.as_slice())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Is member `key` named by a path that ends here?
fn directly_ignored(active: &[&[Segment]], key: &str) -> bool {
    active.iter().any(|p| p.len() == 1 && p[0].matches_key(key))
}

/// The rest of every path that goes on below member `key`.
fn descend_key<'p>(active: &[&'p [Segment]], key: &str) -> Active<'p> {
    active
        .iter()
        .filter(|p| p.len() > 1 && p[0].matches_key(key))
        .map(|p| &p[1..])
        .collect()
}

/// The rest of every path that goes on below array element `index`.
fn descend_index<'p>(active: &[&'p [Segment]], index: usize) -> Active<'p> {
    active
        .iter()
        .filter(|p| p.len() > 1 && p[0].matches_index(index))
        .map(|p| &p[1..])
        .collect()
}

/// Removes what `active` names; returns whether anything was removed.
fn strip_in(v: &mut Value, active: &[&[Segment]]) -> bool {
    if active.is_empty() {
        return false;
    }
    match v {
        Value::Object(map) => {
            let keys: Vec<String> = map
                .keys()
                .filter(|k| active.iter().any(|p| p[0].matches_key(k)))
                .cloned()
                .collect();
            let mut removed = false;
            for k in keys {
                if directly_ignored(active, &k) {
                    map.shift_remove(&k);
                    removed = true;
                    continue;
                }
                let sub = descend_key(active, &k);
                if let Some(child) = map.get_mut(&k) {
                    if strip_in(child, &sub) {
                        removed = true;
                        if matches!(child, Value::Object(m) if m.is_empty()) {
                            map.shift_remove(&k);
                        }
                    }
                }
            }
            removed
        }
        Value::Array(items) => {
            let mut removed = false;
            for (i, item) in items.iter_mut().enumerate() {
                let sub = descend_index(active, i);
                if !sub.is_empty() && strip_in(item, &sub) {
                    removed = true;
                }
            }
            removed
        }
        _ => false,
    }
}

/// Would [`strip_in`] empty this (non-empty) object and so remove it?
fn prunes_to_empty(v: &Value, active: &[&[Segment]]) -> bool {
    match v {
        Value::Object(m) if !m.is_empty() => m.iter().all(|(k, child)| {
            if directly_ignored(active, k) {
                return true;
            }
            let sub = descend_key(active, k);
            !sub.is_empty() && prunes_to_empty(child, &sub)
        }),
        _ => false,
    }
}

/// `a == b` (member order not significant), walking members in order while
/// both objects list them in the same order, which avoids hashing every key.
fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            if ma.len() != mb.len() {
                return false;
            }
            for ((ka, va), (kb, vb)) in ma.iter().zip(mb) {
                if ka != kb {
                    // Different order: compare by lookup instead.
                    return ma
                        .iter()
                        .all(|(k, va)| mb.get(k).is_some_and(|vb| value_eq(va, vb)));
                }
                if !value_eq(va, vb) {
                    return false;
                }
            }
            true
        }
        (Value::Array(xa), Value::Array(xb)) => {
            xa.len() == xb.len() && xa.iter().zip(xb).all(|(x, y)| value_eq(x, y))
        }
        _ => a == b,
    }
}

/// `a == b` after stripping `active` from both, without copying either.
/// Object member order is not significant (as for `Value`'s `==`).
pub(super) fn eq_ignoring(a: &Value, b: &Value, active: &[&[Segment]]) -> bool {
    if active.is_empty() {
        return value_eq(a, b);
    }
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            for (k, va) in ma {
                if directly_ignored(active, k) {
                    continue;
                }
                let sub = descend_key(active, k);
                let gone_a = !sub.is_empty() && prunes_to_empty(va, &sub);
                match mb.get(k) {
                    None => {
                        if !gone_a {
                            return false;
                        }
                    }
                    Some(vb) => {
                        let gone_b = !sub.is_empty() && prunes_to_empty(vb, &sub);
                        if gone_a != gone_b || (!gone_a && !eq_ignoring(va, vb, &sub)) {
                            return false;
                        }
                    }
                }
            }
            mb.iter().all(|(k, vb)| {
                if ma.contains_key(k) || directly_ignored(active, k) {
                    return true;
                }
                let sub = descend_key(active, k);
                !sub.is_empty() && prunes_to_empty(vb, &sub)
            })
        }
        (Value::Array(xa), Value::Array(xb)) => {
            xa.len() == xb.len()
                && xa
                    .iter()
                    .zip(xb)
                    .enumerate()
                    .all(|(i, (x, y))| eq_ignoring(x, y, &descend_index(active, i)))
        }
        _ => value_eq(a, b),
    }
}

/// The parts of `live` that `desired` speaks of: maps keep only the keys `desired` has,
/// lists are projected item by item. Defaults the API server filled in (and fields other
/// managers own) then never show as changes.
pub fn project_onto(live: &Value, desired: &Value) -> Value {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => Value::Object(
            d.keys()
                .filter_map(|k| l.get(k).map(|lv| (k.clone(), project_onto(lv, &d[k]))))
                .collect(),
        ),
        (Value::Array(l), Value::Array(d)) if l.len() == d.len() => Value::Array(
            l.iter()
                .zip(d)
                .map(|(lv, dv)| project_onto(lv, dv))
                .collect(),
        ),
        _ => live.clone(),
    }
}
