//! Values layering with provenance: chart defaults → service values → environment values →
//! environment secrets → one-off overrides, merged exactly as Helm merges them, every leaf
//! remembering the layer (and file line) that set it. Pure: layers come in already parsed.
//!
//! Helm's rules, reproduced here: user-supplied layers are deep-merged in order (maps merge,
//! anything else replaces, a `null` is kept); `--set` expressions are then parsed *into* that
//! result; finally chart defaults are coalesced underneath: a user `null` deletes the default
//! key, user maps merge into default maps, any other user value wins.

use crate::domain::yaml::{child_pointer, Pos};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Where a layer comes from; the order of the variants is the order of precedence.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum LayerKind {
    ChartDefaults,
    Service,
    Environment,
    Secret,
    Override,
}

impl LayerKind {
    pub fn label(self) -> &'static str {
        match self {
            LayerKind::ChartDefaults => "chart",
            LayerKind::Service => "service",
            LayerKind::Environment => "environment",
            LayerKind::Secret => "secret",
            LayerKind::Override => "override",
        }
    }
}

/// One layer of values: a parsed map and the positions of its nodes in its file.
#[derive(Debug, Clone)]
pub struct Layer {
    pub kind: LayerKind,
    /// What users see: a file path, `git:repo@abc1234:path`, `--set a=1`, `env DB_PASSWORD`.
    pub source: String,
    pub values: Map<String, Value>,
    /// JSON Pointer → position in `source` (empty for `--set` and secrets).
    pub positions: Arc<HashMap<String, Pos>>,
    /// Secret layers never show their values.
    pub secret: bool,
    /// For chart defaults of a subchart: where its tree hangs (`/redis`); empty otherwise.
    pub mount: String,
    /// For a values file read from git: where exactly it came from.
    pub git: Option<GitOrigin>,
}

/// A values file read from a git repository, pinned to the commit it was read at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GitOrigin {
    pub repository: String,
    /// The ref as configured (branch, tag or commit).
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The full commit id it resolved to.
    pub commit: String,
    pub path: String,
}

impl GitOrigin {
    /// `git:<repository>@<short commit>:<path>`, the layer's name in `values --explain`.
    pub fn label(&self) -> String {
        format!(
            "git:{}@{}:{}",
            self.repository,
            self.commit.get(..7).unwrap_or(&self.commit),
            self.path
        )
    }
}

impl Layer {
    pub fn new(kind: LayerKind, source: impl Into<String>, values: Map<String, Value>) -> Self {
        Layer {
            kind,
            source: source.into(),
            values,
            positions: Arc::new(HashMap::new()),
            secret: false,
            mount: String::new(),
            git: None,
        }
    }

    pub fn with_positions(mut self, positions: HashMap<String, Pos>) -> Self {
        self.positions = Arc::new(positions);
        self
    }
}

/// Helm's override flags, in the order Helm applies them (`Options.MergeValues`): after
/// the values files, every `--set-json`, then every `--set`, `--set-string`, `--set-file`
/// and `--set-literal`, each kind in the order given.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum SetKind {
    Json,
    Typed,
    String,
    File,
    Literal,
}

impl SetKind {
    pub const ALL: [SetKind; 5] = [
        SetKind::Json,
        SetKind::Typed,
        SetKind::String,
        SetKind::File,
        SetKind::Literal,
    ];

    /// The kind a command-line flag names (`--set-json` → `Json`).
    pub fn from_flag(flag: &str) -> Option<SetKind> {
        SetKind::ALL.into_iter().find(|k| k.flag() == flag)
    }

    /// The command-line flag.
    pub fn flag(self) -> &'static str {
        match self {
            SetKind::Json => "--set-json",
            SetKind::Typed => "--set",
            SetKind::String => "--set-string",
            SetKind::File => "--set-file",
            SetKind::Literal => "--set-literal",
        }
    }
}

/// One override expression (`--set a.b=1`, `--set-file tls.crt=./cert.pem`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOverride {
    pub expr: String,
    pub kind: SetKind,
    /// `--set-file`: what reading each file the expression names gave (its text, or the
    /// error), read at the edge so that merging stays pure.
    pub files: BTreeMap<String, Result<String, String>>,
}

impl SetOverride {
    /// `FLAG EXPR` (as the console's launch dialog gives it) or a bare `--set` expression.
    pub fn from_word(word: &str) -> Self {
        match word.split_once(' ') {
            Some((flag, expr)) => match SetKind::from_flag(flag) {
                Some(kind) => SetOverride::new(kind, expr),
                None => SetOverride::new(SetKind::Typed, word),
            },
            None => SetOverride::new(SetKind::Typed, word),
        }
    }

    pub fn new(kind: SetKind, expr: impl Into<String>) -> Self {
        SetOverride {
            expr: expr.into(),
            kind,
            files: BTreeMap::new(),
        }
    }

    /// `--set-file`: the files the expression names, for the edge to read.
    pub fn file_paths(&self) -> Vec<String> {
        if self.kind != SetKind::File {
            return Vec::new();
        }
        let seen = std::cell::RefCell::new(Vec::new());
        let record = |path: &str| {
            seen.borrow_mut().push(path.to_string());
            Ok(String::new())
        };
        // A malformed expression names what it named so far; merging reports the error.
        let _ = crate::domain::setvals::parse_set_into(
            &self.expr,
            &mut Map::new(),
            crate::domain::setvals::SetMode::File(&record),
        );
        seen.into_inner()
    }
}

/// Which layer set a leaf, and on which line of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    pub layer: usize,
    pub pos: Option<Pos>,
}

/// Which layer set each node, kept as a tree shaped like the values; a subtree that one
/// layer set whole is one node, so merging costs a walk of where layers overlap, not of
/// every key.
#[derive(Debug, Clone, PartialEq)]
pub enum OriginTree {
    /// Set by one origin (a `--set`, or unknown).
    Leaf(Option<Origin>),
    /// Everything below was set by `layer`; positions are looked up in that layer's file
    /// with the first `base` bytes of the pointer dropped (a subchart's mount point).
    Whole {
        layer: usize,
        base: usize,
    },
    Map(HashMap<String, OriginTree>),
    List(Vec<OriginTree>),
}

static UNKNOWN: OriginTree = OriginTree::Leaf(None);

impl OriginTree {
    /// Splits a `Whole` node into one `Whole` per child of `v`, so that a later layer can
    /// take some of them over.
    fn expand(&mut self, v: &Value) {
        if let OriginTree::Whole { layer, base } = *self {
            *self = match v {
                Value::Object(m) => OriginTree::Map(
                    m.keys()
                        .map(|k| (k.clone(), OriginTree::Whole { layer, base }))
                        .collect(),
                ),
                Value::Array(a) => OriginTree::List(
                    a.iter()
                        .map(|_| OriginTree::Whole { layer, base })
                        .collect(),
                ),
                _ => return,
            };
        }
    }

    fn as_map(&mut self) -> &mut HashMap<String, OriginTree> {
        if !matches!(self, OriginTree::Map(_)) {
            *self = OriginTree::Map(HashMap::new());
        }
        match self {
            OriginTree::Map(m) => m,
            _ => unreachable!("just made a map"),
        }
    }

    fn as_list(&mut self) -> &mut Vec<OriginTree> {
        if !matches!(self, OriginTree::List(_)) {
            *self = OriginTree::List(Vec::new());
        }
        match self {
            OriginTree::List(l) => l,
            _ => unreachable!("just made a list"),
        }
    }

    /// Takes the child `k` out of a node (a `Whole` node's children are `Whole` too).
    fn take_child(&mut self, k: &str) -> OriginTree {
        match self {
            OriginTree::Map(m) => m.remove(k).unwrap_or(OriginTree::Leaf(None)),
            OriginTree::Whole { layer, base } => OriginTree::Whole {
                layer: *layer,
                base: *base,
            },
            _ => OriginTree::Leaf(None),
        }
    }
}

/// What the release receives, and why.
#[derive(Debug, Clone)]
pub struct Effective {
    /// The values the chart's templates see (`.Values`).
    pub values: Value,
    /// The user-supplied tree handed to Helm (`-f -`): everything but the chart defaults.
    pub user_values: Value,
    /// Which layer set each node.
    pub origin_tree: OriginTree,
    /// Each layer's positions (empty for `--set`), by layer index.
    pub positions: Vec<Arc<HashMap<String, Pos>>>,
    pub layers: Vec<LayerSummary>,
    /// Pointers of every leaf a secret layer gave: whoever wins there (an override given at
    /// launch, say) is masked like the secret.
    pub secret_paths: Vec<String>,
    /// Warnings Helm would print (e.g. a table replaced by a scalar).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerSummary {
    pub kind: LayerKind,
    pub source: String,
    pub secret: bool,
    /// For values files from git: repository, ref, commit and path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitOrigin>,
}

/// A values file from git whose commit differs between two revisions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GitValuesChange {
    pub kind: LayerKind,
    pub repository: String,
    pub path: String,
    /// None: the file was not a layer of the old revision.
    pub old_commit: Option<String>,
    /// None: the file is no longer a layer.
    pub new_commit: Option<String>,
}

impl GitValuesChange {
    /// `values git:platform values/web.yaml: abc1234 → def5678`.
    pub fn line(&self) -> String {
        let c = |x: &Option<String>, none: &str| match x {
            Some(c) => c.get(..7).unwrap_or(c).to_string(),
            None => none.to_string(),
        };
        format!(
            "values git:{} {}: {} → {}",
            self.repository,
            self.path,
            c(&self.old_commit, "(none)"),
            c(&self.new_commit, "(removed)")
        )
    }
}

/// Which values files from git changed commit between the layers of an old revision and
/// the new ones (a file is the same layer when its kind, repository and path match).
pub fn git_values_changes(old: &[LayerSummary], new: &[LayerSummary]) -> Vec<GitValuesChange> {
    let key = |l: &LayerSummary| {
        l.git.as_ref().map(|g| {
            (
                l.kind,
                g.repository.clone(),
                g.path.clone(),
                g.commit.clone(),
            )
        })
    };
    let olds: Vec<_> = old.iter().filter_map(key).collect();
    let news: Vec<_> = new.iter().filter_map(key).collect();
    let mut out = Vec::new();
    for (kind, repo, path, commit) in &news {
        let before = olds
            .iter()
            .find(|(k, r, p, _)| k == kind && r == repo && p == path)
            .map(|(_, _, _, c)| c.clone());
        if before.as_ref() != Some(commit) {
            out.push(GitValuesChange {
                kind: *kind,
                repository: repo.clone(),
                path: path.clone(),
                old_commit: before,
                new_commit: Some(commit.clone()),
            });
        }
    }
    for (kind, repo, path, commit) in &olds {
        if !news
            .iter()
            .any(|(k, r, p, _)| k == kind && r == repo && p == path)
        {
            out.push(GitValuesChange {
                kind: *kind,
                repository: repo.clone(),
                path: path.clone(),
                old_commit: Some(commit.clone()),
                new_commit: None,
            });
        }
    }
    out
}

/// One line of `values --explain`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Explained {
    pub pointer: String,
    pub key: String,
    /// The value, or `********` when a secret layer set it.
    pub value: Value,
    pub layer: LayerKind,
    pub source: String,
    pub line: Option<usize>,
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValuesError {
    #[error("invalid {flag} {expr:?}: {message}")]
    Set {
        flag: &'static str,
        expr: String,
        message: String,
    },
}

pub const MASK: &str = "********";

/// Merges `layers` (chart defaults first, in any order among themselves; user layers in
/// precedence order) and then `sets`, as Helm does.
pub fn merge(layers: &[Layer], sets: &[SetOverride]) -> Result<Effective, ValuesError> {
    let mut warnings = Vec::new();
    let mut summaries: Vec<LayerSummary> = layers
        .iter()
        .map(|l| LayerSummary {
            kind: l.kind,
            source: l.source.clone(),
            secret: l.secret,
            git: l.git.clone(),
        })
        .collect();

    // 1. User layers: Helm's mergeMaps, in order.
    let mut user = Value::Object(Map::new());
    let mut user_origins = OriginTree::Map(HashMap::new());
    for (i, layer) in layers.iter().enumerate() {
        if layer.kind == LayerKind::ChartDefaults {
            continue;
        }
        merge_maps(&mut user, &mut user_origins, &layer.values, i);
    }
    // 2. Override expressions parsed into the merged user values, kind by kind in Helm's
    //    order (whatever order they were given in).
    for kind in SetKind::ALL {
        for set in sets.iter().filter(|s| s.kind == kind) {
            let idx = summaries.len();
            summaries.push(LayerSummary {
                kind: LayerKind::Override,
                source: format!("{} {}", kind.flag(), set.expr),
                secret: false,
                git: None,
            });
            apply_set(&mut user, &mut user_origins, set, idx)?;
        }
    }
    // 3. Chart defaults: the parent's, then each subchart's under its mount point, the
    //    parent's values winning over the subchart's own defaults.
    let mut defaults = Value::Object(Map::new());
    let mut default_origins = OriginTree::Map(HashMap::new());
    for (i, layer) in layers.iter().enumerate() {
        if layer.kind != LayerKind::ChartDefaults {
            continue;
        }
        let tree = Value::Object(layer.values.clone());
        let origins = OriginTree::Whole {
            layer: i,
            base: layer.mount.len(),
        };
        let segs = crate::domain::yaml::pointer_segments(&layer.mount);
        // Walk (creating) to the mount point in both trees, then coalesce there.
        let (mut slot_v, mut slot_o) = (&mut defaults, &mut default_origins);
        for seg in &segs {
            if !slot_v.is_object() {
                *slot_v = Value::Object(Map::new());
            }
            let Value::Object(m) = slot_v else {
                unreachable!("made a map")
            };
            slot_o.expand(&Value::Object(m.clone()));
            slot_v = m
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            slot_o = slot_o
                .as_map()
                .entry(seg.clone())
                .or_insert_with(|| OriginTree::Map(HashMap::new()));
        }
        if !slot_v.is_object() {
            *slot_v = Value::Object(Map::new());
        }
        coalesce(slot_v, slot_o, tree, origins, &layer.mount, &mut warnings);
    }

    // 4. Coalesce the defaults underneath the user values.
    let mut values = user.clone();
    let mut origin_tree = user_origins;
    coalesce(
        &mut values,
        &mut origin_tree,
        defaults,
        default_origins,
        "",
        &mut warnings,
    );
    let mut positions: Vec<Arc<HashMap<String, Pos>>> =
        layers.iter().map(|l| l.positions.clone()).collect();
    positions.resize_with(summaries.len(), || Arc::new(HashMap::new()));
    let secret_paths = layers
        .iter()
        .filter(|l| l.secret)
        .flat_map(|l| leaves(&Value::Object(l.values.clone()), ""))
        .collect();
    let mut effective = Effective {
        values,
        user_values: user,
        origin_tree,
        positions,
        layers: summaries,
        secret_paths,
        warnings,
    };
    // An override that replaced a secret names its value in its own expression: blank it
    // there too (the layer names are shown and recorded).
    let secrets = effective.secret_strings();
    for l in effective
        .layers
        .iter_mut()
        .filter(|l| l.kind == LayerKind::Override)
    {
        for s in &secrets {
            let quoted = serde_json::to_string(s).unwrap_or_default();
            let inner = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or("");
            for form in [s.as_str(), inner] {
                if !form.is_empty() && l.source.contains(form) {
                    l.source = l.source.replace(form, MASK);
                }
            }
        }
    }
    Ok(effective)
}

/// One override expression written into the user values (Helm's `strvals.Parse*Into`; a
/// `--set-json` JSON object merges like a values file).
fn apply_set(
    user: &mut Value,
    origins: &mut OriginTree,
    set: &SetOverride,
    idx: usize,
) -> Result<(), ValuesError> {
    use crate::domain::setvals::{parse_set_into, SetMode};
    let failed = |message: String| ValuesError::Set {
        flag: set.kind.flag(),
        expr: set.expr.clone(),
        message,
    };
    if set.kind == SetKind::Json && set.expr.trim_start().starts_with('{') {
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(set.expr.trim()) else {
            return Err(failed("not a JSON object".into()));
        };
        merge_maps(user, origins, &object, idx);
        return Ok(());
    }
    let read = |path: &str| match set.files.get(path) {
        Some(r) => r.clone(),
        None => Err(format!("open {path}: no such file or directory")),
    };
    let mode = match set.kind {
        SetKind::Json => SetMode::Json,
        SetKind::Typed => SetMode::Typed,
        SetKind::String => SetMode::String,
        SetKind::File => SetMode::File(&read),
        SetKind::Literal => SetMode::Literal,
    };
    let Value::Object(map) = user else {
        unreachable!("user values root is always a map")
    };
    let set_ptrs = parse_set_into(&set.expr, map, mode).map_err(|e| failed(e.helm_message()))?;
    for p in set_ptrs {
        mark_set(user, origins, &p, idx);
    }
    Ok(())
}

/// Records that a `--set` wrote the node at `ptr`, shaping the origin tree like the values.
fn mark_set(values: &Value, origins: &mut OriginTree, ptr: &str, layer: usize) {
    // `Whole`, not a leaf: a `--set-json` value can be a map, which chart defaults are
    // later coalesced into, key by key.
    let set = OriginTree::Whole { layer, base: 0 };
    let segs = crate::domain::yaml::pointer_segments(ptr);
    let mut v = values;
    let mut o = origins;
    for seg in &segs {
        o.expand(v);
        match v {
            Value::Object(m) => {
                let Some(next) = m.get(seg) else { return };
                v = next;
                o = o.as_map().entry(seg.clone()).or_insert_with(|| set.clone());
            }
            Value::Array(a) => {
                let Some(i) = seg.parse::<usize>().ok().filter(|i| *i < a.len()) else {
                    return;
                };
                v = &a[i];
                let list = o.as_list();
                // Helm pads with nulls; the padding is the --set's doing.
                list.resize_with(a.len(), || set.clone());
                o = &mut list[i];
            }
            _ => return,
        }
    }
    *o = set;
}

/// Helm's mergeMaps: maps merge recursively, anything else replaces (a `null` is kept).
fn merge_maps(
    dst: &mut Value,
    origins: &mut OriginTree,
    src: &Map<String, Value>,
    layer_idx: usize,
) {
    origins.expand(dst);
    let Value::Object(dmap) = dst else { return };
    let omap = origins.as_map();
    for (k, v) in src {
        if let (Value::Object(sv), Some(existing @ Value::Object(_))) = (v, dmap.get_mut(k)) {
            let child = omap
                .entry(k.clone())
                .or_insert_with(|| OriginTree::Map(HashMap::new()));
            merge_maps(existing, child, sv, layer_idx);
            // An empty map given again stays a leaf: the later layer set it (found by
            // tests/properties.rs: it had no origin, and `--explain` showed no layer).
            if existing.as_object().is_some_and(Map::is_empty) {
                *child = OriginTree::Whole {
                    layer: layer_idx,
                    base: 0,
                };
            }
        } else {
            omap.insert(
                k.clone(),
                OriginTree::Whole {
                    layer: layer_idx,
                    base: 0,
                },
            );
            dmap.insert(k.clone(), v.clone());
        }
    }
}

/// Helm's coalesce: `src` (defaults) fills in what `dst` (user values) lacks; a `null` in
/// `dst` deletes the default; maps merge; otherwise `dst` wins. Takes the defaults by value
/// so that their subtrees move instead of being copied.
fn coalesce(
    dst: &mut Value,
    dst_origins: &mut OriginTree,
    src: Value,
    src_origins: OriginTree,
    ptr: &str,
    warnings: &mut Vec<String>,
) {
    dst_origins.expand(dst);
    let (Value::Object(dmap), Value::Object(smap)) = (&mut *dst, src) else {
        return;
    };
    let mut src_origins = src_origins;
    let omap = dst_origins.as_map();
    for (k, sv) in smap {
        let src_child = src_origins.take_child(&k);
        match dmap.get_mut(&k) {
            Some(Value::Null) => {
                dmap.shift_remove(&k);
                omap.remove(&k);
            }
            Some(dv @ Value::Object(_)) => {
                if sv.is_object() {
                    let child_o = omap
                        .entry(k.clone())
                        .or_insert_with(|| OriginTree::Map(HashMap::new()));
                    let child_ptr = child_pointer(ptr, &k);
                    coalesce(dv, child_o, sv, src_child, &child_ptr, warnings);
                } else if !sv.is_null() {
                    warnings.push(format!(
                        "{}: a table overrides the chart's non-table default",
                        display_key(&child_pointer(ptr, &k))
                    ));
                }
            }
            Some(_) => {
                if sv.is_object() {
                    warnings.push(format!(
                        "skipped value for {}: not a table",
                        display_key(&child_pointer(ptr, &k))
                    ));
                }
            }
            None => {
                omap.insert(k.clone(), src_child);
                dmap.insert(k, sv);
            }
        }
    }
}

/// "/a/b/c" → ("a", "/b/c").
fn split_first(ptr: &str) -> (&str, &str) {
    let p = ptr.strip_prefix('/').unwrap_or(ptr);
    match p.find('/') {
        Some(i) => (&p[..i], &p[i..]),
        None => (p, ""),
    }
}

fn display_key(ptr: &str) -> String {
    crate::domain::yaml::pointer_segments(ptr).join(".")
}

fn nearest_pos(positions: &HashMap<String, Pos>, ptr: &str) -> Option<Pos> {
    if positions.is_empty() {
        return None;
    }
    let mut p = ptr;
    loop {
        if let Some(pos) = positions.get(p) {
            return Some(*pos);
        }
        match p.rfind('/') {
            Some(i) => p = &p[..i],
            None => return None,
        }
    }
}

/// Pointers of every leaf under `v` (scalars, empty maps, empty lists), rooted at `ptr`.
pub fn leaves(v: &Value, ptr: &str) -> Vec<String> {
    let mut out = Vec::new();
    collect_leaves(v, ptr, &mut out);
    out
}

fn collect_leaves(v: &Value, ptr: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                collect_leaves(c, &child_pointer(ptr, k), out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, c) in a.iter().enumerate() {
                collect_leaves(c, &child_pointer(ptr, &i.to_string()), out);
            }
        }
        _ => out.push(ptr.to_string()),
    }
}

/// The node at a JSON Pointer.
pub fn lookup<'a>(root: &'a Value, ptr: &str) -> Option<&'a Value> {
    root.pointer(ptr)
}

/// Builds a map holding `value` at a dotted `path` (`database.password`, `a\.b.c`).
pub fn map_at_path(path: &str, value: Value) -> Map<String, Value> {
    let segs = split_dotted(path);
    let mut v = value;
    for s in segs.iter().rev() {
        let mut m = Map::new();
        m.insert(s.clone(), v);
        v = Value::Object(m);
    }
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Splits `a.b\.c.d` into `["a", "b.c", "d"]`.
pub fn split_dotted(path: &str) -> Vec<String> {
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                cur.push('.');
                chars.next();
            }
            '.' => segs.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    segs.push(cur);
    segs
}

impl Effective {
    /// Which layer set the node at `ptr` (and on which line of its file).
    pub fn origin(&self, ptr: &str) -> Option<Origin> {
        let mut cur = &self.origin_tree;
        let mut rest = ptr;
        loop {
            match cur {
                OriginTree::Leaf(o) => return *o,
                OriginTree::Whole { layer, base } => {
                    let positions = self.positions.get(*layer)?;
                    let local = ptr.get(*base..).unwrap_or("");
                    return Some(Origin {
                        layer: *layer,
                        pos: nearest_pos(positions, local),
                    });
                }
                OriginTree::Map(_) | OriginTree::List(_) if rest.is_empty() => return None,
                OriginTree::Map(m) => {
                    let (seg, tail) = split_first(rest);
                    cur = m
                        .get(&crate::domain::yaml::unescape_segment(seg))
                        .unwrap_or(&UNKNOWN);
                    rest = tail;
                }
                OriginTree::List(l) => {
                    let (seg, tail) = split_first(rest);
                    cur = seg
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| l.get(i))
                        .unwrap_or(&UNKNOWN);
                    rest = tail;
                }
            }
        }
    }

    /// Leaf pointer → origin, for every leaf of the values.
    pub fn origins(&self) -> BTreeMap<String, Origin> {
        leaves(&self.values, "")
            .into_iter()
            .filter_map(|p| self.origin(&p).map(|o| (p, o)))
            .collect()
    }

    fn is_secret_origin(&self, o: &Origin) -> bool {
        self.layers.get(o.layer).map(|l| l.secret).unwrap_or(false)
    }

    /// A leaf set by a secret layer, or one a secret layer gave that another layer (an
    /// override at launch) replaced: both are the secret's value.
    fn is_secret(&self, ptr: &str, o: &Origin) -> bool {
        self.is_secret_origin(o)
            || self.secret_paths.iter().any(|s| {
                s == ptr
                    || ptr
                        .strip_prefix(s.as_str())
                        .is_some_and(|r| r.starts_with('/'))
                    || s.strip_prefix(ptr).is_some_and(|r| r.starts_with('/'))
            })
    }

    /// The effective values with every secret leaf replaced by `********`.
    pub fn masked_values(&self) -> Value {
        let mut v = self.values.clone();
        for (p, o) in &self.origins() {
            if self.is_secret(p, o) {
                if let Some(slot) = v.pointer_mut(p) {
                    *slot = Value::String(MASK.into());
                }
            }
        }
        v
    }

    /// Every leaf with the layer that set it, in key order of the values tree.
    pub fn explain(&self) -> Vec<Explained> {
        let masked = self.masked_values();
        leaves(&self.values, "")
            .into_iter()
            .filter(|p| !p.is_empty())
            .map(|p| {
                let origin = self.origin(&p);
                let layer = origin.and_then(|o| self.layers.get(o.layer));
                Explained {
                    key: crate::domain::yaml::pointer_to_dotted(&p, &self.values),
                    value: masked.pointer(&p).cloned().unwrap_or(Value::Null),
                    layer: layer.map(|l| l.kind).unwrap_or(LayerKind::ChartDefaults),
                    source: layer.map(|l| l.source.clone()).unwrap_or_default(),
                    line: origin.and_then(|o| o.pos).map(|p| p.line),
                    secret: origin.is_some_and(|o| self.is_secret(&p, &o)),
                    pointer: p,
                }
            })
            .collect()
    }

    /// The raw strings of every secret value in force, for redacting any output.
    pub fn secret_strings(&self) -> Vec<String> {
        self.origins()
            .iter()
            .filter(|(p, o)| self.is_secret(p, o))
            .filter_map(|(p, _)| self.values.pointer(p))
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .filter(|s| !s.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::yaml::parse_document;
    use serde_json::json;

    fn layer(kind: LayerKind, source: &str, yaml: &str) -> Layer {
        let doc = parse_document(yaml).expect("yaml");
        let Value::Object(m) = doc.value else {
            panic!("not a map")
        };
        Layer::new(kind, source, m).with_positions(doc.positions)
    }

    fn set(expr: &str) -> SetOverride {
        SetOverride::new(SetKind::Typed, expr)
    }

    #[test]
    fn an_empty_map_given_by_two_layers_is_explained_by_the_later() {
        let e = merge(
            &[
                layer(LayerKind::Service, "svc.yaml", "a: {}\n"),
                layer(LayerKind::Environment, "env.yaml", "a: {}\n"),
            ],
            &[],
        )
        .expect("merge");
        assert_eq!(e.origin("/a").map(|o| o.layer), Some(1));
    }

    #[test]
    fn later_layers_win_and_maps_deep_merge() {
        let e = merge(
            &[
                layer(
                    LayerKind::ChartDefaults,
                    "values.yaml",
                    "image: {repo: web, tag: '1.0'}\nreplicas: 1\n",
                ),
                layer(LayerKind::Service, "svc.yaml", "image: {tag: '1.1'}\n"),
                layer(LayerKind::Environment, "env.yaml", "replicas: 3\n"),
            ],
            &[],
        )
        .expect("merges");
        assert_eq!(
            e.values,
            json!({"image": {"tag": "1.1", "repo": "web"}, "replicas": 3})
        );
        assert_eq!(e.origins()["/image/tag"].layer, 1);
        assert_eq!(e.origins()["/image/repo"].layer, 0);
        assert_eq!(e.origins()["/replicas"].layer, 2);
        assert_eq!(e.origins()["/replicas"].pos.map(|p| p.line), Some(1));
        assert_eq!(
            e.user_values,
            json!({"image": {"tag": "1.1"}, "replicas": 3})
        );
    }

    #[test]
    fn lists_replace_whole() {
        let e = merge(
            &[
                layer(
                    LayerKind::ChartDefaults,
                    "values.yaml",
                    "hosts: [a, b, c]\n",
                ),
                layer(LayerKind::Environment, "env.yaml", "hosts:\n  - x\n"),
            ],
            &[],
        )
        .expect("merges");
        assert_eq!(e.values["hosts"], json!(["x"]));
        assert_eq!(
            e.origins()["/hosts/0"],
            Origin {
                layer: 1,
                pos: Some(Pos { line: 2, col: 5 })
            }
        );
        assert!(!e.origins().contains_key("/hosts/1"));
    }

    #[test]
    fn null_deletes_a_chart_default_but_stays_when_no_default() {
        // Checked against Helm's Chart.merge_values: {a:{b:null}, d:null, z:null}
        let e = merge(
            &[
                layer(
                    LayerKind::ChartDefaults,
                    "values.yaml",
                    "a: {b: 1, c: 2}\nd: 5\n",
                ),
                layer(
                    LayerKind::Service,
                    "svc.yaml",
                    "a: {b: null}\nd: null\nz: null\n",
                ),
            ],
            &[],
        )
        .expect("merges");
        assert_eq!(e.values, json!({"a": {"c": 2}, "z": null}));
        assert_eq!(
            e.user_values,
            json!({"a": {"b": null}, "d": null, "z": null})
        );
    }

    #[test]
    fn null_then_map_in_later_user_layer_still_merges_defaults() {
        let e = merge(
            &[
                layer(LayerKind::ChartDefaults, "values.yaml", "a: {c: 2}\n"),
                layer(LayerKind::Service, "svc.yaml", "a: null\n"),
                layer(LayerKind::Environment, "env.yaml", "a: {b: 1}\n"),
            ],
            &[],
        )
        .expect("merges");
        assert_eq!(e.values, json!({"a": {"b": 1, "c": 2}}));
    }

    #[test]
    fn scalar_over_table_wins_with_a_warning() {
        let e = merge(
            &[
                layer(
                    LayerKind::ChartDefaults,
                    "values.yaml",
                    "e: {f: 1}\ng: [1]\n",
                ),
                layer(LayerKind::Service, "svc.yaml", "e: str\ng: {x: 1}\n"),
            ],
            &[],
        )
        .expect("merges");
        assert_eq!(e.values, json!({"e": "str", "g": {"x": 1}}));
        assert_eq!(e.warnings.len(), 2, "{:?}", e.warnings);
    }

    #[test]
    fn set_overrides_apply_last_and_are_attributed() {
        let e = merge(
            &[
                layer(
                    LayerKind::ChartDefaults,
                    "values.yaml",
                    "image: {tag: '1.0'}\nhosts: [a, b]\n",
                ),
                layer(LayerKind::Environment, "env.yaml", "image: {tag: '1.1'}\n"),
            ],
            &[set("image.tag=2.0"), set("hosts[1]=z")],
        )
        .expect("merges");
        // Helm's --set types only integers, booleans and null: "2.0" stays a string.
        assert_eq!(e.values["image"]["tag"], json!("2.0"));
        // --set indexes into the *user* values, where `hosts` does not exist yet: Helm pads
        // with null and the user list replaces the chart's default list whole.
        assert_eq!(e.values["hosts"], json!([null, "z"]));
        let tag_origin = e.origins()["/image/tag"];
        assert_eq!(e.layers[tag_origin.layer].source, "--set image.tag=2.0");
        assert_eq!(
            e.layers[e.origins()["/hosts/1"].layer].source,
            "--set hosts[1]=z"
        );
    }

    #[test]
    fn secret_leaves_are_masked_in_every_view() {
        let mut secret = Layer::new(
            LayerKind::Secret,
            "env DB_PASSWORD",
            map_at_path("database.password", json!("hunter2")),
        );
        secret.secret = true;
        let e = merge(
            &[
                layer(
                    LayerKind::ChartDefaults,
                    "values.yaml",
                    "database: {host: db, password: ''}\n",
                ),
                secret,
            ],
            &[],
        )
        .expect("merges");
        assert_eq!(e.values["database"]["password"], json!("hunter2"));
        assert_eq!(e.masked_values()["database"]["password"], json!(MASK));
        let text = serde_json::to_string(&e.explain()).expect("json");
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(e.secret_strings(), vec!["hunter2".to_string()]);
    }

    #[test]
    fn an_override_of_a_secret_is_masked_like_the_secret() {
        let mut secret = Layer::new(
            LayerKind::Secret,
            "env DB_PASSWORD",
            map_at_path("database.password", json!("hunter2")),
        );
        secret.secret = true;
        let mut file = SetOverride::new(SetKind::File, "database.password=./pw.txt");
        file.files
            .insert("./pw.txt".into(), Ok("from-a-file".into()));
        for set in [
            SetOverride::new(SetKind::Literal, "database.password=lit,eral"),
            SetOverride::new(SetKind::Json, r#"database={"password":"js0n"}"#),
            file,
        ] {
            let e = merge(&[secret.clone()], std::slice::from_ref(&set)).expect("merges");
            let raw = e.values["database"]["password"]
                .as_str()
                .expect("string")
                .to_string();
            assert_ne!(raw, "hunter2", "{set:?} wins");
            assert_eq!(e.masked_values()["database"]["password"], json!(MASK));
            let explained = e.explain();
            let line = explained
                .iter()
                .find(|x| x.pointer == "/database/password")
                .expect("explained");
            assert!(line.secret && line.value == json!(MASK), "{line:?}");
            assert_eq!(
                line.source,
                format!("{} {}", set.kind.flag(), set.expr).replace(&raw, MASK)
            );
            assert!(!serde_json::to_string(&explained)
                .expect("json")
                .contains(&raw));
            assert_eq!(e.secret_strings(), vec![raw]);
        }
    }

    #[test]
    fn override_kinds_apply_in_helms_order_whatever_order_they_come_in() {
        let sets = [
            SetOverride::new(SetKind::Literal, "k=literal"),
            SetOverride::new(SetKind::String, "k=s"),
            SetOverride::new(SetKind::Typed, "k=1"),
            SetOverride::new(SetKind::Json, "k=[1]"),
            SetOverride::new(SetKind::Typed, "j=1"),
            SetOverride::new(SetKind::Json, r#"{"j": {"x": 1}, "m": 2}"#),
        ];
        let e = merge(&[], &sets).expect("merges");
        assert_eq!(e.values, json!({"k": "literal", "j": 1, "m": 2}));
        let sources: Vec<&str> = e.layers.iter().map(|l| l.source.as_str()).collect();
        assert_eq!(
            sources,
            [
                "--set-json k=[1]",
                r#"--set-json {"j": {"x": 1}, "m": 2}"#,
                "--set k=1",
                "--set j=1",
                "--set-string k=s",
                "--set-literal k=literal"
            ]
        );
        assert_eq!(e.layers[e.origins()["/m"].layer].source, sources[1]);
        assert_eq!(e.layers[e.origins()["/k"].layer].source, sources[5]);
        let bad = merge(&[], &[SetOverride::new(SetKind::Json, "{nope")]).expect_err("bad json");
        assert!(bad.to_string().contains("--set-json"), "{bad}");
    }

    #[test]
    fn subchart_defaults_hang_under_their_name_and_parent_wins() {
        let mut sub = layer(
            LayerKind::ChartDefaults,
            "redis/values.yaml",
            "port: 6379\nenabled: false\n",
        );
        sub.mount = "/redis".into();
        let e = merge(
            &[
                layer(
                    LayerKind::ChartDefaults,
                    "values.yaml",
                    "redis: {enabled: true}\n",
                ),
                sub,
            ],
            &[],
        )
        .expect("merges");
        assert_eq!(e.values, json!({"redis": {"enabled": true, "port": 6379}}));
        assert_eq!(e.origins()["/redis/port"].layer, 1);
        assert_eq!(e.origins()["/redis/enabled"].layer, 0);
    }

    #[test]
    fn dotted_paths_split_with_escapes() {
        assert_eq!(split_dotted("a.b\\.c.d"), vec!["a", "b.c", "d"]);
        assert_eq!(
            Value::Object(map_at_path("x.y", json!(1))),
            json!({"x": {"y": 1}})
        );
    }
}

#[cfg(test)]
mod git_change_tests {
    use super::*;

    fn git_layer(kind: LayerKind, repo: &str, path: &str, commit: &str) -> LayerSummary {
        let g = GitOrigin {
            repository: repo.into(),
            git_ref: "main".into(),
            commit: commit.into(),
            path: path.into(),
        };
        LayerSummary {
            kind,
            source: g.label(),
            secret: false,
            git: Some(g),
        }
    }

    #[test]
    fn a_git_values_file_on_a_new_commit_is_named_with_both_commits() {
        let old = vec![
            git_layer(
                LayerKind::Service,
                "platform",
                "values/web.yaml",
                "abc1234ffff",
            ),
            git_layer(
                LayerKind::Environment,
                "envs",
                "staging.yaml",
                "1111111aaaa",
            ),
        ];
        let new = vec![
            git_layer(
                LayerKind::Service,
                "platform",
                "values/web.yaml",
                "def5678eeee",
            ),
            git_layer(
                LayerKind::Environment,
                "envs",
                "staging.yaml",
                "1111111aaaa",
            ),
        ];
        let changes = git_values_changes(&old, &new);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(
            changes[0].line(),
            "values git:platform values/web.yaml: abc1234 → def5678"
        );
    }

    #[test]
    fn added_and_removed_git_values_files_are_named() {
        let old = vec![git_layer(
            LayerKind::Service,
            "platform",
            "a.yaml",
            "aaaaaaa1",
        )];
        let new = vec![git_layer(
            LayerKind::Service,
            "platform",
            "b.yaml",
            "bbbbbbb2",
        )];
        let lines: Vec<String> = git_values_changes(&old, &new)
            .iter()
            .map(GitValuesChange::line)
            .collect();
        assert_eq!(
            lines,
            vec![
                "values git:platform b.yaml: (none) → bbbbbbb",
                "values git:platform a.yaml: aaaaaaa → (removed)"
            ]
        );
        assert!(git_values_changes(&new, &new).is_empty());
    }

    #[test]
    fn the_layer_label_names_repository_short_commit_and_path() {
        let g = GitOrigin {
            repository: "platform".into(),
            git_ref: "main".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            path: "values/web.yaml".into(),
        };
        assert_eq!(g.label(), "git:platform@0123456:values/web.yaml");
    }
}
