//! Server-side apply and field ownership: `metadata.managedFields` (FieldsV1) per manager
//! and operation, conflict detection as the API server reports it (409 naming the field
//! and the other manager), `force` taking ownership, removal of fields a manager stopped
//! applying, and ownership transfer on plain updates (PUT / merge / strategic / JSON patch).

use crate::sim::clock::now_rfc3339;
use crate::sim::errors::ApiError;
use crate::sim::patch::{key_field, list_type, ListType};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// A path of FieldsV1 keys: `["f:spec", "f:template", "k:{\"name\":\"web\"}", "f:image"]`.
pub type FieldPath = Vec<String>;
/// Leaf paths a manager owns.
pub type FieldSet = BTreeSet<FieldPath>;

/// One `managedFields` entry.
#[derive(Debug, Clone)]
pub struct ManagedEntry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: String,
    pub fields: FieldSet,
}

impl ManagedEntry {
    fn is(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }
    /// How conflict messages name a manager (`"kubectl" using apps/v1 at …` for updates).
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s = format!("{s} with subresource {:?}", self.subresource);
        }
        if self.operation == "Update" {
            s = format!("{s} using {} at {}", self.api_version, self.time);
        }
        s
    }
}

/// The part of an object whose fields are tracked: everything but identity metadata
/// (and, for the main resource of a kind with a status subresource, its status).
pub fn managed_view(obj: &Value, status_only: bool, skip_status: bool) -> Value {
    let mut out = Map::new();
    let Some(m) = obj.as_object() else {
        return Value::Object(out);
    };
    for (k, v) in m {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "status" if skip_status => {}
            "metadata" => {
                if status_only {
                    continue;
                }
                let mut md = Map::new();
                for f in ["labels", "annotations", "finalizers", "ownerReferences"] {
                    if let Some(x) = v.get(f) {
                        md.insert(f.to_string(), x.clone());
                    }
                }
                if !md.is_empty() {
                    out.insert(k.clone(), Value::Object(md));
                }
            }
            _ if status_only && k != "status" => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn key_string(item: &Value, keys: &[&str]) -> String {
    let mut m = Map::new();
    for k in keys {
        m.insert(k.to_string(), key_field(item, k));
    }
    format!("k:{}", Value::Object(m))
}

/// Every leaf path an object (or a fragment of one) sets.
pub fn fields_of(v: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    collect(v, &mut Vec::new(), &mut out);
    out
}

fn collect(v: &Value, prefix: &mut FieldPath, out: &mut FieldSet) {
    let Some(m) = v.as_object() else { return };
    for (k, child) in m {
        prefix.push(format!("f:{k}"));
        collect_value(k, child, prefix, out);
        prefix.pop();
    }
}

fn collect_value(field: &str, child: &Value, prefix: &mut FieldPath, out: &mut FieldSet) {
    match child {
        Value::Object(m) if !m.is_empty() => collect(child, prefix, out),
        Value::Array(items) if !items.is_empty() => match list_type(field, items) {
            ListType::Map(keys) => {
                for item in items {
                    prefix.push(key_string(item, keys));
                    prefix.push(".".into());
                    out.insert(prefix.clone());
                    prefix.pop();
                    collect(item, prefix, out);
                    prefix.pop();
                }
            }
            ListType::Set => {
                for item in items {
                    prefix.push(format!("v:{item}"));
                    out.insert(prefix.clone());
                    prefix.pop();
                }
            }
            ListType::Atomic => {
                out.insert(prefix.clone());
            }
        },
        _ => {
            out.insert(prefix.clone());
        }
    }
}

/// Leaf paths whose values differ between two objects (added, changed or removed).
pub fn diff_fields(old: &Value, new: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    diff(old, new, "", &mut Vec::new(), &mut out);
    out
}

fn diff(o: &Value, n: &Value, field: &str, prefix: &mut FieldPath, out: &mut FieldSet) {
    if o == n {
        return;
    }
    match (o, n) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                prefix.push(format!("f:{k}"));
                diff(
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    k,
                    prefix,
                    out,
                );
                prefix.pop();
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            let mut sample = a.clone();
            sample.extend(b.iter().cloned());
            match list_type(field, &sample) {
                ListType::Map(keys) => {
                    let ka: Vec<String> = a.iter().map(|i| key_string(i, keys)).collect();
                    let kb: Vec<String> = b.iter().map(|i| key_string(i, keys)).collect();
                    let all: BTreeSet<&String> = ka.iter().chain(kb.iter()).collect();
                    for k in all {
                        let ia = ka
                            .iter()
                            .position(|x| x == k)
                            .map(|i| &a[i])
                            .unwrap_or(&Value::Null);
                        let ib = kb
                            .iter()
                            .position(|x| x == k)
                            .map(|i| &b[i])
                            .unwrap_or(&Value::Null);
                        if ia == ib {
                            continue;
                        }
                        prefix.push(k.clone());
                        if ia.is_null() || ib.is_null() {
                            prefix.push(".".into());
                            out.insert(prefix.clone());
                            prefix.pop();
                        }
                        diff(ia, ib, "", prefix, out);
                        prefix.pop();
                    }
                }
                ListType::Set => {
                    for item in a
                        .iter()
                        .filter(|x| !b.contains(x))
                        .chain(b.iter().filter(|x| !a.contains(x)))
                    {
                        prefix.push(format!("v:{item}"));
                        out.insert(prefix.clone());
                        prefix.pop();
                    }
                }
                ListType::Atomic => {
                    out.insert(prefix.clone());
                }
            }
        }
        (Value::Object(_), Value::Null) => collect_value(field, o, prefix, out),
        (Value::Null, Value::Object(_)) => collect_value(field, n, prefix, out),
        (Value::Array(_), Value::Null) => collect_value(field, o, prefix, out),
        (Value::Null, Value::Array(_)) => collect_value(field, n, prefix, out),
        _ => {
            if !prefix.is_empty() {
                out.insert(prefix.clone());
            }
        }
    }
}

/// Whether one path is a prefix of the other (ownership of a parent covers its children).
fn overlaps(a: &[String], b: &[String]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

fn element_path(p: &[String]) -> &[String] {
    match p.last() {
        Some(l) if l == "." => &p[..p.len() - 1],
        _ => p,
    }
}

/// `.spec.template.spec.containers[name="web"].image`, as conflict messages print paths.
pub fn print_path(p: &[String]) -> String {
    let mut s = String::new();
    for el in p {
        if let Some(f) = el.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = el.strip_prefix("k:") {
            let parts: Vec<String> = serde_json::from_str::<Map<String, Value>>(k)
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = el.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        }
    }
    s
}

/// Reads `metadata.managedFields`.
pub fn read_managed(obj: &Value) -> Vec<ManagedEntry> {
    let mut out = Vec::new();
    for e in obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let mut fields = FieldSet::new();
        tree_to_paths(&e["fieldsV1"], &mut Vec::new(), &mut fields);
        let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
        out.push(ManagedEntry {
            manager: s("manager"),
            operation: s("operation"),
            api_version: s("apiVersion"),
            time: s("time"),
            subresource: s("subresource"),
            fields,
        });
    }
    out
}

fn tree_to_paths(t: &Value, prefix: &mut FieldPath, out: &mut FieldSet) {
    let Some(m) = t.as_object() else { return };
    if m.is_empty() && !prefix.is_empty() {
        out.insert(prefix.clone());
        return;
    }
    for (k, v) in m {
        prefix.push(k.clone());
        tree_to_paths(v, prefix, out);
        prefix.pop();
    }
}

fn paths_to_tree(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for p in set {
        let mut cur = &mut root;
        for el in p {
            let entry = cur.entry(el.clone()).or_insert_with(|| json!({}));
            let Some(next) = entry.as_object_mut() else {
                break;
            };
            cur = next;
        }
    }
    Value::Object(root)
}

/// Writes `metadata.managedFields`, dropping managers that own nothing.
pub fn write_managed(obj: &mut Value, entries: &[ManagedEntry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                "time": e.time, "fieldsType": "FieldsV1", "fieldsV1": paths_to_tree(&e.fields),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if let Some(m) = obj["metadata"].as_object_mut() {
        if list.is_empty() {
            m.remove("managedFields");
        } else {
            m.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// Merges an applied configuration into the live object: maps recursively, associative
/// lists by key, sets by value, everything else replaced.
fn apply_merge(live: &Value, applied: &Value, field: &str) -> Value {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            let mut out = l.clone();
            for (k, av) in a {
                if av.is_null() {
                    out.remove(k);
                    continue;
                }
                let lv = l.get(k).unwrap_or(&Value::Null);
                out.insert(k.clone(), apply_merge(lv, av, k));
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(a)) => {
            let mut sample = l.clone();
            sample.extend(a.iter().cloned());
            match list_type(field, &sample) {
                ListType::Map(keys) => {
                    let mut out = l.clone();
                    for item in a {
                        let k = key_string(item, keys);
                        match out.iter().position(|x| key_string(x, keys) == k) {
                            Some(i) => out[i] = apply_merge(&out[i], item, ""),
                            None => out.push(item.clone()),
                        }
                    }
                    Value::Array(out)
                }
                ListType::Set => {
                    let mut out = l.clone();
                    for item in a {
                        if !out.contains(item) {
                            out.push(item.clone());
                        }
                    }
                    Value::Array(out)
                }
                ListType::Atomic => applied.clone(),
            }
        }
        _ => applied.clone(),
    }
}

/// Removes the value at a FieldsV1 path (a map field, a keyed list element or a set value).
fn remove_path(obj: &mut Value, path: &[String]) {
    let path = element_path(path);
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for el in parents {
        let next = step_mut(cur, el);
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(k) = last.strip_prefix("k:") {
        if let (Some(a), Ok(key)) = (
            cur.as_array_mut(),
            serde_json::from_str::<Map<String, Value>>(k),
        ) {
            a.retain(|item| !key.iter().all(|(kk, kv)| key_field(item, kk) == *kv));
        }
    } else if let Some(v) = last.strip_prefix("v:") {
        if let (Some(a), Ok(val)) = (cur.as_array_mut(), serde_json::from_str::<Value>(v)) {
            a.retain(|item| *item != val);
        }
    }
}

fn step_mut<'a>(cur: &'a mut Value, el: &str) -> Option<&'a mut Value> {
    if let Some(f) = el.strip_prefix("f:") {
        cur.get_mut(f)
    } else if let Some(k) = el.strip_prefix("k:") {
        let key = serde_json::from_str::<Map<String, Value>>(k).ok()?;
        cur.as_array_mut()?
            .iter_mut()
            .find(|item| key.iter().all(|(kk, kv)| key_field(item, kk) == *kv))
    } else {
        None
    }
}

/// What an apply request asks for.
pub struct ApplyRequest<'a> {
    pub manager: &'a str,
    pub force: bool,
    pub api_version: &'a str,
    pub subresource: &'a str,
    /// The kind has a status subresource: the main resource ignores status and vice versa.
    pub has_status: bool,
}

/// Server-side apply of `applied` onto `live` (an empty object on create). Returns the new
/// object with its managedFields, or a 409 naming every conflicting field and manager.
pub fn server_side_apply(
    live: &Value,
    applied: &Value,
    req: &ApplyRequest,
) -> Result<Value, ApiError> {
    let status_only = req.subresource == "status";
    let skip_status = req.has_status && !status_only;
    let applied_view = managed_view(applied, status_only, skip_status);
    let applied_set = fields_of(&applied_view);
    let mut entries = read_managed(live);
    let prev_set = entries
        .iter()
        .find(|e| e.is(req.manager, "Apply", req.subresource))
        .map(|e| e.fields.clone())
        .unwrap_or_default();

    // Apply the configuration to the part of the object this endpoint may change.
    let mut merged = apply_merge(live, &applied_view, "");
    let others: Vec<&ManagedEntry> = entries
        .iter()
        .filter(|e| !e.is(req.manager, "Apply", req.subresource))
        .collect();
    for p in prev_set.difference(&applied_set) {
        let target = element_path(p);
        // Still applied (itself or something under it), or owned by someone else: keep.
        let owned_elsewhere = others
            .iter()
            .any(|e| e.fields.iter().any(|q| overlaps(target, q)))
            || applied_set.iter().any(|q| q.starts_with(target));
        if !owned_elsewhere {
            remove_path(&mut merged, p);
        }
    }
    // Keep the fields this endpoint may not change as they were.
    if let (Some(m), Some(l)) = (merged.as_object_mut(), live.as_object()) {
        if skip_status {
            match l.get("status") {
                Some(s) => m.insert("status".into(), s.clone()),
                None => m.remove("status"),
            };
        }
        if let Some(md) = l.get("metadata") {
            let mut md = md.clone();
            if !status_only {
                for f in ["labels", "annotations", "finalizers", "ownerReferences"] {
                    match m.get("metadata").and_then(|x| x.get(f)) {
                        Some(v) => md[f] = v.clone(),
                        None => {
                            if let Some(mm) = md.as_object_mut() {
                                mm.remove(f);
                            }
                        }
                    }
                }
            }
            m.insert("metadata".into(), md);
        }
    }

    let changed = diff_fields(
        &managed_view(live, status_only, skip_status),
        &managed_view(&merged, status_only, skip_status),
    );
    let mut conflicts: Vec<(usize, FieldPath)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if e.is(req.manager, "Apply", req.subresource) {
            continue;
        }
        for c in &changed {
            if let Some(owned) = e
                .fields
                .iter()
                .find(|q| overlaps(element_path(c), element_path(q)))
            {
                let shown = if owned.len() >= c.len() {
                    owned.clone()
                } else {
                    c.clone()
                };
                if !conflicts.iter().any(|(j, p)| *j == i && *p == shown) {
                    conflicts.push((i, shown));
                }
            }
        }
    }
    if !conflicts.is_empty() && !req.force {
        return Err(conflict_error(&entries, &conflicts));
    }
    for (i, p) in &conflicts {
        let e = &mut entries[*i];
        e.fields
            .retain(|q| !overlaps(element_path(q), element_path(p)));
    }
    let now = now_rfc3339();
    match entries
        .iter_mut()
        .find(|e| e.is(req.manager, "Apply", req.subresource))
    {
        Some(e) => {
            e.fields = applied_set;
            e.time = now;
            e.api_version = req.api_version.to_string();
        }
        None => entries.push(ManagedEntry {
            manager: req.manager.to_string(),
            operation: "Apply".into(),
            api_version: req.api_version.to_string(),
            time: now,
            subresource: req.subresource.to_string(),
            fields: applied_set,
        }),
    }
    write_managed(&mut merged, &entries);
    Ok(merged)
}

fn conflict_error(entries: &[ManagedEntry], conflicts: &[(usize, FieldPath)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(i, p)| {
            json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", entries[*i].describe()), "field": print_path(p)})
        })
        .collect();
    let message = if conflicts.len() == 1 {
        let (i, p) = &conflicts[0];
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            entries[*i].describe(),
            print_path(p)
        )
    } else {
        let mut by_manager: Vec<(String, Vec<String>)> = Vec::new();
        for (i, p) in conflicts {
            let d = entries[*i].describe();
            match by_manager.iter_mut().find(|(m, _)| *m == d) {
                Some((_, ps)) => ps.push(print_path(p)),
                None => by_manager.push((d, vec![print_path(p)])),
            }
        }
        by_manager.sort();
        let mut lines = Vec::new();
        for (m, ps) in by_manager {
            lines.push(format!("conflicts with {m}:"));
            lines.extend(ps.into_iter().map(|p| format!("- {p}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    ApiError {
        details: Some(json!({"causes": causes})),
        ..ApiError::new(409, "Conflict", message)
    }
}

/// Records a non-apply write (create, PUT, merge/strategic/JSON patch): the writer takes
/// ownership of what it changed, and other managers lose those fields (no conflicts).
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    subresource: &str,
    has_status: bool,
) {
    let status_only = subresource == "status";
    let skip_status = has_status && !status_only;
    let empty = json!({});
    let old_obj = old.unwrap_or(&empty);
    let old_view = managed_view(old_obj, status_only, skip_status);
    let new_view = managed_view(new, status_only, skip_status);
    let changed = diff_fields(&old_view, &new_view);
    let mut entries = read_managed(old_obj);
    if changed.is_empty() {
        write_managed(new, &entries);
        return;
    }
    let present = fields_of(&new_view);
    for e in entries.iter_mut() {
        if !e.is(manager, "Update", subresource) {
            e.fields.retain(|q| !changed.contains(q));
        }
    }
    let now = now_rfc3339();
    let mine = match entries
        .iter_mut()
        .position(|e| e.is(manager, "Update", subresource))
    {
        Some(i) => i,
        None => {
            entries.push(ManagedEntry {
                manager: manager.to_string(),
                operation: "Update".into(),
                api_version: api_version.to_string(),
                time: now.clone(),
                subresource: subresource.to_string(),
                fields: FieldSet::new(),
            });
            entries.len() - 1
        }
    };
    let e = &mut entries[mine];
    e.fields
        .extend(changed.into_iter().filter(|p| present.contains(p)));
    e.fields.retain(|p| present.contains(p));
    e.time = now;
    e.api_version = api_version.to_string();
    write_managed(new, &entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    fn req<'a>(manager: &'a str, force: bool) -> ApplyRequest<'a> {
        ApplyRequest {
            manager,
            force,
            api_version: "apps/v1",
            subresource: "",
            has_status: true,
        }
    }

    #[test]
    fn fieldsv1_keys_list_elements() {
        let set = fields_of(&managed_view(&deploy(2, "nginx"), false, true));
        assert!(set.contains(&vec![
            "f:spec".to_string(),
            "f:template".into(),
            "f:spec".into(),
            "f:containers".into(),
            "k:{\"name\":\"web\"}".into(),
            "f:image".into()
        ]));
        assert_eq!(
            print_path(&[
                "f:spec".into(),
                "f:containers".into(),
                "k:{\"name\":\"web\"}".into(),
                "f:image".into()
            ]),
            ".spec.containers[name=\"web\"].image"
        );
    }

    #[test]
    fn second_manager_conflicts_then_forces() {
        let live = server_side_apply(
            &json!({"metadata": {"name": "web"}}),
            &deploy(2, "nginx:1"),
            &req("helm", false),
        )
        .unwrap();
        // Same values: shared ownership, no conflict.
        let shared = server_side_apply(&live, &deploy(2, "nginx:1"), &req("other", false)).unwrap();
        assert_eq!(
            shared["metadata"]["managedFields"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let err =
            server_side_apply(&live, &deploy(3, "nginx:1"), &req("other", false)).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"helm\": .spec.replicas"
        );
        let forced = server_side_apply(&live, &deploy(3, "nginx:1"), &req("other", true)).unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        let helm = read_managed(&forced)
            .into_iter()
            .find(|e| e.manager == "helm")
            .unwrap();
        assert!(!helm
            .fields
            .contains(&vec!["f:spec".to_string(), "f:replicas".into()]));
    }

    #[test]
    fn dropped_fields_are_removed() {
        let mut a = deploy(2, "nginx:1");
        a["metadata"]["labels"]["tier"] = json!("web");
        let live = server_side_apply(
            &json!({"metadata": {"name": "web"}}),
            &a,
            &req("helm", false),
        )
        .unwrap();
        assert_eq!(live["metadata"]["labels"]["tier"], "web");
        let next = server_side_apply(&live, &deploy(2, "nginx:1"), &req("helm", false)).unwrap();
        assert!(next["metadata"]["labels"].get("tier").is_none());
        assert_eq!(next["metadata"]["labels"]["app"], "web");
    }

    #[test]
    fn updates_take_ownership_without_conflict() {
        let live = server_side_apply(
            &json!({"metadata": {"name": "web"}}),
            &deploy(2, "nginx:1"),
            &req("helm", false),
        )
        .unwrap();
        let mut scaled = live.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(Some(&live), &mut scaled, "kubectl", "apps/v1", "", true);
        let err =
            server_side_apply(&scaled, &deploy(2, "nginx:1"), &req("helm", false)).unwrap_err();
        assert!(
            err.message.starts_with(
                "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1 at "
            ),
            "{}",
            err.message
        );
        assert!(err.message.ends_with(": .spec.replicas"));
    }
}
