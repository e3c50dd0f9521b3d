//! Executes the object-changing steps of a run: which objects each step applies (the
//! strategy's transforms of a revision's rendered objects), in dependency order, CRDs waited
//! for, objects a revision no longer renders pruned, canaries deleted, slots scaled.

use super::health::{judged, Watched};
use super::{EngineError, Session};
use crate::cluster::{records, ClusterError};
use crate::domain::manifest::{self, Object};
use crate::domain::record::{self, Manifests, ReleaseRecord};
use crate::domain::run::{Step, StrategyKind, Target};
use crate::domain::strategy;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// A revision's rendered objects (before strategy transforms), parsed once per drive and
/// shared by the steps that read them.
pub type RevisionObjects = Arc<Vec<Object>>;

/// The rendered objects of `revision` (from `rec` or its own record).
pub async fn load(
    s: &Session,
    rec: &ReleaseRecord,
    cache: &mut HashMap<u32, RevisionObjects>,
    revision: u32,
) -> Result<RevisionObjects, EngineError> {
    if let Some(o) = cache.get(&revision) {
        return Ok(o.clone());
    }
    let bodies = manifests_of(s, rec, revision).await?.values()?;
    let objs: RevisionObjects = Arc::new(
        bodies
            .into_iter()
            .filter_map(|b| Object::from_body(b, &rec.namespace))
            .collect(),
    );
    cache.insert(revision, Arc::clone(&objs));
    Ok(objs)
}

/// The stored rendered objects of `revision`: this record's, or those of its own record.
async fn manifests_of<'r>(
    s: &Session,
    rec: &'r ReleaseRecord,
    revision: u32,
) -> Result<Cow<'r, Manifests>, EngineError> {
    if revision == rec.revision {
        return Ok(Cow::Borrowed(&rec.manifests));
    }
    let stored = records::get(&s.cluster, &rec.release, revision)
        .await?
        .ok_or_else(|| {
            EngineError::input(
                format!("the record of revision {revision} is gone"),
                "`history` lists the kept revisions",
            )
        })?;
    Ok(Cow::Owned(stored.manifests))
}

/// The `(apiVersion, kind)` pairs a revision rendered, read without parsing its objects.
async fn kinds_of_revision(
    s: &Session,
    rec: &ReleaseRecord,
    cache: &HashMap<u32, RevisionObjects>,
    revision: u32,
) -> Result<BTreeSet<(String, String)>, EngineError> {
    if let Some(objs) = cache.get(&revision) {
        return Ok(kinds_of(objs));
    }
    let manifests = manifests_of(s, rec, revision).await?.kinds()?;
    Ok(manifests.into_iter().collect())
}

fn workloads(rec: &ReleaseRecord) -> Vec<String> {
    rec.workloads.clone()
}

/// The objects that make `revision` run on the primaries for this record's strategy.
pub(super) fn primary_objects(rec: &ReleaseRecord, objs: &[Object], revision: u32) -> Vec<Object> {
    strategy::prepare_rolling(
        objs,
        &rec.release,
        revision,
        &workloads(rec),
        rec.strategy == StrategyKind::Canary,
    )
    .objects
}

async fn apply_all(
    s: &Session,
    objs: &[Object],
) -> Result<BTreeSet<(String, String)>, EngineError> {
    let mut ordered: Vec<&Object> = objs.iter().collect();
    manifest::sort_for_apply(&mut ordered);
    let mut applied = BTreeSet::new();
    let mut crds = false;
    for o in ordered {
        let mut body = o.body.clone();
        if let (Some(ns), Some(meta)) = (
            &o.namespace,
            body.get_mut("metadata").and_then(Value::as_object_mut),
        ) {
            meta.insert("namespace".into(), Value::String(ns.clone()));
        }
        if crds && !o.is_crd() {
            s.cluster.forget_resources();
            crds = false;
        }
        s.cluster.apply(&body).await?;
        if o.is_crd() {
            wait_established(s, &o.name).await?;
            crds = true;
        }
        applied.insert((o.kind.clone(), o.name.clone()));
    }
    Ok(applied)
}

async fn wait_established(s: &Session, name: &str) -> Result<(), EngineError> {
    for _ in 0..120 {
        if let Some(crd) = s
            .cluster
            .get(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                None,
                name,
            )
            .await?
        {
            let ok = crd
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c.get("type").and_then(Value::as_str) == Some("Established")
                            && c.get("status").and_then(Value::as_str) == Some("True")
                    })
                });
            if ok {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(EngineError::Cluster(ClusterError::Invalid {
        object: format!("CustomResourceDefinition {name}"),
        message: "not Established after 30s".into(),
    }))
}

/// Deletes objects of the release that `applied` no longer has, among the kinds any kept
/// revision rendered. Canary and slot objects, release records, and the config of the
/// revision a rollback would return to are kept.
async fn prune(
    s: &Session,
    rec: &ReleaseRecord,
    kinds: &BTreeSet<(String, String)>,
    applied: &BTreeSet<(String, String)>,
) -> Result<(), EngineError> {
    let selector = format!(
        "{}={},{}={}",
        record::LABEL_RELEASE,
        rec.release,
        record::LABEL_MANAGED_BY,
        record::MANAGED_BY
    );
    let keep_config_of = rec.previous.map(|p| p.to_string());
    for (api_version, kind) in kinds {
        let live = match s.cluster.list_refs(api_version, kind, &selector).await {
            Ok(l) => l,
            Err(ClusterError::UnknownKind { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        for obj in live {
            let name = obj.name();
            if applied.contains(&(kind.clone(), name.to_string())) {
                continue;
            }
            if obj.label(strategy::LABEL_TRACK) == Some("canary")
                || obj.label(strategy::LABEL_SLOT).is_some()
            {
                continue;
            }
            if obj.type_.as_deref() == Some(record::SECRET_TYPE) {
                continue;
            }
            let revision = obj.annotation(strategy::ANNOTATION_REVISION);
            if (kind == "ConfigMap" || kind == "Secret")
                && revision.is_some()
                && revision == keep_config_of.as_deref()
            {
                continue;
            }
            tracing::info!(kind, name, "pruning");
            s.cluster
                .delete(api_version, kind, obj.metadata.namespace.as_deref(), name)
                .await?;
        }
    }
    Ok(())
}

fn kinds_of(objs: &[Object]) -> BTreeSet<(String, String)> {
    objs.iter()
        .map(|o| (o.api_version.clone(), o.kind.clone()))
        .collect()
}

fn primary_replicas(o: &Object) -> u32 {
    o.body
        .pointer("/spec/replicas")
        .and_then(Value::as_u64)
        .unwrap_or(1) as u32
}

/// Executes one object-changing step.
pub async fn execute(
    s: &Session,
    rec: &ReleaseRecord,
    cache: &mut HashMap<u32, RevisionObjects>,
    step: &Step,
) -> Result<(), EngineError> {
    let wl = workloads(rec);
    match step {
        Step::ApplyConfig { revision } => {
            let objs = load(s, rec, cache, *revision).await?;
            let config: Vec<Object> = primary_objects(rec, &objs, *revision)
                .into_iter()
                .filter(|o| o.group().is_empty() && (o.kind == "ConfigMap" || o.kind == "Secret"))
                .collect();
            apply_all(s, &config).await?;
        }
        Step::ApplyAll { revision } => {
            let objs = load(s, rec, cache, *revision).await?;
            let primaries = primary_objects(rec, &objs, *revision);
            let applied = apply_all(s, &primaries).await?;
            let mut kinds = kinds_of(&primaries);
            drop(primaries);
            if let Some(p) = rec.previous.filter(|p| p != revision) {
                if let Ok(prev) = kinds_of_revision(s, rec, cache, p).await {
                    kinds.extend(prev);
                }
            }
            kinds.extend(kinds_of_revision(s, rec, cache, rec.revision).await?);
            prune(s, rec, &kinds, &applied).await?;
        }
        Step::ApplyCanary { revision, amount } => {
            let objs = load(s, rec, cache, *revision).await?;
            let primaries = primary_objects(rec, &objs, *revision);
            let live = load(s, rec, cache, rec.previous.unwrap_or(*revision)).await?;
            let replicas_for = |name: &str| -> u32 {
                let base = live
                    .iter()
                    .chain(objs.iter())
                    .find(|o| o.kind == "Deployment" && o.name == name)
                    .map(primary_replicas)
                    .unwrap_or(1);
                amount.pods(base)
            };
            let canaries =
                strategy::canary_objects(&primaries, &rec.release, *revision, &wl, &replicas_for);
            apply_all(s, &canaries).await?;
        }
        Step::DeleteCanaries => {
            let objs = load(s, rec, cache, rec.revision).await?;
            let primaries = primary_objects(rec, &objs, rec.revision);
            for o in strategy::canary_objects(&primaries, &rec.release, rec.revision, &wl, &|_| 0) {
                s.cluster
                    .delete(&o.api_version, &o.kind, o.namespace.as_deref(), &o.name)
                    .await?;
            }
        }
        Step::ApplySlot { revision, color } => {
            let objs = load(s, rec, cache, *revision).await?;
            let t = strategy::bluegreen_objects(
                &objs,
                &rec.release,
                *revision,
                &wl,
                *color,
                rec.live_before,
            );
            let slot: Vec<Object> = t
                .objects
                .into_iter()
                .filter(|o| {
                    strategy::is_slot_workload(o, *color)
                        || strategy::is_stage_service(o)
                        || (o.group().is_empty() && (o.kind == "ConfigMap" || o.kind == "Secret"))
                })
                .collect();
            apply_all(s, &slot).await?;
        }
        Step::SwitchServices { revision, color } => {
            let objs = load(s, rec, cache, *revision).await?;
            let t = strategy::bluegreen_objects(
                &objs,
                &rec.release,
                *revision,
                &wl,
                *color,
                Some(*color),
            );
            let applied = apply_all(s, &t.objects).await?;
            let mut kinds = kinds_of(&t.objects);
            kinds.extend(kinds_of(&objs));
            prune(s, rec, &kinds, &applied).await?;
        }
        Step::ScaleSlot { color, replicas } => {
            let live_rev = if Some(*color) == rec.live_before {
                rec.previous.unwrap_or(rec.revision)
            } else {
                rec.revision
            };
            let live_objs = load(s, rec, cache, live_rev).await?;
            let t = strategy::bluegreen_objects(
                &live_objs,
                &rec.release,
                live_rev,
                &wl,
                *color,
                rec.live_before,
            );
            for o in t
                .objects
                .iter()
                .filter(|o| strategy::is_slot_workload(o, *color))
            {
                let n = replicas.unwrap_or_else(|| primary_replicas(o));
                let patch = serde_json::json!({"spec": {"replicas": n}});
                match s
                    .cluster
                    .merge_patch(&o.api_version, &o.kind, &o.name, &patch)
                    .await
                {
                    Ok(_) | Err(ClusterError::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Step::ApplyCrds { revision } => {
            let crds = if *revision == rec.revision {
                rec.helm.crds.values()?
            } else {
                records::get(&s.cluster, &rec.release, *revision)
                    .await?
                    .map(|r| r.helm.crds.values())
                    .transpose()?
                    .unwrap_or_default()
            };
            install_crds(s, &crds).await?;
        }
        Step::WaitHealthy { .. }
        | Step::Pause { .. }
        | Step::Verify { .. }
        | Step::Hooks { .. } => {}
    }
    Ok(())
}

/// The chart's `crds/`: each created when missing (Helm skips one that exists), or applied
/// under `policy.crds: upgrade`; waited Established. They carry no release label: pruning
/// and uninstall never take them (Helm's rule).
async fn install_crds(s: &Session, crds: &[Value]) -> Result<(), EngineError> {
    let upgrade = s.env.policy.crds == crate::config::CrdPolicy::Upgrade;
    for body in crds {
        let Some(o) = Object::from_body(body.clone(), &s.cluster.namespace) else {
            continue;
        };
        let exists = s
            .cluster
            .get(&o.api_version, &o.kind, None, &o.name)
            .await?
            .is_some();
        if exists && !upgrade {
            tracing::info!(crd = %o.name, "CRD exists: left as it is (crds/ are installed once)");
            continue;
        }
        s.cluster.apply(&o.body).await?;
        wait_established(s, &o.name).await?;
    }
    s.cluster.forget_resources();
    Ok(())
}

/// The objects a health wait judges: for the primaries, every workload, claim, CRD and
/// custom resource of the revision (blue/green: all but the slot Deployments, which roll
/// with the slots); for canaries and slots, their Deployments.
pub async fn target_objects(
    s: &Session,
    rec: &ReleaseRecord,
    target: &Target,
    cache: &mut HashMap<u32, RevisionObjects>,
) -> Result<Vec<Watched>, EngineError> {
    let wl = workloads(rec);
    // The revision the wait is about: that of the nearest apply before it in the plan.
    let before = &rec.run.plan[..rec.run.cursor.min(rec.run.plan.len())];
    let revision = before
        .iter()
        .rev()
        .find_map(|st| match st {
            Step::ApplyAll { revision }
            | Step::ApplySlot { revision, .. }
            | Step::SwitchServices { revision, .. }
            | Step::ApplyCanary { revision, .. } => Some(*revision),
            _ => None,
        })
        .unwrap_or(if rec.run.reverse.is_some() {
            rec.previous.unwrap_or(rec.revision)
        } else {
            rec.revision
        });
    let objs = load(s, rec, cache, revision).await?;
    let deployments = |objs: Vec<Object>| -> Vec<Watched> {
        objs.iter()
            .filter(|o| o.kind == "Deployment")
            .map(Watched::of)
            .collect()
    };
    Ok(match target {
        Target::Primaries if rec.strategy == StrategyKind::Bluegreen => {
            // The slot the revision waited for went live: this record's, or when going
            // back, the one that was live before it.
            let color = if revision == rec.revision {
                rec.slot
            } else {
                rec.live_before
            }
            .unwrap_or(strategy::Color::Blue);
            let t =
                strategy::bluegreen_objects(&objs, &rec.release, revision, &wl, color, Some(color));
            let rest: Vec<Object> = t
                .objects
                .into_iter()
                .filter(|o| !strategy::is_slot_workload(o, color))
                .collect();
            judged(&rest)
        }
        Target::Primaries => judged(&primary_objects(rec, &objs, revision)),
        Target::Canaries => {
            let primaries = primary_objects(rec, &objs, revision);
            deployments(strategy::canary_objects(
                &primaries,
                &rec.release,
                revision,
                &wl,
                &|_| 1,
            ))
        }
        Target::Slot { color } => deployments(
            strategy::bluegreen_objects(
                &objs,
                &rec.release,
                revision,
                &wl,
                *color,
                rec.live_before,
            )
            .objects
            .into_iter()
            .filter(|o| strategy::is_slot_workload(o, *color))
            .collect(),
        ),
    })
}

/// The Deployment names a health wait watches (a pause keeps an eye on them).
pub async fn target_deployments(
    s: &Session,
    rec: &ReleaseRecord,
    target: &Target,
    cache: &mut HashMap<u32, RevisionObjects>,
) -> Result<Vec<String>, EngineError> {
    Ok(target_objects(s, rec, target, cache)
        .await?
        .into_iter()
        .filter(Watched::is_deployment)
        .map(|w| w.name)
        .collect())
}
