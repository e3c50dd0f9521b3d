//! Read-only views of a release: what a deploy would change against the live cluster or a
//! past revision. Shared by `helmdeck diff` and the console's Diff tab.

use super::prepare::{self, Overrides};
use super::release::live_revision;
use super::{EngineError, Session};
use crate::cluster::records;
use crate::domain::diff::{self, DiffOptions, ManifestDiff};
use crate::domain::manifest::Object;
use crate::domain::run::StrategyKind;
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

/// Renders the service now and compares it with the live cluster or revision `n`; also
/// which values files from git moved to another commit since the revision compared
/// against (the live one for `Against::Live`).
pub async fn diff_with_values(
    s: &Session,
    renderer: &Renderer,
    overrides: &Overrides,
    against: Against,
) -> Result<(ManifestDiff, prepare::Prepared, Vec<GitValuesChange>), EngineError> {
    let prepared = prepare::prepare(
        &s.cfg,
        &s.service.name,
        &s.env.name,
        overrides,
        crate::sources::no_progress(),
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
            Ok((diff::diff(&old, &desired, &options()), prepared, git))
        }
    }
}
