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
    pub positions: HashMap<String, Pos>,
    /// Secret layers never show their values.
    pub secret: bool,
    /// For chart defaults of a subchart: where its tree hangs (`/redis`); empty otherwise.
    pub mount: String,
}

impl Layer {
    pub fn new(kind: LayerKind, source: impl Into<String>, values: Map<String, Value>) -> Self {
        Layer {
            kind,
            source: source.into(),
            values,
            positions: HashMap::new(),
            secret: false,
            mount: String::new(),
        }
    }

    pub fn with_positions(mut self, positions: HashMap<String, Pos>) -> Self {
        self.positions = positions;
        self
    }
}

/// A `--set` (or `--set-string`) expression, applied after every file layer, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOverride {
    pub expr: String,
    pub string: bool,
}

/// Which layer set a leaf, and on which line of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    pub layer: usize,
    pub pos: Option<Pos>,
}

/// What the release receives, and why.
#[derive(Debug, Clone)]
pub struct Effective {
    /// The values the chart's templates see (`.Values`).
    pub values: Value,
    /// The user-supplied tree handed to Helm (`-f -`): everything but the chart defaults.
    pub user_values: Value,
    /// Leaf pointer → origin. Leaves are scalars, empty maps and empty lists; list items
    /// are leaves of their own (`/hosts/0/name`).
    pub origins: BTreeMap<String, Origin>,
    pub layers: Vec<LayerSummary>,
    /// Warnings Helm would print (e.g. a table replaced by a scalar).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerSummary {
    pub kind: LayerKind,
    pub source: String,
    pub secret: bool,
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
    #[error("invalid --set {expr:?}: {message}")]
    Set { expr: String, message: String },
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
        })
        .collect();

    // 1. User layers: Helm's mergeMaps, in order.
    let mut user = Value::Object(Map::new());
    let mut user_origins = BTreeMap::new();
    for (i, layer) in layers.iter().enumerate() {
        if layer.kind == LayerKind::ChartDefaults {
            continue;
        }
        merge_maps(&mut user, &mut user_origins, &layer.values, "", i, layer);
    }
    // 2. --set expressions parsed into the merged user values.
    for set in sets {
        let idx = summaries.len();
        summaries.push(LayerSummary {
            kind: LayerKind::Override,
            source: if set.string {
                format!("--set-string {}", set.expr)
            } else {
                format!("--set {}", set.expr)
            },
            secret: false,
        });
        let mode = if set.string {
            crate::domain::setvals::SetMode::String
        } else {
            crate::domain::setvals::SetMode::Typed
        };
        let Value::Object(map) = &mut user else {
            unreachable!("user values root is always a map")
        };
        let set_ptrs =
            crate::domain::setvals::parse_set_into(&set.expr, map, mode).map_err(|e| {
                ValuesError::Set {
                    expr: set.expr.clone(),
                    message: e.helm_message(),
                }
            })?;
        for p in set_ptrs {
            drop_under(&mut user_origins, &p);
            let sub = lookup(&user, &p).cloned().unwrap_or(Value::Null);
            for leaf in leaves(&sub, &p) {
                user_origins.insert(
                    leaf,
                    Origin {
                        layer: idx,
                        pos: None,
                    },
                );
            }
        }
    }

    // 3. Chart defaults: the parent's, then each subchart's under its mount point, the
    //    parent's values winning over the subchart's own defaults.
    let mut defaults = Value::Object(Map::new());
    let mut default_origins = BTreeMap::new();
    for (i, layer) in layers.iter().enumerate() {
        if layer.kind != LayerKind::ChartDefaults {
            continue;
        }
        let tree = Value::Object(layer.values.clone());
        let mut origins = BTreeMap::new();
        for leaf in leaves(&tree, "") {
            let pos = nearest_pos(&layer.positions, &leaf);
            origins.insert(format!("{}{}", layer.mount, leaf), Origin { layer: i, pos });
        }
        if layer.mount.is_empty() {
            coalesce(
                &mut defaults,
                &mut default_origins,
                &tree,
                &origins,
                "",
                &mut warnings,
            );
        } else {
            let mut slot = lookup(&defaults, &layer.mount)
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            coalesce(
                &mut slot,
                &mut default_origins,
                &tree,
                &origins,
                &layer.mount,
                &mut warnings,
            );
            set_at(&mut defaults, &layer.mount, slot);
        }
    }

    // 4. Coalesce the defaults underneath the user values.
    let mut values = user.clone();
    let mut origins = user_origins;
    coalesce(
        &mut values,
        &mut origins,
        &defaults,
        &default_origins,
        "",
        &mut warnings,
    );
    origins.retain(|p, _| is_leaf_at(&values, p));
    Ok(Effective {
        values,
        user_values: user,
        origins,
        layers: summaries,
        warnings,
    })
}

/// Helm's mergeMaps: maps merge recursively, anything else replaces (a `null` is kept).
fn merge_maps(
    dst: &mut Value,
    origins: &mut BTreeMap<String, Origin>,
    src: &Map<String, Value>,
    ptr: &str,
    layer_idx: usize,
    layer: &Layer,
) {
    let Value::Object(dmap) = dst else { return };
    for (k, v) in src {
        let child = child_pointer(ptr, k);
        if let (Value::Object(sv), Some(existing @ Value::Object(_))) = (v, dmap.get_mut(k)) {
            merge_maps(existing, origins, sv, &child, layer_idx, layer);
            continue;
        }
        drop_under(origins, &child);
        for leaf in leaves(v, &child) {
            origins.insert(
                leaf.clone(),
                Origin {
                    layer: layer_idx,
                    pos: nearest_pos(&layer.positions, &leaf),
                },
            );
        }
        dmap.insert(k.clone(), v.clone());
    }
}

/// Helm's coalesce: `src` (defaults) fills in what `dst` (user values) lacks; a `null` in
/// `dst` deletes the default; maps merge; otherwise `dst` wins.
fn coalesce(
    dst: &mut Value,
    dst_origins: &mut BTreeMap<String, Origin>,
    src: &Value,
    src_origins: &BTreeMap<String, Origin>,
    ptr: &str,
    warnings: &mut Vec<String>,
) {
    let (Value::Object(dmap), Value::Object(smap)) = (&mut *dst, src) else {
        return;
    };
    for (k, sv) in smap {
        let child = child_pointer(ptr, k);
        match dmap.get_mut(k) {
            Some(Value::Null) => {
                dmap.remove(k);
                drop_under(dst_origins, &child);
            }
            Some(dv @ Value::Object(_)) => {
                if sv.is_object() {
                    coalesce(dv, dst_origins, sv, src_origins, &child, warnings);
                } else if !sv.is_null() {
                    warnings.push(format!(
                        "{}: a table overrides the chart's non-table default",
                        display_key(&child)
                    ));
                }
            }
            Some(_) => {
                if sv.is_object() {
                    warnings.push(format!(
                        "skipped value for {}: not a table",
                        display_key(&child)
                    ));
                }
            }
            None => {
                dmap.insert(k.clone(), sv.clone());
                let prefix = format!("{child}/");
                for (p, o) in src_origins.range(child.clone()..) {
                    if p == &child || p.starts_with(&prefix) {
                        dst_origins.insert(p.clone(), *o);
                    } else if !p.starts_with(&child) {
                        break;
                    }
                }
            }
        }
    }
}

fn display_key(ptr: &str) -> String {
    crate::domain::yaml::pointer_segments(ptr).join(".")
}

fn nearest_pos(positions: &HashMap<String, Pos>, ptr: &str) -> Option<Pos> {
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

fn drop_under(origins: &mut BTreeMap<String, Origin>, ptr: &str) {
    let prefix = format!("{ptr}/");
    let doomed: Vec<String> = origins
        .range(ptr.to_string()..)
        .take_while(|(p, _)| p.starts_with(ptr))
        .filter(|(p, _)| *p == ptr || p.starts_with(&prefix))
        .map(|(p, _)| p.clone())
        .collect();
    for p in doomed {
        origins.remove(&p);
    }
    // An ancestor that was a leaf (a scalar replaced by a map) is no leaf any more.
    let mut p = ptr;
    while let Some(i) = p.rfind('/') {
        p = &p[..i];
        origins.remove(p);
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

fn is_leaf_at(root: &Value, ptr: &str) -> bool {
    match lookup(root, ptr) {
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => true,
        None => false,
    }
}

/// The node at a JSON Pointer.
pub fn lookup<'a>(root: &'a Value, ptr: &str) -> Option<&'a Value> {
    root.pointer(ptr)
}

fn set_at(root: &mut Value, ptr: &str, v: Value) {
    let segs = crate::domain::yaml::pointer_segments(ptr);
    let mut cur = root;
    for (i, s) in segs.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(m) = cur else { return };
        if i + 1 == segs.len() {
            m.insert(s.clone(), v);
            return;
        }
        cur = m
            .entry(s.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    *cur = v;
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
    pub fn origin(&self, ptr: &str) -> Option<&Origin> {
        self.origins.get(ptr)
    }

    fn is_secret_origin(&self, o: &Origin) -> bool {
        self.layers.get(o.layer).map(|l| l.secret).unwrap_or(false)
    }

    /// The effective values with every leaf set by a secret layer replaced by `********`.
    pub fn masked_values(&self) -> Value {
        let mut v = self.values.clone();
        for (p, o) in &self.origins {
            if self.is_secret_origin(o) {
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
                let origin = self.origins.get(&p);
                let layer = origin.and_then(|o| self.layers.get(o.layer));
                Explained {
                    key: crate::domain::yaml::pointer_to_dotted(&p, &self.values),
                    value: masked.pointer(&p).cloned().unwrap_or(Value::Null),
                    layer: layer.map(|l| l.kind).unwrap_or(LayerKind::ChartDefaults),
                    source: layer.map(|l| l.source.clone()).unwrap_or_default(),
                    line: origin.and_then(|o| o.pos).map(|p| p.line),
                    secret: layer.map(|l| l.secret).unwrap_or(false),
                    pointer: p,
                }
            })
            .collect()
    }

    /// The raw strings of every secret value in force, for redacting any output.
    pub fn secret_strings(&self) -> Vec<String> {
        self.origins
            .iter()
            .filter(|(_, o)| self.is_secret_origin(o))
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
        SetOverride {
            expr: expr.into(),
            string: false,
        }
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
        assert_eq!(e.origins["/image/tag"].layer, 1);
        assert_eq!(e.origins["/image/repo"].layer, 0);
        assert_eq!(e.origins["/replicas"].layer, 2);
        assert_eq!(e.origins["/replicas"].pos.map(|p| p.line), Some(1));
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
            e.origins["/hosts/0"],
            Origin {
                layer: 1,
                pos: Some(Pos { line: 2, col: 5 })
            }
        );
        assert!(!e.origins.contains_key("/hosts/1"));
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
        let tag_origin = e.origins["/image/tag"];
        assert_eq!(e.layers[tag_origin.layer].source, "--set image.tag=2.0");
        assert_eq!(
            e.layers[e.origins["/hosts/1"].layer].source,
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
        assert_eq!(e.origins["/redis/port"].layer, 1);
        assert_eq!(e.origins["/redis/enabled"].layer, 0);
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
