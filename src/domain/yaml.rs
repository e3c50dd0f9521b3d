//! YAML in and out for helmdeck: documents become `serde_json::Value` trees (what Kubernetes
//! objects and Helm values are) with the line and column of every key and item kept aside,
//! and trees are written back as block YAML. Pure: text in, values out, no I/O.
//!
//! Plain scalars resolve the way Helm and kubectl read YAML (go-yaml v2 through
//! sigs.k8s.io/yaml): `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0644` is octal, `~` is null.
//! The emitter quotes every string that such a reader would take for something else.

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::fmt::Write as _;

/// A 1-based line and column in a YAML text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One YAML document: its value and where each node stands. Positions are keyed by JSON
/// Pointer (RFC 6901): a map entry by the position of its key, a list item by its start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Doc {
    pub value: Value,
    pub positions: HashMap<String, Pos>,
    /// Where the document starts (its first node, or the `---` that opens it).
    pub start: Option<Pos>,
    /// Keys given twice in one map (the last one wins, as in Helm): pointer and position.
    pub duplicate_keys: Vec<(String, Pos)>,
}

impl Doc {
    /// The position of the node at `pointer`, or of its nearest ancestor that has one.
    pub fn position_of(&self, pointer: &str) -> Option<Pos> {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return Some(*pos);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return self.start,
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    #[error("{pos}: {message}")]
    Syntax { pos: Pos, message: String },
    #[error("{pos}: unknown anchor in alias")]
    UnknownAnchor { pos: Pos },
    #[error("{pos}: a map key must be a scalar")]
    ComplexKey { pos: Pos },
}

impl YamlError {
    pub fn pos(&self) -> Pos {
        match self {
            YamlError::Syntax { pos, .. }
            | YamlError::UnknownAnchor { pos }
            | YamlError::ComplexKey { pos } => *pos,
        }
    }
}

/// Escapes one JSON Pointer segment (RFC 6901).
pub fn escape_segment(seg: &str) -> String {
    seg.replace('~', "~0").replace('/', "~1")
}

/// Unescapes one JSON Pointer segment.
pub fn unescape_segment(seg: &str) -> String {
    seg.replace("~1", "/").replace("~0", "~")
}

/// `parent` + `/seg`, escaped.
pub fn child_pointer(parent: &str, seg: &str) -> String {
    let mut s = String::with_capacity(parent.len() + seg.len() + 1);
    s.push_str(parent);
    s.push('/');
    s.push_str(&escape_segment(seg));
    s
}

/// Splits a JSON Pointer into unescaped segments ("" → none).
pub fn pointer_segments(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(unescape_segment)
        .collect()
}

/// Dotted display of a pointer, as users write keys: `/image/tag` → `image.tag`,
/// `/hosts/0/name` → `hosts[0].name`, a key holding a dot is quoted.
pub fn pointer_to_dotted(pointer: &str, value_root: &Value) -> String {
    let mut out = String::new();
    let mut cur = Some(value_root);
    for seg in pointer_segments(pointer) {
        let is_index = matches!(cur, Some(Value::Array(_)));
        if is_index {
            let _ = write!(out, "[{seg}]");
            cur = seg
                .parse::<usize>()
                .ok()
                .and_then(|i| cur.and_then(|c| c.get(i)));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            if seg.contains('.') || seg.is_empty() {
                let _ = write!(out, "{seg:?}");
            } else {
                out.push_str(&seg);
            }
            cur = cur.and_then(|c| c.get(&seg));
        }
    }
    out
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

fn syntax(e: ScanError) -> YamlError {
    let m = e.marker();
    YamlError::Syntax {
        pos: Pos {
            line: m.line(),
            col: m.col() + 1,
        },
        message: e.info().to_string(),
    }
}

/// Deepest nesting of maps and lists a document may have. Real files stay under 30; the
/// limit keeps a hostile or broken file from overflowing the stack of whoever walks the tree
/// (the loader, the emitter, values merge, diff, and dropping the tree all recurse): 128
/// levels fit a tokio worker's 2 MiB stack even in debug builds (block lists 300 deep did
/// not). saphyr-parser refuses flow collections past 256 levels on its own.
pub const MAX_DEPTH: usize = 128;

/// go-yaml's defence against alias bombs ("billion laughs", CVE-2019-11253), which Helm
/// inherits: once more than 100 nodes came from aliases and more than 1,000 were read, the
/// share of nodes that came from aliases may not pass 99 % (up to 400,000 nodes), falling
/// to 10 % at 4,000,000.
fn allowed_alias_ratio(decoded: usize) -> f64 {
    const LOW: usize = 400_000;
    const HIGH: usize = 4_000_000;
    if decoded <= LOW {
        0.99
    } else if decoded >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decoded - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

struct Loader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Anchored values and how many nodes each holds.
    anchors: HashMap<usize, (Value, usize)>,
    peeked: Option<(Event<'a>, Span)>,
    duplicates: Vec<(String, Pos)>,
    depth: usize,
    /// Nodes produced so far, counting every node an alias copies.
    decoded: usize,
    /// Of those, the nodes that came from aliases.
    aliased: usize,
}

impl<'a> Loader<'a> {
    fn next(&mut self) -> Result<Option<(Event<'a>, Span)>, YamlError> {
        if let Some(p) = self.peeked.take() {
            return Ok(Some(p));
        }
        match self.parser.next() {
            None => Ok(None),
            Some(Ok(ev)) => Ok(Some(ev)),
            Some(Err(e)) => Err(syntax(e)),
        }
    }

    fn expect(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        self.next()?.ok_or(YamlError::Syntax {
            pos: Pos { line: 0, col: 0 },
            message: "unexpected end of input".into(),
        })
    }

    /// Reads one node whose first event is `ev`, recording positions under `ptr`.
    fn node(
        &mut self,
        ev: Event<'a>,
        span: Span,
        ptr: &str,
        positions: &mut HashMap<String, Pos>,
    ) -> Result<Value, YamlError> {
        let container = matches!(ev, Event::SequenceStart(..) | Event::MappingStart(..));
        if container {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(YamlError::Syntax {
                    pos: pos_of(&span),
                    message: format!("maps and lists nest deeper than {MAX_DEPTH} levels"),
                });
            }
        }
        let before = self.decoded;
        self.decoded += 1;
        let anchor = match &ev {
            Event::Scalar(_, _, a, _) | Event::SequenceStart(a, _) | Event::MappingStart(a, _) => {
                *a
            }
            _ => 0,
        };
        let v = self.node_inner(ev, span, ptr, positions)?;
        if container {
            self.depth -= 1;
        }
        if anchor > 0 {
            self.anchors
                .insert(anchor, (v.clone(), self.decoded - before));
        }
        Ok(v)
    }

    fn node_inner(
        &mut self,
        ev: Event<'a>,
        span: Span,
        ptr: &str,
        positions: &mut HashMap<String, Pos>,
    ) -> Result<Value, YamlError> {
        match ev {
            Event::Scalar(text, style, _, tag) => {
                let tag_suffix = tag.as_ref().map(|t| t.suffix.clone());
                let plain = tag_suffix.is_none() && style == ScalarStyle::Plain;
                if (plain || tag_suffix.as_deref() == Some("float")) && is_special_float(&text) {
                    return Err(YamlError::Syntax {
                        pos: pos_of(&span),
                        message: format!(
                            "`{text}` is an infinite or not-a-number float, which JSON (and so \
                             Helm and Kubernetes) cannot hold; quote it (\"{text}\") to mean the text"
                        ),
                    });
                }
                let v = resolve_scalar(&text, style, tag_suffix.as_deref());
                // An explicit type the text does not have is an error, as in go-yaml
                // ("cannot decode !!str `x` as a !!int").
                let fits = match tag_suffix.as_deref() {
                    Some("int") => v.as_i64().is_some() || v.as_u64().is_some(),
                    Some("float") => v.is_number(),
                    Some("bool") => v.is_boolean(),
                    Some("null") => resolve_plain(&text).is_null(),
                    _ => true,
                };
                if !fits {
                    let tag = tag_suffix.unwrap_or_default();
                    return Err(YamlError::Syntax {
                        pos: pos_of(&span),
                        message: format!("cannot read `{text}` as a !!{tag}"),
                    });
                }
                Ok(v)
            }
            Event::Alias(id) => {
                let (v, size) = self
                    .anchors
                    .get(&id)
                    .ok_or(YamlError::UnknownAnchor { pos: pos_of(&span) })?;
                // The alias itself was counted as one node by `node`.
                self.decoded += size - 1;
                self.aliased += size;
                if self.aliased > 100
                    && self.decoded > 1000
                    && self.aliased as f64 / self.decoded as f64 > allowed_alias_ratio(self.decoded)
                {
                    return Err(YamlError::Syntax {
                        pos: pos_of(&span),
                        message: "document contains excessive aliasing (anchors expanding to \
                                  more nodes than Helm accepts)"
                            .into(),
                    });
                }
                Ok(v.clone())
            }
            Event::SequenceStart(..) => {
                let mut items = Vec::new();
                loop {
                    let (ev, sp) = self.expect()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    let child = child_pointer(ptr, &items.len().to_string());
                    positions.insert(child.clone(), pos_of(&sp));
                    let v = self.node(ev, sp, &child, positions)?;
                    items.push(v);
                }
                Ok(Value::Array(items))
            }
            Event::MappingStart(..) => {
                let mut map = Map::new();
                let mut merged: Vec<Map<String, Value>> = Vec::new();
                loop {
                    let (kev, ksp) = self.expect()?;
                    if matches!(kev, Event::MappingEnd) {
                        break;
                    }
                    let key = match &kev {
                        Event::Scalar(text, style, _, tag) => {
                            let is_merge = text == "<<" && *style == ScalarStyle::Plain;
                            if is_merge {
                                None
                            } else {
                                let tag_suffix = tag.as_ref().map(|t| t.suffix.clone());
                                let special = tag_suffix.is_none()
                                    && *style == ScalarStyle::Plain
                                    && is_special_float(text);
                                let key = if special {
                                    Some(special_float_key(text))
                                } else {
                                    key_string(resolve_scalar(text, *style, tag_suffix.as_deref()))
                                };
                                Some(key.ok_or(YamlError::Syntax {
                                    pos: pos_of(&ksp),
                                    message: NULL_KEY.into(),
                                })?)
                            }
                        }
                        Event::Alias(id) => match self.anchors.get(id).map(|(v, _)| v) {
                            Some(
                                v @ (Value::Null
                                | Value::Bool(_)
                                | Value::Number(_)
                                | Value::String(_)),
                            ) => Some(key_string(v.clone()).ok_or(YamlError::Syntax {
                                pos: pos_of(&ksp),
                                message: NULL_KEY.into(),
                            })?),
                            Some(_) => return Err(YamlError::ComplexKey { pos: pos_of(&ksp) }),
                            None => return Err(YamlError::UnknownAnchor { pos: pos_of(&ksp) }),
                        },
                        _ => return Err(YamlError::ComplexKey { pos: pos_of(&ksp) }),
                    };
                    let (vev, vsp) = self.expect()?;
                    match key {
                        None => {
                            // `<<: *base` or `<<: [*a, *b]`: merge keys, earlier wins, own keys win.
                            let mut scratch = HashMap::new();
                            let v = self.node(vev, vsp, ptr, &mut scratch)?;
                            match v {
                                Value::Object(m) => merged.push(m),
                                Value::Array(list) => {
                                    for item in list {
                                        if let Value::Object(m) = item {
                                            merged.push(m);
                                        }
                                    }
                                }
                                _ => {}
                            }
                        }
                        Some(key) => {
                            let child = child_pointer(ptr, &key);
                            if map.contains_key(&key) {
                                self.duplicates.push((child.clone(), pos_of(&ksp)));
                            }
                            positions.insert(child.clone(), pos_of(&ksp));
                            let v = self.node(vev, vsp, &child, positions)?;
                            map.insert(key, v);
                        }
                    }
                }
                for m in merged {
                    for (k, v) in m {
                        map.entry(k).or_insert(v);
                    }
                }
                Ok(Value::Object(map))
            }
            other => Err(YamlError::Syntax {
                pos: pos_of(&span),
                message: format!("unexpected {other:?}"),
            }),
        }
    }
}

const NULL_KEY: &str = "a map key is null (`~`, `null` or nothing), which Helm refuses; \
                        quote it (\"null\") to mean the text";

/// The text a non-string key becomes, as sigs.k8s.io/yaml (Helm, kubectl) turns YAML keys
/// into JSON ones: integers in decimal, floats by Go's `FormatFloat(f, 'g', -1, 32)`,
/// booleans `true`/`false`. A null key is refused (None), as there.
fn key_string(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        Value::Null => None,
        Value::Number(n) if n.is_f64() => Some(go_float_key(n.as_f64().unwrap_or_default())),
        other => Some(other.to_string()),
    }
}

/// `.inf`, `-.Inf`, `.NaN`… as a key: sigs.k8s.io/yaml writes `.inf`, `-.inf`, `.nan`.
fn special_float_key(text: &str) -> String {
    if text.contains(['n', 'N']) && text.to_ascii_lowercase().ends_with("nan") {
        ".nan".into()
    } else if text.starts_with('-') {
        "-.inf".into()
    } else {
        ".inf".into()
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`: the shortest digits that read back as the
/// same float32; `%e` form (`1e+06`) when the exponent is below -4 or at least 6, else `%f`.
fn go_float_key(f: f64) -> String {
    let f = f as f32;
    if f.is_infinite() {
        return if f < 0.0 {
            "-.inf".into()
        } else {
            ".inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-d.ddde-x`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if mantissa.starts_with('-') { "-" } else { "" };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1;
    if point <= 0 {
        format!(
            "{sign}0.{}{digits}",
            "0".repeat(point.unsigned_abs() as usize)
        )
    } else if point as usize >= digits.len() {
        format!(
            "{sign}{digits}{}",
            "0".repeat(point as usize - digits.len())
        )
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{sign}{int}.{frac}")
    }
}

/// Parses every document of a YAML stream. Empty documents (only comments, or nothing
/// between two `---`) are returned as `Value::Null`.
pub fn parse_documents(text: &str) -> Result<Vec<Doc>, YamlError> {
    let mut loader = Loader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        peeked: None,
        duplicates: Vec::new(),
        depth: 0,
        decoded: 0,
        aliased: 0,
    };
    let mut docs = Vec::new();
    while let Some((ev, span)) = loader.next()? {
        match ev {
            Event::DocumentStart(_) => {
                let mut positions = HashMap::new();
                let (ev, sp) = loader.expect()?;
                let start = Some(pos_of(&span));
                let value = if matches!(ev, Event::DocumentEnd) {
                    Value::Null
                } else {
                    let v = loader.node(ev, sp, "", &mut positions)?;
                    // DocumentEnd
                    let _ = loader.expect()?;
                    v
                };
                loader.anchors.clear();
                docs.push(Doc {
                    value,
                    positions,
                    start,
                    duplicate_keys: std::mem::take(&mut loader.duplicates),
                });
            }
            Event::StreamEnd => break,
            _ => {}
        }
    }
    Ok(docs)
}

/// Parses a single-document YAML text (an empty text is `null`).
pub fn parse_document(text: &str) -> Result<Doc, YamlError> {
    let mut docs = parse_documents(text)?;
    match docs.len() {
        0 => Ok(Doc::default()),
        1 => Ok(docs.remove(0)),
        _ => {
            let pos = docs[1].start.unwrap_or(Pos { line: 1, col: 1 });
            Err(YamlError::Syntax {
                pos,
                message: "expected one YAML document, found several (`---`)".into(),
            })
        }
    }
}

/// Parses YAML (or JSON, which is YAML) into a value, for callers that need no positions.
pub fn parse_value(text: &str) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Ok(v);
    }
    parse_document(text)
        .map(|d| d.value)
        .map_err(|e| e.to_string())
}

/// Resolves a scalar the way go-yaml v2 (Helm, kubectl) does.
pub fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    match tag {
        Some("str") => return Value::String(text.to_string()),
        Some("null") => return Value::Null,
        Some("bool") | Some("int") | Some("float") => {
            let v = resolve_plain(text);
            if !v.is_string() {
                return v;
            }
        }
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    resolve_plain(text)
}

/// `.inf`, `-.Inf`, `.NaN`…: floats for go-yaml (and so for Helm), which no JSON number
/// can hold.
pub fn is_special_float(text: &str) -> bool {
    matches!(
        text,
        ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
            | ".nan"
            | ".NaN"
            | ".NAN"
    )
}

/// Resolution of an untagged plain scalar.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return Value::String(text.to_string());
    }
    let plain: String = text.chars().filter(|c| *c != '_').collect();
    if let Some(n) = parse_go_int(&plain) {
        return Value::Number(n);
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            if let Some(n) = Number::from_f64(f) {
                return Value::Number(n);
            }
        }
    }
    Value::String(text.to_string())
}

/// Go's strconv.ParseInt/ParseUint with base 0: `0x`, `0o`, `0b`, and a leading `0` for octal.
pub(crate) fn parse_go_int(s: &str) -> Option<Number> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = u64::from_str_radix(&digits, radix).ok()?;
    if neg {
        if mag <= i64::MAX as u64 + 1 {
            Some(Number::from((mag as i128).wrapping_neg() as i64))
        } else {
            None
        }
    } else if mag <= i64::MAX as u64 {
        Some(Number::from(mag as i64))
    } else {
        Some(Number::from(mag))
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
pub(crate) fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// Writes a value as a block-style YAML document (ending in a newline), the way kubectl
/// prints objects: lists under a key are not indented, strings are quoted only when needed.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar_inline(other, 0));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn write_map(out: &mut String, m: &Map<String, Value>, ind: usize) {
    for (k, v) in m {
        indent(out, ind);
        out.push_str(&key_text(k));
        out.push(':');
        write_after_key(out, v, ind);
    }
}

fn write_after_key(out: &mut String, v: &Value, ind: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, ind + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, ind);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar_inline(other, ind + 2));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, a: &[Value], ind: usize) {
    for v in a {
        indent(out, ind);
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // First entry on the dash line, the rest aligned under it.
                let mut first = true;
                for (k, val) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        indent(out, ind + 2);
                    }
                    out.push_str(&key_text(k));
                    out.push(':');
                    write_after_key(out, val, ind + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, ind + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar_inline(other, ind + 2));
                out.push('\n');
            }
        }
    }
}

fn key_text(k: &str) -> String {
    if plain_safe(k) {
        k.to_string()
    } else {
        quote(k)
    }
}

fn scalar_inline(v: &Value, block_indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_text(s, block_indent),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

fn string_text(s: &str, block_indent: usize) -> String {
    if plain_safe(s) {
        return s.to_string();
    }
    if s.contains('\n') && literal_ok(s) {
        let (body, chomp) = match s.strip_suffix('\n') {
            Some(b) => (b, ""),
            None => (s, "-"),
        };
        let mut out = format!("|{chomp}");
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                indent(&mut out, block_indent.max(2));
                out.push_str(line);
            }
        }
        return out;
    }
    quote(s)
}

/// A literal block keeps the text as is when no line needs escaping, the first line does not
/// start with a space (that would need an indentation indicator) and at most one newline ends it.
fn literal_ok(s: &str) -> bool {
    !s.starts_with(' ')
        && !s.starts_with('\n')
        && !s.ends_with("\n\n")
        && !s.chars().any(|c| c != '\n' && c != '\t' && needs_escape(c))
        && !s.split('\n').any(|l| l.ends_with(' ') || l.ends_with('\t'))
}

/// A YAML double-quoted scalar: `"` and `\\` escaped, and every character a YAML reader
/// would not take as it is — controls, YAML 1.1's line breaks (NEL, LS, PS), the BOM and
/// the non-characters U+FFFE/U+FFFF — written as an escape.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = if (c as u32) <= 0xFFFF {
                    write!(out, "\\u{:04X}", c as u32)
                } else {
                    write!(out, "\\U{:08X}", c as u32)
                };
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Outside YAML's printable set (`c-printable`), or a line break in YAML 1.1.
fn needs_escape(c: char) -> bool {
    let u = c as u32;
    c.is_control()
        || matches!(u, 0x85 | 0x2028 | 0x2029 | 0xFEFF | 0xFFFE | 0xFFFF)
        || (0xD800..=0xDFFF).contains(&u)
}

/// True when `s` can be written unquoted and reads back as the same string.
pub fn plain_safe(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`<=".contains(first) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if s.chars().any(needs_escape) {
        return false;
    }
    // `...` at the start of a line ends the document; `.inf`/`.nan` read as floats.
    if s.starts_with("...") || is_special_float(s) {
        return false;
    }
    if s.contains(['{', '}', '[', ']', ',']) {
        // Safe in block context, but flow-looking text reads badly and some tools choke.
        return false;
    }
    matches!(resolve_plain(s), Value::String(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        parse_document(text).expect("parses").value
    }

    #[test]
    fn yaml_one_one_booleans_and_octal_like_helm() {
        let v = one("a: yes\nb: off\nc: 0644\nd: '0644'\ne: ~\nf: 1_000\ng: 0x1F\nh: y\n");
        assert_eq!(
            v,
            json!({"a": true, "b": false, "c": 420, "d": "0644", "e": null, "f": 1000, "g": 31, "h": true})
        );
    }

    #[test]
    fn large_integers_keep_their_digits() {
        let v = one("a: 9007199254740993\nb: 18446744073709551615\nc: 1e3\nd: 1.50\n");
        assert_eq!(v["a"].as_i64(), Some(9007199254740993));
        assert_eq!(v["b"].as_u64(), Some(u64::MAX));
        assert_eq!(v["c"].as_f64(), Some(1000.0));
        assert_eq!(v["d"].as_f64(), Some(1.5));
    }

    #[test]
    fn positions_are_one_based_key_positions() {
        let d = parse_document("image:\n  repository: web\n  tag: \"1.2\"\nhosts:\n  - a\n  - b\n")
            .expect("parses");
        assert_eq!(d.positions["/image"], Pos { line: 1, col: 1 });
        assert_eq!(d.positions["/image/tag"], Pos { line: 3, col: 3 });
        assert_eq!(d.positions["/hosts/1"], Pos { line: 6, col: 5 });
        assert_eq!(
            d.position_of("/image/tag/nope"),
            Some(Pos { line: 3, col: 3 })
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let v = one("base: &b {x: 1, z: 2}\nc:\n  <<: *b\n  z: 3\nd: *b\n");
        assert_eq!(v["c"], json!({"z": 3, "x": 1}));
        assert_eq!(v["d"], json!({"x": 1, "z": 2}));
    }

    #[test]
    fn duplicate_keys_last_wins_and_are_reported() {
        // Helm (go-yaml v2) keeps the last; `y` and `on` are both the key "true".
        let d = parse_document("a: 1\nb: 2\na: 3\ny: 4\non: 5\n").expect("parses");
        assert_eq!(d.value, json!({"a": 3, "b": 2, "true": 5}));
        let dups: Vec<_> = d
            .duplicate_keys
            .iter()
            .map(|(p, pos)| (p.as_str(), pos.line))
            .collect();
        assert_eq!(dups, vec![("/a", 3), ("/true", 5)]);
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse_document("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(matches!(e, YamlError::Syntax { .. }), "{e:?}");
    }

    #[test]
    fn multi_documents_and_empty_ones() {
        let docs =
            parse_documents("---\n# only a comment\n---\na: 1\n---\nb: 2\n").expect("parses");
        let values: Vec<Value> = docs.into_iter().map(|d| d.value).collect();
        assert_eq!(values, vec![Value::Null, json!({"a": 1}), json!({"b": 2})]);
    }

    #[test]
    fn emitter_round_trips_tricky_scalars() {
        let v = json!({
            "on": "on", "yes": "yes", "octal": "0644", "num": "12", "float": "1.5",
            "empty": "", "null_str": "null", "colon": "a: b", "hash": "a #b", "dash": "- x",
            "star": "*x", "multi": "line1\nline2\n", "multi_nochomp": "a\nb", "lead": " x",
            "big": 18446744073709551615u64, "neg": -5, "f": 2.5, "t": true, "n": null,
            "list": [1, "two", {"a": [], "b": {}}], "nested": {"deep": {"k": "v"}},
            "url": "http://x.example/a?b=c", "tilde": "~", "brace": "{x}", "tab": "a\tb",
            "crlf": "a\r\nb", "unicode": "café ✓",
        });
        let text = to_string(&v);
        assert_eq!(one(&text), v, "{text}");
    }

    #[test]
    fn emitter_style_matches_kubectl() {
        let v =
            json!({"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 80}]}]}});
        assert_eq!(
            to_string(&v),
            "spec:\n  containers:\n  - name: web\n    ports:\n    - containerPort: 80\n"
        );
    }

    #[test]
    fn emitter_quotes_what_other_readers_take_for_something_else() {
        // Found by tests/properties.rs: `...` ends a document; `.inf` is a float to Helm;
        // NEL, LS, PS are line breaks to YAML 1.1 readers; U+FFFE is not printable.
        for s in [
            "...", "... x", ".inf", "-.Inf", ".NaN", "a\u{85}b", "\u{2028}", "\u{fffe}",
        ] {
            let v = json!(s);
            let text = to_string(&v);
            assert!(text.starts_with('"'), "{text}");
            assert_eq!(one(&text), v, "{text}");
            let v = json!({ s: [s] });
            assert_eq!(one(&to_string(&v)), v);
        }
        assert_eq!(to_string(&json!("a\u{85}")), "\"a\\u0085\"\n");
    }

    #[test]
    fn infinite_and_nan_floats_and_null_keys_are_refused_as_helm_does() {
        let e = parse_document("a:\n  b: .inf\n").unwrap_err();
        assert_eq!(e.pos(), Pos { line: 2, col: 6 });
        assert!(e.to_string().contains("quote it"), "{e}");
        assert!(parse_document("~: x\n").is_err());
        assert!(parse_document("? \n: x\n").is_err());
        // Quoted, they are text; as keys, Helm's spelling.
        assert_eq!(
            one("a: '.inf'\n.Inf: 1\n-.INF: 2\n.NaN: 3\n"),
            json!({"a": ".inf", ".inf": 1, "-.inf": 2, ".nan": 3})
        );
    }

    #[test]
    fn number_keys_are_spelled_like_helm() {
        // sigs.k8s.io/yaml: ints in decimal, floats as Go's FormatFloat(f, 'g', -1, 32).
        let v = one("1: a\n1.0: b\n1e3: c\n0777: d\n1e6: e\n0.0001: f\n0.00001: g\n3.14159265358979: h\n99999999999999999999: i\n-2.5: j\n");
        let keys: Vec<&str> = v
            .as_object()
            .expect("map")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "1",
                "1000",
                "511",
                "1e+06",
                "0.0001",
                "1e-05",
                "3.1415927",
                "1e+20",
                "-2.5"
            ],
            "{v}"
        );
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused() {
        let deep = "- ".repeat(MAX_DEPTH + 1) + "x\n";
        let e = parse_document(&deep).unwrap_err();
        assert!(e.to_string().contains("nest deeper"), "{e}");
        assert!(parse_document(&("- ".repeat(MAX_DEPTH - 1) + "x\n")).is_ok());
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let e = parse_document(&bomb).unwrap_err();
        assert!(e.to_string().contains("excessive aliasing"), "{e}");
    }

    #[test]
    fn json_floats_read_to_the_exact_float() {
        // serde_json's default parser lands one ulp off here (found by tests/yaml_vs_helm.rs);
        // the float_roundtrip feature reads it exactly, as Go and Rust's str::parse do.
        let v = parse_value("{\"x\": 1.8502386672046086e+298}").expect("json");
        assert_eq!(v["x"].as_f64(), Some(1.8502386672046086e298));
        assert_eq!(
            one("x: 1.8502386672046086e+298\n")["x"].as_f64(),
            Some(1.8502386672046086e298)
        );
    }

    #[test]
    fn dotted_display_of_pointers() {
        let root = json!({"a": {"b.c": [ {"d": 1} ]}});
        assert_eq!(pointer_to_dotted("/a/b.c/0/d", &root), "a.\"b.c\"[0].d");
    }
}
