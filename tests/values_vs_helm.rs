//! Values merge and `--set` parsing checked against Helm itself: for each case, the values
//! helmdeck computes (and the values Helm sees when helmdeck hands it its merged layers)
//! equal the `.Values` that `helm template -f … --set …` gives with the same inputs.

mod support;

use helmdeck::domain::values::{SetKind, SetOverride};
use helmdeck::engine::prepare::{prepare_adhoc, Overrides};
use helmdeck::render::{Helm, Renderer};
use serde_json::Value;
use std::path::Path;

const TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: values\ndata:\n  values.json: {{ toJson .Values | quote }}\n";

struct Case {
    name: &'static str,
    defaults: &'static str,
    files: &'static [&'static str],
    sets: &'static [&'static str],
    set_strings: &'static [&'static str],
}

const fn case(
    name: &'static str,
    defaults: &'static str,
    files: &'static [&'static str],
    sets: &'static [&'static str],
) -> Case {
    Case {
        name,
        defaults,
        files,
        sets,
        set_strings: &[],
    }
}

const CASES: &[Case] = &[
    case("scalar_override", "a: 1\nb: x\n", &["a: 2\n"], &[]),
    case(
        "maps_deep_merge",
        "img: {repo: web, tag: '1'}\n",
        &["img: {tag: '2'}\n"],
        &[],
    ),
    case(
        "lists_replace_whole",
        "hosts: [a, b, c]\n",
        &["hosts: [x]\n"],
        &[],
    ),
    case(
        "null_deletes_default",
        "a: {b: 1, c: 2}\nd: 5\n",
        &["a: {b: null}\nd: null\n"],
        &[],
    ),
    case("null_without_default_stays", "a: 1\n", &["z: null\n"], &[]),
    case("scalar_over_table", "e: {f: 1}\n", &["e: str\n"], &[]),
    case("table_over_scalar", "e: 1\n", &["e: {f: 1}\n"], &[]),
    case("table_over_list", "g: [1, 2]\n", &["g: {x: 1}\n"], &[]),
    case("later_file_wins", "a: 0\n", &["a: 1\n", "a: 2\n"], &[]),
    case(
        "null_then_map_merges_defaults",
        "a: {c: 2}\n",
        &["a: null\n", "a: {b: 1}\n"],
        &[],
    ),
    case(
        "null_in_second_file_over_first",
        "x: 1\n",
        &["a: {b: 1}\n", "a: {b: null}\n"],
        &[],
    ),
    case(
        "empty_map_keeps_default_map",
        "a: {b: 1}\n",
        &["a: {}\n"],
        &[],
    ),
    case("empty_list_replaces_list", "a: [1, 2]\n", &["a: []\n"], &[]),
    case(
        "yaml11_booleans_and_octal",
        "a: 1\n",
        &["on_key: on\nyes_key: yes\nmode: 0644\nq: 'on'\n"],
        &[],
    ),
    case(
        "anchors_and_merge_keys",
        "a: 1\n",
        &["base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n"],
        &[],
    ),
    case(
        "empty_and_comment_only_files",
        "a: 1\n",
        &["", "# nothing here\n"],
        &[],
    ),
    case("quoted_null_is_a_string", "a: 1\n", &["a: 'null'\n"], &[]),
    case("set_int", "a: x\n", &[], &["a=5"]),
    case(
        "set_bool_and_null",
        "a: {b: 1}\nc: 2\n",
        &[],
        &["flag=true", "c=null"],
    ),
    case(
        "set_leading_zero_stays_string",
        "a: 1\n",
        &[],
        &["zip=0123"],
    ),
    case("set_float_stays_string", "a: 1\n", &[], &["ratio=1.5"]),
    case("set_list", "a: 1\n", &[], &["hosts={a,b,c}"]),
    case(
        "set_index_pads_with_null",
        "hosts: [a, b]\n",
        &[],
        &["hosts[1]=z"],
    ),
    case(
        "set_index_into_file_list",
        "a: 1\n",
        &["hosts: [a, b]\n"],
        &["hosts[1]=z"],
    ),
    case(
        "set_nested_index",
        "a: 1\n",
        &[],
        &["ports[0].name=http", "ports[0].port=80"],
    ),
    case(
        "set_escaped_dot",
        "a: 1\n",
        &[],
        &["annotations.prometheus\\.io/scrape=true"],
    ),
    case("set_several_in_one", "a: 1\n", &[], &["a=2,b=3,c.d=4"]),
    case(
        "set_value_with_equals",
        "a: 1\n",
        &[],
        &["url=http://x/?a=b"],
    ),
    case(
        "set_over_file_value",
        "a: 1\n",
        &["a: 2\nb: {c: 1}\n"],
        &["b.c=9"],
    ),
    case(
        "set_deep_merge_with_defaults",
        "img: {repo: web, tag: '1'}\n",
        &[],
        &["img.tag=2"],
    ),
    case("set_empty_value_is_empty_string", "a: 1\n", &[], &["a="]),
    case(
        "file_then_set_then_defaults",
        "a: {b: 1, c: 1}\n",
        &["a: {b: 2}\n"],
        &["a.c=3"],
    ),
    Case {
        name: "set_string_keeps_strings",
        defaults: "a: 1\n",
        files: &[],
        sets: &["n=1"],
        set_strings: &["s=1", "t=true"],
    },
    case("large_int_in_file", "a: 1\n", &["big: 123456789012\n"], &[]),
];

/// Helm's toJson prints numbers from float64; compare numbers by value.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

fn values_from_output(text: &str) -> Value {
    let m = helmdeck::domain::manifest::parse_stream(text, "default").expect("helm output parses");
    let cm = m
        .objects
        .iter()
        .find(|o| o.name == "values")
        .expect("values ConfigMap");
    let json = cm.body["data"]["values.json"]
        .as_str()
        .expect("values.json");
    serde_json::from_str(json).expect("json")
}

fn write_chart(dir: &Path, defaults: &str) {
    std::fs::create_dir_all(dir.join("templates")).expect("mkdir");
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: probe\nversion: 0.1.0\n",
    )
    .expect("write");
    std::fs::write(dir.join("values.yaml"), defaults).expect("write");
    std::fs::write(dir.join("templates/values.yaml"), TEMPLATE).expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_values_equal_helms_for_every_case() {
    assert!(CASES.len() >= 30);
    let helm = Helm {
        path: support::helm(),
    };
    let renderer = Renderer::new(helm);
    let mut failures = Vec::new();
    for c in CASES {
        let dir = tempfile::tempdir().expect("tempdir");
        let chart = dir.path().join("probe");
        write_chart(&chart, c.defaults);
        let mut args: Vec<String> = vec!["r".into(), chart.display().to_string()];
        let mut files = Vec::new();
        for (i, f) in c.files.iter().enumerate() {
            let p = dir.path().join(format!("f{i}.yaml"));
            std::fs::write(&p, f).expect("write");
            args.push("-f".into());
            args.push(p.display().to_string());
            files.push(p);
        }
        for s in c.sets {
            args.push("--set".into());
            args.push(s.to_string());
        }
        for s in c.set_strings {
            args.push("--set-string".into());
            args.push(s.to_string());
        }
        let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let helms = normalize(&values_from_output(&support::helm_template(&arg_refs)));

        let mut sets: Vec<SetOverride> = c
            .sets
            .iter()
            .map(|s| SetOverride::new(SetKind::Typed, *s))
            .collect();
        sets.extend(
            c.set_strings
                .iter()
                .map(|s| SetOverride::new(SetKind::String, *s)),
        );
        let prepared = prepare_adhoc(&chart, "r", "default", &Overrides { files, sets })
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let ours = normalize(&prepared.effective.values);
        if ours != helms {
            failures.push(format!(
                "{}: helmdeck computed {ours}\n   helm has {helms}",
                c.name
            ));
            continue;
        }
        // What helmdeck hands Helm (its merged user layers on stdin) gives the same .Values.
        let rendered = renderer
            .render(&prepared.render_request())
            .await
            .expect("renders");
        let seen = normalize(&values_from_output(&rendered.text));
        if seen != helms {
            failures.push(format!(
                "{}: through helmdeck Helm saw {seen}\n   helm alone has {helms}",
                c.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn type_conflicts_in_set_are_errors_like_helms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = dir.path().join("probe");
    write_chart(&chart, "a: 1\n");
    let f = dir.path().join("f.yaml");
    std::fs::write(&f, "a: 1\n").expect("write");
    let e = prepare_adhoc(
        &chart,
        "r",
        "default",
        &Overrides {
            files: vec![f],
            sets: vec![SetOverride::new(SetKind::Typed, "a.b=2")],
        },
    )
    .await
    .expect_err("a scalar cannot take a key");
    assert!(e.to_string().contains("a.b=2"), "{e}");
}
