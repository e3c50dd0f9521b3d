//! Discovery documents: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/<g>[/<v>]`, and the
//! OpenAPI endpoints kubectl reads before it validates or applies. Plain (unaggregated)
//! discovery is served; clients asking for aggregated discovery fall back to it because
//! the response's Content-Type is plain `application/json`.

use crate::sim::kinds::{KindRegistry, ResourceDef};
use serde_json::{json, Map, Value};

pub fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0", "gitCommit": "helmdeck-sim",
        "gitTreeState": "clean", "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2",
        "compiler": "gc", "platform": "linux/amd64",
    })
}

pub fn api_versions(addr: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}]})
}

/// `/openapi/v3`: the index of group-versions. Each path lists a document whose operations
/// declare the `fieldValidation` parameter, which tells kubectl that the server validates
/// fields itself (so it sends `fieldValidation=Strict` instead of validating client-side).
pub fn openapi_v3_index(kinds: &KindRegistry) -> Value {
    let mut paths = Map::new();
    paths.insert(
        "api/v1".into(),
        json!({"serverRelativeURL": "/openapi/v3/api/v1?hash=sim"}),
    );
    for (g, versions) in kinds.groups() {
        if g.is_empty() {
            continue;
        }
        for v in versions {
            paths.insert(
                format!("apis/{g}/{v}"),
                json!({"serverRelativeURL": format!("/openapi/v3/apis/{g}/{v}?hash=sim")}),
            );
        }
    }
    json!({"paths": paths})
}

fn gvk_ext(d: &ResourceDef) -> Value {
    json!([{"group": d.group, "version": d.version, "kind": d.kind}])
}

fn schema_name(d: &ResourceDef) -> String {
    let g = if d.group.is_empty() {
        "core".to_string()
    } else {
        d.group.clone()
    };
    format!("io.k8s.sim.{g}.{}.{}", d.version, d.kind)
}

/// An OpenAPI v3 document for one group-version: permissive object schemas (every field
/// allowed, unknown fields preserved) with the GVK extension and patch operations.
pub fn openapi_v3_doc(kinds: &KindRegistry, group: &str, version: &str) -> Option<Value> {
    let defs = kinds.resources_in(group, version);
    if defs.is_empty() {
        return None;
    }
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let params = json!([
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
    ]);
    for d in &defs {
        let name = schema_name(d);
        let reference = json!({"$ref": format!("#/components/schemas/{name}")});
        schemas.insert(
            name.clone(),
            json!({
                "type": "object",
                "x-kubernetes-group-version-kind": gvk_ext(d),
                "x-kubernetes-preserve-unknown-fields": true,
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                },
            }),
        );
        let body = json!({"content": {"application/json": {"schema": reference}}});
        let op = |action: &str| {
            json!({
                "operationId": format!("{action}{}", d.kind),
                "parameters": params,
                "requestBody": body,
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}},
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk_ext(d)[0],
            })
        };
        let collection = if d.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", d.plural)
        } else {
            format!("{prefix}/{}", d.plural)
        };
        paths.insert(
            collection.clone(),
            json!({"post": op("post"), "get": op("list")}),
        );
        if !d.review {
            paths.insert(format!("{collection}/{{name}}"), json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// `/openapi/v2`: a Swagger 2.0 document with permissive definitions for every kind.
pub fn openapi_v2(kinds: &KindRegistry) -> Value {
    let mut definitions = Map::new();
    for d in kinds.all() {
        definitions.insert(schema_name(d), json!({
            "type": "object",
            "x-kubernetes-group-version-kind": gvk_ext(d),
            "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}},
        }));
    }
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": {}, "definitions": definitions})
}
