//! The YAML loader and emitter (src/domain/yaml.rs).

use crate::gen;
use crate::harness::{bounded, config, corpus};
use helmdeck::domain::diff::{diff, render_plain, DiffOptions};
use helmdeck::domain::manifest::Object;
use helmdeck::domain::values::{merge, Layer, LayerKind};
use helmdeck::domain::yaml::{parse_document, parse_documents, to_string, YamlError};
use proptest::prelude::*;
use serde_json::Value;

/// What every answer of the loader must satisfy: documents, or an error at a real place.
fn check_load(text: &str) -> Result<Vec<Value>, YamlError> {
    let lines = text.split('\n').count();
    match parse_documents(text) {
        Ok(docs) => Ok(docs.into_iter().map(|d| d.value).collect()),
        Err(e) => {
            let pos = e.pos();
            assert!(
                pos.line >= 1 && pos.col >= 1 && pos.line <= lines + 1,
                "error without a position in the text ({lines} lines): {e:?}"
            );
            assert!(!e.to_string().is_empty());
            Err(e)
        }
    }
}

/// Emitting a loaded tree and loading it again gives the same tree.
fn check_round_trip(v: &Value) {
    let text = to_string(v);
    let back =
        parse_document(&text).unwrap_or_else(|e| panic!("emitted YAML does not load: {e}\n{text}"));
    assert_eq!(&back.value, v, "load(emit(v)) != v; emitted:\n{text}");
    assert!(
        back.duplicate_keys.is_empty(),
        "emitted duplicate keys {:?}:\n{text}",
        back.duplicate_keys
    );
    // Every leaf has a position inside the text.
    let mut leaves = Vec::new();
    gen::leaves(&back.value, "", &mut leaves);
    let lines: Vec<&str> = text.split('\n').collect();
    for (ptr, _) in leaves.iter().filter(|(p, _)| !p.is_empty()) {
        let pos = back
            .positions
            .get(ptr)
            .unwrap_or_else(|| panic!("no position for {ptr}:\n{text}"));
        assert!(pos.line >= 1 && pos.line <= lines.len(), "{ptr} at {pos}");
        assert!(
            pos.col >= 1 && pos.col <= lines[pos.line - 1].chars().count() + 1,
            "{ptr} at {pos}:\n{text}"
        );
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn loading_any_text_answers_in_bounded_time_with_positions(text in gen::yamlish()) {
        let t = text.clone();
        bounded("yaml::parse_documents", &text, move || { let _ = check_load(&t); });
    }

    #[test]
    fn loading_a_mutated_document_answers_with_positions(
        text in gen::mutate(SEED.to_string(), gen::yaml_tokens())
    ) {
        let t = text.clone();
        bounded("yaml::parse_documents", &text, move || { let _ = check_load(&t); });
    }

    #[test]
    fn load_of_emit_is_identity_on_generated_trees(v in gen::tree(5)) {
        let input = v.clone();
        bounded("yaml emit/load", &v, move || check_round_trip(&input));
    }

    /// A document that is a single scalar, and a map whose keys are any strings: the
    /// places where `...`, `---` and `#` mean something to the parser.
    #[test]
    fn load_of_emit_is_identity_on_scalars_and_keys(s in gen::string(), v in gen::leaf()) {
        let (s2, v2) = (s.clone(), v.clone());
        bounded("yaml emit/load", &(&s, &v), move || {
            check_round_trip(&Value::String(s2.clone()));
            check_round_trip(&v2);
            check_round_trip(&serde_json::json!({ s2.clone(): v2.clone() }));
            check_round_trip(&serde_json::json!([{ s2.clone(): [v2.clone()] }]));
        });
    }

    #[test]
    fn emit_of_load_is_stable(text in gen::mutate(SEED.to_string(), gen::yaml_tokens())) {
        let t = text.clone();
        bounded("yaml load/emit", &text, move || {
            if let Ok(docs) = check_load(&t) {
                for v in docs {
                    check_round_trip(&v);
                }
            }
        });
    }
}

const SEED: &str = "image:\n  repository: web # the image\n  tag: \"1.2\"\nreplicas: 3\nhosts:\n  - name: a.example\n    paths: [/, /api]\n  - {name: b, tls: yes}\nbase: &b {x: 1}\nmerged:\n  <<: *b\n  y: 0777\nnote: |\n  line one\n  line two\nempty: ~\n";

/// Every tricky string, alone and in pairs, as a document, a value, a key and a list item:
/// found `...` (a document end marker) written unquoted at the top of a document.
#[test]
fn every_tricky_string_round_trips() {
    for a in gen::TRICKY {
        for b in gen::TRICKY.iter().take(12).chain(std::iter::once(a)) {
            let s = format!("{a}{b}");
            for v in [
                Value::String(a.to_string()),
                Value::String(s.clone()),
                serde_json::json!({ a.to_string(): s.clone(), s.clone(): [a.to_string()] }),
            ] {
                check_round_trip(&v);
            }
        }
    }
}

/// Nesting deeper than any real file must be an error, never a stack overflow (which
/// aborts the whole process): flow and block, maps and lists.
#[test]
fn deep_nesting_is_an_error_or_a_value_never_a_crash() {
    for depth in [10usize, 100, 127, 1_000, 10_000, 100_000] {
        let shapes = [
            "[".repeat(depth) + &"]".repeat(depth),
            "{a: ".repeat(depth) + "1" + &"}".repeat(depth),
            "- ".repeat(depth) + "x\n",
            (0..depth.min(2_000))
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect::<String>(),
            "[".repeat(depth),
        ];
        for text in shapes {
            let t = text.clone();
            let answer = bounded("yaml deep nesting", &format!("depth {depth}"), move || {
                check_load(&t).map(|docs| {
                    // Whatever loads can be emitted, merged, diffed and dropped without
                    // overflowing either.
                    for d in &docs {
                        let _ = to_string(d);
                        if let Value::Object(m) = d {
                            let layer = Layer::new(LayerKind::Service, "deep.yaml", m.clone());
                            let _ = merge(&[layer.clone(), layer], &[]);
                            let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": d});
                            let o = Object::from_body(body, "ns").expect("an object");
                            let mut other = o.clone();
                            other.body["data"] = Value::Null;
                            let _ = render_plain(&diff(&[o], &[other], &DiffOptions::default()));
                        }
                    }
                    docs.len()
                })
            });
            if depth >= 1_000 {
                let e = answer.expect_err("a 1,000-level document is refused");
                // Ours ("nest deeper than 128 levels") or saphyr-parser's own flow limit.
                let m = e.to_string();
                assert!(m.contains("nest") || m.contains("recursion limit"), "{m}");
            }
        }
    }
}

/// Aliases that expand to billions of nodes ("billion laughs") are refused quickly instead
/// of filling the memory, as go-yaml refuses "excessive aliasing".
#[test]
fn alias_expansion_is_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let t = text.clone();
    let answer = bounded("yaml aliases", &"billion laughs", move || {
        check_load(&t).map(|_| ())
    });
    let e = answer.expect_err("a billion-laughs document is refused");
    assert!(e.to_string().contains("alias"), "{e}");
    // Ordinary reuse of anchors stays fine.
    let ok = "base: &b {x: 1, y: [1, 2]}\nc: *b\nd: {<<: *b, z: 3}\nlist: [*b, *b, *b]\n";
    assert!(check_load(ok).is_ok());
}

/// The seeds in tests/corpus/yaml: each loads (or fails with a position) in bounded time,
/// and what loads survives emit → load unchanged.
#[test]
fn corpus_yaml() {
    for (name, text) in corpus("yaml") {
        bounded("yaml corpus", &name, move || {
            if let Ok(docs) = check_load(&text) {
                for v in docs {
                    check_round_trip(&v);
                }
            }
        });
    }
}
