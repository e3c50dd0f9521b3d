//! helmdeck reads YAML as Helm does, checked against the real Helm engine ($HELMDECK_HELM:
//! a `helm` binary or the project's helm-python-sdk shim), never against our own code: a
//! chart whose only template prints `toJson .Values` shows how Helm read a values file.
//!
//! - the YAML 1.1 corpus (`yes`, `on`, `0777`, `1e3`, big integers, `~`, tags, number keys…)
//!   reads the same in helmdeck as in Helm (numbers compared as Helm holds them: float64);
//! - what helmdeck writes back (the values it hands Helm on stdin) reads in Helm as the
//!   original did, for the corpus, for every tricky string and for generated trees;
//! - every file Helm refuses (`.inf`, null keys, alias bombs, bad tags…) helmdeck refuses too,
//!   with a position.

#[path = "properties/gen.rs"]
#[allow(dead_code)]
mod gen;
mod support;

use helmdeck::domain::yaml::{parse_document, to_string};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A chart whose one template prints the values Helm read.
fn echo_chart() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("templates")).expect("mkdir");
    std::fs::write(
        dir.path().join("Chart.yaml"),
        "apiVersion: v2\nname: echo\nversion: 0.1.0\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("templates/values.yaml"),
        // base64, so that what Helm does with the template's output (it reads it as YAML,
        // which refuses some characters JSON keeps raw) cannot get in the way.
        "values: {{ toJson .Values | b64enc }}\n",
    )
    .expect("write");
    dir
}

/// How Helm reads the values file `file`: the tree, or Helm's error.
fn helm_reads(chart: &Path, file: &Path) -> Result<Value, String> {
    let out = Command::new(support::helm())
        .args(["template", "echo"])
        .arg(chart)
        .arg("-f")
        .arg(file)
        .output()
        .expect("helm runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    use base64::Engine as _;
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("values: "))
        .unwrap_or_else(|| panic!("no values in Helm's output:\n{stdout}"));
    let json = base64::engine::general_purpose::STANDARD
        .decode(line.trim())
        .expect("base64 from b64enc");
    Ok(serde_json::from_slice(&json).expect("Helm printed JSON"))
}

fn helm_reads_text(chart: &Path, text: &str) -> Result<Value, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, text).expect("write");
    helm_reads(chart, &file)
}

/// Differences between helmdeck's tree and Helm's, by pointer. Helm holds every number as a
/// float64 (values pass through JSON), so numbers are compared as float64.
fn differences(ours: &Value, helm: &Value, ptr: &str, out: &mut Vec<String>) {
    match (ours, helm) {
        (Value::Number(a), Value::Number(b)) => {
            if a.as_f64() != b.as_f64() {
                out.push(format!("{ptr}: helmdeck {a}, Helm {b}"));
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            for k in a.keys().chain(b.keys()) {
                let p = format!("{ptr}/{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => {
                        if a.contains_key(k)
                            && b.contains_key(k)
                            && !out.iter().any(|o| o.starts_with(&format!("{p}:")))
                        {
                            differences(x, y, &p, out)
                        }
                    }
                    (x, y) => out.push(format!("{p}: helmdeck {x:?}, Helm {y:?}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(x, y, &format!("{ptr}/{i}"), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{ptr}: helmdeck {a}, Helm {b}")),
    }
}

fn assert_same_reading(ours: &Value, helm: &Value, what: &str) {
    let mut diffs = Vec::new();
    differences(ours, helm, "", &mut diffs);
    diffs.dedup();
    assert!(
        diffs.is_empty(),
        "{what}: helmdeck and Helm read differently:\n{}",
        diffs.join("\n")
    );
}

fn corpus_file(name: &str) -> PathBuf {
    support::root().join("tests/corpus").join(name)
}

#[test]
fn the_yaml_one_one_corpus_reads_as_helm_reads_it() {
    let chart = echo_chart();
    let file = corpus_file("yaml/yaml11-scalars.yaml");
    let text = std::fs::read_to_string(&file).expect("corpus");
    let helm = helm_reads(chart.path(), &file).expect("Helm reads the corpus");
    let ours = parse_document(&text)
        .expect("helmdeck reads the corpus")
        .value;
    assert!(
        ours.as_object().is_some_and(|m| m.len() > 50),
        "the corpus holds the YAML 1.1 cases: {ours}"
    );
    assert_same_reading(&ours, &helm, "yaml11-scalars.yaml");
    // What helmdeck hands Helm (its own emitter's text) reads the same again.
    let again = helm_reads_text(chart.path(), &to_string(&ours)).expect("Helm reads our text");
    assert_eq!(again, helm, "emitted:\n{}", to_string(&ours));
}

#[test]
fn every_corpus_document_helm_reads_reads_the_same_in_helmdeck() {
    let chart = echo_chart();
    let mut compared = 0;
    for dir in ["yaml"] {
        for entry in std::fs::read_dir(corpus_file(dir))
            .expect("corpus")
            .flatten()
        {
            let text = std::fs::read_to_string(entry.path()).expect("read");
            // A values file of several documents: Helm silently reads the first, helmdeck
            // refuses it with a position (a `---` in a values file is a mistake).
            if helmdeck::domain::yaml::parse_documents(&text).is_ok_and(|d| d.len() > 1) {
                continue;
            }
            let Ok(helm) = helm_reads(chart.path(), &entry.path()) else {
                continue; // multi-document or not a map: not a values file
            };
            let ours = parse_document(&text)
                .unwrap_or_else(|e| {
                    panic!(
                        "{}: Helm reads it, helmdeck says {e}",
                        entry.path().display()
                    )
                })
                .value;
            assert_same_reading(&ours, &helm, &entry.path().display().to_string());
            compared += 1;
        }
    }
    assert!(compared >= 4, "only {compared} corpus files compared");
}

#[test]
fn what_helm_refuses_helmdeck_refuses_with_a_position() {
    let chart = echo_chart();
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_file("yaml-rejected"))
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let helm = helm_reads(chart.path(), &f);
        assert!(
            helm.is_err(),
            "{}: Helm reads it as {helm:?}; move it out of yaml-rejected",
            f.display()
        );
        let e = parse_document(&text).expect_err(&format!(
            "{}: Helm refuses it, helmdeck reads it",
            f.display()
        ));
        assert!(
            e.pos().line >= 1 && e.pos().col >= 1,
            "{}: {e:?}",
            f.display()
        );
    }
}

/// Every tricky string, as a value, a key and a list item, written by helmdeck, reads back in
/// Helm as the same string.
#[test]
fn tricky_strings_written_by_helmdeck_read_back_in_helm() {
    let chart = echo_chart();
    let mut m = Map::new();
    for (i, s) in gen::TRICKY.iter().enumerate() {
        m.insert(format!("v{i}"), Value::String(s.to_string()));
        m.insert(format!("l{i}"), serde_json::json!([s, [s], {"k": s}]));
        m.insert(s.to_string(), Value::from(i));
    }
    let tree = Value::Object(m);
    let text = to_string(&tree);
    let helm = helm_reads_text(chart.path(), &text)
        .unwrap_or_else(|e| panic!("Helm refuses helmdeck's text: {e}\n{text}"));
    assert_same_reading(&tree, &helm, "tricky strings");
}

/// Generated trees (tricky strings, numbers of every size, nesting) written by helmdeck read
/// the same in Helm. Few cases: each one runs Helm.
#[test]
fn generated_trees_written_by_helmdeck_read_the_same_in_helm() {
    let chart = echo_chart();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse::<u32>().ok())
        .map_or(16, |c| c.min(64));
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&gen::map(4), |m| {
            let tree = Value::Object(m);
            let text = to_string(&tree);
            let helm = helm_reads_text(chart.path(), &text).map_err(|e| {
                TestCaseError::fail(format!("Helm refuses helmdeck's text: {e}\n{text}"))
            })?;
            let mut diffs = Vec::new();
            differences(&tree, &helm, "", &mut diffs);
            prop_assert!(diffs.is_empty(), "{}\n{text}", diffs.join("\n"));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
