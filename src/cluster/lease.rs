//! One operator per release: a `coordination.k8s.io/v1` Lease `helmdeck-<release>` names the
//! holder (`user@host (pid N)`) and is renewed by a keeper task while a run is driven. Every
//! write to the Lease is a compare-and-swap on its resourceVersion.
//!
//! Expiry is judged the way client-go's leader election judges it: by the observer's own
//! clock since it last saw the Lease change, never by comparing the holder's `renewTime`
//! with this machine's clock (laptop clocks differ). A lease whose `renewTime` looks fresh
//! is refused at once (exit 4); one that looks stale is watched for a whole lease duration
//! and taken over only if nobody renewed it meanwhile. The keeper's term (see `fence`) ends
//! a margin before that, so the old holder stops writing before anyone may take over.

use super::fence::{self, Fence, Lost, TermState, Timings};
use super::{Cluster, ClusterError};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Who drives runs: `user@host`, plus the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub user_host: String,
    pub pid: u32,
}

impl Operator {
    pub fn current() -> Operator {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "localhost".into());
        Operator {
            user_host: format!("{user}@{host}"),
            pid: std::process::id(),
        }
    }

    pub fn identity(&self) -> String {
        format!("{} (pid {})", self.user_host, self.pid)
    }
}

pub fn lease_name(release: &str) -> String {
    format!("helmdeck-{release}")
}

/// What happened when taking the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    Fresh,
    /// Held before by this very process (the console acting again on a release it drives).
    Reentered,
    /// The lease of someone else, taken over: it was not renewed for a whole lease duration
    /// (or its process, of this operator on this host, is gone).
    TookOver {
        previous: String,
    },
}

fn now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}

fn holder(l: &Lease) -> String {
    l.spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .unwrap_or_default()
}

fn duration_of(l: &Lease) -> Duration {
    let secs = l
        .spec
        .as_ref()
        .and_then(|s| s.lease_duration_seconds)
        .unwrap_or(fence::DEFAULT_LEASE_SECONDS as i32)
        .max(1);
    Duration::from_secs(secs as u64)
}

/// How long ago the holder renewed, by *its* clock against ours: only a hint (clocks
/// differ), used to decide between refusing at once and watching the lease.
fn renewed_ago(l: &Lease) -> Option<i64> {
    let spec = l.spec.as_ref()?;
    let renew = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?;
    Some(now().as_second() - renew.0.as_second())
}

/// Whether the lease looks alive by the holder's `renewTime`: renewed within its duration
/// (and not absurdly far in our future, which only a wrong clock explains).
fn looks_fresh(l: &Lease) -> bool {
    let d = duration_of(l).as_secs() as i64;
    match renewed_ago(l) {
        Some(ago) => ago <= d && ago >= -d,
        None => false,
    }
}

fn rv(l: &Lease) -> String {
    l.metadata.resource_version.clone().unwrap_or_default()
}

fn spec_for(
    op: &Operator,
    t: &Timings,
    acquired: Option<MicroTime>,
    transitions: Option<i32>,
) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(op.identity()),
        lease_duration_seconds: Some(t.duration.as_secs() as i32),
        acquire_time: Some(acquired.unwrap_or(MicroTime(now()))),
        renew_time: Some(MicroTime(now())),
        lease_transitions: transitions,
        ..Default::default()
    }
}

/// Whether the process named in a lease held by this operator on this host still runs
/// (a holder on another host is assumed alive until its lease expires).
pub fn holder_alive(holder: &str, op: &Operator) -> bool {
    if !same_operator(holder, op) {
        return true;
    }
    let pid = holder
        .rsplit("(pid ")
        .next()
        .and_then(|p| p.trim_end_matches(')').trim().parse::<u32>().ok());
    match pid {
        Some(pid) if pid == op.pid => true,
        Some(pid) => {
            std::path::Path::new(&format!("/proc/{pid}")).exists()
                || !std::path::Path::new("/proc/self").exists()
        }
        None => true,
    }
}

/// Whether a lease holder is the same operator (same user@host), whichever process.
pub fn same_operator(holder: &str, op: &Operator) -> bool {
    holder.split(" (pid").next() == Some(op.user_host.as_str())
}

fn locked_from(release: &str, l: &Lease) -> ClusterError {
    let since = l
        .spec
        .as_ref()
        .and_then(|s| s.acquire_time.as_ref())
        .map(|t| t.0.to_string())
        .unwrap_or_else(|| "an unknown time".into());
    ClusterError::Locked {
        release: release.to_string(),
        holder: holder(l),
        since,
    }
}

fn lost_from(l: &Lease) -> Lost {
    Lost {
        holder: holder(l),
        since: l
            .spec
            .as_ref()
            .and_then(|s| s.acquire_time.as_ref())
            .map(|t| t.0.to_string())
            .unwrap_or_default(),
    }
}

fn leases(c: &Cluster) -> Api<Lease> {
    Api::namespaced(c.client.clone(), &c.namespace)
}

/// A lease held by this process: the fence its writes go through and the keeper task that
/// renews it. Dropping it stops the keeper (the lease then lapses on its own); `release`
/// frees it at once.
pub struct Held {
    pub fence: Fence,
    lease: Arc<Mutex<Lease>>,
    keeper: tokio::task::JoinHandle<()>,
    release: String,
    op: Operator,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.keeper.abort();
        if !matches!(self.fence.state(), TermState::Lost(_)) {
            self.fence.set(TermState::Ended);
        }
    }
}

impl Held {
    /// Frees the lease if this process still holds it (compare-and-swap: a lease someone
    /// else took meanwhile is left alone).
    pub async fn release(self, c: &Cluster) -> Result<(), ClusterError> {
        self.keeper.abort();
        if matches!(self.fence.state(), TermState::Lost(_)) {
            return Ok(());
        }
        self.fence.set(TermState::Ended);
        let api = leases(c);
        let name = lease_name(&self.release);
        let mut current = self.lease.lock().map(|l| l.clone()).ok();
        for _ in 0..3 {
            let Some(l) = current.take() else { break };
            if holder(&l) != self.op.identity() {
                return Ok(());
            }
            let mut freed = l.clone();
            if let Some(s) = freed.spec.as_mut() {
                s.holder_identity = None;
                s.renew_time = None;
                s.acquire_time = None;
            }
            let pp = PostParams::default();
            match c.call(&name, || api.replace(&name, &pp, &freed)).await {
                Ok(_) | Err(ClusterError::NotFound { .. }) => return Ok(()),
                Err(ClusterError::Conflict { .. }) => {
                    current = match c.call(&name, || api.get(&name)).await {
                        Ok(l) => Some(l),
                        Err(ClusterError::NotFound { .. }) => return Ok(()),
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Takes the lease of `release` for `op` and starts its keeper. `notice` hears what the
/// taking waits for (watching a stale lease before a take-over).
pub async fn take(
    c: &Cluster,
    release: &str,
    op: &Operator,
    notice: &(dyn Fn(String) + Send + Sync),
) -> Result<(Held, Taken), ClusterError> {
    let t = Timings::current();
    let (lease, taken, sent, sent_wall) = acquire(c, release, op, &t, notice).await?;
    let fence = Fence::new(release, t.term_end(sent), sent_wall, sent);
    let lease = Arc::new(Mutex::new(lease));
    let keeper = tokio::spawn(keep(
        c.clone(),
        release.to_string(),
        op.clone(),
        fence.clone(),
        lease.clone(),
        t,
    ));
    Ok((
        Held {
            fence,
            lease,
            keeper,
            release: release.to_string(),
            op: op.clone(),
        },
        taken,
    ))
}

/// The compare-and-swap loop of taking the lease: returns the written Lease, how it was
/// taken, and when the winning request was sent (on both clocks).
async fn acquire(
    c: &Cluster,
    release: &str,
    op: &Operator,
    t: &Timings,
    notice: &(dyn Fn(String) + Send + Sync),
) -> Result<(Lease, Taken, Instant, SystemTime), ClusterError> {
    let api = leases(c);
    let name = lease_name(release);
    let what = format!("Lease {name}");
    let pp = PostParams::default();
    for _ in 0..10 {
        let existing = match c.call(&what, || api.get(&name)).await {
            Ok(l) => Some(l),
            Err(ClusterError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let Some(existing) = existing else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(c.namespace.clone()),
                    labels: Some(
                        [(
                            "app.kubernetes.io/managed-by".to_string(),
                            "helmdeck".to_string(),
                        )]
                        .into(),
                    ),
                    ..Default::default()
                },
                spec: Some(spec_for(op, t, None, Some(0))),
            };
            let (sent, wall) = (Instant::now(), SystemTime::now());
            match c.call(&what, || api.create(&pp, &lease)).await {
                Ok(l) => return Ok((l, Taken::Fresh, sent, wall)),
                Err(ClusterError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        };
        let h = holder(&existing);
        let spec = existing.spec.clone().unwrap_or_default();
        let transitions = spec.lease_transitions.unwrap_or(0);
        let taken = if h.is_empty() {
            Taken::Fresh
        } else if h == op.identity() {
            Taken::Reentered
        } else if same_operator(&h, op) && !holder_alive(&h, op) {
            // This operator's process on this host is gone: it cannot write any more.
            Taken::TookOver {
                previous: h.clone(),
            }
        } else if looks_fresh(&existing) {
            return Err(locked_from(release, &existing));
        } else {
            match watch_until_lapsed(c, &api, &name, &existing, notice).await? {
                true => Taken::TookOver {
                    previous: h.clone(),
                },
                // Renewed or changed meanwhile: look again.
                false => continue,
            }
        };
        let (acquired, transitions) = match &taken {
            Taken::Reentered => (spec.acquire_time.clone(), transitions),
            Taken::Fresh => (None, transitions),
            Taken::TookOver { .. } => (None, transitions + 1),
        };
        let mut updated = existing.clone();
        updated.spec = Some(spec_for(op, t, acquired, Some(transitions)));
        let (sent, wall) = (Instant::now(), SystemTime::now());
        match c.call(&what, || api.replace(&name, &pp, &updated)).await {
            Ok(l) => return Ok((l, taken, sent, wall)),
            Err(ClusterError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    // Ten lost races in a row: someone else is taking it right now.
    match c.call(&what, || api.get(&name)).await {
        Ok(l) => Err(locked_from(release, &l)),
        Err(e) => Err(e),
    }
}

/// Watches a lease that looks stale for its whole duration on this process's clock:
/// true when nobody changed it meanwhile (it may be taken over), false when it changed.
async fn watch_until_lapsed(
    c: &Cluster,
    api: &Api<Lease>,
    name: &str,
    seen: &Lease,
    notice: &(dyn Fn(String) + Send + Sync),
) -> Result<bool, ClusterError> {
    let d = duration_of(seen);
    let ago = renewed_ago(seen)
        .map(|s| format!("{s} s ago by its clock"))
        .unwrap_or_else(|| "at an unknown time".into());
    notice(format!(
        "the lease of {} was last renewed {ago}; taking it over if nobody renews it for {} s",
        holder(seen),
        d.as_secs()
    ));
    let until = Instant::now() + d;
    let step = (d / 10).clamp(Duration::from_millis(200), Duration::from_secs(1));
    while Instant::now() < until {
        tokio::time::sleep(step.min(until.saturating_duration_since(Instant::now()))).await;
        match c.call(name, || api.get(name)).await {
            Ok(l) if rv(&l) == rv(seen) => {}
            Ok(_) | Err(ClusterError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Why one renewal failed.
enum Renewal {
    Lost(Lost),
    Failed(String),
}

/// The keeper: renews every `renew_every` (and at once when a write asks for a
/// confirmation), moving the fence's term forward from each renewal's send time.
async fn keep(
    c: Cluster,
    release: String,
    op: Operator,
    fence: Fence,
    lease: Arc<Mutex<Lease>>,
    t: Timings,
) {
    let mut failing_since: Option<Instant> = None;
    loop {
        let wait = if failing_since.is_some() {
            Duration::from_millis(500).min(t.renew_every)
        } else {
            t.renew_every
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = fence.recheck_requested() => {}
        }
        if matches!(fence.state(), TermState::Lost(_) | TermState::Ended) {
            return;
        }
        let (sent, wall) = (Instant::now(), SystemTime::now());
        match renew_once(&c, &release, &op, &fence, &lease, &t).await {
            Ok(()) => {
                failing_since = None;
                fence.set(TermState::Valid {
                    until: t.term_end(sent),
                    mono: sent,
                    wall,
                });
            }
            Err(Renewal::Lost(l)) => {
                tracing::warn!(release, holder = %l.holder, "lease lost");
                fence.set(TermState::Lost(l));
                return;
            }
            Err(Renewal::Failed(why)) => {
                let since = *failing_since.get_or_insert(sent);
                tracing::warn!(release, %why, "lease renewal failed");
                let valid = matches!(fence.state(), TermState::Valid { until, .. } if Instant::now() < until);
                if !valid {
                    fence.set(TermState::Confirming {
                        since,
                        why: format!("cluster unreachable, retrying: {why}"),
                    });
                }
            }
        }
    }
}

/// One renewal: a compare-and-swap of the Lease this process last wrote. A conflict is
/// looked into: the lease is still this process's (adopted), free while the run's record
/// is unchanged (taken again), or someone else's (lost).
async fn renew_once(
    c: &Cluster,
    release: &str,
    op: &Operator,
    fence: &Fence,
    lease: &Arc<Mutex<Lease>>,
    t: &Timings,
) -> Result<(), Renewal> {
    let api = leases(c);
    let name = lease_name(release);
    let Some(mine) = lease.lock().ok().map(|l| l.clone()) else {
        return Err(Renewal::Failed("lease state poisoned".into()));
    };
    let acquired = mine.spec.as_ref().and_then(|s| s.acquire_time.clone());
    let transitions = mine.spec.as_ref().and_then(|s| s.lease_transitions);
    let mut next = mine.clone();
    next.spec = Some(spec_for(op, t, acquired.clone(), transitions));
    let pp = PostParams::default();
    let once = |l: Lease| {
        let api = api.clone();
        let name = name.clone();
        let pp = pp.clone();
        async move {
            match tokio::time::timeout(t.renew_timeout, api.replace(&name, &pp, &l)).await {
                Ok(r) => r.map_err(|e| super::classify(&c.server, &name, e)),
                Err(_) => Err(ClusterError::NoAnswer {
                    server: c.server.clone(),
                    secs: t.renew_timeout.as_secs().max(1),
                }),
            }
        }
    };
    let store = |l: Lease| {
        if let Ok(mut g) = lease.lock() {
            *g = l;
        }
    };
    match once(next).await {
        Ok(l) => {
            store(l);
            Ok(())
        }
        Err(ClusterError::Conflict { .. }) | Err(ClusterError::NotFound { .. }) => {
            let current = match tokio::time::timeout(t.renew_timeout, api.get_opt(&name)).await {
                Ok(Ok(l)) => l,
                Ok(Err(e)) => return Err(Renewal::Failed(e.to_string())),
                Err(_) => return Err(Renewal::Failed("no answer".into())),
            };
            let h = current.as_ref().map(holder).unwrap_or_default();
            if h == op.identity() {
                // Written by this very process meanwhile (a console acting again): adopt it.
                let Some(current) = current else {
                    return Err(Renewal::Failed("lease vanished".into()));
                };
                let mut again = current.clone();
                again.spec = Some(spec_for(op, t, acquired, transitions));
                return match once(again).await {
                    Ok(l) => {
                        store(l);
                        Ok(())
                    }
                    Err(e) => Err(Renewal::Failed(e.to_string())),
                };
            }
            if !h.is_empty() {
                return Err(Renewal::Lost(lost_from(current.as_ref().unwrap_or(&mine))));
            }
            // Free (released by someone who took it meanwhile, or deleted): taken up again
            // only if the run is as this process left it.
            if let Some(changed) = record_changed(c, fence).await? {
                return Err(Renewal::Lost(changed));
            }
            let fresh = match current {
                Some(l) => {
                    let mut l = l.clone();
                    let tr = l
                        .spec
                        .as_ref()
                        .and_then(|s| s.lease_transitions)
                        .unwrap_or(0);
                    l.spec = Some(spec_for(op, t, None, Some(tr + 1)));
                    tokio::time::timeout(t.renew_timeout, api.replace(&name, &pp, &l)).await
                }
                None => {
                    let mut l = mine.clone();
                    l.metadata.resource_version = None;
                    l.metadata.uid = None;
                    l.spec = Some(spec_for(op, t, None, Some(0)));
                    tokio::time::timeout(t.renew_timeout, api.create(&pp, &l)).await
                }
            };
            match fresh {
                Ok(Ok(l)) => {
                    tracing::warn!(release, "lease lapsed and was free: taken again");
                    store(l);
                    Ok(())
                }
                Ok(Err(e)) => Err(Renewal::Failed(e.to_string())),
                Err(_) => Err(Renewal::Failed("no answer".into())),
            }
        }
        Err(e) => Err(Renewal::Failed(e.to_string())),
    }
}

/// Whether the run's record changed since this term last wrote it: the loss to report, or
/// None when it is unchanged (or none was written yet).
async fn record_changed(c: &Cluster, fence: &Fence) -> Result<Option<Lost>, Renewal> {
    let Some((name, mine)) = fence.record() else {
        return Ok(None);
    };
    let api: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(c.client.clone(), &c.namespace);
    match api.get_metadata_opt(&name).await {
        Ok(Some(m)) if m.metadata.resource_version.as_deref() == Some(mine.as_str()) => Ok(None),
        Ok(_) => Ok(Some(Lost {
            holder: "another operator (the lease was taken and released meanwhile)".into(),
            since: String::new(),
        })),
        Err(e) => Err(Renewal::Failed(e.to_string())),
    }
}

/// Who holds the lease now (None when free or when its `renewTime` looks expired) — for
/// display; taking the lease judges expiry by observation instead.
pub async fn holder_of(
    c: &Cluster,
    release: &str,
) -> Result<Option<(String, String)>, ClusterError> {
    let api = leases(c);
    let name = lease_name(release);
    match c.call(&name, || api.get(&name)).await {
        Ok(l) if !holder(&l).is_empty() && looks_fresh(&l) => match locked_from(release, &l) {
            ClusterError::Locked { holder, since, .. } => Ok(Some((holder, since))),
            _ => Ok(None),
        },
        Ok(_) | Err(ClusterError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
