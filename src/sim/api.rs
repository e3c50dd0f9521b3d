//! The HTTP face of the sim: routes Kubernetes REST paths to the store (get, list, watch,
//! create, update, patch, delete, status/scale/log subresources), runs admission, answers
//! errors as `Status` objects, injects the scenario's API faults, and logs one debug line
//! per request. It never panics on input: every failure becomes a Status.

use crate::sim::admission;
use crate::sim::apply::{record_update, server_side_apply, ApplyRequest};
use crate::sim::discovery;
use crate::sim::errors::{success_status, ApiError, Subject};
use crate::sim::kinds::{KindRegistry, ResourceDef};
use crate::sim::patch;
use crate::sim::selector::{FieldSelector, LabelSelector};
use crate::sim::store::{meta, StoredObject};
use crate::sim::{logs, table, watch, writelog, Cluster};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

// Deletions (one object, or a collection) live beside this file.
#[path = "api_delete.rs"]
mod delete;

/// Decoded query parameters.
pub type Query = HashMap<String, String>;

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = if b[i] == b'%' && i + 3 <= b.len() {
            std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        } else {
            None
        };
        match (b[i], hex) {
            (_, Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (c, None) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_query(q: Option<&str>) -> Query {
    let mut m = Query::new();
    for pair in q.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        m.insert(percent_decode(k), percent_decode(v));
    }
    m
}

fn truthy(q: &Query, k: &str) -> bool {
    matches!(q.get(k).map(String::as_str), Some("true" | "1"))
}

pub fn json_response(code: u16, v: &Value) -> Response {
    bytes_response(
        code,
        Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
        "application/json",
    )
}

pub fn bytes_response(code: u16, body: Bytes, content_type: &str) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

pub fn error_response(e: &ApiError) -> Response {
    json_response(e.code, &e.to_status())
}

/// One parsed resource request.
pub struct Target {
    pub def: Arc<ResourceDef>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

impl Target {
    pub fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or_default()
    }
    pub fn subject<'a>(&'a self, name: &'a str) -> Subject<'a> {
        Subject {
            group: &self.def.group,
            resource: &self.def.plural,
            kind: &self.def.kind,
            name,
        }
    }
}

fn not_found_path() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

/// Resolves `/api/v1/...` or `/apis/<g>/<v>/...` to a resource.
fn resolve(
    kinds: &KindRegistry,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Target, ApiError> {
    let (namespace, plural, name, sub) = if rest.first() == Some(&"namespaces")
        && rest.len() >= 3
        && !matches!(rest[2], "status" | "finalize")
    {
        (Some(rest[1].to_string()), rest[2], rest.get(3), rest.get(4))
    } else {
        (
            None,
            *rest.first().ok_or_else(not_found_path)?,
            rest.get(1),
            rest.get(2),
        )
    };
    if rest.len() > 5 || (namespace.is_none() && rest.len() > 3) {
        return Err(not_found_path());
    }
    let def = kinds
        .lookup(group, version, plural)
        .ok_or_else(not_found_path)?;
    if namespace.is_some() && !def.namespaced {
        return Err(not_found_path());
    }
    if def.namespaced && namespace.is_none() && name.is_some() {
        return Err(not_found_path());
    }
    let sub = sub.map(|s| s.to_string());
    if let Some(s) = &sub {
        let ok = match s.as_str() {
            "status" => def.status,
            "scale" => def.scale,
            "log" => def.kind == "Pod" && def.group.is_empty(),
            "finalize" => def.kind == "Namespace" && def.group.is_empty(),
            _ => false,
        };
        if !ok {
            return Err(not_found_path());
        }
    }
    Ok(Target {
        def,
        namespace,
        name: name.map(|s| s.to_string()),
        subresource: sub,
    })
}

/// The single entry point: everything the router receives lands here.
pub async fn handle(State(c): State<Arc<Cluster>>, req: Request) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let client = req
        .headers()
        .get(writelog::CLIENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let resp = match route(&c, req).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    let resp = if writelog::is_write(&method) && resp.status().is_success() {
        c.writes
            .record(client, &method, uri.path(), resp, c.store.current_rv())
            .await
    } else {
        resp
    };
    tracing::debug!(
        target: "helmdeck::sim",
        "{} {} {} {}ms",
        method,
        uri,
        resp.status().as_u16(),
        started.elapsed().as_millis()
    );
    resp
}

fn verb_of(method: &Method, t: &Target, q: &Query) -> &'static str {
    match *method {
        Method::GET if t.name.is_none() && truthy(q, "watch") => "watch",
        Method::GET if t.name.is_none() => "list",
        Method::GET => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if t.name.is_none() => "deletecollection",
        Method::DELETE => "delete",
        _ => "unknown",
    }
}

async fn route(c: &Arc<Cluster>, req: Request) -> Result<Response, ApiError> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let q = parse_query(req.uri().query());
    let method = req.method().clone();
    let headers = req.headers().clone();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();

    // Non-resource paths.
    match segs.as_slice() {
        [] => {
            return Ok(json_response(
                200,
                &json!({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/readyz", "/version"]}),
            ))
        }
        ["version"] => return Ok(json_response(200, &discovery::version())),
        ["healthz"] | ["livez"] | ["readyz"] => {
            return Ok(bytes_response(200, Bytes::from_static(b"ok"), "text/plain"))
        }
        ["api"] => {
            return Ok(json_response(
                200,
                &discovery::api_versions(&format!("127.0.0.1:{}", c.port)),
            ))
        }
        ["api", "v1"] => {
            let l = c
                .store
                .kinds()
                .resource_list("", "v1")
                .ok_or_else(not_found_path)?;
            return Ok(json_response(200, &l));
        }
        ["apis"] => return Ok(json_response(200, &c.store.kinds().group_list())),
        ["apis", g] => {
            return Ok(json_response(
                200,
                &c.store.kinds().group(g).ok_or_else(not_found_path)?,
            ))
        }
        ["apis", g, v] => {
            let l = c
                .store
                .kinds()
                .resource_list(g, v)
                .ok_or_else(not_found_path)?;
            return Ok(json_response(200, &l));
        }
        ["openapi", "v2"] => {
            return Ok(json_response(200, &discovery::openapi_v2(&c.store.kinds())))
        }
        ["openapi", "v3"] => {
            return Ok(json_response(
                200,
                &discovery::openapi_v3_index(&c.store.kinds()),
            ))
        }
        ["openapi", "v3", "api", v] => {
            let d =
                discovery::openapi_v3_doc(&c.store.kinds(), "", v).ok_or_else(not_found_path)?;
            return Ok(json_response(200, &d));
        }
        ["openapi", "v3", "apis", g, v] => {
            let d = discovery::openapi_v3_doc(&c.store.kinds(), g, v).ok_or_else(not_found_path)?;
            return Ok(json_response(200, &d));
        }
        _ => {}
    }
    if let ["api", "v1", "namespaces", ns, "services", svc, "proxy", rest @ ..] = segs.as_slice() {
        return crate::sim::proxy::serve(c, ns, svc, rest, &method).await;
    }
    let target = {
        let kinds = c.store.kinds();
        match segs.as_slice() {
            ["api", "v1", rest @ ..] if !rest.is_empty() => resolve(&kinds, "", "v1", rest)?,
            ["apis", g, v, rest @ ..] if !rest.is_empty() => resolve(&kinds, g, v, rest)?,
            _ => return Err(not_found_path()),
        }
    };
    let verb = verb_of(&method, &target, &q);
    if let Some(e) = c.faults.api_fault(verb, &target.def.plural).await {
        return Err(e);
    }

    // Bodies: enforce the size limit before reading everything.
    let body = read_body(req.into_body(), c.store.limits.max_body_bytes).await?;
    let ctx = RequestCtx {
        cluster: c.clone(),
        target,
        query: q,
        headers,
        body,
    };
    match verb {
        "get" => ctx.get().await,
        "list" => ctx.list(),
        "watch" => watch::serve(&ctx).await,
        "create" => ctx.create(),
        "update" => ctx.update(),
        "patch" => ctx.patch(),
        "delete" => ctx.delete(),
        "deletecollection" => ctx.delete_collection(),
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method})"
        ))),
    }
}

/// Reads a request body up to `limit` bytes. A larger body is read on (and dropped, up to
/// a bound) so that the client gets the 413 Status instead of a broken connection.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("error reading the request body: {e}")))?;
        seen += chunk.len();
        if seen <= limit {
            buf.extend_from_slice(&chunk);
        } else {
            buf = Vec::new();
            if seen > limit.saturating_mul(16) {
                break;
            }
        }
    }
    if seen > limit {
        return Err(ApiError::too_large(limit));
    }
    Ok(Bytes::from(buf))
}

/// What a DELETE asks for: propagation policy, grace period, UID precondition.
type DeleteOptions = (Option<String>, Option<i64>, Option<String>);

/// Everything one resource request carries.
pub struct RequestCtx {
    pub cluster: Arc<Cluster>,
    pub target: Target,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// How a response is encoded for this client: raw JSON, or a meta.k8s.io Table for kubectl.
pub fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

/// The object as this version of the resource presents it (CRDs with several versions
/// share storage; only `apiVersion` differs).
pub fn object_bytes(def: &ResourceDef, o: &StoredObject) -> Bytes {
    if o.api_version() == def.api_version() {
        return o.json.clone();
    }
    let mut v = o.value();
    v["apiVersion"] = json!(def.api_version());
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

fn decode_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    if body.starts_with(b"k8s\0") {
        return crate::sim::proto::decode(body).map_err(ApiError::unsupported_media);
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the request body is not UTF-8"))?;
    crate::domain::yaml::parse_value(text)
        .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))
}

impl RequestCtx {
    fn store(&self) -> &crate::sim::store::Store {
        &self.cluster.store
    }
    fn key(&self) -> String {
        self.target.def.storage_key()
    }
    fn name(&self) -> &str {
        self.target.name.as_deref().unwrap_or_default()
    }
    fn dry_run(&self) -> bool {
        self.query.get("dryRun").is_some_and(|v| v == "All")
    }
    /// Who writes: `fieldManager`, else the User-Agent's program name, as the API server does.
    fn manager(&self) -> String {
        if let Some(m) = self.query.get("fieldManager").filter(|m| !m.is_empty()) {
            return m.clone();
        }
        let ua = self
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown");
        ua.split('/').next().unwrap_or("unknown").to_string()
    }
    fn respond(&self, code: u16, o: &StoredObject) -> Response {
        if wants_table(&self.headers) && self.target.subresource.is_none() {
            let t = table::table(&self.target.def, &[o], &o.rv.to_string(), None, &self.query);
            return json_response(code, &t);
        }
        bytes_response(code, object_bytes(&self.target.def, o), "application/json")
    }
    fn respond_value(&self, code: u16, v: &Value) -> Response {
        json_response(code, v)
    }

    fn current(&self) -> Result<Arc<StoredObject>, ApiError> {
        self.store()
            .get(&self.key(), self.target.ns(), self.name())
            .ok_or_else(|| ApiError::not_found(&self.target.subject(self.name())))
    }

    async fn get(&self) -> Result<Response, ApiError> {
        match self.target.subresource.as_deref() {
            Some("log") => return logs::serve(self).await,
            Some("scale") => {
                return Ok(self.respond_value(200, &scale_of(&self.current()?.value())))
            }
            _ => {}
        }
        let o = self.current()?;
        Ok(self.respond(200, &o))
    }

    fn list(&self) -> Result<Response, ApiError> {
        let labels = LabelSelector::parse(
            self.query
                .get("labelSelector")
                .map(String::as_str)
                .unwrap_or_default(),
        )?;
        let fields = FieldSelector::parse(
            self.query
                .get("fieldSelector")
                .map(String::as_str)
                .unwrap_or_default(),
        )?;
        let def = &self.target.def;
        let (items, rv) = match (fields.exact_name(), self.target.namespace.as_deref()) {
            (Some(name), ns) if def.namespaced == ns.is_some() => {
                let o = self.store().get(&self.key(), ns.unwrap_or_default(), name);
                (o.into_iter().collect(), self.store().current_rv())
            }
            _ => self
                .store()
                .list(&self.key(), self.target.namespace.as_deref()),
        };
        let after = match self.query.get("continue").filter(|s| !s.is_empty()) {
            Some(tok) => Some(decode_continue(tok)?),
            None => None,
        };
        let limit = self
            .query
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .filter(|l| *l > 0);
        let mut selected: Vec<&Arc<StoredObject>> = Vec::new();
        let mut remaining = 0usize;
        let mut next: Option<String> = None;
        for o in &items {
            if let Some((ans, aname)) = &after {
                if (o.namespace(), o.name()) <= (ans.as_str(), aname.as_str()) {
                    continue;
                }
            }
            if !labels.matches(o.labels()) || !fields.matches_object(o) {
                continue;
            }
            if limit.is_some_and(|l| selected.len() >= l) {
                if next.is_none() {
                    if let Some(last) = selected.last() {
                        next = Some(encode_continue(last.namespace(), last.name(), rv));
                    }
                }
                remaining += 1;
                continue;
            }
            selected.push(o);
        }
        let rv_s = rv.to_string();
        if wants_table(&self.headers) {
            let objs: Vec<&StoredObject> = selected.iter().map(|o| o.as_ref()).collect();
            let t = table::table(def, &objs, &rv_s, next.as_deref(), &self.query);
            return Ok(json_response(200, &t));
        }
        let mut out =
            Vec::with_capacity(selected.iter().map(|o| o.json.len() + 1).sum::<usize>() + 256);
        let mut md = json!({"resourceVersion": rv_s});
        if let Some(n) = &next {
            md["continue"] = json!(n);
            md["remainingItemCount"] = json!(remaining);
        }
        out.extend_from_slice(
            format!(
                "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
                def.kind,
                def.api_version(),
                md
            )
            .as_bytes(),
        );
        for (i, o) in selected.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&object_bytes(def, o));
        }
        out.extend_from_slice(b"]}");
        Ok(bytes_response(200, Bytes::from(out), "application/json"))
    }

    /// Checks `apiVersion`/`kind`/namespace of a submitted object against the URL.
    fn check_identity(&self, obj: &mut Value) -> Result<(), ApiError> {
        let def = &self.target.def;
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON or YAML object",
            ));
        }
        if let Some(av) = obj["apiVersion"].as_str() {
            let same_group = av.split_once('/').map(|(g, _)| g).unwrap_or("") == def.group;
            if !same_group {
                return Err(ApiError::bad_request(format!("the API version in the data ({av}) does not match the expected API version ({})", def.api_version())));
            }
        }
        if let Some(k) = obj["kind"].as_str() {
            if k != def.kind {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    def.kind
                )));
            }
        }
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        if def.namespaced {
            let url_ns = self.target.ns();
            match obj["metadata"]["namespace"].as_str() {
                Some(ns) if !ns.is_empty() && ns != url_ns => {
                    return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"))
                }
                _ => obj["metadata"]["namespace"] = json!(url_ns),
            }
        }
        if let Some(name) = &self.target.name {
            match obj["metadata"]["name"].as_str() {
                Some(n) if !n.is_empty() && n != name => {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({n}) does not match the name on the URL ({name})"
                    )))
                }
                _ => obj["metadata"]["name"] = json!(name),
            }
        }
        obj["apiVersion"] = json!(def.api_version());
        obj["kind"] = json!(def.kind);
        Ok(())
    }

    /// Defaults, Secret `stringData`, validation.
    fn admit(&self, obj: &mut Value, old: Option<&Value>) -> Result<(), ApiError> {
        let def = &self.target.def;
        let status = obj.as_object_mut().and_then(|m| m.remove("status"));
        admission::strip_nulls(obj);
        if let Some(st) = status {
            // Status keeps its nulls (`lastProbeTime: null` is what the kubelet reports).
            obj["status"] = st;
        }
        admission::apply_defaults(def, obj);
        if def.kind == "Secret" && def.group.is_empty() {
            if let Some(sd) = obj.as_object_mut().and_then(|m| m.remove("stringData")) {
                if let Some(sd) = sd.as_object() {
                    if !obj["data"].is_object() {
                        obj["data"] = json!({});
                    }
                    for (k, v) in sd {
                        let s = v.as_str().unwrap_or_default();
                        obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(s));
                    }
                }
            }
        }
        admission::validate(def, obj, old)
    }

    /// ClusterIPs and node ports for new Services.
    fn allocate(&self, obj: &mut Value) {
        let def = &self.target.def;
        if def.kind != "Service" || !def.group.is_empty() {
            return;
        }
        let ty = obj["spec"]["type"]
            .as_str()
            .unwrap_or("ClusterIP")
            .to_string();
        if ty != "ExternalName"
            && obj["spec"]["clusterIP"]
                .as_str()
                .is_none_or(|s| s.is_empty())
        {
            let ip = self.cluster.allocate_cluster_ip();
            obj["spec"]["clusterIP"] = json!(ip);
            obj["spec"]["clusterIPs"] = json!([ip]);
        } else if obj["spec"]["clusterIPs"].is_null() && obj["spec"]["clusterIP"].is_string() {
            obj["spec"]["clusterIPs"] = json!([obj["spec"]["clusterIP"]]);
        }
        if ty == "NodePort" || ty == "LoadBalancer" {
            let base = 30000 + (self.store().random_u64() % 2000) as i64;
            if let Some(ports) = obj["spec"]["ports"].as_array_mut() {
                for (i, p) in ports.iter_mut().enumerate() {
                    if p["nodePort"].is_null() {
                        p["nodePort"] = json!(base + i as i64);
                    }
                }
            }
            if obj["spec"]["externalTrafficPolicy"].is_null() {
                obj["spec"]["externalTrafficPolicy"] = json!("Cluster");
            }
        }
    }

    fn create(&self) -> Result<Response, ApiError> {
        let def = self.target.def.clone();
        if self.target.name.is_some() {
            return Err(ApiError::method_not_allowed(
                "POST is not allowed on a named object",
            ));
        }
        let mut obj = decode_body(&self.body)?;
        self.check_identity(&mut obj)?;
        if def.review {
            let mut r = obj.clone();
            r["status"] =
                json!({"allowed": true, "reason": "the simulated cluster allows everything"});
            if def.kind == "SelfSubjectRulesReview" {
                r["status"] = json!({"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}], "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": false});
            }
            return Ok(json_response(201, &r));
        }
        if def.status && !(def.kind == "Namespace" && def.group.is_empty()) {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("resourceVersion");
            m.remove("managedFields");
        }
        if obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
        {
            if let Some(prefix) = obj["metadata"]["generateName"]
                .as_str()
                .filter(|p| !p.is_empty())
            {
                obj["metadata"]["name"] =
                    json!(format!("{prefix}{}", self.store().random_suffix()));
            }
        }
        self.admit(&mut obj, None)?;
        self.allocate(&mut obj);
        record_update(
            None,
            &mut obj,
            &self.manager(),
            &def.api_version(),
            "",
            def.status,
        );
        if self.dry_run() {
            return Ok(json_response(201, &obj));
        }
        let stored = self.store().create(&def, obj)?;
        let stored = self.cluster.after_write(&def, stored);
        Ok(self.respond(201, &stored))
    }

    /// Builds the stored object from a full replacement, honouring the subresource rules.
    fn merge_for_subresource(&self, old: &Value, mut new: Value) -> Value {
        let def = &self.target.def;
        match self.target.subresource.as_deref() {
            Some("status") => {
                let mut out = old.clone();
                out["status"] = new.get("status").cloned().unwrap_or(Value::Null);
                if out["status"].is_null() {
                    if let Some(m) = out.as_object_mut() {
                        m.remove("status");
                    }
                }
                out["metadata"]["managedFields"] = new["metadata"]["managedFields"].clone();
                out
            }
            Some("finalize") => {
                let mut out = old.clone();
                if !out["spec"].is_object() {
                    out["spec"] = json!({});
                }
                out["spec"]["finalizers"] = new["spec"]["finalizers"].clone();
                out
            }
            _ => {
                if def.status {
                    match old.get("status") {
                        Some(s) => new["status"] = s.clone(),
                        None => {
                            if let Some(m) = new.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                }
                new
            }
        }
    }

    fn update(&self) -> Result<Response, ApiError> {
        let def = self.target.def.clone();
        let mut body = decode_body(&self.body)?;
        if self.target.subresource.as_deref() == Some("scale") {
            let replicas = body["spec"]["replicas"].clone();
            let want_rv = body["metadata"]["resourceVersion"]
                .as_str()
                .map(str::to_string);
            return self.write_scale(replicas, want_rv);
        }
        self.check_identity(&mut body)?;
        let manager = self.manager();
        let sub = self.target.subresource.clone().unwrap_or_default();
        let dry = self.dry_run();
        let mut dry_result = None;
        let stored = self.store().update(&def, self.target.ns(), self.name(), |old| {
            if let Some(want) = body["metadata"]["resourceVersion"].as_str().filter(|s| !s.is_empty()) {
                if want != meta(old, "resourceVersion") {
                    return Err(ApiError::conflict(&self.target.subject(self.name()), "the object has been modified; please apply your changes to the latest version and try again"));
                }
            }
            let mut new = body.clone();
            if new["metadata"]["managedFields"].is_null() {
                new["metadata"]["managedFields"] = old["metadata"]["managedFields"].clone();
            }
            let mut new = self.merge_for_subresource(old, new);
            self.admit(&mut new, Some(old))?;
            record_update(Some(old), &mut new, &manager, &def.api_version(), &sub, def.status);
            if dry {
                dry_result = Some(new);
                return Ok(old.clone());
            }
            Ok(new)
        })?;
        if let Some(v) = dry_result {
            return Ok(json_response(200, &v));
        }
        let stored = self.cluster.after_write(&def, stored);
        Ok(self.respond(200, &stored))
    }

    fn write_scale(&self, replicas: Value, want_rv: Option<String>) -> Result<Response, ApiError> {
        let def = self.target.def.clone();
        let n = replicas.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::invalid(
                &Subject {
                    group: "autoscaling",
                    resource: "scale",
                    kind: "Scale",
                    name: self.name(),
                },
                vec![crate::sim::errors::Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!(
                        "Invalid value: {replicas}: must be greater than or equal to 0"
                    ),
                    field: "spec.replicas".into(),
                }],
            )
        })?;
        let manager = self.manager();
        let stored = self.store().update(&def, self.target.ns(), self.name(), |old| {
            if let Some(want) = want_rv.as_deref().filter(|s| !s.is_empty()) {
                if want != meta(old, "resourceVersion") {
                    return Err(ApiError::conflict(&self.target.subject(self.name()), "the object has been modified; please apply your changes to the latest version and try again"));
                }
            }
            let mut new = old.clone();
            if !new["spec"].is_object() {
                new["spec"] = json!({});
            }
            new["spec"]["replicas"] = json!(n);
            record_update(Some(old), &mut new, &manager, &def.api_version(), "scale", def.status);
            Ok(new)
        })?;
        let stored = self.cluster.after_write(&def, stored);
        Ok(self.respond_value(200, &scale_of(&stored.value())))
    }

    fn patch(&self) -> Result<Response, ApiError> {
        let def = self.target.def.clone();
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let patch_body = decode_body(&self.body)?;
        let sub = self.target.subresource.clone().unwrap_or_default();
        if ct == "application/apply-patch+yaml" || ct == "application/apply-patch+cbor" {
            return self.apply(patch_body);
        }
        let apply_patch = |base: &Value| -> Result<Value, ApiError> {
            match ct.as_str() {
                "application/merge-patch+json" => Ok(patch::merge_patch(base, &patch_body)),
                "application/strategic-merge-patch+json" => {
                    if def.custom {
                        return Err(ApiError::unsupported_media("strategic merge patch is not supported for custom resources; use a JSON merge patch"));
                    }
                    patch::strategic_merge(base, &patch_body)
                }
                "application/json-patch+json" => patch::json_patch(base, &patch_body),
                other => Err(ApiError::unsupported_media(format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"))),
            }
        };
        if sub == "scale" {
            let cur = self.current()?;
            let scaled = apply_patch(&scale_of(&cur.value()))?;
            return self.write_scale(
                scaled["spec"]["replicas"].clone(),
                scaled["metadata"]["resourceVersion"]
                    .as_str()
                    .map(str::to_string),
            );
        }
        let manager = self.manager();
        let dry = self.dry_run();
        let mut dry_result = None;
        let stored = self.store().update(&def, self.target.ns(), self.name(), |old| {
            let mut new = apply_patch(old)?;
            if !new.is_object() || !new["metadata"].is_object() {
                return Err(ApiError::new(422, "Invalid", "the patched object and its metadata must be JSON objects"));
            }
            if let Some(want) = new["metadata"]["resourceVersion"].as_str().filter(|s| !s.is_empty()) {
                if want != meta(old, "resourceVersion") {
                    return Err(ApiError::conflict(&self.target.subject(self.name()), "the object has been modified; please apply your changes to the latest version and try again"));
                }
            }
            if new["metadata"]["name"].as_str() != Some(self.name()) {
                return Err(ApiError::bad_request("metadata.name cannot be changed by a patch"));
            }
            let mut new = self.merge_for_subresource(old, std::mem::take(&mut new));
            self.admit(&mut new, Some(old))?;
            record_update(Some(old), &mut new, &manager, &def.api_version(), &sub, def.status);
            if dry {
                dry_result = Some(new);
                return Ok(old.clone());
            }
            Ok(new)
        })?;
        if let Some(v) = dry_result {
            return Ok(json_response(200, &v));
        }
        let stored = self.cluster.after_write(&def, stored);
        Ok(self.respond(200, &stored))
    }

    /// Server-side apply (creates the object when it does not exist yet).
    fn apply(&self, mut applied: Value) -> Result<Response, ApiError> {
        let def = self.target.def.clone();
        let Some(manager) = self
            .query
            .get("fieldManager")
            .filter(|m| !m.is_empty())
            .cloned()
        else {
            return Err(ApiError::bad_request(
                "PATCH requests with apply content type must have fieldManager",
            ));
        };
        self.check_identity(&mut applied)?;
        if applied["apiVersion"].is_null() || applied["kind"].is_null() {
            return Err(ApiError::bad_request(
                "apply requests must set apiVersion and kind",
            ));
        }
        let force = truthy(&self.query, "force");
        let sub = self.target.subresource.clone().unwrap_or_default();
        let api_version = def.api_version();
        let req = ApplyRequest {
            manager: &manager,
            force,
            api_version: &api_version,
            subresource: &sub,
            has_status: def.status,
        };
        let dry = self.dry_run();
        match self.store().get(&self.key(), self.target.ns(), self.name()) {
            None => {
                if !sub.is_empty() {
                    return Err(ApiError::not_found(&self.target.subject(self.name())));
                }
                let mut base = json!({"apiVersion": api_version, "kind": def.kind, "metadata": {"name": self.name()}});
                if def.namespaced {
                    base["metadata"]["namespace"] = json!(self.target.ns());
                }
                let mut obj = server_side_apply(&base, &applied, &req)?;
                if def.status && def.kind != "Namespace" {
                    if let Some(m) = obj.as_object_mut() {
                        m.remove("status");
                    }
                }
                self.admit(&mut obj, None)?;
                self.allocate(&mut obj);
                if dry {
                    return Ok(json_response(201, &obj));
                }
                let stored = self.store().create(&def, obj)?;
                let stored = self.cluster.after_write(&def, stored);
                Ok(self.respond(201, &stored))
            }
            Some(_) => {
                let mut dry_result = None;
                let stored = self
                    .store()
                    .update(&def, self.target.ns(), self.name(), |old| {
                        let mut new = server_side_apply(old, &applied, &req)?;
                        self.admit(&mut new, Some(old))?;
                        if dry {
                            dry_result = Some(new);
                            return Ok(old.clone());
                        }
                        Ok(new)
                    })?;
                if let Some(v) = dry_result {
                    return Ok(json_response(200, &v));
                }
                let stored = self.cluster.after_write(&def, stored);
                Ok(self.respond(200, &stored))
            }
        }
    }
}

/// The `autoscaling/v1` Scale view of a workload.
pub fn scale_of(obj: &Value) -> Value {
    let selector =
        crate::sim::selector::LabelSelector::from_object(&obj["spec"]["selector"]).to_query();
    let md = &obj["metadata"];
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": md["name"], "namespace": md["namespace"], "uid": md["uid"], "resourceVersion": md["resourceVersion"], "creationTimestamp": md["creationTimestamp"]},
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(0)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}

fn encode_continue(ns: &str, name: &str, rv: u64) -> String {
    let raw = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{ns}/{name}")}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(tok: &str) -> Result<(String, String), ApiError> {
    let bad = || {
        ApiError::bad_request("continue key is not valid: the continue token could not be decoded")
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tok.trim_end_matches('='))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let start = v["start"].as_str().ok_or_else(bad)?;
    let (ns, name) = start.split_once('/').ok_or_else(bad)?;
    Ok((ns.to_string(), name.to_string()))
}

/// A success Status for deletions that have nothing else to return.
pub fn deleted_status(def: &ResourceDef, name: &str, uid: &str) -> Value {
    success_status(json!({"name": name, "group": def.group, "kind": def.plural, "uid": uid}))
}
