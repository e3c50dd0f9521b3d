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
//!
//! The module is split along its sections: `path` (field paths to ignore and value
//! comparison), `render` (the plain text form); Secret masking is `crate::domain::mask`,
//! the one masker of the crate.

mod path;
mod render;

pub use crate::domain::mask::{
    mask_secret, MASKED, MASKED_ADDED, MASKED_CHANGED_NEW, MASKED_CHANGED_OLD, MASKED_REMOVED,
    MASKED_UNCHANGED,
};
pub use path::{
    project_onto, server_field_paths, strip_fields, strip_server_fields, FieldPath, FieldPathError,
    Segment, LAST_APPLIED_ANNOTATION, SERVER_FIELDS,
};
pub use render::render_plain;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Map, Value};
use similar::{Algorithm, ChangeTag, TextDiff};

use crate::domain::manifest::{Object, ObjectKey};
use crate::domain::mask::{is_secret, mask_pair, SecretData, SECRET_FIELDS};
use path::{active_paths, eq_ignoring};

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
        mask_pair(ob.as_mut(), nb.as_mut(), secret);
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

#[cfg(test)]
mod tests;
