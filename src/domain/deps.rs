//! Chart dependencies as `helm dependency build` reads them: the `dependencies:` of
//! Chart.yaml, Chart.lock, the lock's digest (Helm's `resolver.HashReq`: sha256 of the Go
//! JSON of `[Chart.yaml dependencies, Chart.lock dependencies]`) and what a `repository:`
//! names. Pure: reading files and fetching charts is `sources::deps`.

use serde_json::Value;

/// One entry of Chart.yaml's `dependencies:` (Helm's `chart.Dependency`).
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    pub name: String,
    /// A version or a semver range.
    pub version: String,
    pub repository: String,
    pub condition: String,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub import_values: Vec<Value>,
    pub alias: String,
}

impl Declared {
    /// The key its values hang under in the parent: its alias, else its name.
    pub fn mount(&self) -> &str {
        if self.alias.is_empty() {
            &self.name
        } else {
            &self.alias
        }
    }
}

/// A dependency as vendored: what `repo pull` and the release record list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Vendored {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alias: String,
    pub version: String,
    /// `sha256:<hex>` of the package (or folder) vendored.
    pub digest: String,
    /// Where it came from: the `repository:` as written (`https://…`, `oci://…`, `@name`,
    /// `file://…`), or `charts/` when the chart already carried it.
    pub repository: String,
}

/// Chart.lock.
#[derive(Debug, Clone, PartialEq)]
pub struct Lock {
    pub digest: String,
    pub dependencies: Vec<Declared>,
}

/// What a dependency's `repository:` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryRef {
    /// `https://…` / `http://…`: a Helm repository.
    Http(String),
    /// `oci://registry/path`: the chart is `<path>/<name>`.
    Oci(String),
    /// `@name` or `alias:name`: a repository by name (for helmdeck: one of helmdeck.yaml's).
    Named(String),
    /// `file://../path`: a chart folder relative to the parent chart.
    File(String),
    /// No repository: the chart must already be in `charts/`.
    Vendored,
}

impl RepositoryRef {
    pub fn parse(repository: &str) -> Result<RepositoryRef, String> {
        let r = repository.trim();
        if r.is_empty() {
            return Ok(RepositoryRef::Vendored);
        }
        if let Some(name) = r.strip_prefix('@').or_else(|| r.strip_prefix("alias:")) {
            return if name.is_empty() {
                Err(format!("`{r}` names no repository"))
            } else {
                Ok(RepositoryRef::Named(name.to_string()))
            };
        }
        if let Some(path) = r.strip_prefix("file://") {
            return Ok(RepositoryRef::File(path.to_string()));
        }
        if r.starts_with("oci://") {
            return Ok(RepositoryRef::Oci(r.trim_end_matches('/').to_string()));
        }
        if r.starts_with("https://") || r.starts_with("http://") {
            return Ok(RepositoryRef::Http(r.trim_end_matches('/').to_string()));
        }
        Err(format!(
            "`{r}` is not a repository helmdeck can read (https://…, oci://…, @name, alias:name or file://…)"
        ))
    }
}

fn string(d: &Value, k: &str) -> String {
    match d.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// One `dependencies:` entry from its parsed YAML.
pub fn declared_from(d: &Value) -> Result<Declared, String> {
    if !d.is_object() {
        return Err("a dependency must be a map with name, version and repository".into());
    }
    let name = string(d, "name");
    if name.is_empty() {
        return Err("a dependency has no name".into());
    }
    let tags = match d.get("tags") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| match t {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let import_values = match d.get("import-values") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    Ok(Declared {
        name,
        version: string(d, "version"),
        repository: string(d, "repository"),
        condition: string(d, "condition"),
        tags,
        enabled: d.get("enabled").and_then(Value::as_bool).unwrap_or(false),
        import_values,
        alias: string(d, "alias"),
    })
}

/// Chart.yaml's `dependencies:` (absent: none).
pub fn declared(chart_yaml: &Value) -> Result<Vec<Declared>, String> {
    match chart_yaml.get("dependencies") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(declared_from).collect(),
        Some(_) => Err("`dependencies` must be a list".into()),
    }
}

/// Chart.lock from its parsed YAML.
pub fn lock_from(doc: &Value) -> Result<Lock, String> {
    let deps = match doc.get("dependencies") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(declared_from).collect::<Result<_, _>>()?,
        Some(_) => return Err("`dependencies` must be a list".into()),
    };
    Ok(Lock {
        digest: string(doc, "digest"),
        dependencies: deps,
    })
}

/// Go's `json.Marshal` of a string: HTML-safe escapes (`<`, `>`, `&`), U+2028/U+2029
/// escaped, other control characters as `\u00XX`.
fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)))
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `json.Marshal` of an `interface{}` read from YAML: maps with sorted keys.
fn go_json_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => go_json_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_value(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(k, out);
                out.push(':');
                go_json_value(&m[k], out);
            }
            out.push('}');
        }
    }
}

/// Go's JSON of one `*chart.Dependency`, fields in struct order, `omitempty` honoured.
fn go_json_dependency(d: &Declared, out: &mut String) {
    out.push_str("{\"name\":");
    go_json_string(&d.name, out);
    if !d.version.is_empty() {
        out.push_str(",\"version\":");
        go_json_string(&d.version, out);
    }
    out.push_str(",\"repository\":");
    go_json_string(&d.repository, out);
    if !d.condition.is_empty() {
        out.push_str(",\"condition\":");
        go_json_string(&d.condition, out);
    }
    if !d.tags.is_empty() {
        out.push_str(",\"tags\":[");
        for (i, t) in d.tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            go_json_string(t, out);
        }
        out.push(']');
    }
    if d.enabled {
        out.push_str(",\"enabled\":true");
    }
    if !d.import_values.is_empty() {
        out.push_str(",\"import-values\":");
        go_json_value(&Value::Array(d.import_values.clone()), out);
    }
    if !d.alias.is_empty() {
        out.push_str(",\"alias\":");
        go_json_string(&d.alias, out);
    }
    out.push('}');
}

fn go_json_list(list: &[Declared], out: &mut String) {
    // A nil slice marshals as null; Helm's loaders give nil for "no dependencies".
    if list.is_empty() {
        out.push_str("null");
        return;
    }
    out.push('[');
    for (i, d) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_json_dependency(d, out);
    }
    out.push(']');
}

/// Helm's `resolver.HashReq(req, lock)`: what Chart.lock's `digest` must be. `req` are
/// Chart.yaml's dependencies with `@name`/`alias:name` repositories already replaced by
/// the repository's URL (Helm's `resolveRepoNames`).
pub fn lock_digest(req: &[Declared], lock: &[Declared]) -> String {
    use sha2::Digest as _;
    let mut json = String::from("[");
    go_json_list(req, &mut json);
    json.push(',');
    go_json_list(lock, &mut json);
    json.push(']');
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(json.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repositories_are_read_like_helm() {
        assert_eq!(
            RepositoryRef::parse("https://charts.example.com/"),
            Ok(RepositoryRef::Http("https://charts.example.com".into()))
        );
        assert_eq!(
            RepositoryRef::parse("oci://r.example/charts"),
            Ok(RepositoryRef::Oci("oci://r.example/charts".into()))
        );
        assert_eq!(
            RepositoryRef::parse("@stable"),
            Ok(RepositoryRef::Named("stable".into()))
        );
        assert_eq!(
            RepositoryRef::parse("alias:stable"),
            Ok(RepositoryRef::Named("stable".into()))
        );
        assert_eq!(
            RepositoryRef::parse("file://../common"),
            Ok(RepositoryRef::File("../common".into()))
        );
        assert_eq!(RepositoryRef::parse(""), Ok(RepositoryRef::Vendored));
        assert!(RepositoryRef::parse("ftp://x").is_err());
        assert!(RepositoryRef::parse("@").is_err());
    }

    #[test]
    fn the_digest_is_go_json_of_both_lists() {
        let d = declared(&json!({"dependencies": [
            {"name": "redis", "version": "^18", "repository": "https://c.example/<x>&",
             "condition": "redis.enabled", "tags": ["cache"], "alias": "kv",
             "import-values": [{"parent": "p", "child": "c"}, "defaults"]}
        ]}))
        .expect("parses");
        let mut json = String::new();
        go_json_list(&d, &mut json);
        assert_eq!(
            json,
            r#"[{"name":"redis","version":"^18","repository":"https://c.example/\u003cx\u003e\u0026","condition":"redis.enabled","tags":["cache"],"import-values":[{"child":"c","parent":"p"},"defaults"],"alias":"kv"}]"#
        );
        let mut none = String::new();
        go_json_list(&[], &mut none);
        assert_eq!(none, "null");
        assert!(lock_digest(&d, &[]).starts_with("sha256:"));
    }
}
