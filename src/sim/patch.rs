//! Patch formats the API server accepts besides apply: JSON merge patch (RFC 7386),
//! strategic merge patch (merge keys for the lists kubectl patches: containers, ports, env,
//! volumes, conditions …, and the `$patch` / `$retainKeys` / `$setElementOrder` /
//! `$deleteFromPrimitiveList` directives) and JSON patch (RFC 6902).

use crate::sim::errors::ApiError;
use serde_json::{Map, Value};

/// How a list field merges: by key fields, as a set of scalars, or as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    Map(&'static [&'static str]),
    Set,
    Atomic,
}

/// The list semantics of the built-in kinds' schemas, keyed by field name (the same
/// name means the same list type across the core types the sim serves).
pub fn list_type(field: &str, items: &[Value]) -> ListType {
    let all_objects = items.iter().all(Value::is_object);
    let t = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => ListType::Map(&["name"]),
        "volumeMounts" => ListType::Map(&["mountPath"]),
        "volumeDevices" => ListType::Map(&["devicePath"]),
        "ports" => {
            if items.iter().any(|i| i.get("containerPort").is_some()) {
                ListType::Map(&["containerPort", "protocol"])
            } else if items.iter().any(|i| i.get("port").is_some()) {
                ListType::Map(&["port", "protocol"])
            } else {
                ListType::Atomic
            }
        }
        "conditions" => ListType::Map(&["type"]),
        "ownerReferences" => ListType::Map(&["uid"]),
        "hostAliases" => ListType::Map(&["ip"]),
        "topologySpreadConstraints" => ListType::Map(&["topologyKey", "whenUnsatisfiable"]),
        "finalizers" => return ListType::Set,
        _ => ListType::Atomic,
    };
    match t {
        ListType::Map(_) if !all_objects => ListType::Atomic,
        t => t,
    }
}

/// The value of one key field, with the defaults the API server fills in (`protocol: TCP`).
pub fn key_field(item: &Value, k: &str) -> Value {
    match item.get(k) {
        Some(v) if !v.is_null() => v.clone(),
        _ if k == "protocol" => Value::String("TCP".into()),
        _ => Value::Null,
    }
}

fn same_key(a: &Value, b: &Value, keys: &[&str]) -> bool {
    keys.iter().all(|k| key_field(a, k) == key_field(b, k))
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(p) => {
            let mut out = match target {
                Value::Object(t) => t.clone(),
                _ => Map::new(),
            };
            for (k, v) in p {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let cur = out.get(k).cloned().unwrap_or(Value::Null);
                    out.insert(k.clone(), merge_patch(&cur, v));
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Strategic merge patch for the built-in kinds.
pub fn strategic_merge(target: &Value, patch: &Value) -> Result<Value, ApiError> {
    Ok(smp_value(target, patch).unwrap_or(Value::Null))
}

/// `None` means "delete this value" (`$patch: delete`).
fn smp_value(target: &Value, patch: &Value) -> Option<Value> {
    let Value::Object(p) = patch else {
        return Some(patch.clone());
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut r = p.clone();
            r.remove("$patch");
            return Some(Value::Object(r));
        }
        Some("delete") => return None,
        _ => {}
    }
    let mut out = match target {
        Value::Object(t) => t.clone(),
        _ => Map::new(),
    };
    if let Some(keep) = p.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        out.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, v) in p {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(cur)), Some(del)) = (out.get_mut(field), v.as_array()) {
                cur.retain(|x| !del.contains(x));
            }
            continue;
        }
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let cur = out.get(k).cloned().unwrap_or(Value::Null);
        let merged = match v {
            Value::Object(_) => smp_value(&cur, v),
            Value::Array(items) => Some(smp_list(k, &cur, items)),
            _ => Some(v.clone()),
        };
        match merged {
            Some(m) => {
                out.insert(k.clone(), m);
            }
            None => {
                out.remove(k);
            }
        }
    }
    Some(Value::Object(out))
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn smp_list(field: &str, target: &Value, patch: &[Value]) -> Value {
    let cur: Vec<Value> = target.as_array().cloned().unwrap_or_default();
    let mut sample = cur.clone();
    sample.extend(patch.iter().filter(|p| p.get("$patch").is_none()).cloned());
    match list_type(field, &sample) {
        ListType::Atomic => Value::Array(patch.iter().map(strip_directives).collect()),
        ListType::Set => {
            let mut out = cur;
            for p in patch {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
            Value::Array(out)
        }
        ListType::Map(keys) => {
            // Strategic merge patch keys on the first key field only (patchMergeKey).
            let keys = &keys[..1];
            if patch
                .iter()
                .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
            {
                return Value::Array(
                    patch
                        .iter()
                        .filter(|p| p.get("$patch").is_none())
                        .map(strip_directives)
                        .collect(),
                );
            }
            let mut out = cur;
            for item in patch {
                let pos = out.iter().position(|c| same_key(c, item, keys));
                if item.get("$patch").and_then(Value::as_str) == Some("delete") {
                    out.retain(|c| !same_key(c, item, keys));
                    continue;
                }
                match pos {
                    Some(i) => {
                        if let Some(m) = smp_value(&out[i], item) {
                            out[i] = m;
                        }
                    }
                    None => out.push(strip_directives(item)),
                }
            }
            Value::Array(out)
        }
    }
}

/// RFC 6902 JSON patch.
pub fn json_patch(target: &Value, ops: &Value) -> Result<Value, ApiError> {
    let ops = ops
        .as_array()
        .ok_or_else(|| ApiError::bad_request("json patch must be an array of operations"))?;
    let mut doc = target.clone();
    for op in ops {
        let kind = op["op"]
            .as_str()
            .ok_or_else(|| ApiError::bad_request("json patch operation has no \"op\""))?;
        let path = op["path"]
            .as_str()
            .ok_or_else(|| ApiError::bad_request("json patch operation has no \"path\""))?;
        match kind {
            "add" => pointer_add(
                &mut doc,
                path,
                op.get("value").cloned().unwrap_or(Value::Null),
            )?,
            "remove" => {
                pointer_remove(&mut doc, path)?;
            }
            "replace" => {
                pointer_remove(&mut doc, path)?;
                pointer_add(
                    &mut doc,
                    path,
                    op.get("value").cloned().unwrap_or(Value::Null),
                )?;
            }
            "move" | "copy" => {
                let from = op["from"]
                    .as_str()
                    .ok_or_else(|| ApiError::bad_request("json patch move/copy needs \"from\""))?;
                let v = if kind == "move" {
                    pointer_remove(&mut doc, from)?
                } else {
                    doc.pointer(from).cloned().ok_or_else(|| missing(from))?
                };
                pointer_add(&mut doc, path, v)?;
            }
            "test" => {
                let have = doc.pointer(path).ok_or_else(|| missing(path))?;
                if Some(have) != op.get("value") {
                    return Err(ApiError::new(422, "Invalid", format!("the server rejected our request due to an error in our request: testing value {path} failed")));
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unexpected json patch operation {other:?}"
                )))
            }
        }
    }
    Ok(doc)
}

fn missing(path: &str) -> ApiError {
    ApiError::new(
        422,
        "Invalid",
        format!(
            "the server rejected our request due to an error in our request: missing path {path:?}"
        ),
    )
}

fn split_pointer(path: &str) -> Result<(String, String), ApiError> {
    let i = path
        .rfind('/')
        .ok_or_else(|| ApiError::bad_request(format!("invalid json pointer {path:?}")))?;
    let last = path[i + 1..].replace("~1", "/").replace("~0", "~");
    Ok((path[..i].to_string(), last))
}

fn pointer_add(doc: &mut Value, path: &str, v: Value) -> Result<(), ApiError> {
    if path.is_empty() {
        *doc = v;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    let p = doc.pointer_mut(&parent).ok_or_else(|| missing(&parent))?;
    match p {
        Value::Object(m) => {
            m.insert(last, v);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(v);
            } else {
                let i: usize = last.parse().map_err(|_| missing(path))?;
                if i > a.len() {
                    return Err(missing(path));
                }
                a.insert(i, v);
            }
        }
        _ => return Err(missing(path)),
    }
    Ok(())
}

fn pointer_remove(doc: &mut Value, path: &str) -> Result<Value, ApiError> {
    let (parent, last) = split_pointer(path)?;
    let p = doc.pointer_mut(&parent).ok_or_else(|| missing(&parent))?;
    match p {
        Value::Object(m) => m.remove(&last).ok_or_else(|| missing(path)),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| missing(path))?;
            if i >= a.len() {
                return Err(missing(path));
            }
            Ok(a.remove(i))
        }
        _ => Err(missing(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let live = json!({"spec": {"containers": [{"name": "a", "image": "x:1", "env": [{"name": "A", "value": "1"}]}, {"name": "b", "image": "y:1"}]}});
        let patch = json!({"spec": {"containers": [{"name": "a", "image": "x:2", "env": [{"name": "B", "value": "2"}]}]}});
        let out = strategic_merge(&live, &patch).unwrap();
        assert_eq!(out["spec"]["containers"][0]["image"], "x:2");
        assert_eq!(
            out["spec"]["containers"][0]["env"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(out["spec"]["containers"][1]["name"], "b");
    }

    #[test]
    fn strategic_merge_directives() {
        let live = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}, "metadata": {"finalizers": ["x", "y"]}});
        let del = json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}, "metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}});
        let out = strategic_merge(&live, &del).unwrap();
        assert_eq!(out["spec"]["containers"], json!([{"name": "b"}]));
        assert_eq!(out["metadata"]["finalizers"], json!(["y"]));
        let rep = json!({"spec": {"$patch": "replace", "x": 1}});
        assert_eq!(
            strategic_merge(&live, &rep).unwrap()["spec"],
            json!({"x": 1})
        );
    }

    #[test]
    fn rollout_restart_annotation_patch() {
        let live = json!({"spec": {"template": {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "a"}]}}}});
        let patch = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}}});
        let out = strategic_merge(&live, &patch).unwrap();
        assert_eq!(out["spec"]["template"]["metadata"]["labels"]["app"], "w");
        assert_eq!(
            out["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
            "now"
        );
    }

    #[test]
    fn merge_and_json_patch() {
        let live = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        assert_eq!(
            merge_patch(&live, &json!({"a": {"b": null}})),
            json!({"a": {"c": 2}, "l": [1, 2]})
        );
        let ops = json!([{"op": "replace", "path": "/a/b", "value": 5}, {"op": "add", "path": "/l/-", "value": 3}, {"op": "remove", "path": "/a/c"}]);
        assert_eq!(
            json_patch(&live, &ops).unwrap(),
            json!({"a": {"b": 5}, "l": [1, 2, 3]})
        );
        assert_eq!(
            json_patch(&live, &json!([{"op": "remove", "path": "/x"}]))
                .unwrap_err()
                .code,
            422
        );
    }
}
