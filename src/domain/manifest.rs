//! The manifest model: what `helm template` prints, split into Kubernetes objects, each with
//! its identity (group, kind, namespace, name), the template it came from and its YAML text.
//! Helm's hooks and CRDs are kept apart from the release's ordinary objects.

use crate::domain::yaml;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Object {
    pub api_version: String,
    pub kind: String,
    /// The object's namespace, defaulted to the release's for namespaced kinds; None for
    /// cluster-scoped kinds.
    pub namespace: Option<String>,
    pub name: String,
    /// The Helm template it came from (`web/templates/deployment.yaml`).
    pub source: Option<String>,
    pub body: Value,
}

/// Identity of an object across revisions and API versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectKey {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let gk = if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}/{}", self.group, self.kind)
        };
        if self.namespace.is_empty() {
            write!(f, "{gk} {}", self.name)
        } else {
            write!(f, "{gk} {}/{}", self.namespace, self.name)
        }
    }
}

impl Object {
    pub fn group(&self) -> &str {
        match self.api_version.split_once('/') {
            Some((g, _)) => g,
            None => "",
        }
    }

    pub fn key(&self) -> ObjectKey {
        ObjectKey {
            group: self.group().to_string(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone().unwrap_or_default(),
            name: self.name.clone(),
        }
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.body
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }

    pub fn is_hook(&self) -> bool {
        self.annotation("helm.sh/hook").is_some()
    }

    pub fn is_crd(&self) -> bool {
        self.kind == "CustomResourceDefinition"
    }

    /// The object as YAML (canonical form, not Helm's original text).
    pub fn to_yaml(&self) -> String {
        yaml::to_string(&self.body)
    }
}

/// Whether a CRD came from a chart's `crds/` folder (`web/crds/x.yaml`,
/// `web/charts/sub/crds/x.yaml`) rather than its templates: Helm installs those on first
/// install only and never upgrades or deletes them.
pub fn from_crds_dir(source: Option<&str>) -> bool {
    match source {
        Some(s) => {
            let parts: Vec<&str> = s.split('/').collect();
            parts.len() >= 2
                && parts[..parts.len() - 1].contains(&"crds")
                && !parts.contains(&"templates")
        }
        // `helm template --include-crds` names every crds/ file; an unnamed CRD is a
        // template's.
        None => false,
    }
}

/// The objects of a rendered chart, in Helm's order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Manifests {
    /// The CRDs of the chart's (and subcharts') `crds/` folders.
    pub crds: Vec<Object>,
    pub objects: Vec<Object>,
    pub hooks: Vec<Object>,
}

impl Manifests {
    pub fn all(&self) -> impl Iterator<Item = &Object> {
        self.crds
            .iter()
            .chain(self.objects.iter())
            .chain(self.hooks.iter())
    }

    pub fn len(&self) -> usize {
        self.crds.len() + self.objects.len() + self.hooks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("{}document {index}{}: invalid YAML at {pos}: {message}", source_prefix(.template), line_suffix(.line))]
    Yaml {
        template: Option<String>,
        index: usize,
        line: usize,
        pos: yaml::Pos,
        message: String,
    },
    #[error("{}document {index}{}: an object without `{field}`", source_prefix(.template), line_suffix(.line))]
    Incomplete {
        template: Option<String>,
        index: usize,
        line: usize,
        field: &'static str,
    },
    #[error("{}document {index}{}: not a Kubernetes object (a YAML map with apiVersion, kind and metadata.name)", source_prefix(.template), line_suffix(.line))]
    NotAnObject {
        template: Option<String>,
        index: usize,
        line: usize,
    },
}

fn source_prefix(s: &Option<String>) -> String {
    match s {
        Some(s) => format!("{s}: "),
        None => String::new(),
    }
}

fn line_suffix(line: &usize) -> String {
    format!(" (output line {line})")
}

/// Kinds that live outside namespaces (the built-in ones; custom kinds are assumed namespaced
/// until the cluster says otherwise).
pub fn is_cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "PersistentVolume"
            | "StorageClass"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "CustomResourceDefinition"
            | "PriorityClass"
            | "IngressClass"
            | "APIService"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
            | "CSIDriver"
            | "CSINode"
            | "RuntimeClass"
            | "PodSecurityPolicy"
            | "VolumeAttachment"
            | "CertificateSigningRequest"
            | "FlowSchema"
            | "PriorityLevelConfiguration"
    )
}

/// One YAML document of a multi-document stream, with the `# Source:` comment above it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawDocument {
    pub source: Option<String>,
    pub text: String,
    /// 1-based line of the stream where the document's text starts.
    pub line: usize,
}

/// Splits a `---`-separated stream the way Helm does, keeping each `# Source:` path.
pub fn split_documents(stream: &str) -> Vec<RawDocument> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut source = None;
    let mut start = 1;
    let flush = |cur: &mut String,
                 source: &mut Option<String>,
                 start: usize,
                 docs: &mut Vec<RawDocument>| {
        if !cur.trim().is_empty() {
            docs.push(RawDocument {
                source: source.take(),
                text: std::mem::take(cur),
                line: start,
            });
        } else {
            cur.clear();
            *source = None;
        }
    };
    for (i, line) in stream.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            flush(&mut cur, &mut source, start, &mut docs);
            start = i + 2;
            continue;
        }
        if cur.trim().is_empty() {
            if let Some(path) = trimmed.strip_prefix("# Source: ") {
                source = Some(path.trim().to_string());
                start = i + 2;
                continue;
            }
        }
        cur.push_str(line);
    }
    flush(&mut cur, &mut source, start, &mut docs);
    docs
}

/// Parses Helm's multi-document output into objects; namespaced objects without a
/// namespace get `release_namespace`. `List` objects are expanded into their items.
pub fn parse_stream(stream: &str, release_namespace: &str) -> Result<Manifests, ManifestError> {
    let mut out = Manifests::default();
    for (index, raw) in split_documents(stream).into_iter().enumerate() {
        let index = index + 1;
        let docs = yaml::parse_documents(&raw.text).map_err(|e| ManifestError::Yaml {
            template: raw.source.clone(),
            index,
            line: raw.line,
            pos: e.pos(),
            message: e.to_string(),
        })?;
        for doc in docs {
            if doc.value.is_null() {
                continue;
            }
            let items = match doc.value.get("kind").and_then(Value::as_str) {
                Some(k) if k.ends_with("List") && doc.value.get("items").is_some() => doc
                    .value
                    .get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                _ => vec![doc.value],
            };
            for body in items {
                let obj = to_object(body, raw.source.clone(), index, raw.line, release_namespace)?;
                if obj.is_hook() {
                    out.hooks.push(obj);
                } else if obj.is_crd() && from_crds_dir(obj.source.as_deref()) {
                    out.crds.push(obj);
                } else {
                    out.objects.push(obj);
                }
            }
        }
    }
    Ok(out)
}

fn to_object(
    body: Value,
    source: Option<String>,
    index: usize,
    line: usize,
    release_namespace: &str,
) -> Result<Object, ManifestError> {
    if !body.is_object() {
        return Err(ManifestError::NotAnObject {
            template: source,
            index,
            line,
        });
    }
    let field = |f: &str| body.pointer(f).and_then(Value::as_str).map(str::to_string);
    let missing = |field: &'static str| ManifestError::Incomplete {
        template: source.clone(),
        index,
        line,
        field,
    };
    let api_version = field("/apiVersion")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("apiVersion"))?;
    let kind = field("/kind")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("kind"))?;
    let name = field("/metadata/name")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("metadata.name"))?;
    let namespace = if is_cluster_scoped(&kind) {
        None
    } else {
        Some(
            field("/metadata/namespace")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| release_namespace.to_string()),
        )
    };
    Ok(Object {
        api_version,
        kind,
        namespace,
        name,
        source,
        body,
    })
}

impl Object {
    /// Rebuilds an object from its body (as stored in a release record).
    pub fn from_body(body: Value, release_namespace: &str) -> Option<Object> {
        to_object(body, None, 0, 0, release_namespace).ok()
    }
}

/// The order objects are applied in: namespaces, CRDs, service accounts and RBAC, config,
/// services, workloads, then the rest (HPAs, PDBs, Ingresses, custom resources).
pub fn apply_rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "ServiceAccount" | "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding" => 2,
        "PriorityClass" | "StorageClass" | "PersistentVolume" | "PersistentVolumeClaim" => 3,
        "ConfigMap" | "Secret" => 4,
        "Service" => 5,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob" | "Pod" => 6,
        _ => 7,
    }
}

/// Sorts objects into apply order (stable within a rank).
pub fn sort_for_apply<O: std::borrow::Borrow<Object>>(objects: &mut [O]) {
    objects.sort_by_key(|o| apply_rank(&o.borrow().kind));
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "---\n# Source: web/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec: {}\n---\n# Source: web/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: other\n---\n# Source: web/templates/ns.yaml\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n---\n# Source: web/templates/tests/t.yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations:\n    helm.sh/hook: test\n";

    #[test]
    fn splits_objects_with_sources_and_namespaces() {
        let m = parse_stream(OUT, "demo").expect("parses");
        let keys: Vec<String> = m.objects.iter().map(|o| o.key().to_string()).collect();
        assert_eq!(
            keys,
            vec![
                "Service demo/web",
                "apps/Deployment other/web",
                "Namespace demo"
            ]
        );
        assert_eq!(
            m.objects[0].source.as_deref(),
            Some("web/templates/service.yaml")
        );
        assert_eq!(m.hooks.len(), 1);
        assert_eq!(m.hooks[0].name, "t");
    }

    #[test]
    fn object_without_kind_names_its_template() {
        let e = parse_stream(
            "---\n# Source: web/templates/bad.yaml\napiVersion: v1\nmetadata:\n  name: x\n",
            "d",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("web/templates/bad.yaml: document 1"),
            "{e}"
        );
        assert!(e.to_string().contains("without `kind`"), "{e}");
    }

    #[test]
    fn lists_are_expanded_and_empty_documents_skipped() {
        let m = parse_stream(
            "---\n# Source: a.yaml\n# just a comment\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n",
            "d",
        )
        .expect("parses");
        assert_eq!(m.objects.len(), 1);
        assert_eq!(m.objects[0].kind, "ConfigMap");
    }

    #[test]
    fn crds_of_the_crds_folder_are_kept_apart_and_template_crds_are_objects() {
        let crd = |src: &str, name: &str| {
            format!("---\n# Source: {src}\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {name}\n")
        };
        let stream = crd("web/crds/widgets.yaml", "widgets.acme.io")
            + &crd("web/charts/sub/crds/gadgets.yaml", "gadgets.acme.io")
            + &crd("web/templates/crd.yaml", "things.acme.io");
        let m = parse_stream(&stream, "d").expect("parses");
        let names: Vec<&str> = m.crds.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, vec!["widgets.acme.io", "gadgets.acme.io"]);
        assert_eq!(m.crds[0].namespace, None);
        assert_eq!(m.objects.len(), 1);
        assert_eq!(m.objects[0].name, "things.acme.io");
    }
}
