//! Read-only views of a release: what a deploy would change against the live cluster or a
//! past revision. Shared by `helmdeck diff` and the console's Diff tab.

use super::prepare::{self, Overrides};
use super::release::live_revision;
use super::{EngineError, Session};
use crate::cluster::records;
use crate::domain::diff::{self, DiffOptions, ManifestDiff};
use crate::domain::manifest::Object;
use crate::domain::run::StrategyKind;
use crate::domain::secret::{fingerprints, SecretChange};
use crate::domain::strategy::{self, Color};
use crate::domain::values::{git_values_changes, GitValuesChange};
use crate::render::Renderer;

/// What `diff` compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    Live,
    Revision(u32),
}

fn options() -> DiffOptions {
    let mut o = DiffOptions::ignoring_server_fields();
    if let Ok(with) = o.clone().ignore(&crate::domain::yaml::child_pointer(
        "/metadata/annotations",
        strategy::ANNOTATION_REVISION,
    )) {
        o = with;
    }
    o
}

/// Masks every place a secret stands in each pair of versions (see
/// [`crate::domain::mask::mask_secret_places`]).
fn masked_pairs(
    mut old: Vec<Object>,
    mut new: Vec<Object>,
    redactor: &crate::domain::mask::Redactor,
) -> (Vec<Object>, Vec<Object>) {
    for n in &mut new {
        let key = n.key();
        let mut alone = serde_json::Value::Null;
        let partner = match old.iter_mut().find(|o| o.key() == key) {
            Some(o) => &mut o.body,
            None => &mut alone,
        };
        crate::domain::mask::mask_secret_places(partner, &mut n.body, redactor);
    }
    (old, new)
}

/// Renders the service now and compares it with the live cluster or revision `n`; also
/// which values files from git moved to another commit since the revision compared
/// against (the live one for `Against::Live`).
pub async fn diff_with_values(
    s: &Session,
    renderer: &Renderer,
    overrides: &Overrides,
    against: Against,
) -> Result<(ManifestDiff, prepare::Prepared, Vec<GitValuesChange>), EngineError> {
    let prepared = prepare::prepare_with(
        &s.cfg,
        &s.service.name,
        &s.env.name,
        overrides,
        crate::sources::no_progress(),
        Some(&s.cluster),
    )
    .await?;
    let mut rendered = renderer
        .render(&prepared.render_request())
        .await
        .map_err(prepare::PrepareError::from)?;
    strategy::keep_lookup_names(&mut rendered.manifests.objects, &prepared.lookup_templates);
    // The chart's `crds/` are installed once and left alone (Helm's rule): they take part
    // only when the environment upgrades them.
    let crds: &[Object] = if s.env.policy.crds == crate::config::CrdPolicy::Upgrade {
        &rendered.manifests.crds
    } else {
        &[]
    };
    let objs: Vec<Object> = crds
        .iter()
        .chain(rendered.manifests.objects.iter())
        .cloned()
        .collect();
    let (recs, _) = records::list(&s.cluster, s.release()).await?;
    match against {
        Against::Revision(n) => {
            let rec = recs.iter().find(|r| r.revision == n).ok_or_else(|| {
                EngineError::input(
                    format!("release {} has no revision {n}", s.release()),
                    format!(
                        "kept revisions: {}",
                        recs.iter()
                            .map(|r| r.revision.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            let old: Vec<Object> = rec
                .manifests
                .values()?
                .into_iter()
                .filter_map(|b| Object::from_body(b, &rec.namespace))
                .collect();
            let git = git_values_changes(&rec.values_layers, &prepared.effective.layers);
            let (old, objs) = masked_pairs(old, objs, &prepared.redactor);
            Ok((diff::diff(&old, &objs, &options()), prepared, git))
        }
        Against::Live => {
            let live = live_revision(&recs);
            let release = s.release().to_string();
            let revision = live.map(|l| l.revision).unwrap_or(0);
            let wl = s.service.workloads.clone();
            let desired = match (live.map(|l| l.strategy), live.and_then(|l| l.slot)) {
                (Some(StrategyKind::Bluegreen), slot) => {
                    let c = slot.unwrap_or(Color::Blue);
                    strategy::bluegreen_objects(&objs, &release, revision, &wl, c, Some(c)).objects
                }
                (strategy_kind, _) => {
                    strategy::prepare_rolling(
                        &objs,
                        &release,
                        revision,
                        &wl,
                        strategy_kind == Some(StrategyKind::Canary),
                    )
                    .objects
                }
            };
            let mut old = Vec::new();
            for d in &desired {
                if let Some(mut l) = s
                    .cluster
                    .get(&d.api_version, &d.kind, d.namespace.as_deref(), &d.name)
                    .await?
                {
                    l = diff::project_onto(&l, &d.body);
                    if let Some(o) = Object::from_body(l, &s.cluster.namespace) {
                        old.push(Object {
                            source: d.source.clone(),
                            ..o
                        });
                    }
                }
            }
            let git = live
                .map(|l| git_values_changes(&l.values_layers, &prepared.effective.layers))
                .unwrap_or_default();
            let (old, desired) = masked_pairs(old, desired, &prepared.redactor);
            Ok((diff::diff(&old, &desired, &options()), prepared, git))
        }
    }
}

/// Which secrets changed since revision `n` (or since the live revision), told by the keyed
/// fingerprints the records keep: a rotated value behind an unchanged source included, never
/// a value.
pub async fn secret_changes(
    s: &Session,
    prepared: &prepare::Prepared,
    against: Against,
) -> Result<Vec<SecretChange>, EngineError> {
    let (recs, _) = records::list(&s.cluster, s.release()).await?;
    let old = match against {
        Against::Revision(n) => recs.iter().find(|r| r.revision == n),
        Against::Live => live_revision(&recs),
    };
    let Some(old) = old else {
        return Ok(Vec::new());
    };
    let key = crate::cluster::fingerprint_key::read(&s.cluster).await?;
    let mut new = fingerprints(key.as_deref().unwrap_or_default(), &prepared.secrets);
    if key.is_none() {
        for f in &mut new {
            f.fingerprint.clear();
        }
    }
    if old.secrets.is_empty() && old.values_layers.iter().any(|l| l.secret) {
        // Recorded before fingerprints were kept: nothing to compare with.
        for f in &mut new {
            f.fingerprint.clear();
        }
    }
    Ok(crate::domain::secret::secret_changes(&old.secrets, &new))
}
