//! The manifest reader (src/domain/manifest.rs): Helm's `---` stream into objects.

use crate::gen;
use crate::harness::{bounded, config, corpus};
use helmdeck::domain::manifest::{parse_stream, ManifestError, Object};
use helmdeck::domain::yaml;
use proptest::prelude::*;
use serde_json::{json, Value};

const KINDS: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Namespace"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("batch/v1", "Job"),
    ("example.com/v1alpha1", "Widget"),
];

/// An object as a chart renders it: identity, maybe a namespace, maybe a hook annotation,
/// and any body under `spec`/`data`.
fn object() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(KINDS),
        "[a-z][a-z0-9-]{0,20}",
        prop::option::of("[a-z][a-z0-9-]{0,10}"),
        prop::option::of(prop::sample::select(vec![
            "pre-install",
            "post-upgrade",
            "test",
        ])),
        gen::map(3),
    )
        .prop_map(|((api, kind), name, ns, hook, extra)| {
            let mut meta = json!({ "name": name });
            if let Some(ns) = ns {
                meta["namespace"] = json!(ns);
            }
            if let Some(h) = hook {
                meta["annotations"] = json!({ "helm.sh/hook": h });
            }
            let mut body = json!({ "apiVersion": api, "kind": kind, "metadata": meta });
            body[if kind == "ConfigMap" { "data" } else { "spec" }] = Value::Object(extra);
            body
        })
}

fn check(stream: &str) {
    match parse_stream(stream, "release-ns") {
        Ok(m) => {
            for o in m.all() {
                assert!(!o.name.is_empty() && !o.kind.is_empty() && !o.api_version.is_empty());
                let _ = o.to_yaml();
            }
        }
        Err(e) => {
            // A YAML error names the document's line in the stream and the place inside it.
            if let ManifestError::Yaml { line, pos, .. } = &e {
                assert!(*line >= 1 && pos.line >= 1 && pos.col >= 1, "{e:?}");
                assert!(*line <= stream.split('\n').count() + 1, "{e:?}");
            }
            assert!(!e.to_string().is_empty());
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_stream_answers_in_bounded_time(
        docs in prop::collection::vec(gen::yamlish(), 0..4)
    ) {
        let stream = docs.join("\n---\n");
        let s = stream.clone();
        bounded("manifest::parse_stream", &stream, move || check(&s));
    }

    /// Objects written as Helm prints them (`---`, `# Source:`) read back as the same
    /// objects, each with its template, namespace (the release's when none), and hooks
    /// and CRDs kept apart.
    #[test]
    fn rendered_objects_read_back_whole(bodies in prop::collection::vec(object(), 0..6)) {
        let mut stream = String::new();
        for (i, b) in bodies.iter().enumerate() {
            stream.push_str(&format!("---\n# Source: chart/templates/t{i}.yaml\n"));
            stream.push_str(&yaml::to_string(b));
        }
        let s = stream.clone();
        let m = bounded("manifest::parse_stream", &stream, move || parse_stream(&s, "release-ns"))
            .unwrap_or_else(|e| panic!("{e}\n{stream}"));
        let all: Vec<&Object> = m.all().collect();
        prop_assert_eq!(all.len(), bodies.len());
        for o in all {
            let i: usize = o.source.as_deref().and_then(|s| s.strip_prefix("chart/templates/t"))
                .and_then(|s| s.strip_suffix(".yaml")).and_then(|s| s.parse().ok())
                .expect("its template");
            let b = &bodies[i];
            prop_assert_eq!(&o.body, b);
            let ns = b.pointer("/metadata/namespace").and_then(Value::as_str);
            let cluster = matches!(o.kind.as_str(), "Namespace" | "ClusterRole" | "CustomResourceDefinition");
            prop_assert_eq!(o.namespace.as_deref(), if cluster { None } else { Some(ns.unwrap_or("release-ns")) });
            prop_assert_eq!(o.is_hook(), b.pointer("/metadata/annotations/helm.sh~1hook").is_some());
        }
        prop_assert!(m.hooks.iter().all(Object::is_hook));
        prop_assert!(m.crds.iter().all(|o| o.is_crd() && !o.is_hook()));
    }
}

/// The seeds in tests/corpus/manifest: each answers within bounds.
#[test]
fn corpus_manifest() {
    for (name, text) in corpus("manifest") {
        bounded("manifest corpus", &name, move || check(&text));
    }
}
