//! Fencing: a driver sends a write only inside its lease term. The term is judged on this
//! process's monotonic clock from the moment the last successful renewal was *sent*:
//! `sent + lease duration − margin`. Past it — or after a jump of the wall clock ahead of
//! the monotonic one (a laptop that slept) — every write waits until the lease keeper has
//! confirmed the term again with the API server, or learnt that it was lost.
//!
//! A write checks the term synchronously right before its request is first polled and is
//! given up at the term's end, so a process frozen anywhere (SIGSTOP, suspend) cannot land a
//! write after another operator may have taken the lease over: observers wait a full lease
//! duration on their own clock, the margin more than this process allows itself.

use super::ClusterError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{watch, Notify};

/// Lease timings, all derived from the lease duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// What the Lease says: observers take over after this long without a change.
    pub duration: Duration,
    /// How often the keeper renews.
    pub renew_every: Duration,
    /// How long one renewal request may take (well under half the lease).
    pub renew_timeout: Duration,
    /// Kept back from the end of the term for requests in flight and clock drift.
    pub margin: Duration,
}

/// The default lease duration in seconds (`HELMDECK_LEASE_SECONDS` changes it, 3–3600).
pub const DEFAULT_LEASE_SECONDS: u64 = 30;

impl Timings {
    pub fn of(duration: Duration) -> Timings {
        Timings {
            duration,
            renew_every: duration / 6,
            renew_timeout: duration / 6,
            margin: duration / 3,
        }
    }

    /// The timings this process uses for the leases it takes.
    pub fn current() -> Timings {
        let secs = std::env::var("HELMDECK_LEASE_SECONDS")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(|s| s.clamp(3, 3600))
            .unwrap_or(DEFAULT_LEASE_SECONDS);
        Timings::of(Duration::from_secs(secs))
    }

    /// How long a term lasts after a renewal sent at `sent`.
    pub fn term_end(&self, sent: Instant) -> Instant {
        sent + self.duration - self.margin
    }
}

/// Where the term stands.
#[derive(Debug, Clone)]
pub enum TermState {
    /// Writes may be sent until `until`.
    Valid {
        until: Instant,
        /// Both clocks when the term was confirmed, to see a suspend.
        mono: Instant,
        wall: SystemTime,
    },
    /// The term must be confirmed before the next write (its end passed, the clocks
    /// jumped, or the API server could not be reached): writes wait.
    Confirming { since: Instant, why: String },
    /// Someone else holds the lease, or changed the run: nothing more is written.
    Lost(Lost),
    /// The lease was released by this process: nothing more is written under it.
    Ended,
}

/// Who took the lease (or the run) and what the run is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    pub holder: String,
    pub since: String,
}

/// How far the wall clock may run ahead of the monotonic one before a suspend is assumed.
const JUMP: Duration = Duration::from_secs(2);

/// Whether the wall clock moved ahead of the monotonic clock since `(mono, wall)`: the
/// process (or machine) was suspended, and the monotonic deadline cannot be trusted.
fn jumped(mono: Instant, wall: SystemTime) -> bool {
    let mono_elapsed = mono.elapsed();
    match SystemTime::now().duration_since(wall) {
        Ok(wall_elapsed) => wall_elapsed > mono_elapsed + JUMP,
        // The wall clock went backwards: a clock change, checked again to be safe.
        Err(_) => true,
    }
}

struct Shared {
    release: String,
    state: watch::Sender<TermState>,
    recheck: Notify,
    /// The last record this term wrote: (Secret name, resourceVersion). A lapsed term is
    /// taken up again only while the run's record is unchanged.
    record: Mutex<Option<(String, String)>>,
}

/// The fence of one lease term, shared by the keeper and every write under it.
#[derive(Clone)]
pub struct Fence {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fence")
            .field("release", &self.shared.release)
            .field("state", &*self.shared.state.borrow())
            .finish()
    }
}

/// Leave to send one request, until `until`.
#[derive(Debug, Clone, Copy)]
pub struct Permit {
    until: Instant,
}

impl Permit {
    /// Whether the term still holds at this instant.
    pub fn holds(&self) -> bool {
        Instant::now() < self.until
    }

    pub fn remaining(&self) -> Duration {
        self.until.saturating_duration_since(Instant::now())
    }
}

impl Fence {
    /// A term confirmed by a renewal (or acquisition) sent at `sent`.
    pub fn new(release: &str, until: Instant, sent_wall: SystemTime, sent: Instant) -> Fence {
        let (state, _) = watch::channel(TermState::Valid {
            until,
            mono: sent,
            wall: sent_wall,
        });
        Fence {
            shared: Arc::new(Shared {
                release: release.to_string(),
                state,
                recheck: Notify::new(),
                record: Mutex::new(None),
            }),
        }
    }

    pub fn release(&self) -> &str {
        &self.shared.release
    }

    pub fn state(&self) -> TermState {
        self.shared.state.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<TermState> {
        self.shared.state.subscribe()
    }

    /// Sets the state (the keeper's side).
    pub fn set(&self, s: TermState) {
        self.shared.state.send_replace(s);
    }

    /// Marks the term as needing confirmation and wakes the keeper, unless it is lost or
    /// ended already.
    pub fn confirm(&self, why: &str) {
        self.shared.state.send_if_modified(|s| match s {
            TermState::Valid { .. } => {
                *s = TermState::Confirming {
                    since: Instant::now(),
                    why: why.to_string(),
                };
                true
            }
            _ => false,
        });
        self.shared.recheck.notify_one();
    }

    /// Resolves when the keeper is asked for a confirmation.
    pub async fn recheck_requested(&self) {
        self.shared.recheck.notified().await
    }

    /// The record last written under this term.
    pub fn record(&self) -> Option<(String, String)> {
        self.shared.record.lock().ok().and_then(|r| r.clone())
    }

    pub fn wrote_record(&self, name: &str, resource_version: &str) {
        if let Ok(mut r) = self.shared.record.lock() {
            *r = Some((name.to_string(), resource_version.to_string()));
        }
    }

    /// Leave to send one write: at once while the term holds, else after the keeper has
    /// confirmed it. Fails when the lease was lost or released.
    pub async fn permit(&self) -> Result<Permit, ClusterError> {
        let mut rx = self.shared.state.subscribe();
        loop {
            let st = rx.borrow_and_update().clone();
            match st {
                TermState::Valid { until, mono, wall } => {
                    if Instant::now() < until && !jumped(mono, wall) {
                        return Ok(Permit { until });
                    }
                    let why = if Instant::now() >= until {
                        "the lease term ran out before it was renewed"
                    } else {
                        "the clock jumped (the process or machine was suspended)"
                    };
                    self.confirm(why);
                }
                TermState::Confirming { .. } => self.shared.recheck.notify_one(),
                TermState::Lost(l) => return Err(self.lost_error(&l)),
                TermState::Ended => {
                    return Err(ClusterError::LeaseLost {
                        release: self.shared.release.clone(),
                        holder: "nobody (this process released it)".into(),
                        since: String::new(),
                        run: None,
                    })
                }
            }
            if rx.changed().await.is_err() {
                return Err(ClusterError::LeaseLost {
                    release: self.shared.release.clone(),
                    holder: "nobody (the lease keeper stopped)".into(),
                    since: String::new(),
                    run: None,
                });
            }
        }
    }

    fn lost_error(&self, l: &Lost) -> ClusterError {
        ClusterError::LeaseLost {
            release: self.shared.release.clone(),
            holder: l.holder.clone(),
            since: l.since.clone(),
            run: None,
        }
    }

    /// Resolves with the loss once the lease is lost (never while it is held).
    pub async fn lost(&self) -> Lost {
        let mut rx = self.shared.state.subscribe();
        loop {
            if let TermState::Lost(l) = &*rx.borrow_and_update() {
                return l.clone();
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

/// Test hook: `HELMDECK_FAILPOINT=stop-before-write:WHAT[#N]` stops this process (SIGSTOP)
/// once, right after its lease term was checked and before the N-th (default first) write
/// described exactly as WHAT (`Deployment ns/name`, `record helmdeck.v1.web.r2`) is sent —
/// as a laptop lid closing between a lease check and the write that follows it would. The
/// fencing tests wake it with SIGCONT. Unset, this costs one environment lookup per process.
pub fn failpoint_before_write(what: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::OnceLock;
    static TARGET: OnceLock<Option<(String, usize)>> = OnceLock::new();
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let target = TARGET.get_or_init(|| {
        let v = std::env::var("HELMDECK_FAILPOINT").ok()?;
        let spec = v.strip_prefix("stop-before-write:")?;
        Some(match spec.rsplit_once('#') {
            Some((w, n)) if n.parse::<usize>().is_ok() => (w.to_string(), n.parse().unwrap_or(1)),
            _ => (spec.to_string(), 1),
        })
    });
    if let Some((t, n)) = target {
        if what == t && SEEN.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            tracing::warn!(what, "failpoint: stopping this process before the write");
            stop_self();
        }
    }
}

#[cfg(unix)]
fn stop_self() {
    // SAFETY: raise(2) with a valid signal number has no memory-safety preconditions.
    unsafe {
        libc::raise(libc::SIGSTOP);
    }
}

#[cfg(not(unix))]
fn stop_self() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_keep_renewals_well_inside_the_term() {
        let t = Timings::of(Duration::from_secs(30));
        assert_eq!(t.renew_every, Duration::from_secs(5));
        assert_eq!(t.margin, Duration::from_secs(10));
        assert!(t.renew_timeout * 2 < t.duration);
        let now = Instant::now();
        assert_eq!(t.term_end(now), now + Duration::from_secs(20));
    }

    #[tokio::test]
    async fn a_valid_term_permits_at_once_and_a_lapsed_one_waits_for_confirmation() {
        let now = Instant::now();
        let f = Fence::new("web", now + Duration::from_secs(60), SystemTime::now(), now);
        let p = f.permit().await.expect("valid");
        assert!(p.holds());
        // Lapsed: the permit waits for the keeper.
        f.set(TermState::Valid {
            until: now,
            mono: now,
            wall: SystemTime::now(),
        });
        let waiting = {
            let f = f.clone();
            tokio::spawn(async move { f.permit().await })
        };
        tokio::time::timeout(Duration::from_secs(2), f.recheck_requested())
            .await
            .expect("the keeper is asked to confirm");
        assert!(matches!(f.state(), TermState::Confirming { .. }));
        f.set(TermState::Lost(Lost {
            holder: "bob@host (pid 2)".into(),
            since: "2026-12-07T00:00:00Z".into(),
        }));
        let err = waiting.await.expect("join").expect_err("lost");
        assert!(
            matches!(err, ClusterError::LeaseLost { ref holder, .. } if holder == "bob@host (pid 2)"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_wall_clock_jump_forces_a_confirmation() {
        let now = Instant::now();
        // The wall clock says 60 s passed since the term was confirmed, the monotonic
        // clock almost none: the process was suspended.
        let f = Fence::new(
            "web",
            now + Duration::from_secs(60),
            SystemTime::now() - Duration::from_secs(60),
            now,
        );
        let waiting = {
            let f = f.clone();
            tokio::spawn(async move { f.permit().await.map(|_| ()) })
        };
        tokio::time::timeout(Duration::from_secs(2), f.recheck_requested())
            .await
            .expect("confirmation asked");
        f.set(TermState::Valid {
            until: Instant::now() + Duration::from_secs(10),
            mono: Instant::now(),
            wall: SystemTime::now(),
        });
        waiting
            .await
            .expect("join")
            .expect("confirmed term permits");
    }
}
