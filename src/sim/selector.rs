//! Label and field selectors as the API server parses them from `labelSelector` /
//! `fieldSelector`, and `LabelSelector` objects (matchLabels + matchExpressions) from specs.

use crate::sim::errors::ApiError;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
    /// A spec selector with no requirements at all selects nothing when `nothing` is set
    /// (a `null` selector object).
    nothing: bool,
}

impl LabelSelector {
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// Parses the query-string form: `app=web,tier!=db,env in (a,b),!legacy,track`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for term in split_terms(s) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let bad = || {
                ApiError::bad_request(format!(
                    "unable to parse requirement: invalid label selector: {term:?}"
                ))
            };
            if let Some(key) = term.strip_prefix('!') {
                reqs.push(Requirement::NotExists(
                    valid_key(key.trim()).ok_or_else(bad)?,
                ));
            } else if let Some((k, v)) = term.split_once("!=") {
                reqs.push(Requirement::NotEq(
                    valid_key(k.trim()).ok_or_else(bad)?,
                    v.trim().to_string(),
                ));
            } else if let Some((k, v)) = term.split_once("==") {
                reqs.push(Requirement::Eq(
                    valid_key(k.trim()).ok_or_else(bad)?,
                    v.trim().to_string(),
                ));
            } else if let Some((k, v)) = term.split_once('=') {
                reqs.push(Requirement::Eq(
                    valid_key(k.trim()).ok_or_else(bad)?,
                    v.trim().to_string(),
                ));
            } else if let Some((k, rest)) = split_set_op(term, " notin ") {
                reqs.push(Requirement::NotIn(
                    valid_key(k).ok_or_else(bad)?,
                    parse_set(rest).ok_or_else(bad)?,
                ));
            } else if let Some((k, rest)) = split_set_op(term, " in ") {
                reqs.push(Requirement::In(
                    valid_key(k).ok_or_else(bad)?,
                    parse_set(rest).ok_or_else(bad)?,
                ));
            } else {
                reqs.push(Requirement::Exists(valid_key(term).ok_or_else(bad)?));
            }
        }
        Ok(LabelSelector {
            reqs,
            nothing: false,
        })
    }

    /// From a `metav1.LabelSelector` object in a spec (`matchLabels`, `matchExpressions`).
    pub fn from_object(sel: &Value) -> Self {
        if !sel.is_object() {
            return LabelSelector {
                reqs: vec![],
                nothing: true,
            };
        }
        let mut reqs = Vec::new();
        if let Some(m) = sel["matchLabels"].as_object() {
            for (k, v) in m {
                reqs.push(Requirement::Eq(
                    k.clone(),
                    v.as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        for e in sel["matchExpressions"].as_array().into_iter().flatten() {
            let key = e["key"].as_str().unwrap_or_default().to_string();
            let values: Vec<String> = e["values"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            match e["operator"].as_str() {
                Some("In") => reqs.push(Requirement::In(key, values)),
                Some("NotIn") => reqs.push(Requirement::NotIn(key, values)),
                Some("Exists") => reqs.push(Requirement::Exists(key)),
                Some("DoesNotExist") => reqs.push(Requirement::NotExists(key)),
                _ => {}
            }
        }
        LabelSelector {
            reqs,
            nothing: false,
        }
    }

    /// A Service-style selector: a plain map of equalities. An empty map selects nothing
    /// for Services (their Endpoints are managed by hand then).
    pub fn from_map(m: &Value) -> Self {
        match m.as_object() {
            Some(m) if !m.is_empty() => LabelSelector {
                reqs: m
                    .iter()
                    .map(|(k, v)| {
                        Requirement::Eq(k.clone(), v.as_str().unwrap_or_default().to_string())
                    })
                    .collect(),
                nothing: false,
            },
            _ => LabelSelector {
                reqs: vec![],
                nothing: true,
            },
        }
    }

    pub fn is_everything(&self) -> bool {
        self.reqs.is_empty() && !self.nothing
    }

    /// Whether an object's `metadata.labels` match.
    pub fn matches(&self, labels: &Value) -> bool {
        if self.nothing {
            return false;
        }
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.reqs.iter().all(|r| match r {
            Requirement::Eq(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEq(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        })
    }

    /// The query-string form, as `Scale.status.selector` carries it.
    pub fn to_query(&self) -> String {
        self.reqs
            .iter()
            .map(|r| match r {
                Requirement::Eq(k, v) => format!("{k}={v}"),
                Requirement::NotEq(k, v) => format!("{k}!={v}"),
                Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                Requirement::Exists(k) => k.clone(),
                Requirement::NotExists(k) => format!("!{k}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn split_set_op<'a>(term: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let i = term.find(op)?;
    Some((term[..i].trim(), term[i + op.len()..].trim()))
}

fn parse_set(s: &str) -> Option<Vec<String>> {
    let inner = s.strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

fn valid_key(k: &str) -> Option<String> {
    let ok = !k.is_empty()
        && k.len() <= 317
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    ok.then(|| k.to_string())
}

/// A field selector: equalities on `metadata.name`, `metadata.namespace` and a few
/// kind-specific fields (`status.phase`, `spec.nodeName`, `involvedObject.*`, `type`).
#[derive(Debug, Clone, Default)]
pub struct FieldSelector {
    reqs: Vec<(String, bool, String)>,
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for term in s.split(',') {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let (k, eq, v) = if let Some((k, v)) = term.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = term.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                )));
            };
            let k = k.trim();
            if !k
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
            {
                return Err(ApiError::bad_request(format!("\"{k}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")));
            }
            reqs.push((k.to_string(), eq, v.trim().to_string()));
        }
        Ok(FieldSelector { reqs })
    }

    pub fn is_everything(&self) -> bool {
        self.reqs.is_empty()
    }

    /// The single `metadata.name=X` equality, which lets a list go straight to one key.
    pub fn exact_name(&self) -> Option<&str> {
        self.reqs
            .iter()
            .find(|(k, eq, _)| k == "metadata.name" && *eq)
            .map(|(_, _, v)| v.as_str())
    }

    /// Matches a stored object from its indexed fields, parsing it only for other paths.
    pub fn matches_object(&self, o: &crate::sim::store::StoredObject) -> bool {
        if self.reqs.is_empty() {
            return true;
        }
        let mut parsed: Option<Value> = None;
        self.reqs.iter().all(|(path, eq, want)| {
            let have = match o.selectable(path) {
                Some(v) => v.unwrap_or_default().to_string(),
                None => {
                    let v = parsed.get_or_insert_with(|| o.value());
                    let mut cur = &*v;
                    for p in path.split('.') {
                        cur = &cur[p];
                    }
                    match cur {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    }
                }
            };
            (have == *want) == *eq
        })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(path, eq, want)| {
            let mut cur = obj;
            for p in path.split('.') {
                cur = &cur[p];
            }
            let have = match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (have == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_operators() {
        let labels = json!({"app": "web", "env": "prod", "track": "stable"});
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&labels);
        assert!(m("app=web"));
        assert!(m("app==web,env!=dev"));
        assert!(m("env in (prod, staging)"));
        assert!(!m("env notin (prod)"));
        assert!(m("track"));
        assert!(m("!legacy"));
        assert!(!m("!track"));
        assert!(m(""));
        assert!(LabelSelector::parse("a in (b").is_err());
    }

    #[test]
    fn field_selector_name_and_namespace() {
        let obj = json!({"metadata": {"name": "web", "namespace": "default"}, "status": {"phase": "Running"}});
        let f = FieldSelector::parse("metadata.name=web,metadata.namespace!=kube-system").unwrap();
        assert!(f.matches(&obj));
        assert_eq!(f.exact_name(), Some("web"));
        assert!(FieldSelector::parse("status.phase=Running")
            .unwrap()
            .matches(&obj));
        assert!(FieldSelector::parse("nonsense").is_err());
    }

    #[test]
    fn spec_selector_with_expressions() {
        let sel = LabelSelector::from_object(
            &json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}]}),
        );
        assert!(sel.matches(&json!({"app": "web"})));
        assert!(!sel.matches(&json!({"app": "web", "track": "canary"})));
        assert_eq!(sel.to_query(), "app=web,track notin (canary)");
    }
}
