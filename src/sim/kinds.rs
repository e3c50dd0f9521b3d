//! The kinds the sim serves: group/version/kind/plural/scope/short names/verbs/subresources
//! for the built-in kinds, plus kinds that CustomResourceDefinitions add at run time.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One served resource (one group/version/plural).
#[derive(Debug, Clone)]
pub struct ResourceDef {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status: bool,
    pub scale: bool,
    /// Create-only review kinds (SelfSubjectAccessReview …): never stored.
    pub review: bool,
    /// Served from a CRD (stored generically, no built-in defaults or validation).
    pub custom: bool,
}

impl ResourceDef {
    /// The storage key shared by all versions of a resource: `apps/deployments`, `/pods`.
    pub fn storage_key(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    pub fn verbs(&self) -> Vec<&'static str> {
        if self.review {
            vec!["create"]
        } else {
            vec![
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ]
        }
    }
}

fn def(
    gv: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    short: &[&str],
    status: bool,
    scale: bool,
) -> ResourceDef {
    let (group, version) = match gv.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), gv.to_string()),
    };
    let categories = match kind {
        "Pod"
        | "Service"
        | "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "CronJob"
        | "HorizontalPodAutoscaler"
        | "ReplicationController" => vec!["all".to_string()],
        _ => vec![],
    };
    ResourceDef {
        group,
        version,
        kind: kind.to_string(),
        plural: plural.to_string(),
        singular: kind.to_lowercase(),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories,
        status,
        scale,
        review: false,
        custom: false,
    }
}

/// The built-in kinds, in the order discovery lists them.
pub fn builtin() -> Vec<ResourceDef> {
    let n = true;
    let c = false;
    let mut v = vec![
        def("v1", "Namespace", "namespaces", c, &["ns"], true, false),
        def("v1", "Node", "nodes", c, &["no"], true, false),
        def("v1", "Pod", "pods", n, &["po"], true, false),
        def("v1", "Service", "services", n, &["svc"], true, false),
        def("v1", "Endpoints", "endpoints", n, &["ep"], false, false),
        def("v1", "ConfigMap", "configmaps", n, &["cm"], false, false),
        def("v1", "Secret", "secrets", n, &[], false, false),
        def(
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            n,
            &["sa"],
            false,
            false,
        ),
        def("v1", "Event", "events", n, &["ev"], false, false),
        def(
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            n,
            &["pvc"],
            true,
            false,
        ),
        def(
            "v1",
            "PersistentVolume",
            "persistentvolumes",
            c,
            &["pv"],
            true,
            false,
        ),
        def(
            "v1",
            "ResourceQuota",
            "resourcequotas",
            n,
            &["quota"],
            true,
            false,
        ),
        def(
            "v1",
            "LimitRange",
            "limitranges",
            n,
            &["limits"],
            false,
            false,
        ),
        def("v1", "PodTemplate", "podtemplates", n, &[], false, false),
        def(
            "v1",
            "ReplicationController",
            "replicationcontrollers",
            n,
            &["rc"],
            true,
            true,
        ),
        def(
            "apps/v1",
            "Deployment",
            "deployments",
            n,
            &["deploy"],
            true,
            true,
        ),
        def(
            "apps/v1",
            "ReplicaSet",
            "replicasets",
            n,
            &["rs"],
            true,
            true,
        ),
        def(
            "apps/v1",
            "StatefulSet",
            "statefulsets",
            n,
            &["sts"],
            true,
            true,
        ),
        def(
            "apps/v1",
            "DaemonSet",
            "daemonsets",
            n,
            &["ds"],
            true,
            false,
        ),
        def(
            "apps/v1",
            "ControllerRevision",
            "controllerrevisions",
            n,
            &[],
            false,
            false,
        ),
        def("batch/v1", "Job", "jobs", n, &[], true, false),
        def("batch/v1", "CronJob", "cronjobs", n, &["cj"], true, false),
        def(
            "networking.k8s.io/v1",
            "Ingress",
            "ingresses",
            n,
            &["ing"],
            true,
            false,
        ),
        def(
            "networking.k8s.io/v1",
            "IngressClass",
            "ingressclasses",
            c,
            &[],
            false,
            false,
        ),
        def(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "networkpolicies",
            n,
            &["netpol"],
            false,
            false,
        ),
        def(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            n,
            &["hpa"],
            true,
            false,
        ),
        def(
            "autoscaling/v1",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            n,
            &["hpa"],
            true,
            false,
        ),
        def(
            "policy/v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            n,
            &["pdb"],
            true,
            false,
        ),
        def(
            "rbac.authorization.k8s.io/v1",
            "Role",
            "roles",
            n,
            &[],
            false,
            false,
        ),
        def(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "rolebindings",
            n,
            &[],
            false,
            false,
        ),
        def(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "clusterroles",
            c,
            &[],
            false,
            false,
        ),
        def(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            c,
            &[],
            false,
            false,
        ),
        def(
            "coordination.k8s.io/v1",
            "Lease",
            "leases",
            n,
            &[],
            false,
            false,
        ),
        def(
            "discovery.k8s.io/v1",
            "EndpointSlice",
            "endpointslices",
            n,
            &[],
            false,
            false,
        ),
        def(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            c,
            &["crd", "crds"],
            true,
            false,
        ),
        def(
            "storage.k8s.io/v1",
            "StorageClass",
            "storageclasses",
            c,
            &["sc"],
            false,
            false,
        ),
        def(
            "scheduling.k8s.io/v1",
            "PriorityClass",
            "priorityclasses",
            c,
            &["pc"],
            false,
            false,
        ),
        def(
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations",
            c,
            &[],
            false,
            false,
        ),
        def(
            "admissionregistration.k8s.io/v1",
            "MutatingWebhookConfiguration",
            "mutatingwebhookconfigurations",
            c,
            &[],
            false,
            false,
        ),
    ];
    for (kind, plural, namespaced) in [
        ("SelfSubjectAccessReview", "selfsubjectaccessreviews", false),
        ("SelfSubjectRulesReview", "selfsubjectrulesreviews", false),
        ("SubjectAccessReview", "subjectaccessreviews", false),
        (
            "LocalSubjectAccessReview",
            "localsubjectaccessreviews",
            true,
        ),
    ] {
        let mut d = def(
            "authorization.k8s.io/v1",
            kind,
            plural,
            namespaced,
            &[],
            false,
            false,
        );
        d.review = true;
        v.push(d);
    }
    v
}

/// All served resources, indexed for routing and discovery. CRDs add and remove entries.
#[derive(Debug, Default)]
pub struct KindRegistry {
    /// (group, version, plural) → definition
    by_path: BTreeMap<(String, String, String), Arc<ResourceDef>>,
    /// group → versions in preference order
    groups: Vec<(String, Vec<String>)>,
}

impl KindRegistry {
    pub fn with_builtins() -> Self {
        let mut r = KindRegistry::default();
        for d in builtin() {
            r.add(d);
        }
        r
    }

    pub fn add(&mut self, d: ResourceDef) {
        let key = (d.group.clone(), d.version.clone(), d.plural.clone());
        match self.groups.iter_mut().find(|(g, _)| *g == d.group) {
            Some((_, versions)) => {
                if !versions.contains(&d.version) {
                    versions.push(d.version.clone());
                }
            }
            None => self.groups.push((d.group.clone(), vec![d.version.clone()])),
        }
        self.by_path.insert(key, Arc::new(d));
    }

    /// Removes every version of a custom resource (on CRD deletion).
    pub fn remove_custom(&mut self, group: &str, plural: &str) {
        self.by_path
            .retain(|(g, _, p), d| !(g == group && p == plural && d.custom));
        let live: Vec<(String, String)> = self
            .by_path
            .keys()
            .map(|(g, v, _)| (g.clone(), v.clone()))
            .collect();
        for (g, versions) in self.groups.iter_mut() {
            versions.retain(|v| live.iter().any(|(lg, lv)| lg == g && lv == v));
        }
        self.groups.retain(|(_, vs)| !vs.is_empty());
    }

    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceDef>> {
        self.by_path
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// Finds the served definition of an `apiVersion` + `kind` pair.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceDef>> {
        let (g, v) = api_version.split_once('/').unwrap_or(("", api_version));
        self.by_path
            .values()
            .find(|d| d.group == g && d.version == v && d.kind == kind)
            .cloned()
    }

    /// The preferred definition of a storage key (first served version).
    pub fn preferred(&self, storage_key: &str) -> Option<Arc<ResourceDef>> {
        let (group, plural) = storage_key.split_once('/')?;
        let versions = &self.groups.iter().find(|(g, _)| g == group)?.1;
        versions.iter().find_map(|v| self.lookup(group, v, plural))
    }

    pub fn groups(&self) -> &[(String, Vec<String>)] {
        &self.groups
    }

    pub fn resources_in(&self, group: &str, version: &str) -> Vec<Arc<ResourceDef>> {
        let mut v: Vec<Arc<ResourceDef>> = self
            .by_path
            .iter()
            .filter(|((g, ver, _), _)| g == group && ver == version)
            .map(|(_, d)| d.clone())
            .collect();
        v.sort_by(|a, b| a.plural.cmp(&b.plural));
        v
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceDef>> {
        self.by_path.values()
    }

    /// `APIResourceList` for `/api/v1` or `/apis/<g>/<v>`.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let defs = self.resources_in(group, version);
        if defs.is_empty() {
            return None;
        }
        let mut resources = Vec::new();
        for d in &defs {
            let mut r = json!({
                "name": d.plural, "singularName": d.singular, "namespaced": d.namespaced,
                "kind": d.kind, "verbs": d.verbs(),
            });
            if !d.short_names.is_empty() {
                r["shortNames"] = json!(d.short_names);
            }
            if !d.categories.is_empty() {
                r["categories"] = json!(d.categories);
            }
            resources.push(r);
            if d.status {
                resources.push(json!({"name": format!("{}/status", d.plural), "singularName": "", "namespaced": d.namespaced, "kind": d.kind, "verbs": ["get","patch","update"]}));
            }
            if d.scale {
                resources.push(json!({"name": format!("{}/scale", d.plural), "singularName": "", "namespaced": d.namespaced, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get","patch","update"]}));
            }
            if d.kind == "Pod" && d.group.is_empty() {
                resources.push(json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]}));
            }
            if d.kind == "Namespace" && d.group.is_empty() {
                resources.push(json!({"name": "namespaces/finalize", "singularName": "", "namespaced": false, "kind": "Namespace", "verbs": ["update"]}));
            }
        }
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
        )
    }

    /// `APIGroupList` for `/apis`.
    pub fn group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups
            .iter()
            .filter(|(g, _)| !g.is_empty())
            .map(|(g, versions)| {
                let vs: Vec<Value> = versions
                    .iter()
                    .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                    .collect();
                json!({"name": g, "versions": vs, "preferredVersion": vs[0].clone()})
            })
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `APIGroup` for `/apis/<g>`.
    pub fn group(&self, group: &str) -> Option<Value> {
        let list = self.group_list();
        list["groups"]
            .as_array()?
            .iter()
            .find(|g| g["name"] == group)
            .map(|g| {
                let mut g = g.clone();
                g["kind"] = json!("APIGroup");
                g["apiVersion"] = json!("v1");
                g
            })
    }

    /// Served definitions for a CRD object (one per served version).
    pub fn defs_from_crd(crd: &Value) -> Vec<ResourceDef> {
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or_default().to_string();
        let names = &spec["names"];
        let kind = names["kind"].as_str().unwrap_or_default().to_string();
        let plural = names["plural"].as_str().unwrap_or_default().to_string();
        if group.is_empty() || kind.is_empty() || plural.is_empty() {
            return vec![];
        }
        let singular = names["singular"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_lowercase());
        let strs = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        let mut out = Vec::new();
        for v in spec["versions"].as_array().into_iter().flatten() {
            if v["served"].as_bool() == Some(false) {
                continue;
            }
            let Some(version) = v["name"].as_str() else {
                continue;
            };
            out.push(ResourceDef {
                group: group.clone(),
                version: version.to_string(),
                kind: kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced,
                short_names: strs(&names["shortNames"]),
                categories: strs(&names["categories"]),
                status: v["subresources"]["status"].is_object(),
                scale: v["subresources"]["scale"].is_object(),
                review: false,
                custom: true,
            });
        }
        // The storage version goes first so that it is the preferred one.
        out.sort_by_key(|d| {
            let storage = spec["versions"]
                .as_array()
                .and_then(|vs| vs.iter().find(|v| v["name"] == d.version.as_str()))
                .map(|v| v["storage"].as_bool() == Some(true))
                .unwrap_or(false);
            !storage
        });
        out
    }
}
