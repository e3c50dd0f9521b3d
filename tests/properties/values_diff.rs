//! Values merge (src/domain/values.rs), diff (src/domain/diff.rs) and the names helmdeck
//! gives the objects it derives (src/domain/strategy.rs).

use crate::gen;
use crate::harness::{bounded, config};
use helmdeck::domain::diff::{diff, render_plain, DiffOptions};
use helmdeck::domain::manifest::Object;
use helmdeck::domain::strategy::suffixed;
use helmdeck::domain::values::{merge, Layer, LayerKind, SetKind, SetOverride, MASK};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Helm's mergeMaps, the reference: maps merge recursively, anything else replaces.
fn merge_maps(dst: &mut Map<String, Value>, src: &Map<String, Value>) {
    for (k, v) in src {
        match (dst.get_mut(k), v) {
            (Some(Value::Object(d)), Value::Object(s)) => merge_maps(d, s),
            _ => {
                dst.insert(k.clone(), v.clone());
            }
        }
    }
}

fn user_layers() -> impl Strategy<Value = Vec<(Map<String, Value>, bool)>> {
    prop::collection::vec((gen::map(3), any::<bool>()), 1..4)
}

proptest! {
    #![proptest_config(config())]

    /// The values handed to Helm are the layers merged as Helm merges them; each leaf is
    /// explained by the last layer that holds it; a leaf a secret layer set is masked.
    #[test]
    fn merge_is_helms_and_every_leaf_names_its_layer(layers in user_layers()) {
        let input = layers.clone();
        bounded("values::merge", &layers, move || {
            let kinds = [LayerKind::Service, LayerKind::Environment, LayerKind::Secret];
            let built: Vec<Layer> = input
                .iter()
                .enumerate()
                .map(|(i, (m, secret))| {
                    let mut l = Layer::new(kinds[i % 3], format!("layer{i}.yaml"), m.clone());
                    l.secret = *secret;
                    l
                })
                .collect();
            let eff = merge(&built, &[]).expect("no --set, no error");
            let mut want = Map::new();
            for (m, _) in &input {
                merge_maps(&mut want, m);
            }
            assert_eq!(eff.user_values, Value::Object(want));
            let masked = eff.masked_values();
            let mut leaves = Vec::new();
            gen::leaves(&eff.user_values, "", &mut leaves);
            for (ptr, _) in leaves.iter().filter(|(p, _)| !p.is_empty()) {
                let last = input
                    .iter()
                    .rposition(|(m, _)| Value::Object(m.clone()).pointer(ptr).is_some())
                    .expect("some layer holds it");
                let origin = eff.origin(ptr).unwrap_or_else(|| panic!("no origin for {ptr}"));
                assert_eq!(origin.layer, last, "origin of {ptr}");
                if input[last].1 {
                    assert_eq!(masked.pointer(ptr), Some(&Value::String(MASK.into())), "{ptr} unmasked");
                }
            }
            // Merging is deterministic.
            assert_eq!(merge(&built, &[]).expect("again").values, eff.values);
        });
    }

    /// Chart defaults, user layers and `--set` expressions of any shape: an answer in
    /// bounded time, and an error names the expression.
    #[test]
    fn merge_with_defaults_and_sets_answers(
        defaults in gen::map(3),
        layers in user_layers(),
        sets in prop::collection::vec(("[a-z.\\[\\]0-9=,{}\":]{1,16}", 0..SetKind::ALL.len()), 0..3),
    ) {
        let input = (defaults, layers, sets);
        let shown = input.clone();
        bounded("values::merge", &shown, move || {
            let (defaults, layers, sets) = input;
            let mut built = vec![Layer::new(LayerKind::ChartDefaults, "values.yaml", defaults)];
            built.extend(layers.into_iter().map(|(m, _)| Layer::new(LayerKind::Service, "s.yaml", m)));
            let sets: Vec<SetOverride> = sets
                .into_iter()
                .map(|(expr, kind)| SetOverride::new(SetKind::ALL[kind], expr))
                .collect();
            match merge(&built, &sets) {
                Ok(eff) => {
                    let _ = eff.explain();
                }
                Err(e) => assert!(sets.iter().any(|s| e.to_string().contains(&format!("{:?}", s.expr)))),
            }
        });
    }

    /// An object set compared with itself has no change; every key of either side gets
    /// one entry; swapping the sides swaps added and removed.
    #[test]
    fn diff_counts_and_symmetry(
        old in prop::collection::vec(object(), 0..5),
        new in prop::collection::vec(object(), 0..5),
    ) {
        let input = (old, new);
        let shown = input.clone();
        bounded("diff::diff", &shown, move || {
            let (old, new) = input;
            let opts = DiffOptions::default();
            assert!(diff(&old, &old, &opts).is_empty());
            let d = diff(&old, &new, &opts);
            let back = diff(&new, &old, &opts);
            assert_eq!(d.counts.added, back.counts.removed);
            assert_eq!(d.counts.changed, back.counts.changed);
            let keys: std::collections::BTreeSet<_> = old.iter().chain(&new).map(Object::key).collect();
            assert_eq!(d.entries.len(), keys.len());
            let _ = render_plain(&d);
        });
    }

    /// A Secret's values never reach the diff's text, in any form.
    #[test]
    fn diff_never_shows_secret_values(
        old in "[A-Za-z0-9]{12,20}",
        new in "[A-Za-z0-9]{12,20}",
        as_string_data in any::<bool>(),
    ) {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let secret = |v: &str| {
            let data = if as_string_data { json!({"stringData": {"password": v}}) } else { json!({"data": {"password": b64(v)}}) };
            let mut body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "ns"}});
            body.as_object_mut().expect("map").extend(data.as_object().expect("map").clone());
            Object::from_body(body, "ns").expect("an object")
        };
        let d = diff(&[secret(&old)], &[secret(&new)], &DiffOptions::default());
        let text = render_plain(&d);
        for s in [&old, &new] {
            prop_assert!(!text.contains(s.as_str()) && !text.contains(&b64(s)), "{}", text);
        }
    }

    /// Derived names (`-canary`, `-blue`, config hashes) stay within Kubernetes' 253 bytes,
    /// keep their suffix, and never panic, whatever the base name's characters.
    #[test]
    fn suffixed_names_fit_and_keep_their_suffix(
        base in prop_oneof![".{0,300}", "[é名😀a]{200,300}", "[a-z]{240,260}"],
        suffix in prop::sample::select(vec!["-canary", "-blue", "-green", "-stage", "-0123abcd"]),
    ) {
        let b = base.clone();
        let name = bounded("strategy::suffixed", &base, move || suffixed(&b, suffix));
        prop_assert!(name.len() <= 253.max(base.len() + suffix.len()) , "{} bytes", name.len());
        prop_assert!(name.len() <= 253 || base.len() + suffix.len() <= 253);
        prop_assert!(name.ends_with(suffix));
    }
}

fn object() -> impl Strategy<Value = Object> {
    (
        prop::sample::select(vec![
            ("v1", "ConfigMap"),
            ("apps/v1", "Deployment"),
            ("v1", "Secret"),
            ("apps/v1beta1", "Deployment"),
        ]),
        prop::sample::select(vec!["a", "b", "c"]),
        gen::map(2),
    )
        .prop_map(|((api, kind), name, extra)| {
            let mut body = json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}});
            body[if kind == "Deployment" { "spec" } else { "data" }] = Value::Object(extra);
            Object::from_body(body, "ns").expect("an object")
        })
}

/// The case that found the byte cut: a long name of multi-byte characters.
#[test]
fn suffixed_cuts_long_non_ascii_names_on_a_character_boundary() {
    for base in [
        "é".repeat(200),
        "名".repeat(100),
        "😀".repeat(70),
        format!("a{}", "é".repeat(130)),
    ] {
        let name = suffixed(&base, "-canary");
        assert!(name.len() <= 253 && name.ends_with("-canary"), "{name}");
        assert_ne!(
            name,
            suffixed(&format!("{base}x"), "-canary"),
            "distinct bases stay distinct"
        );
    }
}
