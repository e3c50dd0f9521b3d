//! Runs a revision's Helm hooks for one event, as Helm v4's action/hooks.go does: in
//! `domain::hooks` order, each deleted first when its policy says `before-hook-creation`
//! (and waited gone), created, and waited for — a Job until it completes, a Pod until it
//! succeeds, anything else once applied — within `policy.hook_timeout`. A failure reads
//! the last lines of the hook's pod log (secrets redacted) before its `hook-failed`
//! policy may delete it, then deletes the event's earlier hooks marked `hook-succeeded`;
//! success deletes every `hook-succeeded` hook, last first. Hook objects are labelled
//! with the release and `helmdeck.io/track: hook` (their pods too) but not as helmdeck's
//! objects, so pruning never takes them; they keep their names and read the revision's
//! versioned config. A run records every hook; a resumed run skips the hooks that
//! succeeded and waits on the one it was waiting on.

use super::drive::{cancelled, Progress};
use super::objects::{self, RevisionObjects};
use super::{now_ms, EngineError, Session};
use crate::cluster::watch::NamespaceWatch;
use crate::cluster::{records, ClusterError};
use crate::domain::health::{self, Health};
use crate::domain::hooks::{
    self, DeletePolicy, Hook, HookEvent, HookOutcome, HookRun, UnknownHook, TRACK_HOOK,
};
use crate::domain::manifest::Object;
use crate::domain::mask::Redactor;
use crate::domain::record::ReleaseRecord;
use crate::domain::run::Event;
use crate::domain::strategy;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Lines of a failed hook's pod log kept with its failure.
pub const LOG_TAIL_LINES: i64 = 20;

/// A revision's hooks, and the versioned config names its objects get.
#[derive(Debug, Clone, Default)]
pub struct HookSet {
    pub hooks: Vec<Hook>,
    pub skipped: Vec<UnknownHook>,
    pub renames: BTreeMap<String, String>,
    pub revision: u32,
}

impl HookSet {
    /// The hooks of `revision` (this record's, or its own record's).
    pub async fn of_revision(
        s: &Session,
        rec: &ReleaseRecord,
        cache: &mut HashMap<u32, RevisionObjects>,
        revision: u32,
    ) -> Result<HookSet, EngineError> {
        let bodies = if revision == rec.revision {
            rec.helm.hooks.values()?
        } else {
            match records::get(&s.cluster, &rec.release, revision).await? {
                Some(r) => r.helm.hooks.values()?,
                None => {
                    return Err(EngineError::input(
                        format!("the record of revision {revision} is gone: its hooks cannot run"),
                        "`history` lists the kept revisions",
                    ))
                }
            }
        };
        let objs = objects::load(s, rec, cache, revision).await?;
        Ok(HookSet::new(
            &rec.release,
            &rec.namespace,
            revision,
            &bodies,
            &objs,
        ))
    }

    /// The hooks among `bodies`, with the config renames of the revision's `objects`.
    pub fn new(
        release: &str,
        namespace: &str,
        revision: u32,
        bodies: &[Value],
        objects: &[Object],
    ) -> HookSet {
        let hook_objects: Vec<Object> = bodies
            .iter()
            .filter_map(|b| Object::from_body(b.clone(), namespace))
            .collect();
        let (hooks, skipped) = hooks::parse(&hook_objects);
        let renames =
            strategy::prepare_rolling(objects, release, revision, &[], false).config_renames;
        HookSet {
            hooks,
            skipped,
            renames,
            revision,
        }
    }
}

/// The body a hook is created from: the release's label and the `hook` track on it and
/// on its pods, the revision, and the revision's versioned config names.
pub fn prepared(
    h: &Hook,
    release: &str,
    revision: u32,
    renames: &BTreeMap<String, String>,
) -> Value {
    let mut o = h.object.clone();
    strategy::follow_config_renames(&mut o, renames);
    let mut body = o.body;
    let labels = |v: &mut Value, path: &[&str]| {
        let mut cur = v;
        for seg in path {
            let Some(m) = cur.as_object_mut() else { return };
            cur = m
                .entry(seg.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        if let Some(m) = cur.as_object_mut() {
            m.insert(strategy::LABEL_RELEASE.into(), Value::from(release));
            m.insert(strategy::LABEL_TRACK.into(), Value::from(TRACK_HOOK));
        }
    };
    labels(&mut body, &["metadata", "labels"]);
    if body.pointer("/spec/template").is_some_and(Value::is_object) {
        labels(&mut body, &["spec", "template", "metadata", "labels"]);
    }
    if let Some(m) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(ns) = &o.namespace {
            m.insert("namespace".into(), Value::from(ns.as_str()));
        }
        let ann = m
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(a) = ann.as_object_mut() {
            a.insert(
                strategy::ANNOTATION_REVISION.into(),
                Value::from(revision.to_string()),
            );
        }
    }
    body
}

/// How one hook ended.
#[derive(Debug, Clone, PartialEq)]
enum Ran {
    Succeeded,
    Failed { reason: String, log: Option<String> },
    Cancelled,
}

fn delete_target(h: &Hook) -> (&str, &str, Option<&str>, &str) {
    (
        &h.object.api_version,
        &h.object.kind,
        h.object.namespace.as_deref(),
        &h.object.name,
    )
}

/// Deletes a hook's object and waits until it is gone (a new one of the same name could
/// not be created before).
async fn delete_and_wait(s: &Session, h: &Hook, timeout: Duration) -> Result<(), EngineError> {
    let (api_version, kind, ns, name) = delete_target(h);
    s.cluster.delete(api_version, kind, ns, name).await?;
    let until = Instant::now() + timeout;
    while s.cluster.get(api_version, kind, ns, name).await?.is_some() {
        if Instant::now() > until {
            return Err(EngineError::Cluster(ClusterError::Invalid {
                object: h.label(),
                message: format!(
                    "still there {} after its deletion (a finalizer holds it?)",
                    crate::domain::duration::HumanDuration(timeout)
                ),
            }));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Deletes `h` when its policies include `p`.
async fn delete_by_policy(
    s: &Session,
    h: &Hook,
    p: DeletePolicy,
    timeout: Duration,
) -> Result<(), EngineError> {
    if h.has_policy(p) {
        delete_and_wait(s, h, timeout).await?;
    }
    Ok(())
}

/// The pods a hook runs in (a Job's, or the Pod itself), from the namespace watch.
fn pods_of(watch: &NamespaceWatch, h: &Hook) -> Vec<Value> {
    let sel: BTreeMap<String, String> = match h.object.kind.as_str() {
        "Job" => BTreeMap::from([("job-name".into(), h.object.name.clone())]),
        _ => return Vec::new(),
    };
    watch
        .pod_index()
        .matching(&sel)
        .iter()
        .map(|p| p.to_value())
        .collect()
}

/// The pod and container whose log explains a failure: a failed or failing pod (newest
/// first) and its container that ended badly or waits in a fatal state.
fn failing_container(pods: &[Value]) -> Option<(String, Option<String>)> {
    let mut pods: Vec<&Value> = pods.iter().collect();
    pods.sort_by_key(|p| {
        std::cmp::Reverse(
            p.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        )
    });
    let bad = |p: &&&Value| {
        p.pointer("/status/phase").and_then(Value::as_str) == Some("Failed")
            || health::pod_failure(p, health::DEFAULT_RESTART_THRESHOLD).is_some()
    };
    let pod = pods.iter().find(bad).or_else(|| pods.first())?;
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)?
        .to_string();
    let container = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter().find(|c| {
                c.pointer("/state/terminated/exitCode")
                    .and_then(Value::as_i64)
                    .is_some_and(|code| code != 0)
                    || c.pointer("/state/waiting").is_some()
            })
        })
        .and_then(|c| c.get("name").and_then(Value::as_str))
        .map(str::to_string);
    Some((name, container))
}

/// The last lines of a pod's log (the previous instance when the current one waits to
/// restart), secrets redacted.
pub async fn log_tail(
    s: &Session,
    pod: &str,
    container: Option<&str>,
    redactor: &Redactor,
) -> Option<String> {
    let api: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(s.cluster.client.clone(), &s.cluster.namespace);
    for previous in [false, true] {
        let params = kube::api::LogParams {
            tail_lines: Some(LOG_TAIL_LINES),
            container: container.map(str::to_string),
            previous,
            ..Default::default()
        };
        if let Ok(text) = api.logs(pod, &params).await {
            if !text.trim().is_empty() {
                return Some(redactor.redact(text.trim_end()).into_owned());
            }
        }
    }
    None
}

/// Creates one hook (unless `resume` finds it already created) and waits for it.
async fn run_one(
    s: &Session,
    h: &Hook,
    body: &Value,
    resume: bool,
    watch: &mut NamespaceWatch,
    redactor: &Redactor,
    cancel: &Option<CancellationToken>,
) -> Result<Ran, EngineError> {
    let timeout = s.env.policy.hook_timeout.as_duration();
    let (api_version, kind, ns, name) = delete_target(h);
    let exists = s.cluster.get(api_version, kind, ns, name).await?.is_some();
    if !(resume && exists) {
        if h.has_policy(DeletePolicy::BeforeHookCreation) {
            delete_and_wait(s, h, timeout).await?;
        } else if exists {
            return Ok(Ran::Failed {
                reason: format!(
                    "{} already exists and its delete policy keeps it: delete it, or give the hook `before-hook-creation`",
                    h.label()
                ),
                log: None,
            });
        }
        if let Err(e) = s.cluster.apply(body).await {
            return match e {
                ClusterError::Invalid { .. }
                | ClusterError::Forbidden { .. }
                | ClusterError::UnknownKind { .. }
                | ClusterError::Conflict { .. } => Ok(Ran::Failed {
                    reason: format!("cannot create it: {e}"),
                    log: None,
                }),
                other => Err(other.into()),
            };
        }
    }
    if !h.runs() {
        return Ok(Ran::Succeeded);
    }
    let deadline = Instant::now() + timeout;
    loop {
        let Some(obj) = s.cluster.get(api_version, kind, ns, name).await? else {
            return Ok(Ran::Failed {
                reason: "it was deleted while running".into(),
                log: None,
            });
        };
        let pods = pods_of(watch, h);
        let refs: Vec<&Value> = pods.iter().collect();
        let waiting = match hooks::hook_health(kind, &obj, &refs, health::DEFAULT_RESTART_THRESHOLD)
        {
            Health::Current => return Ok(Ran::Succeeded),
            Health::Failed { reason, pod } => {
                let in_pod = pod.map(|p| format!(" (pod {p})")).unwrap_or_default();
                let log = failure_log(s, h, &obj, &pods, redactor).await;
                return Ok(Ran::Failed {
                    reason: format!("{reason}{in_pod}"),
                    log,
                });
            }
            Health::InProgress { reason } => reason,
        };
        if Instant::now() > deadline {
            let log = failure_log(s, h, &obj, &pods, redactor).await;
            return Ok(Ran::Failed {
                reason: format!(
                    "not done within the hook timeout ({}): {waiting}",
                    s.env.policy.hook_timeout
                ),
                log,
            });
        }
        tokio::select! {
            _ = cancelled(cancel) => return Ok(Ran::Cancelled),
            _ = watch.changed(Duration::from_secs(1)) => {}
        }
    }
}

async fn failure_log(
    s: &Session,
    h: &Hook,
    obj: &Value,
    pods: &[Value],
    redactor: &Redactor,
) -> Option<String> {
    let (pod, container) = if h.object.kind == "Pod" {
        failing_container(std::slice::from_ref(obj))?
    } else {
        failing_container(pods)?
    };
    let tail = log_tail(s, &pod, container.as_deref(), redactor).await?;
    Some(format!("log of pod {pod}:\n{tail}"))
}

/// Where a hook run keeps its record: the run's record (saved after every change), or a
/// list (`helmdeck test`, `uninstall`).
pub trait HookLedger {
    fn runs(&mut self) -> &mut Vec<HookRun>;
    fn save(&mut self) -> impl std::future::Future<Output = Result<(), EngineError>> + Send;
}

/// A run's record as a ledger.
pub struct RecordLedger<'a> {
    pub s: &'a Session,
    pub rec: &'a mut ReleaseRecord,
}

impl HookLedger for RecordLedger<'_> {
    fn runs(&mut self) -> &mut Vec<HookRun> {
        &mut self.rec.run.hooks
    }
    async fn save(&mut self) -> Result<(), EngineError> {
        self.rec.updated = super::now_rfc3339();
        records::put(&self.s.cluster, self.rec).await?;
        Ok(())
    }
}

impl HookLedger for Vec<HookRun> {
    fn runs(&mut self) -> &mut Vec<HookRun> {
        self
    }
    async fn save(&mut self) -> Result<(), EngineError> {
        Ok(())
    }
}

/// How the hooks of an event ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventEnd {
    Succeeded,
    /// The first failure, named: `pre-upgrade hook Job/migrate failed: …`.
    Failed(String),
    Cancelled,
}

/// Runs the hooks of `event` from `set` (phase `phase` of the ledger's run).
#[allow(clippy::too_many_arguments)]
pub async fn run_event<L: HookLedger>(
    s: &Session,
    set: &HookSet,
    event: HookEvent,
    phase: usize,
    ledger: &mut L,
    watch: &mut NamespaceWatch,
    redactor: &Redactor,
    progress: &(dyn Fn(Progress) + Send + Sync),
    cancel: &Option<CancellationToken>,
) -> Result<EventEnd, EngineError> {
    let timeout = s.env.policy.hook_timeout.as_duration();
    let ordered = hooks::for_event(&set.hooks, event);
    for skipped in &set.skipped {
        progress(Progress::Warning(skipped.to_string()));
    }
    for (i, h) in ordered.iter().enumerate() {
        let prior = ledger.runs().iter().position(|r| {
            r.phase == phase
                && r.event == event
                && r.kind == h.object.kind
                && r.name == h.object.name
        });
        let resume = match prior.map(|p| &ledger.runs()[p].outcome) {
            Some(Some(HookOutcome::Succeeded)) => continue,
            Some(None) => true,
            _ => false,
        };
        let entry = match prior {
            Some(p) if resume => p,
            _ => {
                ledger.runs().push(HookRun {
                    phase,
                    event,
                    kind: h.object.kind.clone(),
                    name: h.object.name.clone(),
                    weight: h.weight,
                    started_ms: now_ms(),
                    ended_ms: None,
                    outcome: None,
                    log: None,
                });
                ledger.save().await?;
                ledger.runs().len() - 1
            }
        };
        progress(Progress::Hook {
            run: ledger.runs()[entry].clone(),
        });
        let body = prepared(h, s.release(), set.revision, &set.renames);
        let ran = run_one(s, h, &body, resume, watch, redactor, cancel).await?;
        let (outcome, log) = match ran {
            Ran::Cancelled => return Ok(EventEnd::Cancelled),
            Ran::Succeeded => (HookOutcome::Succeeded, None),
            Ran::Failed { reason, log } => (HookOutcome::Failed { reason }, log),
        };
        {
            let r = &mut ledger.runs()[entry];
            r.ended_ms = Some(now_ms());
            r.outcome = Some(outcome.clone());
            r.log = log.clone();
        }
        ledger.save().await?;
        progress(Progress::Hook {
            run: ledger.runs()[entry].clone(),
        });
        if let HookOutcome::Failed { reason } = outcome {
            // Helm v4: the log is read (above) before the failed hook may be deleted; then
            // the hooks that succeeded before it go as their policy says.
            if let Err(e) = delete_by_policy(s, h, DeletePolicy::HookFailed, timeout).await {
                progress(Progress::Warning(format!(
                    "could not delete {}: {e}",
                    h.label()
                )));
            }
            for earlier in &ordered[..i] {
                delete_by_policy(s, earlier, DeletePolicy::HookSucceeded, timeout).await?;
            }
            return Ok(EventEnd::Failed(format!(
                "{event} hook {} failed: {reason}",
                h.label()
            )));
        }
    }
    for h in ordered.iter().rev() {
        delete_by_policy(s, h, DeletePolicy::HookSucceeded, timeout).await?;
    }
    Ok(EventEnd::Succeeded)
}

/// The drive's `hooks` step: the hooks of `revision` for `event`, recorded in the run.
#[allow(clippy::too_many_arguments)]
pub async fn run_step(
    s: &Session,
    rec: &mut ReleaseRecord,
    cache: &mut HashMap<u32, RevisionObjects>,
    watch: &mut NamespaceWatch,
    revision: u32,
    event: HookEvent,
    progress: &(dyn Fn(Progress) + Send + Sync),
    cancel: &Option<CancellationToken>,
) -> Result<Option<Event>, EngineError> {
    let set = HookSet::of_revision(s, rec, cache, revision).await?;
    let redactor = super::environment_redactor(s).await.map_err(|e| {
        EngineError::input(
            format!("hooks cannot run without the environment's secrets to redact their logs: {e}"),
            "check the environment's `secrets` in helmdeck.yaml",
        )
    })?;
    let phase = rec.run.phases.len().saturating_sub(1);
    let mut ledger = RecordLedger { s, rec };
    Ok(
        match run_event(
            s,
            &set,
            event,
            phase,
            &mut ledger,
            watch,
            &redactor,
            progress,
            cancel,
        )
        .await?
        {
            EventEnd::Succeeded => Some(Event::StepDone),
            EventEnd::Failed(reason) => Some(Event::StepFailed { reason }),
            EventEnd::Cancelled => None,
        },
    )
}
