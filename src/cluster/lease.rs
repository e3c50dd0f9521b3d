//! One operator per release: a `coordination.k8s.io/v1` Lease `helmdeck-<release>` names the
//! holder (user@host, pid) and is renewed while a run is driven. Another operator is refused
//! (exit 4) until it is released or expires; an expired lease is taken over with a warning.
//! Writes use the Lease's resourceVersion, so two racing operators cannot both win.

use super::{with_retry, Cluster, ClusterError};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};

pub const LEASE_SECONDS: i32 = 30;

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
    /// Held before by the same operator (another of their terminals, or a crashed run).
    Reentered,
    /// Expired lease of someone else, taken over.
    TookOver {
        previous: String,
    },
}

fn now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}

fn expired(l: &Lease) -> bool {
    let Some(spec) = &l.spec else { return true };
    let Some(renew) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else {
        return true;
    };
    let secs = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
    renew.0.as_second() + secs < now().as_second()
}

fn holder(l: &Lease) -> String {
    l.spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .unwrap_or_default()
}

fn spec_for(op: &Operator, acquired: Option<MicroTime>) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(op.identity()),
        lease_duration_seconds: Some(LEASE_SECONDS),
        acquire_time: Some(acquired.unwrap_or(MicroTime(now()))),
        renew_time: Some(MicroTime(now())),
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

/// Takes (or renews) the lease of `release` for `op`.
pub async fn acquire(c: &Cluster, release: &str, op: &Operator) -> Result<Taken, ClusterError> {
    let api: Api<Lease> = Api::namespaced(c.client.clone(), &c.namespace);
    let name = lease_name(release);
    let what = format!("Lease {name}");
    match with_retry(&c.server, &what, || api.get(&name)).await {
        Err(ClusterError::NotFound { .. }) => {
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
                spec: Some(spec_for(op, None)),
            };
            let pp = PostParams::default();
            match with_retry(&c.server, &what, || api.create(&pp, &lease)).await {
                Ok(_) => Ok(Taken::Fresh),
                Err(ClusterError::Conflict { .. }) => Err(locked(c, release, &api, &name).await),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
        Ok(existing) => {
            let h = holder(&existing);
            let mine = same_operator(&h, op);
            if !mine && !h.is_empty() && !expired(&existing) {
                return Err(locked_from(release, &existing));
            }
            let mut updated = existing.clone();
            let acquired = if mine {
                existing.spec.as_ref().and_then(|s| s.acquire_time.clone())
            } else {
                None
            };
            updated.spec = Some(spec_for(op, acquired));
            let pp = PostParams::default();
            match with_retry(&c.server, &what, || api.replace(&name, &pp, &updated)).await {
                Ok(_) if mine => Ok(Taken::Reentered),
                Ok(_) if h.is_empty() => Ok(Taken::Fresh),
                Ok(_) => Ok(Taken::TookOver { previous: h }),
                Err(ClusterError::Conflict { .. }) => Err(locked(c, release, &api, &name).await),
                Err(e) => Err(e),
            }
        }
    }
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

async fn locked(c: &Cluster, release: &str, api: &Api<Lease>, name: &str) -> ClusterError {
    match with_retry(&c.server, name, || api.get(name)).await {
        Ok(l) => locked_from(release, &l),
        Err(e) => e,
    }
}

/// Renews the lease; fails when someone else took it.
pub async fn renew(c: &Cluster, release: &str, op: &Operator) -> Result<(), ClusterError> {
    acquire(c, release, op).await.map(|_| ())
}

/// Releases the lease if `op` holds it.
pub async fn release(c: &Cluster, release: &str, op: &Operator) -> Result<(), ClusterError> {
    let api: Api<Lease> = Api::namespaced(c.client.clone(), &c.namespace);
    let name = lease_name(release);
    match with_retry(&c.server, &name, || api.get(&name)).await {
        Ok(l) if same_operator(&holder(&l), op) => {
            let mut updated = l.clone();
            if let Some(s) = updated.spec.as_mut() {
                s.holder_identity = None;
                s.renew_time = None;
                s.acquire_time = None;
            }
            let pp = PostParams::default();
            match with_retry(&c.server, &name, || api.replace(&name, &pp, &updated)).await {
                Ok(_) | Err(ClusterError::Conflict { .. }) | Err(ClusterError::NotFound { .. }) => {
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        Ok(_) | Err(ClusterError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Who holds the lease now (None when free or expired).
pub async fn holder_of(
    c: &Cluster,
    release: &str,
) -> Result<Option<(String, String)>, ClusterError> {
    let api: Api<Lease> = Api::namespaced(c.client.clone(), &c.namespace);
    let name = lease_name(release);
    match with_retry(&c.server, &name, || api.get(&name)).await {
        Ok(l) if !holder(&l).is_empty() && !expired(&l) => match locked_from(release, &l) {
            ClusterError::Locked { holder, since, .. } => Ok(Some((holder, since))),
            _ => Ok(None),
        },
        Ok(_) | Err(ClusterError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
