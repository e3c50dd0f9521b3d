//! A watch of a namespace's Kubernetes Events (core/v1, which every cluster serves and
//! `events.k8s.io/v1` mirrors), kept to the newest few that concern one release: the
//! console's "recent events" pane. Holds no more than it shows; never reads the whole
//! event history into memory.

use super::Cluster;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Event;
use kube::api::Api;
use kube::runtime::{watcher, WatchStreamExt};
use std::collections::HashMap;

/// One Event, as the pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEvent {
    pub uid: String,
    /// `Normal` or `Warning`.
    pub kind: String,
    pub reason: String,
    /// `Pod/web-6f5c…`.
    pub object: String,
    pub message: String,
    /// When it last happened (ms since the epoch).
    pub last_ms: u64,
    pub count: u32,
}

/// Whether an Event is about one of the release's objects: the release's workloads and
/// everything named after them (`web`, `web-canary`, `web-6f5c9-x2x`, `web-blue-…`).
pub fn concerns(object_name: &str, release: &str) -> bool {
    object_name == release
        || object_name
            .strip_prefix(release)
            .is_some_and(|rest| rest.starts_with('-'))
}

fn millis(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> u64 {
    t.0.as_millisecond().max(0) as u64
}

/// The pane's view of one Event.
pub fn of(e: &Event) -> ClusterEvent {
    let last_ms = e
        .last_timestamp
        .as_ref()
        .map(millis)
        .or_else(|| {
            e.event_time
                .as_ref()
                .map(|t| t.0.as_millisecond().max(0) as u64)
        })
        .or_else(|| e.first_timestamp.as_ref().map(millis))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(millis))
        .unwrap_or(0);
    ClusterEvent {
        uid: e
            .metadata
            .uid
            .clone()
            .or_else(|| e.metadata.name.clone())
            .unwrap_or_default(),
        kind: e.type_.clone().unwrap_or_else(|| "Normal".into()),
        reason: e.reason.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            e.involved_object.kind.as_deref().unwrap_or("?"),
            e.involved_object.name.as_deref().unwrap_or("?")
        ),
        message: e.message.clone().unwrap_or_default(),
        last_ms,
        count: e.count.unwrap_or(1).max(1) as u32,
    }
}

/// The newest `keep` events of `release` seen so far, updated from the watch.
#[derive(Debug, Default)]
pub struct RecentEvents {
    release: String,
    keep: usize,
    by_uid: HashMap<String, ClusterEvent>,
}

impl RecentEvents {
    pub fn new(release: &str, keep: usize) -> RecentEvents {
        RecentEvents {
            release: release.to_string(),
            keep,
            by_uid: HashMap::new(),
        }
    }

    /// Takes an Event (new or updated); false when it does not concern the release.
    pub fn apply(&mut self, e: &Event) -> bool {
        let name = e.involved_object.name.as_deref().unwrap_or_default();
        if !concerns(name, &self.release) {
            return false;
        }
        let ev = of(e);
        self.by_uid.insert(ev.uid.clone(), ev);
        if self.by_uid.len() > self.keep {
            // Drop the oldest beyond the bound.
            let mut all: Vec<(u64, String)> = self
                .by_uid
                .values()
                .map(|e| (e.last_ms, e.uid.clone()))
                .collect();
            all.sort();
            for (_, uid) in all.iter().take(self.by_uid.len() - self.keep) {
                self.by_uid.remove(uid);
            }
        }
        true
    }

    pub fn delete(&mut self, e: &Event) -> bool {
        let uid = of(e).uid;
        self.by_uid.remove(&uid).is_some()
    }

    /// An empty copy for the same release and bound.
    fn emptied(&self) -> RecentEvents {
        RecentEvents::new(&self.release, self.keep)
    }

    /// Oldest first.
    pub fn list(&self) -> Vec<ClusterEvent> {
        let mut v: Vec<ClusterEvent> = self.by_uid.values().cloned().collect();
        v.sort_by(|a, b| a.last_ms.cmp(&b.last_ms).then_with(|| a.uid.cmp(&b.uid)));
        v
    }
}

/// Watches the namespace's Events and calls `report` with the release's newest `keep`
/// whenever they change (bursts coalesced), until `report` returns false. Re-lists after
/// errors with back-off, as kube-runtime's watcher does; `on_error` hears why.
pub async fn follow(
    c: &Cluster,
    release: &str,
    keep: usize,
    mut report: impl FnMut(Vec<ClusterEvent>) -> bool,
    mut on_error: impl FnMut(String),
) {
    let api: Api<Event> = Api::namespaced(c.client.clone(), &c.namespace);
    let stream = watcher(api, super::watch_config()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut recent = RecentEvents::new(release, keep);
    // During a re-list, the copy being filled (only the release's newest `keep`, never the
    // whole namespace's list); it replaces `recent` when the list is done.
    let mut relist: Option<RecentEvents> = None;
    loop {
        let changed = match stream.next().await {
            None => return,
            Some(Err(e)) => {
                on_error(e.to_string());
                false
            }
            Some(Ok(ev)) => fold(ev, &mut recent, &mut relist),
        };
        if !changed || relist.is_some() {
            continue;
        }
        // Coalesce a burst (a rollout starts many pods at once) into one report.
        let burst = tokio::time::sleep(std::time::Duration::from_millis(150));
        tokio::pin!(burst);
        loop {
            tokio::select! {
                _ = &mut burst => break,
                more = stream.next() => match more {
                    None => break,
                    Some(Err(e)) => on_error(e.to_string()),
                    Some(Ok(ev)) => {
                        fold(ev, &mut recent, &mut relist);
                        if relist.is_some() {
                            break;
                        }
                    }
                },
            }
        }
        if relist.is_none() && !report(recent.list()) {
            return;
        }
    }
}

/// Folds one watcher event into `recent`, or during a re-list into its next copy; true when
/// what `recent` holds changed.
fn fold(
    ev: watcher::Event<Event>,
    recent: &mut RecentEvents,
    relist: &mut Option<RecentEvents>,
) -> bool {
    match ev {
        watcher::Event::Init => {
            *relist = Some(recent.emptied());
            false
        }
        watcher::Event::InitApply(e) => {
            if let Some(r) = relist {
                r.apply(&e);
            }
            false
        }
        watcher::Event::InitDone => match relist.take() {
            Some(r) => {
                *recent = r;
                true
            }
            None => false,
        },
        watcher::Event::Apply(e) => recent.apply(&e),
        watcher::Event::Delete(e) => recent.delete(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(uid: &str, name: &str, reason: &str, secs: i64) -> Event {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("{name}.{uid}"), "uid": uid},
            "involvedObject": {"kind": "Pod", "name": name},
            "reason": reason, "message": "m", "type": "Normal",
            "lastTimestamp": k8s_openapi::jiff::Timestamp::from_second(1_700_000_000 + secs)
                .expect("time").to_string(),
        }))
        .expect("event")
    }

    #[test]
    fn only_the_releases_objects_count() {
        assert!(concerns("web", "web"));
        assert!(concerns("web-canary-6f5c-abcde", "web"));
        assert!(!concerns("webhook-1", "web"));
        assert!(!concerns("checkout-1", "web"));
    }

    #[test]
    fn keeps_the_newest_few_oldest_first() {
        let mut r = RecentEvents::new("web", 2);
        assert!(r.apply(&event("a", "web-1", "Scheduled", 1)));
        assert!(!r.apply(&event("x", "checkout-1", "Scheduled", 2)));
        assert!(r.apply(&event("b", "web-1", "Pulled", 3)));
        assert!(r.apply(&event("c", "web-1", "Started", 4)));
        let reasons: Vec<String> = r.list().into_iter().map(|e| e.reason).collect();
        assert_eq!(reasons, ["Pulled", "Started"]);
        assert!(r.delete(&event("c", "web-1", "Started", 4)));
        assert_eq!(r.list().len(), 1);
    }

    #[test]
    fn a_relist_fills_a_fresh_copy_and_replaces_the_old_one_when_done() {
        let mut recent = RecentEvents::new("web", 2);
        let mut relist = None;
        assert!(fold(
            watcher::Event::Apply(event("old", "web-1", "Killing", 1)),
            &mut recent,
            &mut relist
        ));
        assert!(!fold(watcher::Event::Init, &mut recent, &mut relist));
        for (uid, name, secs) in [("a", "web-1", 2), ("x", "checkout-1", 3), ("b", "web-2", 4)] {
            let e = event(uid, name, "Started", secs);
            assert!(!fold(
                watcher::Event::InitApply(e),
                &mut recent,
                &mut relist
            ));
        }
        let c = event("c", "web-3", "Started", 5);
        assert!(!fold(
            watcher::Event::InitApply(c),
            &mut recent,
            &mut relist
        ));
        assert_eq!(
            recent.list().len(),
            1,
            "the old copy serves until the list is done"
        );
        assert!(fold(watcher::Event::InitDone, &mut recent, &mut relist));
        let uids: Vec<String> = recent.list().into_iter().map(|e| e.uid).collect();
        assert_eq!(
            uids,
            ["b", "c"],
            "the release's newest two; the old one gone"
        );
        assert!(relist.is_none());
    }
}
