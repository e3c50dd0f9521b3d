//! The release actions outside a run: `test` runs the live revision's `test` hooks as
//! `helm test` does (also the `helm_test` gate check), `uninstall` runs the pre-delete
//! hooks, deletes the release's objects and runs the post-delete hooks. Each holds the
//! release's lease while it acts.

use super::drive::Progress;
use super::hooks::{self, EventEnd, HookSet};
use super::release::{live_revision, with_lease};
use super::{EngineError, Session};
use crate::cluster::records;
use crate::cluster::watch::NamespaceWatch;
use crate::domain::hooks::{HookEvent, HookRun};
use crate::domain::manifest::Object;
use crate::domain::record::ReleaseRecord;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// What `helmdeck test` reports.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub release: String,
    pub revision: u32,
    pub passed: bool,
    /// Why the tests failed (the first failing test, named).
    pub reason: Option<String>,
    pub tests: Vec<HookRun>,
}

/// The hooks of a recorded revision (without a run's cache of objects).
pub fn hook_set(rec: &ReleaseRecord) -> Result<HookSet, EngineError> {
    let bodies = rec.helm.hooks.values()?;
    let objects: Vec<Object> = rec
        .manifests
        .values()?
        .into_iter()
        .filter_map(|b| Object::from_body(b, &rec.namespace))
        .collect();
    Ok(HookSet::new(
        &rec.release,
        &rec.namespace,
        rec.revision,
        &bodies,
        &objects,
    ))
}

/// Runs the `test` hooks of `rec` (its Pods and Jobs must succeed).
pub async fn run_tests(
    s: &Session,
    rec: &ReleaseRecord,
    progress: &(dyn Fn(Progress) + Send + Sync),
    cancel: &Option<CancellationToken>,
) -> Result<TestReport, EngineError> {
    let set = hook_set(rec)?;
    let redactor = super::environment_redactor(s).await.map_err(|e| {
        EngineError::input(
            format!("tests cannot run without the environment's secrets to redact their logs: {e}"),
            "check the environment's `secrets` in helmdeck.yaml",
        )
    })?;
    let mut watch = NamespaceWatch::start(&s.cluster).await;
    let mut ledger: Vec<HookRun> = Vec::new();
    let end = hooks::run_event(
        s,
        &set,
        HookEvent::Test,
        0,
        &mut ledger,
        &mut watch,
        &redactor,
        progress,
        cancel,
    )
    .await?;
    let (passed, reason) = match end {
        EventEnd::Succeeded => (true, None),
        EventEnd::Failed(r) => (false, Some(r)),
        EventEnd::Cancelled => (false, Some("cancelled".to_string())),
    };
    Ok(TestReport {
        release: rec.release.clone(),
        revision: rec.revision,
        passed,
        reason,
        tests: ledger,
    })
}

/// `helmdeck test`: the live revision's tests, under the release's lease.
pub async fn test(
    s: &Session,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<TestReport, EngineError> {
    with_lease(s, progress, async |s: Session| {
        let s = &s;
        let (recs, _) = records::list(&s.cluster, s.release()).await?;
        let Some(live) = live_revision(&recs) else {
            return Err(EngineError::input(
                format!("release {} has no live revision to test", s.release()),
                "deploy it first (`helmdeck deploy`)",
            ));
        };
        run_tests(s, live, progress, &None).await
    })
    .await
}
