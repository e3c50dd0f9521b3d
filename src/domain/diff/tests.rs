use super::*;
use crate::domain::mask::decode_base64;
use serde_json::json;

/// An object whose fields are read from its body, as the parser does.
fn object(body: Value) -> Object {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    Object {
        api_version: s(body.get("apiVersion")).unwrap_or_default(),
        kind: s(body.get("kind")).unwrap_or_default(),
        namespace: s(body.pointer("/metadata/namespace")),
        name: s(body.pointer("/metadata/name")).unwrap_or_default(),
        source: None,
        body,
    }
}

fn from(mut o: Object, source: &str) -> Object {
    o.source = Some(source.to_string());
    o
}

fn deployment(api: &str, name: &str, image: &str) -> Object {
    object(json!({
        "apiVersion": api,
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "demo", "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image, "ports": [{"containerPort": 80}]}]}
            }
        }
    }))
}

fn config_map(name: &str, data: Value) -> Object {
    object(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "demo"},
        "data": data
    }))
}

fn b64(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A Secret with `data` (base64) entries.
fn secret(name: &str, data: &[(&str, &str)]) -> Object {
    let data: Map<String, Value> = data
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(b64(v))))
        .collect();
    object(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": "demo"},
        "data": data
    }))
}

/// A Secret with `stringData` (plain) entries.
fn string_secret(name: &str, data: &[(&str, &str)]) -> Object {
    let data: Map<String, Value> = data
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    object(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": "demo"},
        "stringData": data
    }))
}

fn run(old: &[Object], new: &[Object]) -> ManifestDiff {
    diff(old, new, &DiffOptions::default())
}

fn only(d: &ManifestDiff) -> &ObjectDiff {
    assert_eq!(d.entries.len(), 1, "{d:#?}");
    &d.entries[0]
}

fn text(e: &ObjectDiff) -> &str {
    e.unified.as_ref().map(Unified::text).unwrap_or_default()
}

/// `t` has a line that is exactly `line` (prefix included). Diff bodies
/// are YAML, where a plain value has no closing quote to end a substring
/// match: `apiVersion: apps/v1` must not match `apiVersion: apps/v1beta1`.
fn has_line(t: &str, line: &str) -> bool {
    t.lines().any(|l| l == line)
}

/// Everything a caller could print: the plain rendering, every tagged
/// line, and the Debug form of the whole result.
fn everything(d: &ManifestDiff) -> String {
    let mut all = render_plain(d);
    for e in &d.entries {
        if let Some(u) = &e.unified {
            for l in u.lines() {
                all.push_str(l.text);
                all.push('\n');
            }
        }
    }
    all.push_str(&format!("{d:?}"));
    all
}

fn assert_no_leak(d: &ManifestDiff, secrets: &[&str]) {
    let all = everything(d);
    for s in secrets {
        let encoded = b64(s);
        for form in [
            s.to_string(),
            encoded.clone(),
            encoded.trim_end_matches('=').to_string(),
        ] {
            assert!(!all.contains(&form), "secret form {form:?} leaked:\n{all}");
        }
    }
}

#[test]
fn identical_sets_are_empty_and_all_unchanged() {
    let set = vec![
        deployment("apps/v1", "web", "nginx:1"),
        config_map("cfg", json!({"a": "1"})),
    ];
    let d = run(&set, &set);
    assert!(d.is_empty());
    assert_eq!(
        d.counts,
        DiffCounts {
            unchanged: 2,
            ..DiffCounts::default()
        }
    );
    assert!(d
        .entries
        .iter()
        .all(|e| e.change == ChangeKind::Unchanged && e.unified.is_none()));
    assert_eq!(render_plain(&d), "No changes (2 objects unchanged).\n");
}

#[test]
fn entries_are_sorted_by_key_whatever_the_input_order() {
    let old = vec![
        config_map("z", json!({})),
        deployment("apps/v1", "b", "x"),
        config_map("a", json!({})),
    ];
    let new = vec![deployment("apps/v1", "a", "x"), config_map("m", json!({}))];
    let d = run(&old, &new);
    let keys: Vec<ObjectKey> = d.entries.iter().map(|e| e.key.clone()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(d.entries.len(), 5);
}

#[test]
fn added_object_shows_every_line_as_insert_against_dev_null() {
    let d = run(&[], &[config_map("cfg", json!({"greeting": "hello"}))]);
    let e = only(&d);
    assert_eq!(e.change, ChangeKind::Added);
    assert!(e.old.is_none());
    let u = e.unified.as_ref().expect("diff");
    let lines: Vec<DiffLine> = u.lines().collect();
    assert_eq!(lines[0].text, "--- /dev/null");
    assert_eq!(lines[1].text, "+++ b/core/ConfigMap/demo/cfg");
    assert!(
        lines[2].text.starts_with("@@ -0,0 +1,"),
        "{}",
        lines[2].text
    );
    assert!(lines[3..].iter().all(|l| l.tag == LineTag::Insert));
    assert!(has_line(u.text(), "+  greeting: hello"), "{}", u.text());
    assert_eq!(u.deletions(), 0);
    assert_eq!(d.counts.added, 1);
}

#[test]
fn removed_object_shows_every_line_as_delete_against_dev_null() {
    let d = run(&[deployment("apps/v1", "web", "nginx:1")], &[]);
    let e = only(&d);
    assert_eq!(e.change, ChangeKind::Removed);
    let u = e.unified.as_ref().expect("diff");
    let lines: Vec<DiffLine> = u.lines().collect();
    assert_eq!(lines[0].text, "--- a/apps/Deployment/demo/web");
    assert_eq!(lines[1].text, "+++ /dev/null");
    assert!(lines[3..].iter().all(|l| l.tag == LineTag::Delete));
    assert_eq!(u.insertions(), 0);
    assert!(render_plain(&d).starts_with("- apps/Deployment demo/web (+0 -"));
}

#[test]
fn changed_field_gives_one_hunk_with_three_lines_of_context() {
    let d = run(
        &[deployment("apps/v1", "web", "nginx:1")],
        &[deployment("apps/v1", "web", "nginx:2")],
    );
    let e = only(&d);
    assert_eq!(e.change, ChangeKind::Changed);
    let u = e.unified.as_ref().expect("diff");
    let lines: Vec<DiffLine> = u.lines().collect();
    assert_eq!(lines[0].text, "--- a/apps/Deployment/demo/web");
    assert_eq!(lines[1].text, "+++ b/apps/Deployment/demo/web");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.tag == LineTag::HunkHeader)
            .count(),
        1
    );
    let body: Vec<&DiffLine> = lines
        .iter()
        .filter(|l| l.tag.change_tag().is_some())
        .collect();
    // The image is two lines from the end of the YAML document, so the
    // hunk has three lines of context before it and the two that remain after.
    assert_eq!(body.len(), 3 + 2 + 2, "{}", u.text());
    assert_eq!(lines[2].text, "@@ -17,6 +17,6 @@", "{}", u.text());
    assert!(body[..3].iter().all(|l| l.tag == LineTag::Context));
    assert_eq!(body[2].text, "       - name: web");
    assert_eq!(body[3].text, "-        image: nginx:1");
    assert_eq!(body[4].text, "+        image: nginx:2");
    assert!(body[5..].iter().all(|l| l.tag == LineTag::Context));
    assert_eq!(body[6].text, "         - containerPort: 80");
    assert_eq!((u.insertions(), u.deletions()), (1, 1));

    // With more lines after the change, context after it stops at three too.
    let with_tail = |image: &str| {
        let mut o = deployment("apps/v1", "web", image);
        let pod = &mut o.body["spec"]["template"]["spec"];
        pod["restartPolicy"] = json!("Always");
        pod["dnsPolicy"] = json!("ClusterFirst");
        o
    };
    let d = run(&[with_tail("nginx:1")], &[with_tail("nginx:2")]);
    let u = only(&d).unified.clone().expect("diff");
    let body: Vec<DiffLine> = u.lines().filter(|l| l.tag.change_tag().is_some()).collect();
    assert_eq!(body.len(), 3 + 2 + 3, "{}", u.text());
    assert_eq!(body[3].text, "-        image: nginx:1");
    assert_eq!(body[4].text, "+        image: nginx:2");
    assert!(body[5..].iter().all(|l| l.tag == LineTag::Context));
    assert_eq!(body[7].text, "       restartPolicy: Always");
    assert!(!u.text().contains("dnsPolicy"), "{}", u.text());
}

#[test]
fn context_lines_option_widens_hunks() {
    let opts = DiffOptions {
        context_lines: 0,
        ..DiffOptions::default()
    };
    let d = diff(
        &[deployment("apps/v1", "web", "nginx:1")],
        &[deployment("apps/v1", "web", "nginx:2")],
        &opts,
    );
    let u = only(&d).unified.clone().expect("diff");
    assert_eq!(u.lines().filter(|l| l.tag == LineTag::Context).count(), 0);
}

#[test]
fn api_version_bump_is_a_change_not_add_remove() {
    let d = run(
        &[deployment("apps/v1beta1", "web", "nginx:1")],
        &[deployment("apps/v1", "web", "nginx:1")],
    );
    let e = only(&d);
    assert_eq!(e.change, ChangeKind::Changed);
    assert!(e.api_version_changed());
    assert_eq!(
        d.counts,
        DiffCounts {
            changed: 1,
            ..DiffCounts::default()
        }
    );
    let t = text(e);
    assert!(has_line(t, "-apiVersion: apps/v1beta1"), "{t}");
    assert!(has_line(t, "+apiVersion: apps/v1"), "{t}");
    assert!(render_plain(&d)
        .starts_with("~ apps/Deployment demo/web (+1 -1) [apiVersion apps/v1beta1 -> apps/v1]\n"));
}

#[test]
fn moved_between_templates_is_unchanged() {
    let old = from(
        deployment("apps/v1", "web", "nginx:1"),
        "web/templates/deployment.yaml",
    );
    let new = from(
        deployment("apps/v1", "web", "nginx:1"),
        "web/templates/web.yaml",
    );
    let d = run(&[old], &[new]);
    let e = only(&d);
    assert_eq!(e.change, ChangeKind::Unchanged);
    assert!(e.moved());
    assert_eq!(
        e.new.as_ref().and_then(|o| o.source.as_deref()),
        Some("web/templates/web.yaml")
    );
    assert!(d.is_empty());
}

#[test]
fn changed_and_moved_object_names_both_templates_in_summary() {
    let old = from(deployment("apps/v1", "web", "nginx:1"), "a.yaml");
    let new = from(deployment("apps/v1", "web", "nginx:2"), "b.yaml");
    let out = render_plain(&run(&[old], &[new]));
    assert!(
        out.starts_with("~ apps/Deployment demo/web (+1 -1) [template a.yaml -> b.yaml]\n"),
        "{out}"
    );
}

#[test]
fn key_order_difference_is_unchanged() {
    let a = object(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "demo"}, "data": {"x": "1", "y": "2"}}),
    );
    let b = object(
        json!({"kind": "ConfigMap", "data": {"y": "2", "x": "1"}, "metadata": {"namespace": "demo", "name": "c"}, "apiVersion": "v1"}),
    );
    assert!(run(&[a], &[b]).is_empty());
}

#[test]
fn reordered_keys_in_a_changed_object_do_not_pad_the_diff() {
    let a = object(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "demo"}, "data": {"x": "1", "y": "2", "z": "3"}}),
    );
    let b = object(
        json!({"data": {"z": "3", "y": "2", "x": "changed", "new": "n"}, "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"namespace": "demo", "name": "c"}}),
    );
    let d = run(&[a], &[b]);
    let u = only(&d).unified.clone().expect("diff");
    assert_eq!((u.insertions(), u.deletions()), (2, 1), "{}", u.text());
}

#[test]
fn same_name_in_other_namespace_or_group_is_another_object() {
    let mut other_ns = config_map("cfg", json!({}));
    other_ns.namespace = Some("prod".into());
    let mut other_group = deployment("extensions/v1beta1", "cfg", "x");
    other_group.kind = "ConfigMap".into();
    let d = run(&[config_map("cfg", json!({}))], &[other_ns, other_group]);
    assert_eq!(
        d.counts,
        DiffCounts {
            added: 2,
            removed: 1,
            ..DiffCounts::default()
        }
    );
}

#[test]
fn cluster_scoped_objects_have_no_namespace_in_labels() {
    let cr = object(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "admin"}}),
    );
    let key = cr.key();
    assert_eq!(
        key_label(&key),
        "rbac.authorization.k8s.io/ClusterRole admin"
    );
    assert_eq!(
        key_path(&key),
        "rbac.authorization.k8s.io/ClusterRole/admin"
    );
    let d = run(&[], &[cr]);
    assert!(render_plain(&d).starts_with("+ rbac.authorization.k8s.io/ClusterRole admin (+"));
}

#[test]
fn server_fields_are_ignored_only_when_asked() {
    let rendered = deployment("apps/v1", "web", "nginx:1");
    let mut live = rendered.clone();
    let meta = live
        .body
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .expect("metadata");
    meta.insert("uid".into(), json!("1234"));
    meta.insert("resourceVersion".into(), json!("99"));
    meta.insert("generation".into(), json!(3));
    meta.insert("creationTimestamp".into(), json!("2024-01-01T00:00:00Z"));
    meta.insert("selfLink".into(), json!("/apis/apps/v1/x"));
    meta.insert("managedFields".into(), json!([{"manager": "helm"}]));
    meta.insert(
        "annotations".into(),
        json!({
            "deployment.kubernetes.io/revision": "4",
            "kubectl.kubernetes.io/last-applied-configuration": "{}"
        }),
    );
    live.body["status"] = json!({"replicas": 2});
    assert_eq!(
        only(&run(
            std::slice::from_ref(&live),
            std::slice::from_ref(&rendered)
        ))
        .change,
        ChangeKind::Changed
    );
    let d = diff(&[live], &[rendered], &DiffOptions::ignoring_server_fields());
    assert!(d.is_empty(), "{}", render_plain(&d));
}

#[test]
fn ignored_fields_are_stripped_from_the_rendered_diff_too() {
    let mut a = deployment("apps/v1", "web", "nginx:1");
    a.body["status"] = json!({"readyReplicas": 7});
    let b = deployment("apps/v1", "web", "nginx:2");
    let d = diff(&[a], &[b], &DiffOptions::ignoring_server_fields());
    let t = text(only(&d));
    assert!(!t.contains("readyReplicas"), "{t}");
    assert!(has_line(t, "+        image: nginx:2"), "{t}");
}

#[test]
fn strip_server_fields_removes_the_default_list_and_prunes_emptied_maps() {
    let mut body = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {
            "name": "c", "uid": "u", "resourceVersion": "1", "generation": 1,
            "creationTimestamp": "t", "selfLink": "s", "managedFields": [],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
            "labels": {}
        },
        "status": {}
    });
    strip_server_fields(&mut body);
    assert_eq!(
        body,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {}}})
    );
    assert_eq!(server_field_paths().len(), SERVER_FIELDS.len());
}

#[test]
fn stripped_annotation_keeps_other_annotations() {
    let mut body = json!({"metadata": {"annotations": {"deployment.kubernetes.io/revision": "2", "team": "x"}}});
    strip_server_fields(&mut body);
    assert_eq!(body, json!({"metadata": {"annotations": {"team": "x"}}}));
}

#[test]
fn wildcard_paths_reach_into_arrays() {
    let opts = DiffOptions::default()
        .ignore("/spec/template/spec/containers/*/image")
        .expect("valid path");
    let d = diff(
        &[deployment("apps/v1", "web", "nginx:1")],
        &[deployment("apps/v1", "web", "nginx:2")],
        &opts,
    );
    assert!(d.is_empty());
    let opts = DiffOptions::default()
        .ignore("/spec/template/spec/containers/0/image")
        .expect("valid path");
    let d = diff(
        &[deployment("apps/v1", "web", "nginx:1")],
        &[deployment("apps/v1", "web", "nginx:2")],
        &opts,
    );
    assert!(d.is_empty());
}

#[test]
fn field_paths_parse_json_pointers_and_reject_the_rest() {
    let cases: &[(&str, Result<Vec<Segment>, FieldPathError>)] = &[
        ("/status", Ok(vec![Segment::Key("status".into())])),
        (
            "/a~1b/~0c",
            Ok(vec![Segment::Key("a/b".into()), Segment::Key("~c".into())]),
        ),
        ("/x/*", Ok(vec![Segment::Key("x".into()), Segment::Any])),
        ("", Err(FieldPathError::Empty)),
        ("status", Err(FieldPathError::NotAPointer("status".into()))),
        ("/a~2", Err(FieldPathError::InvalidEscape("/a~2".into()))),
        ("/a~", Err(FieldPathError::InvalidEscape("/a~".into()))),
    ];
    for (input, want) in cases {
        let got = FieldPath::parse(input).map(|p| p.segments().to_vec());
        assert_eq!(&got, want, "parsing {input:?}");
    }
    for p in SERVER_FIELDS {
        assert_eq!(
            FieldPath::parse(p).map(|f| f.to_string()).as_deref(),
            Ok(*p)
        );
    }
    assert_eq!(
        FieldPath::from_keys(Vec::<String>::new()),
        Err(FieldPathError::Empty)
    );
}

#[test]
fn duplicate_keys_keep_the_last_definition_and_are_reported() {
    let new = vec![
        config_map("cfg", json!({"v": "1"})),
        config_map("cfg", json!({"v": "2"})),
    ];
    let d = run(&[config_map("cfg", json!({"v": "2"}))], &new);
    assert!(d.is_empty());
    assert_eq!(
        d.duplicates,
        vec![DuplicateKey {
            side: Side::New,
            key: new[0].key()
        }]
    );
    assert!(render_plain(&d)
        .contains("warning: ConfigMap demo/cfg appears more than once in the new manifests"));
}

#[test]
fn render_plain_lists_changes_then_totals_then_diffs() {
    let old = vec![
        deployment("apps/v1", "web", "nginx:1"),
        config_map("gone", json!({})),
        config_map("same", json!({})),
    ];
    let new = vec![
        deployment("apps/v1", "web", "nginx:2"),
        config_map("new", json!({})),
        config_map("same", json!({})),
    ];
    let d = run(&old, &new);
    let out = render_plain(&d);
    let head: Vec<&str> = out.lines().take(4).collect();
    // Core group ("") sorts before "apps".
    assert!(head[0].starts_with("- ConfigMap demo/gone (+0 -"), "{out}");
    assert!(head[1].starts_with("+ ConfigMap demo/new (+"), "{out}");
    assert_eq!(head[2], "~ apps/Deployment demo/web (+1 -1)");
    assert_eq!(head[3], "1 to add, 1 to change, 1 to remove, 1 unchanged.");
    assert!(!out.contains("demo/same"));
    assert!(out.contains("\n--- a/apps/Deployment/demo/web\n+++ b/apps/Deployment/demo/web\n@@ "));
    assert!(out.contains("\n--- a/core/ConfigMap/demo/gone\n+++ /dev/null\n"));
    assert!(out.contains("\n--- /dev/null\n+++ b/core/ConfigMap/demo/new\n"));
}

#[test]
fn line_tags_agree_with_line_prefixes() {
    let d = run(
        &[
            deployment("apps/v1", "web", "nginx:1"),
            config_map("gone", json!({"a": "b"})),
        ],
        &[
            deployment("apps/v1", "web", "nginx:2"),
            config_map("new", json!({"c": "d"})),
        ],
    );
    for e in d.changes() {
        let u = e.unified.as_ref().expect("diff");
        assert_eq!(u.lines().len(), u.text().lines().count());
        for (line, raw) in u.lines().zip(u.text().lines()) {
            assert_eq!(line.text, raw);
            let want = match line.tag {
                LineTag::FileHeader => {
                    line.text.starts_with("--- ") || line.text.starts_with("+++ ")
                }
                LineTag::HunkHeader => line.text.starts_with("@@ -") && line.text.ends_with(" @@"),
                LineTag::Context => line.text.starts_with(' '),
                LineTag::Delete => line.text.starts_with('-'),
                LineTag::Insert => line.text.starts_with('+'),
            };
            assert!(want, "{:?} {:?}", line.tag, line.text);
        }
    }
}

// ---- Secrets -------------------------------------------------------

#[test]
fn secret_value_change_shows_changed_marker_not_value() {
    let d = run(
        &[secret(
            "db",
            &[("password", "hunter2-old"), ("user", "admin-user")],
        )],
        &[secret(
            "db",
            &[("password", "hunter2-new"), ("user", "admin-user")],
        )],
    );
    let e = only(&d);
    assert_eq!(e.change, ChangeKind::Changed);
    let t = text(e);
    assert!(
        has_line(t, &format!("-  password: \"{MASKED_CHANGED_OLD}\"")),
        "{t}"
    );
    assert!(
        has_line(t, &format!("+  password: \"{MASKED_CHANGED_NEW}\"")),
        "{t}"
    );
    assert!(
        has_line(t, &format!("   user: \"{MASKED_UNCHANGED}\"")),
        "{t}"
    );
    assert_no_leak(&d, &["hunter2-old", "hunter2-new", "admin-user"]);
}

#[test]
fn added_secret_never_leaks_values() {
    let d = run(&[], &[secret("db", &[("password", "s3cr3t-added-value")])]);
    assert_eq!(only(&d).change, ChangeKind::Added);
    let t = text(only(&d));
    assert!(
        has_line(t, &format!("+  password: \"{MASKED_ADDED}\"")),
        "{t}"
    );
    assert_no_leak(&d, &["s3cr3t-added-value"]);
}

#[test]
fn removed_secret_never_leaks_values() {
    let d = run(
        &[string_secret("db", &[("token", "s3cr3t-removed-value")])],
        &[],
    );
    assert_eq!(only(&d).change, ChangeKind::Removed);
    let t = text(only(&d));
    assert!(
        has_line(t, &format!("-  token: \"{MASKED_REMOVED}\"")),
        "{t}"
    );
    assert_no_leak(&d, &["s3cr3t-removed-value"]);
}

#[test]
fn secret_keys_added_and_removed_get_their_own_markers() {
    let d = run(
        &[secret(
            "db",
            &[("keep", "kept-value-1"), ("drop", "dropped-value-2")],
        )],
        &[secret(
            "db",
            &[("keep", "kept-value-1"), ("fresh", "fresh-value-3")],
        )],
    );
    let t = text(only(&d));
    assert!(
        has_line(t, &format!("-  drop: \"{MASKED_REMOVED}\"")),
        "{t}"
    );
    assert!(has_line(t, &format!("+  fresh: \"{MASKED_ADDED}\"")), "{t}");
    assert_no_leak(&d, &["kept-value-1", "dropped-value-2", "fresh-value-3"]);
}

#[test]
fn string_data_equal_to_base64_data_is_unchanged() {
    let d = run(
        &[secret("db", &[("password", "same-plain")])],
        &[string_secret("db", &[("password", "same-plain")])],
    );
    assert!(d.is_empty(), "{}", render_plain(&d));
}

#[test]
fn string_data_compared_with_decoded_data_marks_each_key() {
    let mut new = string_secret(
        "db",
        &[("password", "same-plain"), ("api", "other-api-key")],
    );
    new.body["metadata"]["labels"] = json!({"rotated": "yes"});
    let d = run(
        &[secret(
            "db",
            &[("password", "same-plain"), ("api", "first-api-key")],
        )],
        &[new],
    );
    let t = text(only(&d));
    assert!(
        has_line(t, &format!("   password: \"{MASKED_UNCHANGED}\"")),
        "{t}"
    );
    assert!(has_line(t, "+stringData:"), "{t}");
    assert!(
        has_line(t, &format!("+  api: \"{MASKED_CHANGED_NEW}\"")),
        "{t}"
    );
    assert!(
        has_line(t, &format!("-  api: \"{MASKED_CHANGED_OLD}\"")),
        "{t}"
    );
    assert_no_leak(&d, &["same-plain", "other-api-key", "first-api-key"]);
}

#[test]
fn secret_metadata_change_keeps_values_masked_as_unchanged() {
    let old = secret("db", &[("password", "stable-secret")]);
    let mut new = old.clone();
    new.body["metadata"]["labels"] = json!({"tier": "db"});
    let d = run(&[old], &[new]);
    let t = text(only(&d));
    assert!(
        has_line(t, &format!("   password: \"{MASKED_UNCHANGED}\"")),
        "{t}"
    );
    assert_no_leak(&d, &["stable-secret"]);
}

#[test]
fn secret_last_applied_annotation_is_masked() {
    let mut old = secret("db", &[("password", "applied-secret")]);
    let la = format!(
        r#"{{"apiVersion":"v1","data":{{"password":"{}"}},"kind":"Secret"}}"#,
        b64("applied-secret")
    );
    old.body["metadata"]["annotations"] = json!({ LAST_APPLIED_ANNOTATION: la });
    let mut new = secret("db", &[("password", "applied-secret-2")]);
    let la2 = r#"{"stringData":{"password":"applied-secret-2"}}"#;
    new.body["metadata"]["annotations"] = json!({ LAST_APPLIED_ANNOTATION: la2 });
    let d = run(&[old], &[new]);
    let t = text(only(&d));
    assert!(
        has_line(
            t,
            &format!("+    {LAST_APPLIED_ANNOTATION}: \"{MASKED_CHANGED_NEW}\"")
        ),
        "{t}"
    );
    assert_no_leak(&d, &["applied-secret", "applied-secret-2"]);
}

#[test]
fn non_object_secret_data_is_masked_whole() {
    let mut s = secret("db", &[]);
    s.body["data"] = json!("raw-secret-blob");
    s.body["stringData"] = json!(["raw-secret-item"]);
    let d = run(&[], &[s]);
    let t = text(only(&d));
    assert!(has_line(t, &format!("+data: \"{MASKED_ADDED}\"")), "{t}");
    assert_no_leak(&d, &["raw-secret-blob", "raw-secret-item"]);
}

#[test]
fn invalid_base64_data_still_compares_and_never_leaks() {
    let mut old = secret("db", &[]);
    old.body["data"] = json!({"k": "not base64 !!"});
    let mut new = old.clone();
    new.body["data"] = json!({"k": "also not base64 ??"});
    let d = run(&[old.clone()], &[new]);
    assert_eq!(only(&d).change, ChangeKind::Changed);
    assert_no_leak(&d, &["not base64 !!", "also not base64 ??"]);
    assert!(run(&[old.clone()], &[old]).is_empty());
}

#[test]
fn secrets_inside_a_list_are_masked() {
    let list = |value: &str| {
        object(json!({
            "apiVersion": "v1", "kind": "List", "metadata": {"name": "bundle"},
            "items": [
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"pw": value}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"visible": "yes"}}
            ]
        }))
    };
    let d = run(&[list("listed-secret-1")], &[list("listed-secret-2")]);
    let t = text(only(&d));
    assert!(
        t.contains(MASKED_CHANGED_NEW) && t.contains(MASKED_CHANGED_OLD),
        "{t}"
    );
    assert_no_leak(&d, &["listed-secret-1", "listed-secret-2"]);
    let masked = mask_secret(&list("listed-secret-3"));
    assert!(!masked.body.to_string().contains("listed-secret-3"));
    assert_eq!(masked.body["items"][0]["stringData"]["pw"], json!(MASKED));
    assert_eq!(masked.body["items"][1]["data"]["visible"], json!("yes"));
}

#[test]
fn mask_secret_hides_every_value_for_a_single_print() {
    let mut s = secret("db", &[("password", "printed-secret")]);
    s.body["stringData"] = json!({"extra": "printed-extra"});
    s.body["metadata"]["annotations"] =
        json!({ LAST_APPLIED_ANNOTATION: "{\"stringData\":{\"extra\":\"printed-extra\"}}" });
    let masked = mask_secret(&s);
    assert_eq!(masked.body["data"], json!({"password": MASKED}));
    assert_eq!(masked.body["stringData"], json!({"extra": MASKED}));
    assert_eq!(
        masked.body["metadata"]["annotations"][LAST_APPLIED_ANNOTATION],
        json!(MASKED)
    );
    let all = format!("{masked:?}");
    for leak in ["printed-secret", "printed-extra", &b64("printed-secret")] {
        assert!(!all.contains(leak));
    }
    assert_eq!(masked.key(), s.key());
}

#[test]
fn mask_secret_leaves_other_kinds_alone() {
    let cm = config_map("cfg", json!({"password": "not-a-secret"}));
    assert_eq!(mask_secret(&cm), cm);
    // A non-core kind named Secret is not a Kubernetes Secret.
    let mut crd = cm.clone();
    crd.api_version = "example.com/v1".into();
    crd.kind = "Secret".into();
    crd.body["apiVersion"] = json!("example.com/v1");
    crd.body["kind"] = json!("Secret");
    assert_eq!(mask_secret(&crd), crd);
}

#[test]
fn no_secret_value_leaks_in_any_scenario() {
    struct Case {
        name: &'static str,
        old: Vec<Object>,
        new: Vec<Object>,
    }
    let mut with_status = secret("db", &[("a", "leak-a-1")]);
    with_status.body["metadata"]["annotations"] = json!({ LAST_APPLIED_ANNOTATION: format!("{{\"data\":{{\"a\":\"{}\"}}}}", b64("leak-a-1")) });
    let mut mislabelled = object(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {"a": b64("leak-a-2")}}),
    );
    mislabelled.kind = "Scret".into();
    let cases = vec![
        Case {
            name: "added",
            old: vec![],
            new: vec![secret("db", &[("a", "leak-a-1")])],
        },
        Case {
            name: "removed",
            old: vec![secret("db", &[("a", "leak-a-1")])],
            new: vec![],
        },
        Case {
            name: "changed",
            old: vec![secret("db", &[("a", "leak-a-1")])],
            new: vec![secret("db", &[("a", "leak-a-2")])],
        },
        Case {
            name: "data to stringData",
            old: vec![secret("db", &[("a", "leak-a-1")])],
            new: vec![string_secret("db", &[("a", "leak-a-2")])],
        },
        Case {
            name: "last-applied",
            old: vec![with_status.clone()],
            new: vec![secret("db", &[("a", "leak-a-2")])],
        },
        Case {
            name: "body says Secret",
            old: vec![],
            new: vec![mislabelled],
        },
        Case {
            name: "keys added to an empty secret",
            old: vec![secret("db", &[])],
            new: vec![secret("db", &[("a", "leak-a-1"), ("b", "leak-a-2")])],
        },
    ];
    for opts in [
        DiffOptions::default(),
        DiffOptions::ignoring_server_fields(),
    ] {
        for case in &cases {
            let d = diff(&case.old, &case.new, &opts);
            assert!(!d.is_empty(), "case {}", case.name);
            assert_no_leak(&d, &["leak-a-1", "leak-a-2"]);
        }
    }
}

#[test]
fn base64_decoder_accepts_padding_variants_and_rejects_garbage() {
    let cases: &[(&str, Option<&[u8]>)] = &[
        ("aHVudGVyMg==", Some(b"hunter2")),
        ("aHVudGVyMg", Some(b"hunter2")),
        ("aHVu\ndGVy", Some(b"hunter")),
        ("", Some(b"")),
        ("-_8=", Some(&[0xfb, 0xff])),
        ("a", None),
        ("a=b", None),
        ("no spaces allowed!", None),
    ];
    for (input, want) in cases {
        assert_eq!(decode_base64(input).as_deref(), *want, "decoding {input:?}");
    }
    assert_eq!(b64("hunter2"), "aHVudGVyMg==");
}
