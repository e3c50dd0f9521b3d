//! Watch streams: newline-delimited JSON `WatchEvent`s from a resourceVersion (or from a
//! synthetic ADDED snapshot), filtered by namespace and selectors (an object that stops
//! matching is sent as DELETED, as the watch cache does), with bookmarks, `timeoutSeconds`,
//! `sendInitialEvents`, `410 Expired` for versions older than the retained window, and the
//! scenario's periodic watch drops.

use crate::sim::api::{object_bytes, wants_table, RequestCtx};
use crate::sim::errors::ApiError;
use crate::sim::selector::{FieldSelector, LabelSelector};
use crate::sim::store::{EventType, StoreEvent, StoredObject};
use crate::sim::table;
use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often an idle watch that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

struct Filter {
    key: Arc<str>,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn matches(&self, o: &StoredObject) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| ns == o.namespace())
            && self.labels.matches(o.labels())
            && self.fields.matches_object(o)
    }

    /// The event this watcher sees for a store event, if any.
    fn translate<'a>(&self, ev: &'a StoreEvent) -> Option<(&'static str, &'a StoredObject)> {
        if *ev.key != *self.key {
            return None;
        }
        let now = self.matches(&ev.object);
        let before = ev.prev.as_ref().is_some_and(|p| self.matches(p));
        match ev.kind {
            EventType::Added => now.then_some(("ADDED", &*ev.object)),
            EventType::Deleted => (now || before).then_some(("DELETED", &*ev.object)),
            EventType::Modified => match (before, now) {
                (true, true) => Some(("MODIFIED", &*ev.object)),
                (false, true) => Some(("ADDED", &*ev.object)),
                (true, false) => Some(("DELETED", &*ev.object)),
                (false, false) => None,
            },
        }
    }
}

struct Encoder {
    def: Arc<crate::sim::kinds::ResourceDef>,
    table: bool,
    query: crate::sim::api::Query,
}

impl Encoder {
    fn line(&self, ty: &str, o: &StoredObject) -> Bytes {
        let obj = if self.table {
            Bytes::from(
                serde_json::to_vec(&table::table(
                    &self.def,
                    &[o],
                    &o.rv.to_string(),
                    None,
                    &self.query,
                ))
                .unwrap_or_default(),
            )
        } else {
            object_bytes(&self.def, o)
        };
        let mut out = Vec::with_capacity(obj.len() + 32);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(ty.as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        out.extend_from_slice(&obj);
        out.extend_from_slice(b"}\n");
        Bytes::from(out)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut md = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            md["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj =
            json!({"kind": self.def.kind, "apiVersion": self.def.api_version(), "metadata": md});
        let mut s =
            serde_json::to_vec(&json!({"type": "BOOKMARK", "object": obj})).unwrap_or_default();
        s.push(b'\n');
        Bytes::from(s)
    }
}

fn expired_line(message: &str) -> Bytes {
    let e = ApiError::gone(message.to_string());
    let mut s =
        serde_json::to_vec(&json!({"type": "ERROR", "object": e.to_status()})).unwrap_or_default();
    s.push(b'\n');
    Bytes::from(s)
}

fn stream_response(rx: mpsc::Receiver<Bytes>) -> Response {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache, private"),
    );
    r
}

/// Serves `?watch=true` on a collection.
pub async fn serve(ctx: &RequestCtx) -> Result<Response, ApiError> {
    let q = &ctx.query;
    let filter = Filter {
        key: Arc::from(ctx.target.def.storage_key()),
        namespace: ctx.target.namespace.clone(),
        labels: LabelSelector::parse(
            q.get("labelSelector")
                .map(String::as_str)
                .unwrap_or_default(),
        )?,
        fields: FieldSelector::parse(
            q.get("fieldSelector")
                .map(String::as_str)
                .unwrap_or_default(),
        )?,
    };
    let enc = Encoder {
        def: ctx.target.def.clone(),
        table: wants_table(&ctx.headers),
        query: q.clone(),
    };
    let bookmarks = matches!(
        q.get("allowWatchBookmarks").map(String::as_str),
        Some("true" | "1")
    );
    let send_initial = matches!(
        q.get("sendInitialEvents").map(String::as_str),
        Some("true" | "1")
    );
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(|t| Duration::from_secs(t).min(crate::sim::clock::MAX_WAIT));
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let store = ctx.cluster.store.clone();
    let (tx, rx) = mpsc::channel::<Bytes>(256);

    let (initial, sub) = if rv_param.is_empty() || rv_param == "0" || send_initial {
        let (items, sub) = store.snapshot_and_subscribe(&filter.key, filter.namespace.as_deref());
        (Some(items), sub)
    } else {
        let rv: u64 = rv_param
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv_param:?}")))?;
        match store.subscribe(rv) {
            Ok(sub) => (None, sub),
            Err(oldest) => {
                // The API server answers 200 and then an ERROR event carrying 410 Expired.
                let _ = tx.try_send(expired_line(&format!(
                    "too old resource version: {rv} ({oldest})"
                )));
                drop(tx);
                return Ok(stream_response(rx));
            }
        }
    };
    let drop_every = ctx.cluster.scenario.drop_watches_every();
    let mut shutdown = ctx.cluster.shutdown.clone();
    tokio::spawn(async move {
        let mut last_rv = sub.rv;
        if let Some(items) = initial {
            for o in items.iter().filter(|o| filter.matches(o)) {
                if tx.send(enc.line("ADDED", o)).await.is_err() {
                    return;
                }
            }
            if send_initial && bookmarks && tx.send(enc.bookmark(sub.rv, true)).await.is_err() {
                return;
            }
        }
        for ev in &sub.backlog {
            last_rv = ev.rv;
            if let Some((ty, o)) = filter.translate(ev) {
                if tx.send(enc.line(ty, o)).await.is_err() {
                    return;
                }
            }
        }
        let mut feed = sub.feed;
        let deadline = tokio::time::Instant::now()
            + timeout
                .or(drop_every)
                .unwrap_or(Duration::from_secs(30 * 60));
        let mut tick = tokio::time::interval(BOOKMARK_EVERY);
        tick.tick().await;
        loop {
            tokio::select! {
                changed = feed.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let events = match store.events_after(last_rv) {
                        Ok(events) => events,
                        Err(oldest) => {
                            let _ = tx.send(expired_line(&format!("too old resource version: {last_rv} ({oldest})"))).await;
                            return;
                        }
                    };
                    for ev in events {
                        last_rv = ev.rv;
                        if let Some((ty, o)) = filter.translate(&ev) {
                            if tx.send(enc.line(ty, o)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                _ = tick.tick(), if bookmarks => {
                    if tx.send(enc.bookmark(last_rv, false)).await.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return,
                _ = shutdown.changed() => return,
                _ = tx.closed() => return,
            }
        }
    });
    Ok(stream_response(rx))
}
