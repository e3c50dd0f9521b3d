//! `--set`, `--set-string`, `--set-json`, `--set-literal` and `--set-file` expressions
//! (src/domain/setvals).

use crate::harness::{bounded, config, corpus};
use helmdeck::domain::setvals::{parse_set_into, SetMode};
use proptest::prelude::*;
use serde_json::{Map, Value};

const TOKENS: &[&str] = &[
    "[1,2]",
    "{\"k\":",
    "\"s\"",
    ":",
    "a=a",
    "x=b",
    "a",
    "b",
    "name",
    ".",
    "=",
    ",",
    "[",
    "]",
    "0",
    "1",
    "3",
    "-1",
    "65537",
    "99999999999999999999",
    "{",
    "}",
    "\\",
    "\\.",
    "\\,",
    "null",
    "true",
    "false",
    "0777",
    "1e3",
    " ",
    "é",
    "\u{1f600}",
    "x y",
    "",
    "[0]",
    "=1",
    "={}",
    "={a,b}",
];

fn expression() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(TOKENS), 0..16).prop_map(|v| v.concat()),
        1 => any::<String>(),
    ]
}

/// `--set-file`'s reader: two files exist, anything else is an error.
fn read_file(path: &str) -> Result<String, String> {
    match path {
        "a" => Ok("text of a\n".into()),
        "b" => Ok(String::new()),
        other => Err(format!("open {other}: no such file")),
    }
}

/// Every flag's mode: --set, --set-string, --set-json, --set-literal, --set-file.
fn modes<'a>(reader: &'a dyn Fn(&str) -> Result<String, String>) -> [SetMode<'a>; 5] {
    [
        SetMode::Typed,
        SetMode::String,
        SetMode::Json,
        SetMode::Literal,
        SetMode::File(reader),
    ]
}

/// Answers within bounds; an error names the whole expression and a byte offset inside it,
/// on a character boundary (the CLI underlines from there).
fn check(expr: &str, mode: SetMode, target: &mut Map<String, Value>) {
    if let Err(e) = parse_set_into(expr, target, mode) {
        assert_eq!(e.expr(), expr);
        assert!(
            e.offset() <= expr.len() && expr.is_char_boundary(e.offset()),
            "offset {} outside {expr:?}: {e}",
            e.offset()
        );
        assert!(!e.helm_message().is_empty());
        let _ = e.to_string();
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_expression_answers_in_bounded_time_with_an_offset(
        exprs in prop::collection::vec(expression(), 1..4),
        mode in 0usize..5,
    ) {
        let input = exprs.clone();
        bounded("setvals::parse_set_into", &(&exprs, mode), move || {
            // Several expressions into one map, as repeated flags do.
            let mut target = Map::new();
            for e in &input {
                check(e, modes(&read_file)[mode], &mut target);
            }
        });
    }

    /// `a.b.c=v` puts `v` at `a.b.c`: a string under `--set-string`, an integer or a
    /// boolean under `--set`.
    #[test]
    fn a_plain_assignment_lands_at_its_path(
        path in prop::collection::vec("[a-z][a-z0-9_]{0,6}", 1..6),
        text in "[a-zA-Z][a-zA-Z0-9 _-]{0,12}",
        int in any::<i64>(),
        flag in any::<bool>(),
    ) {
        let dotted = path.join(".");
        let pointer: String = path.iter().map(|s| format!("/{s}")).collect();
        let mut m = Map::new();
        parse_set_into(&format!("{dotted}={text}"), &mut m, SetMode::String).expect("parses");
        prop_assert_eq!(Value::Object(m).pointer(&pointer).cloned(), Some(Value::String(text.clone())));
        let mut m = Map::new();
        parse_set_into(&format!("{dotted}={int}"), &mut m, SetMode::Typed).expect("parses");
        prop_assert_eq!(Value::Object(m).pointer(&pointer).cloned(), Some(Value::from(int)));
        let mut m = Map::new();
        parse_set_into(&format!("{dotted}={flag}"), &mut m, SetMode::Typed).expect("parses");
        prop_assert_eq!(Value::Object(m).pointer(&pointer).cloned(), Some(Value::Bool(flag)));
    }
}

/// The seeds in tests/corpus/setvals (one expression a line) answer within bounds.
#[test]
fn corpus_setvals() {
    for (name, text) in corpus("setvals") {
        bounded("setvals corpus", &name, move || {
            for line in text.lines() {
                for mode in modes(&read_file) {
                    check(line, mode, &mut Map::new());
                }
            }
        });
    }
}
