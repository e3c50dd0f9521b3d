//! Helm's override flags (`--set-json`, `--set`, `--set-string`, `--set-file`,
//! `--set-literal`) mixed with `-f`, through the real binary: for every case the values
//! `helmdeck values` computes, and the `.Values` Helm sees when `helmdeck render` hands it
//! helmdeck's merge, equal the `.Values` of `helm template` given the same flags — Helm's
//! own parsers (a real `helm`, or the engine's strvals behind tools/helm-shim). Each single
//! expression is also parsed by the engine's `parse_set_*` functions directly and compared
//! with helmdeck's parser.

mod support;

use helmdeck::domain::setvals::{parse_set_into, SetMode};
use serde_json::{json, Map, Value};
use std::path::Path;

const TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: values\ndata:\n  values.json: {{ toJson .Values | quote }}\n";

/// One case: chart defaults, `-f` files, then flags in command-line order.
struct Case {
    name: &'static str,
    defaults: &'static str,
    files: &'static [&'static str],
    flags: &'static [(&'static str, &'static str)],
}

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB,abc=\n-----END CERTIFICATE-----\n";

const CASES: &[Case] = &[
    Case {
        name: "json_values_of_every_type",
        defaults: "a: 1\n",
        files: &[],
        flags: &[(
            "--set-json",
            r#"obj={"x":[1,2,{"y":null}]},s="text",n=2.5,b=false,z=,l=[]"#,
        )],
    },
    Case {
        name: "json_object_form_merges_like_a_file",
        defaults: "a: {keep: 1}\n",
        files: &["a: {file: 2}\n"],
        flags: &[("--set-json", r#"{"a": {"json": 3}, "b": [1]}"#)],
    },
    Case {
        name: "json_index_into_a_file_list",
        defaults: "a: 1\n",
        files: &["hosts: [a, b, c]\n"],
        flags: &[("--set-json", r#"hosts[1]={"name":"z"}"#)],
    },
    Case {
        name: "string_keeps_numbers_and_booleans",
        defaults: "port: 80\n",
        files: &[],
        flags: &[("--set-string", "port=8080,debug=true,zip=00123,n=null")],
    },
    Case {
        name: "file_reads_the_whole_file_commas_and_all",
        defaults: "tls: {key: k}\n",
        files: &[],
        flags: &[("--set-file", "tls.crt=@cert,bundle={@cert,@cert}")],
    },
    Case {
        name: "literal_keeps_commas_braces_and_equals",
        defaults: "a: 1\n",
        files: &[],
        flags: &[("--set-literal", "conn.url=postgres://u@h/db?a=1,b={2}")],
    },
    Case {
        name: "literal_index_into_a_file_list",
        defaults: "a: 1\n",
        files: &["args: [--x, --y, --z]\n"],
        flags: &[("--set-literal", "args[1]=--y=a,b")],
    },
    Case {
        name: "kinds_apply_in_helms_order_not_command_line_order",
        defaults: "k: default\n",
        files: &["k: file\n"],
        flags: &[
            ("--set-literal", "k=literal"),
            ("--set-file", "k=@cert"),
            ("--set-string", "k=string"),
            ("--set", "k=1"),
            ("--set-json", "k=[1]"),
        ],
    },
    Case {
        name: "set_beats_json_beats_files",
        defaults: "a: {b: 0, c: 0, d: 0}\n",
        files: &["a: {b: 1, c: 1, d: 1}\n"],
        flags: &[("--set", "a.b=3"), ("--set-json", r#"a={"c":2,"b":2}"#)],
    },
    Case {
        name: "string_after_set_and_file_after_string",
        defaults: "x: 0\n",
        files: &[],
        flags: &[
            ("--set-file", "v.f=@cert"),
            ("--set-string", "v.f=s,v.g=s"),
            ("--set", "v.g=1,v.h=2"),
        ],
    },
    Case {
        name: "same_kind_keeps_command_line_order",
        defaults: "x: 0\n",
        files: &[],
        flags: &[
            ("--set-json", "j=1"),
            ("--set-json", "j=2"),
            ("--set-literal", "l=1"),
            ("--set-literal", "l=2"),
        ],
    },
    Case {
        name: "null_from_json_deletes_a_default",
        defaults: "resources: {limits: {cpu: 1}, requests: {cpu: 1}}\n",
        files: &[],
        flags: &[("--set-json", "resources.limits=null")],
    },
    Case {
        name: "every_kind_writes_into_what_files_gave",
        defaults: "a: 0\n",
        files: &["m: {keep: 1, list: [a, b]}\n"],
        flags: &[
            ("--set-json", "m.j=true"),
            ("--set", "m.list[1]=B"),
            ("--set-string", "m.s=1"),
            ("--set-file", "m.f=@cert"),
            ("--set-literal", "m.l=x,y"),
        ],
    },
];

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

/// Helm's toJson prints numbers from float64; compare numbers by value.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
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

/// What the engine's own `parse_set_*` makes of one expression (into an empty map), or
/// its error. `--set-file` paths are read by the engine itself.
fn engine_parse(function: &str, expr: &str) -> Result<Value, String> {
    let script = "import sys, json, helm_python as h\ntry:\n    print(json.dumps({'ok': getattr(h, sys.argv[1])(sys.argv[2])}))\nexcept h.HelmError as e:\n    print(json.dumps({'err': e.detail}))\n";
    let out = support::engine_call(script, &[function, expr]);
    let v: Value = serde_json::from_str(&out).expect("json");
    match v.get("ok") {
        Some(ok) => Ok(ok.clone()),
        None => Err(v["err"].as_str().unwrap_or_default().to_string()),
    }
}

fn ours(kind: &str, expr: &str) -> Result<Value, String> {
    let read = |p: &str| {
        std::fs::read_to_string(p).map_err(|_| format!("open {p}: no such file or directory"))
    };
    let mode = match kind {
        "--set" => SetMode::Typed,
        "--set-string" => SetMode::String,
        "--set-json" => SetMode::Json,
        "--set-file" => SetMode::File(&read),
        "--set-literal" => SetMode::Literal,
        other => panic!("unknown flag {other}"),
    };
    let mut m = Map::new();
    parse_set_into(expr, &mut m, mode)
        .map(|_| Value::Object(m))
        .map_err(|e| e.helm_message())
}

#[test]
fn every_override_flag_and_their_precedence_match_helm() {
    let mut failures = Vec::new();
    for c in CASES {
        let dir = tempfile::tempdir().expect("tempdir");
        let chart = dir.path().join("probe");
        write_chart(&chart, c.defaults);
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, CERT).expect("cert");
        let mut args: Vec<String> = Vec::new();
        for (i, f) in c.files.iter().enumerate() {
            let p = dir.path().join(format!("f{i}.yaml"));
            std::fs::write(&p, f).expect("write");
            args.push("-f".into());
            args.push(p.display().to_string());
        }
        for (flag, expr) in c.flags {
            let expr = expr.replace("@cert", &cert.display().to_string());
            // The parsers alone: helmdeck's against the engine's own.
            if !expr.trim_start().starts_with('{') {
                let function = match *flag {
                    "--set" => "parse_set_string",
                    "--set-string" => "parse_set_string_values",
                    "--set-json" => "parse_set_json",
                    "--set-file" => "parse_set_file",
                    _ => "parse_set_literal",
                };
                let helm = engine_parse(function, &expr).map(|v| normalize(&v));
                let mine = ours(flag, &expr).map(|v| normalize(&v));
                if helm != mine {
                    failures.push(format!(
                        "{}: {flag} {expr}: helmdeck parses {mine:?}, Helm {helm:?}",
                        c.name
                    ));
                }
            }
            args.push(flag.to_string());
            args.push(expr);
        }
        let chart_arg = chart.display().to_string();
        let mut helm_args: Vec<&str> = vec!["r", &chart_arg];
        helm_args.extend(args.iter().map(String::as_str));
        let helms = normalize(&values_from_output(&support::helm_template(&helm_args)));

        let mut ours_args: Vec<&str> = vec!["values", "--chart", &chart_arg, "--release", "r"];
        ours_args.extend(args.iter().map(String::as_str));
        ours_args.extend(["-o", "json"]);
        let out = support::helmdeck(&ours_args, dir.path(), &[]);
        assert_eq!(
            support::code(&out),
            0,
            "{}: {}",
            c.name,
            support::stderr(&out)
        );
        let computed: Value = serde_json::from_str(&support::stdout(&out)).expect("json");
        if normalize(&computed) != helms {
            failures.push(format!(
                "{}: helmdeck values {}\n   helm template {helms}",
                c.name,
                normalize(&computed)
            ));
        }
        ours_args[0] = "render";
        ours_args.truncate(ours_args.len() - 2);
        let out = support::helmdeck(&ours_args, dir.path(), &[]);
        assert_eq!(
            support::code(&out),
            0,
            "{}: {}",
            c.name,
            support::stderr(&out)
        );
        let seen = normalize(&values_from_output(&support::stdout(&out)));
        if seen != helms {
            failures.push(format!(
                "{}: through helmdeck render Helm saw {seen}\n   helm template alone {helms}",
                c.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn malformed_override_flags_are_exit_2_naming_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = dir.path().join("probe");
    write_chart(&chart, "a: 1\n");
    let chart_arg = chart.display().to_string();
    for (flag, expr, says) in [
        ("--set-json", "a={bad", "--set-json"),
        ("--set-json", "{\"a\":", "--set-json"),
        ("--set-file", "a=./no-such-file", "no such file"),
        ("--set-literal", "a.b", "has no value"),
        ("--set-string", "x=1,x.b=2", "interface conversion"),
    ] {
        let out = support::helmdeck(
            &["values", "--chart", &chart_arg, flag, expr],
            dir.path(),
            &[],
        );
        assert_eq!(
            support::code(&out),
            2,
            "{flag} {expr}: {}",
            support::stderr(&out)
        );
        let err = support::stderr(&out);
        assert!(err.contains(says), "{flag} {expr}: {err}");
        assert!(err.contains("hint:"), "{err}");
    }
}

/// A key a configured secret gives, overridden at launch by any flag, stays masked in
/// `values`, `values --explain` (value and source) and `render`.
#[test]
fn secrets_given_by_override_flags_are_masked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = support::demo_config();
    let pw = dir.path().join("pw.txt");
    std::fs::write(&pw, "file-s3cret").expect("pw");
    let pw_arg = format!("database.password={}", pw.display());
    for (flag, expr, secret) in [
        ("--set", "database.password=set-s3cret", "set-s3cret"),
        ("--set-string", "database.password=str-s3cret", "str-s3cret"),
        (
            "--set-json",
            r#"database={"password":"js0n-s3cret"}"#,
            "js0n-s3cret",
        ),
        (
            "--set-literal",
            "database.password=lit,s3cret",
            "lit,s3cret",
        ),
        ("--set-file", pw_arg.as_str(), "file-s3cret"),
    ] {
        for cmd in [
            vec!["values", "web", "--env", "staging", "-o", "json"],
            vec![
                "values",
                "web",
                "--env",
                "staging",
                "--explain",
                "-o",
                "json",
            ],
            vec!["values", "web", "--env", "staging", "--explain"],
            vec!["render", "web", "--env", "staging"],
        ] {
            let mut args: Vec<&str> = vec!["--config", cfg.to_str().expect("utf8")];
            args.extend(cmd.iter().copied());
            args.extend([flag, expr]);
            let out = support::helmdeck(&args, dir.path(), &[("DEMO_DB_PASSWORD", "env-pw")]);
            assert_eq!(
                support::code(&out),
                0,
                "{args:?}: {}",
                support::stderr(&out)
            );
            let all = format!("{}{}", support::stdout(&out), support::stderr(&out));
            assert!(!all.contains(secret), "{args:?} shows the secret:\n{all}");
        }
    }
}
