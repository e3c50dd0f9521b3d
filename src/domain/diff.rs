//! Diff between two sets of Kubernetes manifests.
//!
//! Objects are matched by [`ObjectKey`] (API group, kind, namespace, name), so
//! an `apiVersion` bump inside the same group is one changed object, never a
//! remove plus an add, and moving an object to another Helm template changes
//! nothing. Every entry is `Added`, `Removed`, `Changed` or `Unchanged`; the
//! first three carry a unified text diff (3 lines of context by default) of
//! the canonical text of each body, rendered by `crate::domain::yaml::to_string`.
//!
//! Comparison is done on the JSON values first, skipping the fields named in
//! [`DiffOptions::ignore_fields`] without copying anything, so unchanged
//! objects cost one walk over their values. Only objects that differ are
//! cloned, stripped, masked and rendered to text.
//!
//! # Secrets
//!
//! Values of core `Secret` objects never reach the output. Every value under
//! `data` and `stringData`, and the Secret's
//! `kubectl.kubernetes.io/last-applied-configuration` annotation, is replaced
//! by a marker that says only how it compares with the other side
//! ([`MASKED_UNCHANGED`], [`MASKED_CHANGED_OLD`] / [`MASKED_CHANGED_NEW`],
//! [`MASKED_ADDED`], [`MASKED_REMOVED`]). Secrets inside an `items` array (a
//! `v1/List`) are masked the same way. Masking cannot be turned off.
//!
//! Comparison of Secret values uses their decoded bytes: a `data` value is
//! base64-decoded (kept as the raw string when it is not valid base64), a
//! `stringData` value is taken as its UTF-8 bytes, and `stringData` wins over
//! `data` for the same key, as the API server does. So `stringData: {k: v}`
//! equals `data: {k: base64(v)}`, and a rendered chart using `stringData`
//! compares equal to the live Secret the server stored under `data`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Map, Value};
use similar::{Algorithm, ChangeTag, TextDiff};

use crate::domain::manifest::{Object, ObjectKey};

// ---------------------------------------------------------------------------
// Field paths
// ---------------------------------------------------------------------------

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

fn active_paths(paths: &[FieldPath]) -> Active<'_> {
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
fn eq_ignoring(a: &Value, b: &Value, active: &[&[Segment]]) -> bool {
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

// ---------------------------------------------------------------------------
// Options and result types
// ---------------------------------------------------------------------------

/// How to compare and render.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffOptions {
    /// Fields stripped from both sides before comparing and rendering.
    pub ignore_fields: Vec<FieldPath>,
    /// Lines of context around each hunk (3, as `diff -u`).
    pub context_lines: usize,
    /// Time budget for the line diff of one object. Past it the diff is
    /// still correct but may be less minimal. `None` means no limit.
    pub text_timeout: Option<Duration>,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            ignore_fields: Vec::new(),
            context_lines: 3,
            text_timeout: Some(Duration::from_secs(1)),
        }
    }
}

impl DiffOptions {
    /// Default options that also ignore [`SERVER_FIELDS`]: use these to
    /// compare live objects with rendered ones.
    pub fn ignoring_server_fields() -> Self {
        DiffOptions {
            ignore_fields: server_field_paths(),
            ..DiffOptions::default()
        }
    }

    /// Adds a field to ignore, written as a JSON pointer.
    pub fn ignore(mut self, pointer: &str) -> Result<Self, FieldPathError> {
        self.ignore_fields.push(FieldPath::parse(pointer)?);
        Ok(self)
    }
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
    Unchanged,
}

impl ChangeKind {
    /// `+`, `-`, `~` or `=`.
    pub fn sigil(self) -> char {
        match self {
            ChangeKind::Added => '+',
            ChangeKind::Removed => '-',
            ChangeKind::Changed => '~',
            ChangeKind::Unchanged => '=',
        }
    }
}

/// Which of the two manifest sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Old,
    New,
}

/// Where one side of an entry came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub api_version: String,
    /// Helm template path, when known.
    pub source: Option<String>,
}

/// The kind of one line of a [`Unified`] diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineTag {
    /// `--- a/...` or `+++ b/...`.
    FileHeader,
    /// `@@ -l,n +l,n @@`.
    HunkHeader,
    /// ` unchanged line`.
    Context,
    /// `-removed line`.
    Delete,
    /// `+added line`.
    Insert,
}

impl LineTag {
    /// The matching `similar` tag, for content lines.
    pub fn change_tag(self) -> Option<ChangeTag> {
        match self {
            LineTag::Context => Some(ChangeTag::Equal),
            LineTag::Delete => Some(ChangeTag::Delete),
            LineTag::Insert => Some(ChangeTag::Insert),
            LineTag::FileHeader | LineTag::HunkHeader => None,
        }
    }
}

impl From<ChangeTag> for LineTag {
    fn from(tag: ChangeTag) -> Self {
        match tag {
            ChangeTag::Equal => LineTag::Context,
            ChangeTag::Delete => LineTag::Delete,
            ChangeTag::Insert => LineTag::Insert,
        }
    }
}

/// One line of a [`Unified`] diff, prefix included, newline excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffLine<'a> {
    pub tag: LineTag,
    pub text: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LineSpan {
    tag: LineTag,
    start: usize,
    end: usize,
}

/// A unified diff of one object: the text, and each line's [`LineTag`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unified {
    text: String,
    lines: Vec<LineSpan>,
    insertions: usize,
    deletions: usize,
}

impl Unified {
    /// The whole diff, every line ending in `\n`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Each line with its tag, for colouring.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = DiffLine<'_>> + '_ {
        self.lines.iter().map(|s| DiffLine {
            tag: s.tag,
            text: self.text.get(s.start..s.end).unwrap_or_default(),
        })
    }

    /// Number of `+` lines.
    pub fn insertions(&self) -> usize {
        self.insertions
    }

    /// Number of `-` lines.
    pub fn deletions(&self) -> usize {
        self.deletions
    }

    fn push(&mut self, tag: LineTag, prefix: &str, body: &str) {
        let start = self.text.len();
        self.text.push_str(prefix);
        self.text.push_str(body);
        self.end_line(tag, start);
    }

    fn end_line(&mut self, tag: LineTag, start: usize) {
        let end = self.text.len();
        self.text.push('\n');
        self.lines.push(LineSpan { tag, start, end });
        match tag {
            LineTag::Insert => self.insertions += 1,
            LineTag::Delete => self.deletions += 1,
            _ => {}
        }
    }
}

/// The result for one object key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDiff {
    pub key: ObjectKey,
    pub change: ChangeKind,
    /// The object in the old set, if any.
    pub old: Option<Origin>,
    /// The object in the new set, if any.
    pub new: Option<Origin>,
    /// `Some` exactly when `change` is not `Unchanged`.
    pub unified: Option<Unified>,
}

impl ObjectDiff {
    /// Both sides exist and their `apiVersion`s differ.
    pub fn api_version_changed(&self) -> bool {
        matches!((&self.old, &self.new), (Some(o), Some(n)) if o.api_version != n.api_version)
    }

    /// Both sides exist and come from different templates.
    pub fn moved(&self) -> bool {
        matches!((&self.old, &self.new), (Some(o), Some(n)) if o.source != n.source)
    }
}

/// How many entries of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiffCounts {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub unchanged: usize,
}

impl DiffCounts {
    /// Added + removed + changed.
    pub fn changes(&self) -> usize {
        self.added + self.removed + self.changed
    }
}

/// An object key that appeared more than once in one set; the last
/// definition was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    pub side: Side,
    pub key: ObjectKey,
}

/// The diff of two manifest sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestDiff {
    /// One entry per key in either set, sorted by key.
    pub entries: Vec<ObjectDiff>,
    pub counts: DiffCounts,
    pub duplicates: Vec<DuplicateKey>,
}

impl ManifestDiff {
    /// No object was added, removed or changed.
    pub fn is_empty(&self) -> bool {
        self.counts.changes() == 0
    }

    /// The entries that are not `Unchanged`, in key order.
    pub fn changes(&self) -> impl Iterator<Item = &ObjectDiff> + '_ {
        self.entries
            .iter()
            .filter(|e| e.change != ChangeKind::Unchanged)
    }
}

/// `apps/Deployment demo/web`, `Secret demo/db`, `rbac.authorization.k8s.io/ClusterRole admin`.
pub fn key_label(key: &ObjectKey) -> String {
    let mut s = String::new();
    if !key.group.is_empty() {
        s.push_str(&key.group);
        s.push('/');
    }
    s.push_str(&key.kind);
    s.push(' ');
    if !key.namespace.is_empty() {
        s.push_str(&key.namespace);
        s.push('/');
    }
    s.push_str(&key.name);
    s
}

/// `apps/Deployment/demo/web`, `core/Secret/demo/db`: used in diff headers.
pub fn key_path(key: &ObjectKey) -> String {
    let group = if key.group.is_empty() {
        "core"
    } else {
        key.group.as_str()
    };
    if key.namespace.is_empty() {
        format!("{group}/{}/{}", key.kind, key.name)
    } else {
        format!("{group}/{}/{}/{}", key.kind, key.namespace, key.name)
    }
}

// ---------------------------------------------------------------------------
// Diff
// ---------------------------------------------------------------------------

/// Diffs two manifest sets. See the module docs.
pub fn diff(old: &[Object], new: &[Object], opts: &DiffOptions) -> ManifestDiff {
    let active = active_paths(&opts.ignore_fields);
    let mut duplicates = Vec::new();
    let mut pairs: BTreeMap<ObjectKey, (Option<&Object>, Option<&Object>)> = BTreeMap::new();
    for o in old {
        let slot = pairs.entry(o.key()).or_default();
        if slot.0.replace(o).is_some() {
            duplicates.push(DuplicateKey {
                side: Side::Old,
                key: o.key(),
            });
        }
    }
    for n in new {
        let slot = pairs.entry(n.key()).or_default();
        if slot.1.replace(n).is_some() {
            duplicates.push(DuplicateKey {
                side: Side::New,
                key: n.key(),
            });
        }
    }

    let mut counts = DiffCounts::default();
    let mut entries = Vec::with_capacity(pairs.len());
    for (key, (o, n)) in pairs {
        let entry = diff_pair(key, o, n, opts, &active);
        match entry.change {
            ChangeKind::Added => counts.added += 1,
            ChangeKind::Removed => counts.removed += 1,
            ChangeKind::Changed => counts.changed += 1,
            ChangeKind::Unchanged => counts.unchanged += 1,
        }
        entries.push(entry);
    }
    ManifestDiff {
        entries,
        counts,
        duplicates,
    }
}

fn origin(o: &Object) -> Origin {
    Origin {
        api_version: o.api_version.clone(),
        source: o.source.clone(),
    }
}

fn diff_pair(
    key: ObjectKey,
    old: Option<&Object>,
    new: Option<&Object>,
    opts: &DiffOptions,
    active: &[&[Segment]],
) -> ObjectDiff {
    let secret = old.is_some_and(is_secret) || new.is_some_and(is_secret);
    let change = match (old, new) {
        (Some(o), Some(n)) => {
            let equal = if secret {
                secret_bodies_equal(&o.body, &n.body, opts)
            } else {
                eq_ignoring(&o.body, &n.body, active)
            };
            if equal {
                ChangeKind::Unchanged
            } else {
                ChangeKind::Changed
            }
        }
        (None, Some(_)) => ChangeKind::Added,
        (Some(_), None) => ChangeKind::Removed,
        (None, None) => ChangeKind::Unchanged,
    };

    let unified = if change == ChangeKind::Unchanged {
        None
    } else {
        let mut ob = old.map(|o| prepared(&o.body, opts));
        let mut nb = new.map(|n| prepared(&n.body, opts));
        mask_pair(ob.as_mut(), nb.as_mut(), secret, false);
        if let (Some(o), Some(n)) = (&ob, &mut nb) {
            align_order(n, o);
        }
        let old_text = ob.as_ref().map(canonical_text).unwrap_or_default();
        let new_text = nb.as_ref().map(canonical_text).unwrap_or_default();
        let path = key_path(&key);
        let old_label = if ob.is_some() {
            format!("a/{path}")
        } else {
            "/dev/null".to_string()
        };
        let new_label = if nb.is_some() {
            format!("b/{path}")
        } else {
            "/dev/null".to_string()
        };
        Some(unified_diff(
            &old_text, &new_text, &old_label, &new_label, opts,
        ))
    };

    ObjectDiff {
        key,
        change,
        old: old.map(origin),
        new: new.map(origin),
        unified,
    }
}

fn prepared(body: &Value, opts: &DiffOptions) -> Value {
    let mut v = body.clone();
    strip_fields(&mut v, &opts.ignore_fields);
    v
}

fn canonical_text(v: &Value) -> String {
    let mut text = crate::domain::yaml::to_string(v);
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn unified_diff(
    old_text: &str,
    new_text: &str,
    old_label: &str,
    new_label: &str,
    opts: &DiffOptions,
) -> Unified {
    let mut config = TextDiff::configure();
    config.algorithm(Algorithm::Myers);
    if let Some(t) = opts.text_timeout {
        config.timeout(t);
    }
    let td = config.diff_lines(old_text, new_text);
    let mut out = Unified::default();
    out.push(LineTag::FileHeader, "--- ", old_label);
    out.push(LineTag::FileHeader, "+++ ", new_label);
    let mut udiff = td.unified_diff();
    udiff.context_radius(opts.context_lines);
    for hunk in udiff.iter_hunks() {
        let start = out.text.len();
        let _ = write!(out.text, "{}", hunk.header());
        out.end_line(LineTag::HunkHeader, start);
        for change in hunk.iter_changes() {
            let tag = LineTag::from(change.tag());
            let prefix = match tag {
                LineTag::Insert => "+",
                LineTag::Delete => "-",
                _ => " ",
            };
            let line = change.value();
            let line = line.strip_suffix('\n').unwrap_or(line);
            let line = line.strip_suffix('\r').unwrap_or(line);
            out.push(tag, prefix, line);
        }
    }
    out
}

/// Reorders members of `new` to follow `old` where both have them; members
/// only in `new` stay after the member they followed. Keeps diffs minimal
/// when a template merely reorders keys.
fn align_order(new: &mut Value, old: &Value) {
    match (new, old) {
        (Value::Object(nm), Value::Object(om)) => {
            let index: Option<HashMap<&str, usize>> = (om.len() > 16).then(|| {
                om.keys()
                    .enumerate()
                    .map(|(i, k)| (k.as_str(), i))
                    .collect()
            });
            let position = |k: &str| match &index {
                Some(ix) => ix.get(k).copied(),
                None => om.keys().position(|ok| ok == k),
            };
            let mut last = 0usize;
            let ranks: Vec<(usize, u8)> = nm
                .keys()
                .map(|k| match position(k) {
                    Some(p) => {
                        last = p + 1;
                        (p + 1, 0)
                    }
                    None => (last, 1),
                })
                .collect();
            if ranks.windows(2).any(|w| w[0] > w[1]) {
                let mut entries: Vec<((usize, u8), (String, Value))> =
                    ranks.into_iter().zip(std::mem::take(nm)).collect();
                entries.sort_by_key(|(rank, _)| *rank);
                *nm = entries.into_iter().map(|(_, kv)| kv).collect::<Map<_, _>>();
            }
            for (k, v) in nm.iter_mut() {
                if let Some(ov) = om.get(k) {
                    align_order(v, ov);
                }
            }
        }
        (Value::Array(na), Value::Array(oa)) => {
            for (n, o) in na.iter_mut().zip(oa) {
                align_order(n, o);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Secret masking
// ---------------------------------------------------------------------------

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
    mask_pair(None, Some(&mut out.body), is_secret(obj), true);
    out
}

fn is_secret(obj: &Object) -> bool {
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

fn marker(single: bool, side: Side, c: Counterpart) -> &'static str {
    if single {
        return MASKED;
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
enum SecretValue {
    Bytes(Vec<u8>),
    Raw(Value),
}

/// The effective contents of a Secret's `data` and `stringData`.
#[derive(Debug, Clone, Default, PartialEq)]
struct SecretData {
    values: BTreeMap<String, SecretValue>,
    /// `data` / `stringData` when present but not an object (nor null).
    opaque: [Option<Value>; 2],
}

const SECRET_FIELDS: [&str; 2] = ["data", "stringData"];

impl SecretData {
    fn of(body: &Value) -> SecretData {
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

/// Secrets are equal when all but `data`/`stringData` is equal (after
/// stripping) and their effective data is equal.
fn secret_bodies_equal(a: &Value, b: &Value, opts: &DiffOptions) -> bool {
    let a = prepared(a, opts);
    let b = prepared(b, opts);
    let data_paths: Vec<FieldPath> = SECRET_FIELDS
        .iter()
        .filter_map(|f| FieldPath::from_keys([*f]).ok())
        .collect();
    SecretData::of(&a) == SecretData::of(&b) && eq_ignoring(&a, &b, &active_paths(&data_paths))
}

/// Masks whatever must not be shown in `old` and `new`, two versions of the
/// same object (either may be absent). `secret` forces Secret treatment.
fn mask_pair(old: Option<&mut Value>, new: Option<&mut Value>, secret: bool, single: bool) {
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
fn mask_list_items(mut old: Option<&mut Vec<Value>>, new: Option<&mut Vec<Value>>, single: bool) {
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
            mask_pair(old_item, Some(item), false, single);
        }
    }
    if let Some(items) = old {
        for (j, item) in items.iter_mut().enumerate() {
            if !matched.get(j).copied().unwrap_or(false) {
                mask_pair(Some(item), None, false, single);
            }
        }
    }
}

fn mask_secret_pair(old: Option<&mut Value>, new: Option<&mut Value>, single: bool) {
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
    single: bool,
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
fn decode_base64(s: &str) -> Option<Vec<u8>> {
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

// ---------------------------------------------------------------------------
// Plain rendering
// ---------------------------------------------------------------------------

/// A summary (`~ apps/Deployment demo/web (+1 -1)`, `+ ...`, `- ...`), a
/// totals line, warnings about duplicate keys, then each unified diff.
/// Diff lines start with `+`, `-`, ` `, `@@`, `---` or `+++`; callers that
/// colour use [`Unified::lines`] instead.
pub fn render_plain(d: &ManifestDiff) -> String {
    let mut out = String::new();
    if d.is_empty() {
        let _ = writeln!(
            out,
            "No changes ({} object{} unchanged).",
            d.counts.unchanged,
            if d.counts.unchanged == 1 { "" } else { "s" }
        );
    } else {
        for e in d.changes() {
            let _ = write!(out, "{} {}", e.change.sigil(), key_label(&e.key));
            if let Some(u) = &e.unified {
                let _ = write!(out, " (+{} -{})", u.insertions(), u.deletions());
            }
            if let (Some(o), Some(n)) = (&e.old, &e.new) {
                if o.api_version != n.api_version {
                    let _ = write!(out, " [apiVersion {} -> {}]", o.api_version, n.api_version);
                }
                if o.source != n.source {
                    let _ = write!(
                        out,
                        " [template {} -> {}]",
                        o.source.as_deref().unwrap_or("?"),
                        n.source.as_deref().unwrap_or("?")
                    );
                }
            }
            out.push('\n');
        }
        let c = &d.counts;
        let _ = writeln!(
            out,
            "{} to add, {} to change, {} to remove, {} unchanged.",
            c.added, c.changed, c.removed, c.unchanged
        );
    }
    for dup in &d.duplicates {
        let side = match dup.side {
            Side::Old => "old",
            Side::New => "new",
        };
        let _ = writeln!(
            out,
            "warning: {} appears more than once in the {side} manifests; the last one was used.",
            key_label(&dup.key)
        );
    }
    for e in d.changes() {
        if let Some(u) = &e.unified {
            out.push('\n');
            out.push_str(u.text());
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An object whose fields are read from its body, as the parser does.
    fn object(body: Value) -> Object {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        Object {
            api_version: s(body.get("apiVersion")).unwrap_or_default(),
            kind: s(body.get("kind")).unwrap_or_default(),
            namespace: s(body.pointer("/metadata/namespace")),
            name: s(body.pointer("/metadata/name")).unwrap_or_default(),
            source: None,
            body,
        }
    }

    fn from(mut o: Object, source: &str) -> Object {
        o.source = Some(source.to_string());
        o
    }

    fn deployment(api: &str, name: &str, image: &str) -> Object {
        object(json!({
            "apiVersion": api,
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "demo", "labels": {"app": name}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": name, "image": image, "ports": [{"containerPort": 80}]}]}
                }
            }
        }))
    }

    fn config_map(name: &str, data: Value) -> Object {
        object(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "demo"},
            "data": data
        }))
    }

    fn b64(s: &str) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let bytes = s.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// A Secret with `data` (base64) entries.
    fn secret(name: &str, data: &[(&str, &str)]) -> Object {
        let data: Map<String, Value> = data
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(b64(v))))
            .collect();
        object(json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": "demo"},
            "data": data
        }))
    }

    /// A Secret with `stringData` (plain) entries.
    fn string_secret(name: &str, data: &[(&str, &str)]) -> Object {
        let data: Map<String, Value> = data
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        object(json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": "demo"},
            "stringData": data
        }))
    }

    fn run(old: &[Object], new: &[Object]) -> ManifestDiff {
        diff(old, new, &DiffOptions::default())
    }

    fn only(d: &ManifestDiff) -> &ObjectDiff {
        assert_eq!(d.entries.len(), 1, "{d:#?}");
        &d.entries[0]
    }

    fn text(e: &ObjectDiff) -> &str {
        e.unified.as_ref().map(Unified::text).unwrap_or_default()
    }

    /// `t` has a line that is exactly `line` (prefix included). Diff bodies
    /// are YAML, where a plain value has no closing quote to end a substring
    /// match: `apiVersion: apps/v1` must not match `apiVersion: apps/v1beta1`.
    fn has_line(t: &str, line: &str) -> bool {
        t.lines().any(|l| l == line)
    }

    /// Everything a caller could print: the plain rendering, every tagged
    /// line, and the Debug form of the whole result.
    fn everything(d: &ManifestDiff) -> String {
        let mut all = render_plain(d);
        for e in &d.entries {
            if let Some(u) = &e.unified {
                for l in u.lines() {
                    all.push_str(l.text);
                    all.push('\n');
                }
            }
        }
        all.push_str(&format!("{d:?}"));
        all
    }

    fn assert_no_leak(d: &ManifestDiff, secrets: &[&str]) {
        let all = everything(d);
        for s in secrets {
            let encoded = b64(s);
            for form in [
                s.to_string(),
                encoded.clone(),
                encoded.trim_end_matches('=').to_string(),
            ] {
                assert!(!all.contains(&form), "secret form {form:?} leaked:\n{all}");
            }
        }
    }

    #[test]
    fn identical_sets_are_empty_and_all_unchanged() {
        let set = vec![
            deployment("apps/v1", "web", "nginx:1"),
            config_map("cfg", json!({"a": "1"})),
        ];
        let d = run(&set, &set);
        assert!(d.is_empty());
        assert_eq!(
            d.counts,
            DiffCounts {
                unchanged: 2,
                ..DiffCounts::default()
            }
        );
        assert!(d
            .entries
            .iter()
            .all(|e| e.change == ChangeKind::Unchanged && e.unified.is_none()));
        assert_eq!(render_plain(&d), "No changes (2 objects unchanged).\n");
    }

    #[test]
    fn entries_are_sorted_by_key_whatever_the_input_order() {
        let old = vec![
            config_map("z", json!({})),
            deployment("apps/v1", "b", "x"),
            config_map("a", json!({})),
        ];
        let new = vec![deployment("apps/v1", "a", "x"), config_map("m", json!({}))];
        let d = run(&old, &new);
        let keys: Vec<ObjectKey> = d.entries.iter().map(|e| e.key.clone()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(d.entries.len(), 5);
    }

    #[test]
    fn added_object_shows_every_line_as_insert_against_dev_null() {
        let d = run(&[], &[config_map("cfg", json!({"greeting": "hello"}))]);
        let e = only(&d);
        assert_eq!(e.change, ChangeKind::Added);
        assert!(e.old.is_none());
        let u = e.unified.as_ref().expect("diff");
        let lines: Vec<DiffLine> = u.lines().collect();
        assert_eq!(lines[0].text, "--- /dev/null");
        assert_eq!(lines[1].text, "+++ b/core/ConfigMap/demo/cfg");
        assert!(
            lines[2].text.starts_with("@@ -0,0 +1,"),
            "{}",
            lines[2].text
        );
        assert!(lines[3..].iter().all(|l| l.tag == LineTag::Insert));
        assert!(has_line(u.text(), "+  greeting: hello"), "{}", u.text());
        assert_eq!(u.deletions(), 0);
        assert_eq!(d.counts.added, 1);
    }

    #[test]
    fn removed_object_shows_every_line_as_delete_against_dev_null() {
        let d = run(&[deployment("apps/v1", "web", "nginx:1")], &[]);
        let e = only(&d);
        assert_eq!(e.change, ChangeKind::Removed);
        let u = e.unified.as_ref().expect("diff");
        let lines: Vec<DiffLine> = u.lines().collect();
        assert_eq!(lines[0].text, "--- a/apps/Deployment/demo/web");
        assert_eq!(lines[1].text, "+++ /dev/null");
        assert!(lines[3..].iter().all(|l| l.tag == LineTag::Delete));
        assert_eq!(u.insertions(), 0);
        assert!(render_plain(&d).starts_with("- apps/Deployment demo/web (+0 -"));
    }

    #[test]
    fn changed_field_gives_one_hunk_with_three_lines_of_context() {
        let d = run(
            &[deployment("apps/v1", "web", "nginx:1")],
            &[deployment("apps/v1", "web", "nginx:2")],
        );
        let e = only(&d);
        assert_eq!(e.change, ChangeKind::Changed);
        let u = e.unified.as_ref().expect("diff");
        let lines: Vec<DiffLine> = u.lines().collect();
        assert_eq!(lines[0].text, "--- a/apps/Deployment/demo/web");
        assert_eq!(lines[1].text, "+++ b/apps/Deployment/demo/web");
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.tag == LineTag::HunkHeader)
                .count(),
            1
        );
        let body: Vec<&DiffLine> = lines
            .iter()
            .filter(|l| l.tag.change_tag().is_some())
            .collect();
        // The image is two lines from the end of the YAML document, so the
        // hunk has three lines of context before it and the two that remain after.
        assert_eq!(body.len(), 3 + 2 + 2, "{}", u.text());
        assert_eq!(lines[2].text, "@@ -17,6 +17,6 @@", "{}", u.text());
        assert!(body[..3].iter().all(|l| l.tag == LineTag::Context));
        assert_eq!(body[2].text, "       - name: web");
        assert_eq!(body[3].text, "-        image: nginx:1");
        assert_eq!(body[4].text, "+        image: nginx:2");
        assert!(body[5..].iter().all(|l| l.tag == LineTag::Context));
        assert_eq!(body[6].text, "         - containerPort: 80");
        assert_eq!((u.insertions(), u.deletions()), (1, 1));

        // With more lines after the change, context after it stops at three too.
        let with_tail = |image: &str| {
            let mut o = deployment("apps/v1", "web", image);
            let pod = &mut o.body["spec"]["template"]["spec"];
            pod["restartPolicy"] = json!("Always");
            pod["dnsPolicy"] = json!("ClusterFirst");
            o
        };
        let d = run(&[with_tail("nginx:1")], &[with_tail("nginx:2")]);
        let u = only(&d).unified.clone().expect("diff");
        let body: Vec<DiffLine> = u.lines().filter(|l| l.tag.change_tag().is_some()).collect();
        assert_eq!(body.len(), 3 + 2 + 3, "{}", u.text());
        assert_eq!(body[3].text, "-        image: nginx:1");
        assert_eq!(body[4].text, "+        image: nginx:2");
        assert!(body[5..].iter().all(|l| l.tag == LineTag::Context));
        assert_eq!(body[7].text, "       restartPolicy: Always");
        assert!(!u.text().contains("dnsPolicy"), "{}", u.text());
    }

    #[test]
    fn context_lines_option_widens_hunks() {
        let opts = DiffOptions {
            context_lines: 0,
            ..DiffOptions::default()
        };
        let d = diff(
            &[deployment("apps/v1", "web", "nginx:1")],
            &[deployment("apps/v1", "web", "nginx:2")],
            &opts,
        );
        let u = only(&d).unified.clone().expect("diff");
        assert_eq!(u.lines().filter(|l| l.tag == LineTag::Context).count(), 0);
    }

    #[test]
    fn api_version_bump_is_a_change_not_add_remove() {
        let d = run(
            &[deployment("apps/v1beta1", "web", "nginx:1")],
            &[deployment("apps/v1", "web", "nginx:1")],
        );
        let e = only(&d);
        assert_eq!(e.change, ChangeKind::Changed);
        assert!(e.api_version_changed());
        assert_eq!(
            d.counts,
            DiffCounts {
                changed: 1,
                ..DiffCounts::default()
            }
        );
        let t = text(e);
        assert!(has_line(t, "-apiVersion: apps/v1beta1"), "{t}");
        assert!(has_line(t, "+apiVersion: apps/v1"), "{t}");
        assert!(render_plain(&d).starts_with(
            "~ apps/Deployment demo/web (+1 -1) [apiVersion apps/v1beta1 -> apps/v1]\n"
        ));
    }

    #[test]
    fn moved_between_templates_is_unchanged() {
        let old = from(
            deployment("apps/v1", "web", "nginx:1"),
            "web/templates/deployment.yaml",
        );
        let new = from(
            deployment("apps/v1", "web", "nginx:1"),
            "web/templates/web.yaml",
        );
        let d = run(&[old], &[new]);
        let e = only(&d);
        assert_eq!(e.change, ChangeKind::Unchanged);
        assert!(e.moved());
        assert_eq!(
            e.new.as_ref().and_then(|o| o.source.as_deref()),
            Some("web/templates/web.yaml")
        );
        assert!(d.is_empty());
    }

    #[test]
    fn changed_and_moved_object_names_both_templates_in_summary() {
        let old = from(deployment("apps/v1", "web", "nginx:1"), "a.yaml");
        let new = from(deployment("apps/v1", "web", "nginx:2"), "b.yaml");
        let out = render_plain(&run(&[old], &[new]));
        assert!(
            out.starts_with("~ apps/Deployment demo/web (+1 -1) [template a.yaml -> b.yaml]\n"),
            "{out}"
        );
    }

    #[test]
    fn key_order_difference_is_unchanged() {
        let a = object(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "demo"}, "data": {"x": "1", "y": "2"}}),
        );
        let b = object(
            json!({"kind": "ConfigMap", "data": {"y": "2", "x": "1"}, "metadata": {"namespace": "demo", "name": "c"}, "apiVersion": "v1"}),
        );
        assert!(run(&[a], &[b]).is_empty());
    }

    #[test]
    fn reordered_keys_in_a_changed_object_do_not_pad_the_diff() {
        let a = object(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "demo"}, "data": {"x": "1", "y": "2", "z": "3"}}),
        );
        let b = object(
            json!({"data": {"z": "3", "y": "2", "x": "changed", "new": "n"}, "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"namespace": "demo", "name": "c"}}),
        );
        let d = run(&[a], &[b]);
        let u = only(&d).unified.clone().expect("diff");
        assert_eq!((u.insertions(), u.deletions()), (2, 1), "{}", u.text());
    }

    #[test]
    fn same_name_in_other_namespace_or_group_is_another_object() {
        let mut other_ns = config_map("cfg", json!({}));
        other_ns.namespace = Some("prod".into());
        let mut other_group = deployment("extensions/v1beta1", "cfg", "x");
        other_group.kind = "ConfigMap".into();
        let d = run(&[config_map("cfg", json!({}))], &[other_ns, other_group]);
        assert_eq!(
            d.counts,
            DiffCounts {
                added: 2,
                removed: 1,
                ..DiffCounts::default()
            }
        );
    }

    #[test]
    fn cluster_scoped_objects_have_no_namespace_in_labels() {
        let cr = object(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "admin"}}),
        );
        let key = cr.key();
        assert_eq!(
            key_label(&key),
            "rbac.authorization.k8s.io/ClusterRole admin"
        );
        assert_eq!(
            key_path(&key),
            "rbac.authorization.k8s.io/ClusterRole/admin"
        );
        let d = run(&[], &[cr]);
        assert!(render_plain(&d).starts_with("+ rbac.authorization.k8s.io/ClusterRole admin (+"));
    }

    #[test]
    fn server_fields_are_ignored_only_when_asked() {
        let rendered = deployment("apps/v1", "web", "nginx:1");
        let mut live = rendered.clone();
        let meta = live
            .body
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .expect("metadata");
        meta.insert("uid".into(), json!("1234"));
        meta.insert("resourceVersion".into(), json!("99"));
        meta.insert("generation".into(), json!(3));
        meta.insert("creationTimestamp".into(), json!("2024-01-01T00:00:00Z"));
        meta.insert("selfLink".into(), json!("/apis/apps/v1/x"));
        meta.insert("managedFields".into(), json!([{"manager": "helm"}]));
        meta.insert(
            "annotations".into(),
            json!({
                "deployment.kubernetes.io/revision": "4",
                "kubectl.kubernetes.io/last-applied-configuration": "{}"
            }),
        );
        live.body["status"] = json!({"replicas": 2});
        assert_eq!(
            only(&run(
                std::slice::from_ref(&live),
                std::slice::from_ref(&rendered)
            ))
            .change,
            ChangeKind::Changed
        );
        let d = diff(&[live], &[rendered], &DiffOptions::ignoring_server_fields());
        assert!(d.is_empty(), "{}", render_plain(&d));
    }

    #[test]
    fn ignored_fields_are_stripped_from_the_rendered_diff_too() {
        let mut a = deployment("apps/v1", "web", "nginx:1");
        a.body["status"] = json!({"readyReplicas": 7});
        let b = deployment("apps/v1", "web", "nginx:2");
        let d = diff(&[a], &[b], &DiffOptions::ignoring_server_fields());
        let t = text(only(&d));
        assert!(!t.contains("readyReplicas"), "{t}");
        assert!(has_line(t, "+        image: nginx:2"), "{t}");
    }

    #[test]
    fn strip_server_fields_removes_the_default_list_and_prunes_emptied_maps() {
        let mut body = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": "c", "uid": "u", "resourceVersion": "1", "generation": 1,
                "creationTimestamp": "t", "selfLink": "s", "managedFields": [],
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
                "labels": {}
            },
            "status": {}
        });
        strip_server_fields(&mut body);
        assert_eq!(
            body,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {}}})
        );
        assert_eq!(server_field_paths().len(), SERVER_FIELDS.len());
    }

    #[test]
    fn stripped_annotation_keeps_other_annotations() {
        let mut body = json!({"metadata": {"annotations": {"deployment.kubernetes.io/revision": "2", "team": "x"}}});
        strip_server_fields(&mut body);
        assert_eq!(body, json!({"metadata": {"annotations": {"team": "x"}}}));
    }

    #[test]
    fn wildcard_paths_reach_into_arrays() {
        let opts = DiffOptions::default()
            .ignore("/spec/template/spec/containers/*/image")
            .expect("valid path");
        let d = diff(
            &[deployment("apps/v1", "web", "nginx:1")],
            &[deployment("apps/v1", "web", "nginx:2")],
            &opts,
        );
        assert!(d.is_empty());
        let opts = DiffOptions::default()
            .ignore("/spec/template/spec/containers/0/image")
            .expect("valid path");
        let d = diff(
            &[deployment("apps/v1", "web", "nginx:1")],
            &[deployment("apps/v1", "web", "nginx:2")],
            &opts,
        );
        assert!(d.is_empty());
    }

    #[test]
    fn field_paths_parse_json_pointers_and_reject_the_rest() {
        let cases: &[(&str, Result<Vec<Segment>, FieldPathError>)] = &[
            ("/status", Ok(vec![Segment::Key("status".into())])),
            (
                "/a~1b/~0c",
                Ok(vec![Segment::Key("a/b".into()), Segment::Key("~c".into())]),
            ),
            ("/x/*", Ok(vec![Segment::Key("x".into()), Segment::Any])),
            ("", Err(FieldPathError::Empty)),
            ("status", Err(FieldPathError::NotAPointer("status".into()))),
            ("/a~2", Err(FieldPathError::InvalidEscape("/a~2".into()))),
            ("/a~", Err(FieldPathError::InvalidEscape("/a~".into()))),
        ];
        for (input, want) in cases {
            let got = FieldPath::parse(input).map(|p| p.segments().to_vec());
            assert_eq!(&got, want, "parsing {input:?}");
        }
        for p in SERVER_FIELDS {
            assert_eq!(
                FieldPath::parse(p).map(|f| f.to_string()).as_deref(),
                Ok(*p)
            );
        }
        assert_eq!(
            FieldPath::from_keys(Vec::<String>::new()),
            Err(FieldPathError::Empty)
        );
    }

    #[test]
    fn duplicate_keys_keep_the_last_definition_and_are_reported() {
        let new = vec![
            config_map("cfg", json!({"v": "1"})),
            config_map("cfg", json!({"v": "2"})),
        ];
        let d = run(&[config_map("cfg", json!({"v": "2"}))], &new);
        assert!(d.is_empty());
        assert_eq!(
            d.duplicates,
            vec![DuplicateKey {
                side: Side::New,
                key: new[0].key()
            }]
        );
        assert!(render_plain(&d)
            .contains("warning: ConfigMap demo/cfg appears more than once in the new manifests"));
    }

    #[test]
    fn render_plain_lists_changes_then_totals_then_diffs() {
        let old = vec![
            deployment("apps/v1", "web", "nginx:1"),
            config_map("gone", json!({})),
            config_map("same", json!({})),
        ];
        let new = vec![
            deployment("apps/v1", "web", "nginx:2"),
            config_map("new", json!({})),
            config_map("same", json!({})),
        ];
        let d = run(&old, &new);
        let out = render_plain(&d);
        let head: Vec<&str> = out.lines().take(4).collect();
        // Core group ("") sorts before "apps".
        assert!(head[0].starts_with("- ConfigMap demo/gone (+0 -"), "{out}");
        assert!(head[1].starts_with("+ ConfigMap demo/new (+"), "{out}");
        assert_eq!(head[2], "~ apps/Deployment demo/web (+1 -1)");
        assert_eq!(head[3], "1 to add, 1 to change, 1 to remove, 1 unchanged.");
        assert!(!out.contains("demo/same"));
        assert!(
            out.contains("\n--- a/apps/Deployment/demo/web\n+++ b/apps/Deployment/demo/web\n@@ ")
        );
        assert!(out.contains("\n--- a/core/ConfigMap/demo/gone\n+++ /dev/null\n"));
        assert!(out.contains("\n--- /dev/null\n+++ b/core/ConfigMap/demo/new\n"));
    }

    #[test]
    fn line_tags_agree_with_line_prefixes() {
        let d = run(
            &[
                deployment("apps/v1", "web", "nginx:1"),
                config_map("gone", json!({"a": "b"})),
            ],
            &[
                deployment("apps/v1", "web", "nginx:2"),
                config_map("new", json!({"c": "d"})),
            ],
        );
        for e in d.changes() {
            let u = e.unified.as_ref().expect("diff");
            assert_eq!(u.lines().len(), u.text().lines().count());
            for (line, raw) in u.lines().zip(u.text().lines()) {
                assert_eq!(line.text, raw);
                let want = match line.tag {
                    LineTag::FileHeader => {
                        line.text.starts_with("--- ") || line.text.starts_with("+++ ")
                    }
                    LineTag::HunkHeader => {
                        line.text.starts_with("@@ -") && line.text.ends_with(" @@")
                    }
                    LineTag::Context => line.text.starts_with(' '),
                    LineTag::Delete => line.text.starts_with('-'),
                    LineTag::Insert => line.text.starts_with('+'),
                };
                assert!(want, "{:?} {:?}", line.tag, line.text);
            }
        }
    }

    // ---- Secrets -------------------------------------------------------

    #[test]
    fn secret_value_change_shows_changed_marker_not_value() {
        let d = run(
            &[secret(
                "db",
                &[("password", "hunter2-old"), ("user", "admin-user")],
            )],
            &[secret(
                "db",
                &[("password", "hunter2-new"), ("user", "admin-user")],
            )],
        );
        let e = only(&d);
        assert_eq!(e.change, ChangeKind::Changed);
        let t = text(e);
        assert!(
            has_line(t, &format!("-  password: \"{MASKED_CHANGED_OLD}\"")),
            "{t}"
        );
        assert!(
            has_line(t, &format!("+  password: \"{MASKED_CHANGED_NEW}\"")),
            "{t}"
        );
        assert!(
            has_line(t, &format!("   user: \"{MASKED_UNCHANGED}\"")),
            "{t}"
        );
        assert_no_leak(&d, &["hunter2-old", "hunter2-new", "admin-user"]);
    }

    #[test]
    fn added_secret_never_leaks_values() {
        let d = run(&[], &[secret("db", &[("password", "s3cr3t-added-value")])]);
        assert_eq!(only(&d).change, ChangeKind::Added);
        let t = text(only(&d));
        assert!(
            has_line(t, &format!("+  password: \"{MASKED_ADDED}\"")),
            "{t}"
        );
        assert_no_leak(&d, &["s3cr3t-added-value"]);
    }

    #[test]
    fn removed_secret_never_leaks_values() {
        let d = run(
            &[string_secret("db", &[("token", "s3cr3t-removed-value")])],
            &[],
        );
        assert_eq!(only(&d).change, ChangeKind::Removed);
        let t = text(only(&d));
        assert!(
            has_line(t, &format!("-  token: \"{MASKED_REMOVED}\"")),
            "{t}"
        );
        assert_no_leak(&d, &["s3cr3t-removed-value"]);
    }

    #[test]
    fn secret_keys_added_and_removed_get_their_own_markers() {
        let d = run(
            &[secret(
                "db",
                &[("keep", "kept-value-1"), ("drop", "dropped-value-2")],
            )],
            &[secret(
                "db",
                &[("keep", "kept-value-1"), ("fresh", "fresh-value-3")],
            )],
        );
        let t = text(only(&d));
        assert!(
            has_line(t, &format!("-  drop: \"{MASKED_REMOVED}\"")),
            "{t}"
        );
        assert!(has_line(t, &format!("+  fresh: \"{MASKED_ADDED}\"")), "{t}");
        assert_no_leak(&d, &["kept-value-1", "dropped-value-2", "fresh-value-3"]);
    }

    #[test]
    fn string_data_equal_to_base64_data_is_unchanged() {
        let d = run(
            &[secret("db", &[("password", "same-plain")])],
            &[string_secret("db", &[("password", "same-plain")])],
        );
        assert!(d.is_empty(), "{}", render_plain(&d));
    }

    #[test]
    fn string_data_compared_with_decoded_data_marks_each_key() {
        let mut new = string_secret(
            "db",
            &[("password", "same-plain"), ("api", "other-api-key")],
        );
        new.body["metadata"]["labels"] = json!({"rotated": "yes"});
        let d = run(
            &[secret(
                "db",
                &[("password", "same-plain"), ("api", "first-api-key")],
            )],
            &[new],
        );
        let t = text(only(&d));
        assert!(
            has_line(t, &format!("   password: \"{MASKED_UNCHANGED}\"")),
            "{t}"
        );
        assert!(has_line(t, "+stringData:"), "{t}");
        assert!(
            has_line(t, &format!("+  api: \"{MASKED_CHANGED_NEW}\"")),
            "{t}"
        );
        assert!(
            has_line(t, &format!("-  api: \"{MASKED_CHANGED_OLD}\"")),
            "{t}"
        );
        assert_no_leak(&d, &["same-plain", "other-api-key", "first-api-key"]);
    }

    #[test]
    fn secret_metadata_change_keeps_values_masked_as_unchanged() {
        let old = secret("db", &[("password", "stable-secret")]);
        let mut new = old.clone();
        new.body["metadata"]["labels"] = json!({"tier": "db"});
        let d = run(&[old], &[new]);
        let t = text(only(&d));
        assert!(
            has_line(t, &format!("   password: \"{MASKED_UNCHANGED}\"")),
            "{t}"
        );
        assert_no_leak(&d, &["stable-secret"]);
    }

    #[test]
    fn secret_last_applied_annotation_is_masked() {
        let mut old = secret("db", &[("password", "applied-secret")]);
        let la = format!(
            r#"{{"apiVersion":"v1","data":{{"password":"{}"}},"kind":"Secret"}}"#,
            b64("applied-secret")
        );
        old.body["metadata"]["annotations"] = json!({ LAST_APPLIED_ANNOTATION: la });
        let mut new = secret("db", &[("password", "applied-secret-2")]);
        let la2 = r#"{"stringData":{"password":"applied-secret-2"}}"#;
        new.body["metadata"]["annotations"] = json!({ LAST_APPLIED_ANNOTATION: la2 });
        let d = run(&[old], &[new]);
        let t = text(only(&d));
        assert!(
            has_line(
                t,
                &format!("+    {LAST_APPLIED_ANNOTATION}: \"{MASKED_CHANGED_NEW}\"")
            ),
            "{t}"
        );
        assert_no_leak(&d, &["applied-secret", "applied-secret-2"]);
    }

    #[test]
    fn non_object_secret_data_is_masked_whole() {
        let mut s = secret("db", &[]);
        s.body["data"] = json!("raw-secret-blob");
        s.body["stringData"] = json!(["raw-secret-item"]);
        let d = run(&[], &[s]);
        let t = text(only(&d));
        assert!(has_line(t, &format!("+data: \"{MASKED_ADDED}\"")), "{t}");
        assert_no_leak(&d, &["raw-secret-blob", "raw-secret-item"]);
    }

    #[test]
    fn invalid_base64_data_still_compares_and_never_leaks() {
        let mut old = secret("db", &[]);
        old.body["data"] = json!({"k": "not base64 !!"});
        let mut new = old.clone();
        new.body["data"] = json!({"k": "also not base64 ??"});
        let d = run(&[old.clone()], &[new]);
        assert_eq!(only(&d).change, ChangeKind::Changed);
        assert_no_leak(&d, &["not base64 !!", "also not base64 ??"]);
        assert!(run(&[old.clone()], &[old]).is_empty());
    }

    #[test]
    fn secrets_inside_a_list_are_masked() {
        let list = |value: &str| {
            object(json!({
                "apiVersion": "v1", "kind": "List", "metadata": {"name": "bundle"},
                "items": [
                    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"pw": value}},
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"visible": "yes"}}
                ]
            }))
        };
        let d = run(&[list("listed-secret-1")], &[list("listed-secret-2")]);
        let t = text(only(&d));
        assert!(
            t.contains(MASKED_CHANGED_NEW) && t.contains(MASKED_CHANGED_OLD),
            "{t}"
        );
        assert_no_leak(&d, &["listed-secret-1", "listed-secret-2"]);
        let masked = mask_secret(&list("listed-secret-3"));
        assert!(!masked.body.to_string().contains("listed-secret-3"));
        assert_eq!(masked.body["items"][0]["stringData"]["pw"], json!(MASKED));
        assert_eq!(masked.body["items"][1]["data"]["visible"], json!("yes"));
    }

    #[test]
    fn mask_secret_hides_every_value_for_a_single_print() {
        let mut s = secret("db", &[("password", "printed-secret")]);
        s.body["stringData"] = json!({"extra": "printed-extra"});
        s.body["metadata"]["annotations"] =
            json!({ LAST_APPLIED_ANNOTATION: "{\"stringData\":{\"extra\":\"printed-extra\"}}" });
        let masked = mask_secret(&s);
        assert_eq!(masked.body["data"], json!({"password": MASKED}));
        assert_eq!(masked.body["stringData"], json!({"extra": MASKED}));
        assert_eq!(
            masked.body["metadata"]["annotations"][LAST_APPLIED_ANNOTATION],
            json!(MASKED)
        );
        let all = format!("{masked:?}");
        for leak in ["printed-secret", "printed-extra", &b64("printed-secret")] {
            assert!(!all.contains(leak));
        }
        assert_eq!(masked.key(), s.key());
    }

    #[test]
    fn mask_secret_leaves_other_kinds_alone() {
        let cm = config_map("cfg", json!({"password": "not-a-secret"}));
        assert_eq!(mask_secret(&cm), cm);
        // A non-core kind named Secret is not a Kubernetes Secret.
        let mut crd = cm.clone();
        crd.api_version = "example.com/v1".into();
        crd.kind = "Secret".into();
        crd.body["apiVersion"] = json!("example.com/v1");
        crd.body["kind"] = json!("Secret");
        assert_eq!(mask_secret(&crd), crd);
    }

    #[test]
    fn no_secret_value_leaks_in_any_scenario() {
        struct Case {
            name: &'static str,
            old: Vec<Object>,
            new: Vec<Object>,
        }
        let mut with_status = secret("db", &[("a", "leak-a-1")]);
        with_status.body["metadata"]["annotations"] = json!({ LAST_APPLIED_ANNOTATION: format!("{{\"data\":{{\"a\":\"{}\"}}}}", b64("leak-a-1")) });
        let mut mislabelled = object(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {"a": b64("leak-a-2")}}),
        );
        mislabelled.kind = "Scret".into();
        let cases = vec![
            Case {
                name: "added",
                old: vec![],
                new: vec![secret("db", &[("a", "leak-a-1")])],
            },
            Case {
                name: "removed",
                old: vec![secret("db", &[("a", "leak-a-1")])],
                new: vec![],
            },
            Case {
                name: "changed",
                old: vec![secret("db", &[("a", "leak-a-1")])],
                new: vec![secret("db", &[("a", "leak-a-2")])],
            },
            Case {
                name: "data to stringData",
                old: vec![secret("db", &[("a", "leak-a-1")])],
                new: vec![string_secret("db", &[("a", "leak-a-2")])],
            },
            Case {
                name: "last-applied",
                old: vec![with_status.clone()],
                new: vec![secret("db", &[("a", "leak-a-2")])],
            },
            Case {
                name: "body says Secret",
                old: vec![],
                new: vec![mislabelled],
            },
            Case {
                name: "keys added to an empty secret",
                old: vec![secret("db", &[])],
                new: vec![secret("db", &[("a", "leak-a-1"), ("b", "leak-a-2")])],
            },
        ];
        for opts in [
            DiffOptions::default(),
            DiffOptions::ignoring_server_fields(),
        ] {
            for case in &cases {
                let d = diff(&case.old, &case.new, &opts);
                assert!(!d.is_empty(), "case {}", case.name);
                assert_no_leak(&d, &["leak-a-1", "leak-a-2"]);
            }
        }
    }

    #[test]
    fn base64_decoder_accepts_padding_variants_and_rejects_garbage() {
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("aHVudGVyMg==", Some(b"hunter2")),
            ("aHVudGVyMg", Some(b"hunter2")),
            ("aHVu\ndGVy", Some(b"hunter")),
            ("", Some(b"")),
            ("-_8=", Some(&[0xfb, 0xff])),
            ("a", None),
            ("a=b", None),
            ("no spaces allowed!", None),
        ];
        for (input, want) in cases {
            assert_eq!(decode_base64(input).as_deref(), *want, "decoding {input:?}");
        }
        assert_eq!(b64("hunter2"), "aHVudGVyMg==");
    }
}
