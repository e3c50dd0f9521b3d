//! A SOPS file's tree as sops itself reads it: keys in document order (the MAC covers the
//! order), scalars typed as sops' stores type them — YAML through go-yaml v3's rules (`yes` is
//! a string, only `true`/`false` are booleans), JSON numbers as integers when they are whole —
//! because the MAC hashes each value's text as sops formats it. Pure.

use crate::domain::yaml::{parse_go_int, Pos};
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Str(String),
    Int(i64),
    /// An integer past i64 (sops itself refuses to walk one).
    Uint(u64),
    Float(f64),
    Bool(bool),
    /// A timestamp (sops types them `time`), kept as Go's RFC 3339 text with nanoseconds:
    /// what sops hashes and prints.
    Time(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Scalar(Scalar),
    Null,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("{pos}: {message}")]
    Syntax { pos: Pos, message: String },
    #[error("{message}")]
    Shape { message: String },
}

/// go-yaml v3's reading of a plain scalar (what sops' YAML store sees).
pub fn resolve_v3(text: &str) -> Node {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "true" | "True" | "TRUE" => return Node::Scalar(Scalar::Bool(true)),
        "false" | "False" | "FALSE" => return Node::Scalar(Scalar::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Node::Scalar(Scalar::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => return Node::Scalar(Scalar::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Node::Scalar(Scalar::Float(f64::NAN)),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first.is_ascii_digit() {
        if let Some(t) = timestamp(text) {
            return Node::Scalar(Scalar::Time(t));
        }
    }
    if first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.') {
        let plain: String = text.chars().filter(|c| *c != '_').collect();
        if let Some(n) = parse_go_int(&plain) {
            if let Some(i) = n.as_i64() {
                return Node::Scalar(Scalar::Int(i));
            }
            if let Some(u) = n.as_u64() {
                return Node::Scalar(Scalar::Uint(u));
            }
        }
        if crate::domain::yaml::is_yaml_float(&plain) {
            if let Ok(f) = plain.parse::<f64>() {
                return Node::Scalar(Scalar::Float(f));
            }
        }
    }
    Node::Scalar(Scalar::Str(text.to_string()))
}

/// go-yaml v3's timestamps (`2006-1-2`, `2006-1-2T15:4:5.999999999Z07:00`, with `t` or a
/// space for `T`, the zone optional), as Go's `time.RFC3339Nano` text.
pub fn timestamp(text: &str) -> Option<String> {
    fn num(s: &str, min: usize, max: usize) -> Option<(u32, &str)> {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        if n < min || n > max {
            return None;
        }
        Some((s[..n].parse().ok()?, &s[n..]))
    }
    let (y, rest) = num(text, 4, 4)?;
    let (mo, rest) = num(rest.strip_prefix('-')?, 1, 2)?;
    let (d, rest) = num(rest.strip_prefix('-')?, 1, 2)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let date = format!("{y:04}-{mo:02}-{d:02}");
    if rest.is_empty() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let rest = rest
        .strip_prefix('T')
        .or_else(|| rest.strip_prefix('t'))
        .or_else(|| rest.strip_prefix(' '))?;
    let (h, rest) = num(rest, 1, 2)?;
    let (mi, rest) = num(rest.strip_prefix(':')?, 1, 2)?;
    let (sec, mut rest) = num(rest.strip_prefix(':')?, 1, 2)?;
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut frac = String::new();
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        frac = f[..n].trim_end_matches('0').to_string();
        rest = &f[n..];
    }
    let zone = match rest {
        "" | "Z" => "Z".to_string(),
        z if z.len() == 6
            && matches!(z.as_bytes()[0], b'+' | b'-')
            && z.as_bytes()[3] == b':'
            && z[1..3]
                .bytes()
                .chain(z[4..6].bytes())
                .all(|c| c.is_ascii_digit()) =>
        {
            if &z[1..] == "00:00" {
                "Z".to_string()
            } else {
                z.to_string()
            }
        }
        _ => return None,
    };
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    Some(format!("{date}T{h:02}:{mi:02}:{sec:02}{frac}{zone}"))
}

fn scalar_node(text: &str, style: ScalarStyle, tag: Option<&str>) -> Node {
    match tag {
        Some("str") => return Node::Scalar(Scalar::Str(text.to_string())),
        Some("null") => return Node::Null,
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Node::Scalar(Scalar::Str(text.to_string()));
    }
    resolve_v3(text)
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

struct Loader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Node>,
}

impl<'a> Loader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), TreeError> {
        match self.parser.next() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(TreeError::Syntax {
                pos: Pos {
                    line: e.marker().line(),
                    col: e.marker().col() + 1,
                },
                message: e.info().to_string(),
            }),
            None => Err(TreeError::Shape {
                message: "unexpected end of the YAML text".into(),
            }),
        }
    }

    fn node(&mut self, ev: Event<'a>, span: Span) -> Result<Node, TreeError> {
        let (node, anchor) = match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let suffix = tag.as_ref().map(|t| t.suffix.clone());
                (scalar_node(&text, style, suffix.as_deref()), anchor)
            }
            Event::Alias(id) => {
                let n = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| TreeError::Syntax {
                        pos: pos_of(&span),
                        message: "unknown anchor in alias".into(),
                    })?;
                return Ok(n);
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, sp)?);
                }
                (Node::List(items), anchor)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(String, Node)> = Vec::new();
                loop {
                    let (kev, ksp) = self.next()?;
                    if matches!(kev, Event::MappingEnd) {
                        break;
                    }
                    let key = match self.node(kev, ksp)? {
                        Node::Scalar(Scalar::Str(s)) => s,
                        other => {
                            return Err(TreeError::Syntax {
                                pos: pos_of(&ksp),
                                message: format!(
                                    "a non-string key ({}): sops supports only string keys",
                                    kind_of(&other)
                                ),
                            })
                        }
                    };
                    let (vev, vsp) = self.next()?;
                    let v = self.node(vev, vsp)?;
                    entries.push((key, v));
                }
                (Node::Map(entries), anchor)
            }
            other => {
                return Err(TreeError::Syntax {
                    pos: pos_of(&span),
                    message: format!("unexpected {other:?}"),
                })
            }
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }
}

fn kind_of(n: &Node) -> &'static str {
    match n {
        Node::Map(_) => "a map",
        Node::List(_) => "a list",
        Node::Null => "null",
        Node::Scalar(Scalar::Str(_)) => "a string",
        Node::Scalar(Scalar::Bool(_)) => "a boolean",
        Node::Scalar(_) => "a number",
    }
}

/// Reads a YAML text (one document, a map at the top) into a tree.
pub fn from_yaml(text: &str) -> Result<Node, TreeError> {
    let mut loader = Loader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
    };
    let mut docs = Vec::new();
    loop {
        let (ev, span) = loader.next()?;
        match ev {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                let (ev, sp) = loader.next()?;
                if matches!(ev, Event::DocumentEnd) {
                    docs.push(Node::Null);
                    continue;
                }
                docs.push(loader.node(ev, sp)?);
                let _ = loader.next()?;
            }
            Event::StreamStart => {}
            other => {
                return Err(TreeError::Syntax {
                    pos: pos_of(&span),
                    message: format!("unexpected {other:?}"),
                })
            }
        }
    }
    match docs.len() {
        0 => Ok(Node::Map(Vec::new())),
        1 => match docs.remove(0) {
            Node::Null => Ok(Node::Map(Vec::new())),
            m @ Node::Map(_) => Ok(m),
            other => Err(TreeError::Shape {
                message: format!("the document is {}, not a map of keys", kind_of(&other)),
            }),
        },
        n => Err(TreeError::Shape {
            message: format!("a values file is one YAML document, found {n}"),
        }),
    }
}

/// Reads a JSON text (an object at the top) into a tree, keys in file order.
pub fn from_json(text: &str) -> Result<Node, TreeError> {
    let v: Value = serde_json::from_str(text).map_err(|e| TreeError::Syntax {
        pos: Pos {
            line: e.line(),
            col: e.column(),
        },
        message: e.to_string(),
    })?;
    fn conv(v: Value) -> Node {
        match v {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Scalar(Scalar::Bool(b)),
            Value::String(s) => Node::Scalar(Scalar::Str(s)),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Node::Scalar(Scalar::Int(i)),
                (_, Some(u), _) => Node::Scalar(Scalar::Uint(u)),
                (_, _, Some(f)) => Node::Scalar(Scalar::Float(f)),
                _ => Node::Null,
            },
            Value::Array(a) => Node::List(a.into_iter().map(conv).collect()),
            Value::Object(m) => Node::Map(m.into_iter().map(|(k, v)| (k, conv(v))).collect()),
        }
    }
    match conv(v) {
        m @ Node::Map(_) => Ok(m),
        other => Err(TreeError::Shape {
            message: format!("the document is {}, not an object", kind_of(&other)),
        }),
    }
}

/// A float as it reads back from sops' output: Go prints a whole float below 1e21 without
/// a fraction or exponent, so it comes back an integer.
pub fn float_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= i64::MIN as f64 && f < i64::MAX as f64 {
            return Value::Number(Number::from(f as i64));
        }
        if f >= 0.0 && f < u64::MAX as f64 {
            return Value::Number(Number::from(f as u64));
        }
    }
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None => Value::String(go_float(f)),
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest digits, never an exponent.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

impl Scalar {
    /// The bytes sops hashes into the MAC for this value (its `ToBytes`).
    pub fn mac_bytes(&self) -> Vec<u8> {
        match self {
            Scalar::Str(s) | Scalar::Time(s) => s.as_bytes().to_vec(),
            Scalar::Int(i) => i.to_string().into_bytes(),
            Scalar::Uint(u) => u.to_string().into_bytes(),
            Scalar::Float(f) => go_float(*f).into_bytes(),
            Scalar::Bool(true) => b"True".to_vec(),
            Scalar::Bool(false) => b"False".to_vec(),
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            Scalar::Str(s) | Scalar::Time(s) => Value::String(s.clone()),
            Scalar::Int(i) => Value::Number(Number::from(*i)),
            Scalar::Uint(u) => Value::Number(Number::from(*u)),
            Scalar::Float(f) => float_value(*f),
            Scalar::Bool(b) => Value::Bool(*b),
        }
    }
}

impl Node {
    /// The tree as values. In YAML a `<<` key merges its map(s) as Helm's reader would merge
    /// them from sops' output; keys of the map itself win.
    pub fn to_value(&self, yaml_merges: bool) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Scalar(s) => s.to_value(),
            Node::List(items) => {
                Value::Array(items.iter().map(|n| n.to_value(yaml_merges)).collect())
            }
            Node::Map(entries) => {
                let mut m = Map::new();
                let mut merged: Vec<Map<String, Value>> = Vec::new();
                for (k, v) in entries {
                    let v = v.to_value(yaml_merges);
                    if yaml_merges && k == "<<" {
                        match v {
                            Value::Object(o) => merged.push(o),
                            Value::Array(list) => {
                                merged.extend(list.into_iter().filter_map(|i| match i {
                                    Value::Object(o) => Some(o),
                                    _ => None,
                                }))
                            }
                            _ => {}
                        }
                        continue;
                    }
                    m.insert(k.clone(), v);
                }
                for o in merged {
                    for (k, v) in o {
                        m.entry(k).or_insert(v);
                    }
                }
                Value::Object(m)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_like_go_yaml_v3() {
        assert_eq!(resolve_v3("yes"), Node::Scalar(Scalar::Str("yes".into())));
        assert_eq!(resolve_v3("on"), Node::Scalar(Scalar::Str("on".into())));
        assert_eq!(resolve_v3("True"), Node::Scalar(Scalar::Bool(true)));
        assert_eq!(resolve_v3("0x1F"), Node::Scalar(Scalar::Int(31)));
        assert_eq!(resolve_v3("1_000"), Node::Scalar(Scalar::Int(1000)));
        assert_eq!(resolve_v3("1e3"), Node::Scalar(Scalar::Float(1000.0)));
        assert_eq!(resolve_v3("~"), Node::Null);
        assert_eq!(
            resolve_v3("2001-12-14"),
            Node::Scalar(Scalar::Time("2001-12-14T00:00:00Z".into()))
        );
        assert_eq!(
            resolve_v3("2001-12-14 21:59:43.10"),
            Node::Scalar(Scalar::Time("2001-12-14T21:59:43.1Z".into()))
        );
        assert_eq!(
            resolve_v3("2024-01-02T03:04:05.5+02:00"),
            Node::Scalar(Scalar::Time("2024-01-02T03:04:05.5+02:00".into()))
        );
        assert_eq!(
            resolve_v3("2024-13-02"),
            Node::Scalar(Scalar::Str("2024-13-02".into()))
        );
        assert_eq!(
            resolve_v3("18446744073709551615"),
            Node::Scalar(Scalar::Uint(u64::MAX))
        );
    }

    #[test]
    fn mac_bytes_are_sops_to_bytes() {
        assert_eq!(Scalar::Bool(true).mac_bytes(), b"True");
        assert_eq!(Scalar::Float(0.5).mac_bytes(), b"0.5");
        assert_eq!(Scalar::Float(1e21).mac_bytes(), b"1000000000000000000000");
        assert_eq!(Scalar::Float(1000.0).mac_bytes(), b"1000");
        assert_eq!(Scalar::Int(-7).mac_bytes(), b"-7");
    }

    #[test]
    fn yaml_keeps_order_anchors_and_quoted_strings() {
        let n = from_yaml("b: &x {c: 1}\na: *x\nq: \"yes\"\nl: [1, two]\n").expect("parses");
        let Node::Map(e) = &n else { panic!("a map") };
        assert_eq!(
            e.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["b", "a", "q", "l"]
        );
        assert_eq!(e[0].1, e[1].1);
        assert_eq!(
            n.to_value(true),
            serde_json::json!({"b": {"c": 1}, "a": {"c": 1}, "q": "yes", "l": [1, "two"]})
        );
        assert!(from_yaml("- a\n").is_err());
        assert!(from_yaml("1: a\n").is_err());
    }

    #[test]
    fn json_keeps_order_and_integers() {
        let n = from_json(r#"{"z": 1, "a": 2.5, "m": {"k": [true, null]}}"#).expect("parses");
        assert_eq!(
            n.to_value(false).to_string(),
            r#"{"z":1,"a":2.5,"m":{"k":[true,null]}}"#
        );
    }
}
