//! Generators: strings that YAML readers, `--set` and semver treat specially, value trees
//! built from them, and YAML-shaped text made of the tokens parsers trip on.

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// Scalars that YAML 1.1 readers (Helm, kubectl) take for something other than a string,
/// and text with the characters that need quoting.
pub const TRICKY: &[&str] = &[
    "",
    " ",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "Y",
    "N",
    "true",
    "False",
    "NULL",
    "null",
    "~",
    "0777",
    "0o17",
    "0x1F",
    "0b101",
    "08",
    "1e3",
    "1E-3",
    "-1",
    "+1",
    "1_000",
    ".5",
    "5.",
    ".inf",
    "-.Inf",
    "+.INF",
    ".nan",
    ".NaN",
    "9007199254740993",
    "18446744073709551616",
    "99999999999999999999",
    "-0",
    "1:20",
    "2001-12-14",
    "<<",
    "=",
    "-",
    "--",
    "---",
    "...",
    "- x",
    "? x",
    ": x",
    "a: b",
    "a #b",
    "#",
    "&a",
    "*a",
    "!x",
    "!!str",
    "|",
    ">",
    "'",
    "\"",
    "%",
    "@",
    "`",
    "[x]",
    "{x}",
    "a,b",
    "\t",
    "\n",
    "a\nb",
    "a\n",
    "\n\n",
    " lead",
    "trail ",
    "a\r\nb",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{feff}",
    "\u{fffe}",
    "\u{1f600}",
    "café",
    "名前",
    "\\",
    "\\n",
    "a.b",
    "a[0]",
    "{{ .Values }}",
];

/// A string: a tricky one, a concatenation of them, or arbitrary text.
pub fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(TRICKY).prop_map(str::to_string),
        3 => prop::collection::vec(prop::sample::select(TRICKY), 1..4).prop_map(|v| v.concat()),
        2 => "[a-z][a-z0-9-]{0,10}",
        2 => any::<String>().prop_map(|s| s.chars().take(12).collect()),
    ]
}

/// A map key: like [`string`], plus plain identifiers.
pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![3 => "[a-zA-Z_][a-zA-Z0-9_.-]{0,8}", 2 => string()]
}

/// A finite number as JSON holds it: i64, u64 beyond i64, or an f64.
pub fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        (i64::MAX as u64 + 1..=u64::MAX).prop_map(Number::from),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
        (-1000i32..1000).prop_filter_map("finite", |i| Number::from_f64(f64::from(i))),
    ]
}

pub fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => number().prop_map(Value::Number),
        4 => string().prop_map(Value::String),
    ]
}

/// A tree of values: maps and lists (empty ones too) down to `depth` levels.
pub fn tree(depth: u32) -> impl Strategy<Value = Value> {
    leaf().prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A map at the top, as values files and Kubernetes objects are.
pub fn map(depth: u32) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key(), tree(depth)), 0..6).prop_map(|kv| kv.into_iter().collect())
}

/// Tokens of YAML's syntax and of the scalars readers treat specially.
const YAML_TOKENS: &[&str] = &[
    "a",
    "b",
    "key",
    ":",
    ": ",
    " ",
    "  ",
    "\n",
    "\n  ",
    "\n- ",
    "- ",
    "-",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: ",
    "!!str ",
    "!!int ",
    "!!map ",
    "!x ",
    "'",
    "\"",
    "# c",
    "|",
    "|-",
    ">",
    ">+",
    "---",
    "---\n",
    "...",
    "...\n",
    "? ",
    "%YAML 1.1\n",
    "%TAG ! x\n",
    "\t",
    "\r\n",
    "yes",
    "0777",
    "1e3",
    "~",
    "null",
    "0x",
    "é",
    "\u{feff}",
    "\\",
    "\\u00",
    "@",
    "`",
    "%",
    "=",
    "9999999999999999999999",
    ".inf",
];

/// YAML-shaped text: a run of syntax tokens (reaches deep into the parser) or arbitrary text.
pub fn yamlish() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(YAML_TOKENS), 0..40).prop_map(|v| v.concat()),
        1 => any::<String>(),
    ]
}

/// A text with a few tokens replaced, removed or inserted at random places: mutations of a
/// valid input (a corpus seed) reach errors deep inside it.
pub fn mutate(base: String, tokens: &'static [&'static str]) -> impl Strategy<Value = String> {
    let len = base.len();
    prop::collection::vec(
        (0..=len, 0usize..8, prop::sample::select(tokens), 0u8..3),
        1..6,
    )
    .prop_map(move |edits| {
        let mut s = base.clone();
        for (at, del, tok, op) in edits {
            let at = floor(&s, at.min(s.len()));
            let end = floor(&s, (at + del).min(s.len()));
            match op {
                0 => s.replace_range(at..end, tok),
                1 => s.replace_range(at..end, ""),
                _ => s.insert_str(at, tok),
            }
        }
        s
    })
}

pub fn yaml_tokens() -> &'static [&'static str] {
    YAML_TOKENS
}

/// The nearest char boundary at or below `i`.
pub fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Every leaf of a tree, as (JSON Pointer, value); empty maps and lists count as leaves.
pub fn leaves(v: &Value, ptr: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                let p = format!("{ptr}/{}", k.replace('~', "~0").replace('/', "~1"));
                leaves(c, &p, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, c) in a.iter().enumerate() {
                leaves(c, &format!("{ptr}/{i}"), out);
            }
        }
        other => out.push((ptr.to_string(), other.clone())),
    }
}
