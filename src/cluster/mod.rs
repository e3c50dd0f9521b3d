//! Everything that talks to Kubernetes, through kube-rs: connecting with a kubeconfig,
//! server-side apply of any object, deletes and reads, release records, the operator lease,
//! watches of workloads and pods, pod logs. API 429/5xx answers are retried with capped
//! exponential back-off; errors say what failed and what to do. Never imports the TUI.

pub mod capabilities;
pub mod events;
pub mod fence;
pub mod helm_releases;
pub mod lease;
pub mod objwatch;
pub mod records;
pub mod requests;
pub mod store;
pub mod watch;

use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PropagationPolicy,
};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{ApiCapabilities, Scope};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const FIELD_MANAGER: &str = "helmdeck";

/// Which cluster and namespace an environment points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterTarget {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: String,
    /// How long one request may go unanswered (None: [`REQUEST_TIMEOUT`]).
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot load kubeconfig {path}: {message}")]
    Kubeconfig { path: String, message: String },
    #[error("the cluster at {server} is unreachable: {message}")]
    Unreachable { server: String, message: String },
    /// The API server accepted the connection but did not answer in time (a VPN that
    /// blackholes packets, a wedged load balancer).
    #[error("no answer from {server} in {secs} s")]
    NoAnswer { server: String, secs: u64 },
    #[error("forbidden: {message}")]
    Forbidden { message: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("the API server refused {object}: {message}")]
    Invalid { object: String, message: String },
    #[error("conflict on {object}: {message}")]
    Conflict { object: String, message: String },
    #[error("the cluster does not serve {kind} ({api_version})")]
    UnknownKind { api_version: String, kind: String },
    #[error("release {release} is locked by {holder} since {since}")]
    Locked {
        release: String,
        holder: String,
        since: String,
    },
    /// This process held the lease of `release` and lost it (someone took it over after it
    /// lapsed, or changed the run): it wrote nothing more.
    #[error(
        "lease of release {release} lost to {holder}{}{}",
        since_text(since),
        run_text(run)
    )]
    LeaseLost {
        release: String,
        holder: String,
        since: String,
        /// Where the run stands now, when it could be read.
        run: Option<String>,
    },
    #[error("the API server answered {code}: {message}")]
    Api { code: u16, message: String },
    #[error("release record: {0}")]
    Record(String),
}

fn since_text(since: &str) -> String {
    if since.is_empty() {
        String::new()
    } else {
        format!(" (since {since})")
    }
}

fn run_text(run: &Option<String>) -> String {
    match run {
        Some(r) => format!("; the run is now {r}"),
        None => String::new(),
    }
}

impl ClusterError {
    pub fn hint(&self) -> String {
        match self {
            ClusterError::Kubeconfig { .. } => "check `cluster.kubeconfig` and `cluster.context` of the environment in helmdeck.yaml".into(),
            ClusterError::Unreachable { .. } => "check that the cluster is up and the kubeconfig's server address is right (kubectl cluster-info)".into(),
            ClusterError::NoAnswer { .. } => "check the network path to the API server (VPN, proxy, load balancer) with `kubectl cluster-info`; `cluster.timeout` in helmdeck.yaml sets how long to wait".into(),
            ClusterError::Forbidden { .. } => "ask for RBAC permissions on this namespace for the user in the kubeconfig".into(),
            ClusterError::NotFound { .. } => "check the namespace and names; `helmdeck status` shows what exists".into(),
            ClusterError::Invalid { .. } => "fix the chart or values so that the object is valid (the field path is in the message)".into(),
            ClusterError::Conflict { .. } => "another field manager owns these fields; helmdeck applies with force, so retry, or look for a controller fighting over the object".into(),
            ClusterError::UnknownKind { .. } => "install the CRD that defines the kind, or check the apiVersion".into(),
            ClusterError::Locked { .. } => "wait until the other operator's run ends, or ask them to release it; an expired lease is taken over".into(),
            ClusterError::LeaseLost { .. } => "this process stopped and wrote nothing more; `helmdeck status` shows the run, driven by the new holder".into(),
            ClusterError::Api { .. } => "the API server failed; try again".into(),
            ClusterError::Record(_) => "the release record is damaged: inspect the helmdeck.v1.* Secrets of the namespace".into(),
        }
    }

    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ClusterError::Unreachable { .. } | ClusterError::NoAnswer { .. }
        )
    }
}

/// Objects per list request: long lists arrive in pages, so that a release of thousands of
/// objects never sits in memory whole as the API server sent it.
pub const LIST_PAGE: u32 = 250;

/// What a list of a release's objects keeps of each: identity, labels, annotations, and a
/// Secret's type (`prune` decides from these; the rest of the object is skipped while
/// decoding).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct LiveRef {
    #[serde(deserialize_with = "watch::lean_meta")]
    pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
}

impl LiveRef {
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata.labels.as_ref()?.get(key).map(String::as_str)
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }
}

impl kube::Resource for LiveRef {
    type DynamicType = ApiResource;
    type Scope = kube::core::DynamicResourceScope;
    fn group(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        dt.group.as_str().into()
    }
    fn version(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        dt.version.as_str().into()
    }
    fn kind(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        dt.kind.as_str().into()
    }
    fn api_version(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        dt.api_version.as_str().into()
    }
    fn plural(dt: &ApiResource) -> std::borrow::Cow<'_, str> {
        dt.plural.as_str().into()
    }
    fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        &mut self.metadata
    }
}

/// A connected cluster, with the namespace releases go to.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    pub namespace: String,
    pub server: String,
    pub context: String,
    /// How long one request may go unanswered (`cluster.timeout`, default 30 s).
    pub timeout: Duration,
    /// The lease term writes go through while this process drives a run (see `fence`).
    fence: Option<fence::Fence>,
    resources: Arc<Mutex<HashMap<String, (ApiResource, ApiCapabilities)>>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// How long one request may go unanswered unless the environment says otherwise.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The header naming the helmdeck process behind a request (`user@host (pid N)`): the
/// simulated cluster's write log keeps it, so tests can tell drivers apart.
pub const CLIENT_HEADER: &str = "x-helmdeck-client";

/// How long the API server keeps a watch open before closing it (and helmdeck opens the
/// next): a watch whose connection went silent is noticed within this plus a few seconds
/// and re-established.
pub const WATCH_TIMEOUT_SECS: u32 = 55;

/// The watcher settings every watch of helmdeck uses.
pub fn watch_config() -> kube::runtime::watcher::Config {
    kube::runtime::watcher::Config::default().timeout(WATCH_TIMEOUT_SECS)
}

/// Connects through a kubeconfig (the default chain when none is given). Reading the
/// kubeconfig and building the client (which runs an exec credential plugin the first time)
/// block, so they run on the blocking pool, never on the async threads that draw the console.
pub async fn connect(target: &ClusterTarget) -> Result<Cluster, ClusterError> {
    let target = target.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || connect_blocking(&target, &handle))
        .await
        .map_err(|e| ClusterError::Kubeconfig {
            path: "kubeconfig".into(),
            message: format!("connecting stopped: {e}"),
        })?
}

fn connect_blocking(
    target: &ClusterTarget,
    handle: &tokio::runtime::Handle,
) -> Result<Cluster, ClusterError> {
    let options = kube::config::KubeConfigOptions {
        context: target.context.clone(),
        cluster: None,
        user: None,
    };
    let shown = target
        .kubeconfig
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "$KUBECONFIG or ~/.kube/config".into());
    let kerr = |e: &dyn std::fmt::Display| ClusterError::Kubeconfig {
        path: shown.clone(),
        message: e.to_string(),
    };
    let mut config = match &target.kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| kerr(&e))?;
            handle
                .block_on(kube::Config::from_custom_kubeconfig(kc, &options))
                .map_err(|e| kerr(&e))?
        }
        None => handle
            .block_on(kube::Config::from_kubeconfig(&options))
            .map_err(|e| kerr(&e))?,
    };
    let timeout = target.timeout.unwrap_or(REQUEST_TIMEOUT);
    config.connect_timeout = Some(CONNECT_TIMEOUT.min(timeout));
    // helmdeck retries 429/5xx itself, within its own deadlines (kube's layer would retry a
    // write after the lease term that allowed it).
    config.default_retry = false;
    let me = lease::Operator::current().identity();
    if let Ok(v) = http::HeaderValue::from_str(&me) {
        config
            .headers
            .push((http::HeaderName::from_static(CLIENT_HEADER), v));
    }
    let server = config.cluster_url.to_string();
    let context = target.context.clone().unwrap_or_else(|| "(current)".into());
    let client = kube::Client::try_from(config).map_err(|e| kerr(&e))?;
    Ok(Cluster {
        client,
        namespace: target.namespace.clone(),
        server,
        context,
        timeout,
        fence: None,
        resources: Arc::new(Mutex::new(HashMap::new())),
    })
}

/// Maps a kube error to a typed one; `object` names what was being done.
pub fn classify(server: &str, object: &str, e: kube::Error) -> ClusterError {
    match e {
        kube::Error::Api(ae) => {
            let code = ae.code;
            let message = ae.message.clone();
            match code {
                403 => ClusterError::Forbidden { message },
                404 => ClusterError::NotFound {
                    what: object.to_string(),
                },
                409 => ClusterError::Conflict {
                    object: object.to_string(),
                    message,
                },
                400 | 422 => ClusterError::Invalid {
                    object: object.to_string(),
                    message,
                },
                _ => ClusterError::Api { code, message },
            }
        }
        other => ClusterError::Unreachable {
            server: server.to_string(),
            message: chain(&other),
        },
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let t = x.to_string();
        if !s.contains(&t) {
            s = format!("{s}: {t}");
        }
        src = x.source();
    }
    s
}

fn retryable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(ae) => ae.code == 429 || ae.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// The wait a 429 (or 503) asks for in its Status details, capped.
fn retry_after(e: &kube::Error) -> Option<Duration> {
    match e {
        kube::Error::Api(ae) => ae
            .details
            .as_ref()
            .map(|d| d.retry_after_seconds)
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(u64::from(s).min(30))),
        _ => None,
    }
}

/// Runs `op` until it succeeds, retrying 429/5xx and connection errors with capped
/// exponential back-off (100 ms doubling to 3.2 s, 8 tries; a 429's `retryAfterSeconds`
/// is honoured). Each try may go unanswered for [`REQUEST_TIMEOUT`].
pub async fn with_retry<T, F, Fut>(server: &str, object: &str, op: F) -> Result<T, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    retrying(server, object, REQUEST_TIMEOUT, Attempt::Read, op).await
}

/// What one request of [`retrying`] is.
#[derive(Clone, Copy)]
enum Attempt<'a> {
    Read,
    /// A write, fenced by the lease term when the cluster copy drives a run.
    Write(Option<&'a fence::Fence>),
}

/// The retry loop behind [`with_retry`], [`Cluster::call`] and [`Cluster::write`]: with a
/// fence, every try first waits for leave to write, is checked against the term right
/// before it is sent, and is given up at the term's end (then retried once the term is
/// confirmed: every write helmdeck makes is idempotent).
async fn retrying<T, F, Fut>(
    server: &str,
    object: &str,
    timeout: Duration,
    attempt: Attempt<'_>,
    mut op: F,
) -> Result<T, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut delay = Duration::from_millis(100);
    let mut tries = 0;
    let no_answer = || ClusterError::NoAnswer {
        server: server.to_string(),
        secs: timeout.as_secs().max(1),
    };
    loop {
        let (fence, permit) = match attempt {
            Attempt::Write(Some(f)) => (Some(f), Some(f.permit().await?)),
            _ => (None, None),
        };
        if let Attempt::Write(_) = attempt {
            fence::failpoint_before_write(object);
        }
        let request = op();
        let result = match (fence, permit) {
            (Some(f), Some(permit)) => {
                // Nothing awaits between this check and the request's first poll.
                if !permit.holds() {
                    f.confirm("the lease term ran out before the write was sent");
                    continue;
                }
                match tokio::time::timeout(timeout.min(permit.remaining()), request).await {
                    Ok(r) => r,
                    Err(_) if !permit.holds() => {
                        // Given up at the term's end: it may or may not have landed, and is
                        // sent again (idempotent) once the term is confirmed.
                        f.confirm("a write was still unanswered at the end of the lease term");
                        continue;
                    }
                    Err(_) => return Err(no_answer()),
                }
            }
            _ => match tokio::time::timeout(timeout, request).await {
                Ok(r) => r,
                Err(_) => return Err(no_answer()),
            },
        };
        match result {
            Ok(v) => return Ok(v),
            Err(e) if retryable(&e) && tries < 7 => {
                tracing::debug!(object, error = %e, "retrying");
                tries += 1;
                let wait = retry_after(&e).unwrap_or(delay);
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(Duration::from_millis(3200));
            }
            Err(e) => return Err(classify(server, object, e)),
        }
    }
}

fn gvk_of(obj: &Value) -> Result<GroupVersionKind, ClusterError> {
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    if kind.is_empty() || version.is_empty() {
        return Err(ClusterError::Invalid {
            object: "object".into(),
            message: "no apiVersion or kind".into(),
        });
    }
    Ok(GroupVersionKind::gvk(group, version, kind))
}

/// Every object `api` lists for `selector`, asked for in pages of [`LIST_PAGE`]. An expired
/// continue token (410) starts the list over.
pub async fn list_paged<K>(
    server: &str,
    what: &str,
    api: &Api<K>,
    selector: &str,
) -> Result<Vec<K>, ClusterError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    let mut restarts = 0;
    loop {
        let mut lp = ListParams::default().limit(LIST_PAGE);
        if !selector.is_empty() {
            lp = lp.labels(selector);
        }
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = match with_retry(server, what, || api.list(&lp)).await {
            Ok(p) => p,
            Err(ClusterError::Api { code: 410, .. }) if token.is_some() && restarts < 3 => {
                restarts += 1;
                out.clear();
                token = None;
                continue;
            }
            Err(e) => return Err(e),
        };
        out.extend(page.items);
        match page.metadata.continue_ {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(out),
        }
    }
}

/// `kind/namespace/name` for messages.
pub fn describe(obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    match obj.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

impl Cluster {
    /// A copy whose writes go through `fence` (the lease term of the run it drives).
    pub fn fenced(&self, fence: fence::Fence) -> Cluster {
        Cluster {
            fence: Some(fence),
            ..self.clone()
        }
    }

    /// The fence writes go through, if this copy drives a run.
    pub fn fence(&self) -> Option<&fence::Fence> {
        self.fence.as_ref()
    }

    /// A read (or a write outside any run): retried on 429/5xx and connection errors, each
    /// try bounded by the request timeout.
    pub async fn call<T, F, Fut>(&self, what: &str, op: F) -> Result<T, ClusterError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        retrying(&self.server, what, self.timeout, Attempt::Read, op).await
    }

    /// A write: as [`Cluster::call`], and while this copy drives a run, only inside its
    /// lease term (see `fence`). Every write to objects and records goes through here.
    pub async fn write<T, F, Fut>(&self, what: &str, op: F) -> Result<T, ClusterError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        let attempt = Attempt::Write(self.fence.as_ref());
        retrying(&self.server, what, self.timeout, attempt, op).await
    }

    /// Whether the API server answers `/version` within a few seconds.
    pub async fn reachable(&self) -> bool {
        let within = self.timeout.min(Duration::from_secs(5));
        matches!(
            tokio::time::timeout(within, self.client.apiserver_version()).await,
            Ok(Ok(_))
        )
    }

    /// The API resource for a kind, from discovery (cached).
    pub async fn resource(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<(ApiResource, ApiCapabilities), ClusterError> {
        let key = format!("{api_version}/{kind}");
        if let Some(r) = self
            .resources
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Ok(r);
        }
        let gvk = gvk_of(&serde_json::json!({"apiVersion": api_version, "kind": kind}))?;
        let found = self
            .call(&key, || kube::discovery::pinned_kind(&self.client, &gvk))
            .await;
        let r = match found {
            Ok(r) => r,
            Err(ClusterError::NotFound { .. }) | Err(ClusterError::Api { .. }) => {
                return Err(ClusterError::UnknownKind {
                    api_version: api_version.into(),
                    kind: kind.into(),
                })
            }
            Err(e) => return Err(e),
        };
        if let Ok(mut m) = self.resources.lock() {
            m.insert(key, r.clone());
        }
        Ok(r)
    }

    /// Forgets discovered kinds (after a CRD is installed).
    pub fn forget_resources(&self) {
        if let Ok(mut m) = self.resources.lock() {
            m.clear();
        }
    }

    /// An API handle for a kind, in `namespace` (the release's by default) when the kind
    /// is namespaced; `K` is the shape objects are decoded in.
    async fn api_for<K>(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Api<K>, ClusterError>
    where
        K: kube::Resource<DynamicType = ApiResource, Scope = kube::core::DynamicResourceScope>,
    {
        let (ar, caps) = self.resource(api_version, kind).await?;
        Ok(match caps.scope {
            Scope::Cluster => Api::all_with(self.client.clone(), &ar),
            Scope::Namespaced => Api::namespaced_with(
                self.client.clone(),
                namespace.unwrap_or(&self.namespace),
                &ar,
            ),
        })
    }

    /// Server-side apply with field manager `helmdeck`, forcing ownership of the fields it
    /// sets (helmdeck is the source of truth for what it deploys). Returns the live object.
    pub async fn apply(&self, obj: &Value) -> Result<Value, ClusterError> {
        let api_version = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
        let api: Api<DynamicObject> = self.api_for(api_version, kind, ns).await?;
        let what = describe(obj);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let patch = Patch::Apply(obj);
        let live = self
            .write(&what, || api.patch(&name, &params, &patch))
            .await?;
        serde_json::to_value(&live).map_err(|e| ClusterError::Invalid {
            object: what,
            message: e.to_string(),
        })
    }

    /// Reads an object; None when it does not exist.
    pub async fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ClusterError> {
        let api: Api<DynamicObject> = self.api_for(api_version, kind, namespace).await?;
        let what = format!("{kind} {name}");
        match self.call(&what, || api.get(name)).await {
            Ok(o) => Ok(serde_json::to_value(&o).ok()),
            Err(ClusterError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists objects of a kind in the namespace (every namespace for cluster-scoped kinds)
    /// matching a label selector, page by page, keeping what [`LiveRef`] keeps.
    pub async fn list_refs(
        &self,
        api_version: &str,
        kind: &str,
        selector: &str,
    ) -> Result<Vec<LiveRef>, ClusterError> {
        let api: Api<LiveRef> = self.api_for(api_version, kind, None).await?;
        list_paged(&self.server, &format!("{kind} list"), &api, selector).await
    }

    /// Deletes an object (background propagation); a missing object is not an error.
    pub async fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(), ClusterError> {
        let api: Api<DynamicObject> = self.api_for(api_version, kind, namespace).await?;
        let what = format!("{kind} {name}");
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        match self.write(&what, || api.delete(name, &dp)).await {
            Ok(_) | Err(ClusterError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Merge-patches an object (used for scaling and small status-free edits).
    pub async fn merge_patch(
        &self,
        api_version: &str,
        kind: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, ClusterError> {
        let api: Api<DynamicObject> = self.api_for(api_version, kind, None).await?;
        let what = format!("{kind} {name}");
        let pp = PatchParams::default();
        let merge = Patch::Merge(patch);
        let live = self.write(&what, || api.patch(name, &pp, &merge)).await?;
        serde_json::to_value(&live).map_err(|e| ClusterError::Invalid {
            object: what,
            message: e.to_string(),
        })
    }

    /// Whether the namespace exists.
    pub async fn namespace_exists(&self) -> Result<bool, ClusterError> {
        Ok(self
            .get("v1", "Namespace", None, &self.namespace.clone())
            .await?
            .is_some())
    }
}
