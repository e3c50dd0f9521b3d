//! `helmdeck diff`: what a deploy would change, per object (added, removed, changed) with a
//! unified diff of each change; Secret values masked (only "changed"/"unchanged" shows).
//! Against a manifest file now; against the live cluster and past revisions with the engine.

use super::{
    color_enabled, prepare_target, warn_all, CmdResult, Exit, Failure, OutputFormat, TargetArgs,
};
use crate::domain::diff::{self, ChangeKind, DiffOptions, LineTag, ManifestDiff};
use crate::domain::manifest;
use crate::domain::values::GitValuesChange;
use crate::render::Renderer;
use serde_json::json;
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Compare against the objects in this manifest file (multi-document YAML or JSON)
    #[arg(long, value_name = "FILE", conflicts_with = "revision")]
    pub against: Option<std::path::PathBuf>,
    /// Compare against revision N of the release (default: against the live cluster)
    #[arg(long, value_name = "N")]
    pub revision: Option<u32>,
    /// Output format: text (default) or json
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: OutputFormat,
    /// No colours
    #[arg(long)]
    pub no_color: bool,
}

/// The text report: a summary line per changed object, then the unified diffs.
pub fn report(d: &ManifestDiff, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    for e in d.changes() {
        let code = match e.change {
            ChangeKind::Added => "32",
            ChangeKind::Removed => "31",
            _ => "33",
        };
        out.push_str(&paint(
            code,
            &format!("{} {}", e.change.sigil(), diff::key_label(&e.key)),
        ));
        out.push('\n');
    }
    let c = &d.counts;
    out.push_str(&format!(
        "{} added, {} changed, {} removed, {} unchanged\n",
        c.added, c.changed, c.removed, c.unchanged
    ));
    for e in d.changes() {
        let Some(u) = &e.unified else { continue };
        out.push('\n');
        for line in u.lines() {
            let code = match line.tag {
                LineTag::FileHeader => "1",
                LineTag::HunkHeader => "36",
                LineTag::Delete => "31",
                LineTag::Insert => "32",
                LineTag::Context => "",
            };
            let text = line.text.trim_end_matches('\n');
            if code.is_empty() {
                out.push_str(text);
            } else {
                out.push_str(&paint(code, text));
            }
            out.push('\n');
        }
    }
    out
}

/// What `diff` against the cluster found: the object diff and the git values files that
/// moved to another commit.
struct ClusterDiff {
    diff: ManifestDiff,
    git_values: Vec<GitValuesChange>,
    redactor: crate::domain::mask::Redactor,
    warnings: Vec<String>,
}

async fn against_cluster(
    config: Option<&std::path::Path>,
    args: &DiffArgs,
) -> Result<ClusterDiff, Failure> {
    let (Some(service), Some(env)) = (&args.target.service, &args.target.env) else {
        return Err(Failure::bad_input(
            "diff against the cluster needs a service and --env",
            "or give --against FILE to compare with a manifest file",
        ));
    };
    let s = super::open_session(
        config,
        &super::ReleaseArgs {
            service: service.clone(),
            env: env.clone(),
        },
    )
    .await?;
    let helm = crate::engine::locate_helm(&s.cfg)?;
    let against = match args.revision {
        Some(n) => crate::engine::inspect::Against::Revision(n),
        None => crate::engine::inspect::Against::Live,
    };
    let (diff, prepared, git_values) = crate::engine::inspect::diff_with_values(
        &s,
        &Renderer::new(helm),
        &args.target.overrides(),
        against,
    )
    .await?;
    Ok(ClusterDiff {
        diff,
        git_values,
        redactor: prepared.redactor,
        warnings: prepared.warnings,
    })
}

pub async fn run(config: Option<&std::path::Path>, args: &DiffArgs) -> CmdResult {
    let Some(against) = &args.against else {
        let c = against_cluster(config, args).await?;
        warn_all(&c.warnings, &c.redactor);
        return print_diff(&c.diff, &c.git_values, args, &c.redactor);
    };
    let (prepared, helm) = prepare_target(config, &args.target).await?;
    let text = std::fs::read_to_string(against).map_err(|e| {
        Failure::bad_input(
            format!("cannot read {}: {e}", against.display()),
            "check the path given to --against",
        )
    })?;
    let old = manifest::parse_stream(&text, &prepared.namespace).map_err(|e| {
        Failure::bad_input(
            format!("{}: {e}", against.display()),
            "--against takes Kubernetes manifests: YAML documents separated by `---`",
        )
    })?;
    let rendered = Renderer::new(helm)
        .render(&prepared.render_request())
        .await?;
    warn_all(&prepared.warnings, &prepared.redactor);
    let old_objects: Vec<_> = old.all().cloned().collect();
    let new_objects: Vec<_> = rendered.manifests.all().cloned().collect();
    let d = diff::diff(
        &old_objects,
        &new_objects,
        &DiffOptions::ignoring_server_fields(),
    );
    print_diff(&d, &[], args, &prepared.redactor)
}

fn print_diff(
    d: &ManifestDiff,
    git_values: &[GitValuesChange],
    args: &DiffArgs,
    redactor: &crate::domain::mask::Redactor,
) -> CmdResult {
    let out = match args.output {
        OutputFormat::Json | OutputFormat::Yaml => {
            let entries: Vec<_> = d
                .changes()
                .map(|e| {
                    json!({
                        "change": format!("{:?}", e.change).to_lowercase(),
                        "group": e.key.group, "kind": e.key.kind,
                        "namespace": e.key.namespace, "name": e.key.name,
                        "diff": e.unified.as_ref().map(|u| u.text().to_string()),
                    })
                })
                .collect();
            let v = json!({
                "added": d.counts.added, "changed": d.counts.changed,
                "removed": d.counts.removed, "unchanged": d.counts.unchanged,
                "objects": entries,
                "values_git": git_values,
            });
            if args.output == OutputFormat::Json {
                serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
            } else {
                crate::domain::yaml::to_string(&v)
            }
        }
        OutputFormat::Text => {
            let mut out: String = git_values.iter().map(|g| g.line() + "\n").collect();
            out.push_str(&report(
                d,
                color_enabled(args.no_color, std::io::stdout().is_terminal()),
            ));
            out
        }
    };
    let out = redactor.redact(&out);
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(Exit::Done)
}
