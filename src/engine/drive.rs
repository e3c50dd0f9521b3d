//! Drives a run: executes the step under the cursor, turns what happened into an event for
//! the run's state machine, persists the record after every transition, and keeps the lease
//! renewed. Waits are driven by watches, not polling. Requests written into the record by
//! other terminals (promote, abort, rollback) are picked up between and during steps.

use super::objects::{self, RevisionObjects};
use super::{now_ms, now_rfc3339, EngineError, Session};
use crate::cluster::watch::NamespaceWatch;
use crate::cluster::{lease, records, ClusterError};
use crate::domain::health::{self, Health};
use crate::domain::record::ReleaseRecord;
use crate::domain::run::{Event, ReverseInput, Status, Step};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What a driver reports as it goes (the CLI prints it; the TUI shows it).
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    StepStarted { index: usize, step: Step },
    StepEnded { step: Step, outcome: String },
    Waiting { what: String },
    Health { workload: String, health: Health },
    Reversing { reason: String },
    Warning(String),
}

/// How a drive ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveEnd {
    Finished(Status),
    /// Stopped at a manual pause (exit 10).
    Paused,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct DriveOptions {
    /// Keep driving through manual pauses, waiting for a promote from anywhere.
    pub wait: bool,
}

pub fn reverse_input(s: &Session, rec: &ReleaseRecord) -> ReverseInput {
    ReverseInput {
        strategy: rec.strategy,
        previous: rec.previous,
        auto_rollback: s.env.policy.auto_rollback,
        live_before: rec.live_before,
    }
}

/// Re-reads the record from the cluster and takes the requests other terminals left in it.
async fn pick_up_requests(
    s: &Session,
    rec: &mut ReleaseRecord,
) -> Result<Option<Event>, EngineError> {
    let Some(stored) = records::get(&s.cluster, &rec.release, rec.revision).await? else {
        return Ok(None);
    };
    let r = &stored.run;
    if r.abort_requested {
        return Ok(Some(Event::Abort));
    }
    if r.rollback_requested {
        return Ok(Some(Event::Rollback));
    }
    if r.promote_requested {
        rec.run.promote_requested = true;
        rec.run.promote_full = r.promote_full;
    }
    Ok(None)
}

/// Drives `rec` until it ends, or until a manual pause when not waiting.
pub async fn drive(
    s: &Session,
    rec: &mut ReleaseRecord,
    opts: DriveOptions,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<DriveEnd, EngineError> {
    let mut watch = NamespaceWatch::start(&s.cluster).await;
    let mut revisions: HashMap<u32, RevisionObjects> = HashMap::new();
    let mut last_renew = std::time::Instant::now();
    let ctx = reverse_input(s, rec);
    loop {
        if last_renew.elapsed() > Duration::from_secs(10) {
            lease::renew(&s.cluster, &rec.release, &s.operator).await?;
            last_renew = std::time::Instant::now();
        }
        let Some(step) = rec.run.current().cloned() else {
            return Ok(DriveEnd::Finished(rec.run.status));
        };
        let index = rec.run.cursor;
        progress(Progress::StepStarted {
            index,
            step: step.clone(),
        });
        let event = match &step {
            Step::Pause { duration_ms } => {
                let watched = match rec.run.plan[..index].iter().rev().find_map(|st| match st {
                    Step::WaitHealthy { target } => Some(target.clone()),
                    _ => None,
                }) {
                    Some(target) if rec.run.reverse.is_none() => {
                        let objs = objects::load(s, rec, &mut revisions, rec.revision).await?;
                        objects::target_deployments(s, rec, &objs, &target, &mut revisions).await?
                    }
                    _ => Vec::new(),
                };
                if let Some(reason) = failing(&watch, &watched) {
                    Event::StepFailed { reason }
                } else if let Some(ev) = pick_up_requests(s, rec).await? {
                    ev
                } else if rec.run.promote_requested {
                    Event::Promote {
                        full: rec.run.promote_full,
                    }
                } else {
                    match duration_ms {
                        Some(ms) => {
                            let started = rec.run.current_started_ms().unwrap_or_else(now_ms);
                            let until = started + ms;
                            let now = now_ms();
                            if now >= until {
                                Event::StepDone
                            } else {
                                progress(Progress::Waiting {
                                    what: format!("pause: {}s left", (until - now).div_ceil(1000)),
                                });
                                tokio::time::sleep(Duration::from_millis((until - now).min(1000)))
                                    .await;
                                continue;
                            }
                        }
                        None if !opts.wait => {
                            records::put(&s.cluster, rec).await?;
                            return Ok(DriveEnd::Paused);
                        }
                        None => {
                            progress(Progress::Waiting {
                                what: "paused: waiting for a promote".into(),
                            });
                            watch.changed(Duration::from_secs(1)).await;
                            continue;
                        }
                    }
                }
            }
            Step::WaitHealthy { target } => {
                let objs = objects::load(s, rec, &mut revisions, rec.revision).await?;
                let names =
                    objects::target_deployments(s, rec, &objs, target, &mut revisions).await?;
                wait_healthy(s, rec, &mut watch, &names, progress).await?
            }
            other => match objects::execute(s, rec, &mut revisions, other).await {
                Ok(()) => Event::StepDone,
                Err(EngineError::Cluster(
                    e @ (ClusterError::Invalid { .. }
                    | ClusterError::Forbidden { .. }
                    | ClusterError::UnknownKind { .. }
                    | ClusterError::Conflict { .. }),
                )) => Event::StepFailed {
                    reason: format!("{}: {e}", other.describe()),
                },
                Err(e) => return Err(e),
            },
        };
        let outcome = match &event {
            Event::StepDone => "done".to_string(),
            Event::StepFailed { reason } => format!("failed: {reason}"),
            Event::Promote { .. } => "promoted".into(),
            Event::Abort => "aborted".into(),
            Event::Rollback => "rolled back".into(),
        };
        let was_reversing = rec.run.reverse.is_some();
        rec.run.apply(event, &ctx, now_ms())?;
        progress(Progress::StepEnded { step, outcome });
        if !was_reversing && rec.run.reverse.is_some() {
            progress(Progress::Reversing {
                reason: rec.run.reason.clone().unwrap_or_default(),
            });
        }
        rec.updated = now_rfc3339();
        records::put(&s.cluster, rec).await?;
    }
}

/// The pods of a Deployment's current template: matching its selector and running the
/// template's images (old-revision pods and other tracks do not count against it).
fn new_pods(watch: &NamespaceWatch, dep: &Value) -> Vec<Value> {
    let selector: BTreeMap<String, String> = dep
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    if selector.is_empty() {
        return Vec::new();
    }
    let images = |v: &Value, ptr: &str| -> Vec<String> {
        v.pointer(ptr)
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c.get("image").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let want = images(dep, "/spec/template/spec/containers");
    let template_labels = dep
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    watch
        .pods_matching(&selector)
        .into_iter()
        .filter(|p| images(p, "/spec/containers") == want)
        .filter(|p| {
            // A canary's pods carry a track label the primary's template lacks (and back).
            let labels = p.pointer("/metadata/labels").and_then(Value::as_object);
            ["helmdeck.io/track", "helmdeck.io/slot"]
                .iter()
                .all(|k| labels.and_then(|l| l.get(*k)) == template_labels.get(*k))
        })
        .collect()
}

async fn wait_healthy(
    s: &Session,
    rec: &mut ReleaseRecord,
    watch: &mut NamespaceWatch,
    names: &[String],
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Event, EngineError> {
    let deadline = std::time::Instant::now() + s.env.policy.progress_deadline.as_duration();
    let mut last: HashMap<String, Health> = HashMap::new();
    let mut last_check = std::time::Instant::now();
    loop {
        let mut all = true;
        for name in names {
            let h = match watch.deployment(name) {
                None => Health::InProgress {
                    reason: "waiting for the Deployment to appear".into(),
                },
                Some(dep) => {
                    let pods = new_pods(watch, &dep);
                    let refs: Vec<&Value> = pods.iter().collect();
                    health::workload(&dep, &refs, health::DEFAULT_RESTART_THRESHOLD)
                }
            };
            if last.get(name) != Some(&h) {
                progress(Progress::Health {
                    workload: name.clone(),
                    health: h.clone(),
                });
                last.insert(name.clone(), h.clone());
            }
            match h {
                Health::Current => {}
                Health::InProgress { .. } => all = false,
                Health::Failed { reason, pod } => {
                    let at = pod.map(|p| format!(" (pod {p})")).unwrap_or_default();
                    return Ok(Event::StepFailed {
                        reason: format!("{name}: {reason}{at}"),
                    });
                }
            }
        }
        if all {
            // Availability already waited for `minReadySeconds`, Kubernetes' own guard against
            // containers that start and then crash.
            return Ok(Event::StepDone);
        }
        if std::time::Instant::now() > deadline {
            return Ok(Event::StepFailed {
                reason: format!(
                    "no healthy rollout within the progress deadline ({})",
                    s.env.policy.progress_deadline
                ),
            });
        }
        if last_check.elapsed() > Duration::from_secs(2) && rec.run.reverse.is_none() {
            if let Some(ev) = pick_up_requests(s, rec).await? {
                return Ok(ev);
            }
            last_check = std::time::Instant::now();
        }
        watch.changed(Duration::from_millis(250)).await;
    }
}

/// Health of the workloads a paused run keeps an eye on (the last waited-for target):
/// the first failure, if any.
fn failing(watch: &NamespaceWatch, names: &[String]) -> Option<String> {
    for name in names {
        if let Some(dep) = watch.deployment(name) {
            let pods = new_pods(watch, &dep);
            let refs: Vec<&Value> = pods.iter().collect();
            if let Health::Failed { reason, pod } =
                health::workload(&dep, &refs, health::DEFAULT_RESTART_THRESHOLD)
            {
                let at = pod.map(|p| format!(" (pod {p})")).unwrap_or_default();
                return Some(format!("{name}: {reason}{at}"));
            }
        }
    }
    None
}
