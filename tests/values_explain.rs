//! `helmdeck values --explain` names, for every key, the layer that set it and the line of
//! that layer's file where it stands; secrets are masked everywhere.

mod support;

use serde_json::Value;
use std::path::Path;

/// The last key of a dotted key (`a.b[0]` → None for a list item, `a."x.y"` → `x.y`).
fn last_key(key: &str) -> Option<String> {
    if key.ends_with(']') {
        return None;
    }
    let k = key.rsplit('.').next().unwrap_or(key);
    Some(k.trim_matches('"').to_string())
}

fn file_of(source: &str, chart_root: &Path) -> Option<std::path::PathBuf> {
    if let Some(rest) = source.strip_suffix("/values.yaml") {
        // Chart defaults: `<name>-<version>/values.yaml` of the chart or a subchart.
        let name = rest.rsplit_once('-').map(|(n, _)| n).unwrap_or(rest);
        let direct = chart_root.join("values.yaml");
        let sub = chart_root.join("charts").join(name).join("values.yaml");
        return Some(if sub.is_file() { sub } else { direct });
    }
    let p = support::root().join("assets/demo").join(source);
    p.is_file().then_some(p)
}

#[test]
fn every_key_is_attributed_to_the_line_that_sets_it() {
    let out = support::helmdeck(
        &[
            "values",
            "web",
            "--env",
            "staging",
            "--explain",
            "-o",
            "json",
            "--set",
            "replicaCount=7",
        ],
        &support::root().join("assets/demo"),
        &[("DEMO_DB_PASSWORD", "s3cr3t-demo-pass")],
    );
    assert!(out.status.success(), "{}", support::stderr(&out));
    let text = support::stdout(&out);
    assert!(!text.contains("s3cr3t-demo-pass"), "secret leaked");
    let rows: Vec<Value> = serde_json::from_str(&text).expect("json");
    assert!(rows.len() > 20, "{}", rows.len());
    let chart_root = support::charts_dir().join("web");
    let mut layers = std::collections::BTreeSet::new();
    for r in &rows {
        let key = r["key"].as_str().expect("key");
        let layer = r["layer"].as_str().expect("layer");
        let source = r["source"].as_str().expect("source");
        layers.insert(layer.to_string());
        match layer {
            "secret" => {
                assert_eq!(r["value"], "********", "{key}");
                assert!(r["secret"].as_bool().unwrap_or(false));
            }
            "override" => {
                assert_eq!(key, "replicaCount");
                assert_eq!(source, "--set replicaCount=7");
                assert_eq!(r["value"], 7);
            }
            _ => {
                let line = r["line"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{key}: no line"))
                    as usize;
                let file = file_of(source, &chart_root)
                    .unwrap_or_else(|| panic!("{key}: no file for {source}"));
                let content = std::fs::read_to_string(&file).expect("read");
                let at = content.lines().nth(line - 1).unwrap_or_else(|| {
                    panic!("{key}: line {line} past the end of {}", file.display())
                });
                match last_key(key) {
                    Some(k) => assert!(
                        at.contains(&format!("{k}:")) || at.contains(&format!("\"{k}\":")),
                        "{key} ({layer}) said {}:{line} which reads {at:?}",
                        file.display()
                    ),
                    None => assert!(
                        at.trim_start().starts_with('-') || at.contains('['),
                        "{key}: {}:{line} reads {at:?}",
                        file.display()
                    ),
                }
            }
        }
    }
    for want in [
        "chart-defaults",
        "service",
        "environment",
        "secret",
        "override",
    ] {
        assert!(
            layers.contains(want),
            "no key from layer {want}: {layers:?}"
        );
    }
}

#[test]
fn text_explain_is_a_readable_table() {
    let out = support::helmdeck(
        &["values", "web", "--env", "staging", "--explain"],
        &support::root().join("assets/demo"),
        &[("DEMO_DB_PASSWORD", "s3cr3t-demo-pass")],
    );
    assert!(out.status.success(), "{}", support::stderr(&out));
    let text = support::stdout(&out);
    assert!(text.starts_with("KEY"), "{text}");
    assert!(
        text.contains("database.password") && text.contains("********"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t-demo-pass"));
}
