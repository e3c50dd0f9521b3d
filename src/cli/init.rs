//! `helmdeck init`: writes a commented starter helmdeck.yaml from what it finds — chart
//! folders (./charts or `--chart`), kubeconfig contexts (all, or `--context`) and the
//! releases Helm installed in their namespaces. Never overwrites a file.

use super::{CmdResult, Exit, Failure};
use crate::config::starter::{self, Found, FoundChart, FoundContext, FoundRepository};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// A chart folder, or a folder of chart folders (repeatable; default: ./charts)
    #[arg(long = "chart", value_name = "PATH")]
    pub charts: Vec<PathBuf>,
    /// A kubeconfig context to make an environment of (repeatable; default: every context)
    #[arg(long = "context", value_name = "CTX")]
    pub contexts: Vec<String>,
}

/// How long init waits for a cluster to list its Helm releases.
const CLUSTER_WAIT: Duration = Duration::from_secs(5);

pub async fn run(config: Option<&Path>, args: &InitArgs) -> CmdResult {
    let target = config
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("helmdeck.yaml"));
    if target.exists() {
        return Err(Failure::bad_input(
            format!("{} already exists: nothing was written", target.display()),
            "move it away first, or write the starter elsewhere with --config NEW.yaml",
        ));
    }
    let base = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut found = Found::default();
    find_charts(&base, &args.charts, &mut found)?;
    find_contexts(&args.contexts, &mut found)?;
    find_releases(&mut found).await;

    let text = starter::render(&found);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .map_err(|e| {
            Failure::bad_input(
                format!("cannot write {}: {e}", target.display()),
                "check the folder exists and is writable (an existing file is never overwritten)",
            )
        })?;
    file.write_all(text.as_bytes()).map_err(|e| {
        Failure::new(
            Exit::Failed,
            format!("cannot write {}: {e}", target.display()),
            "check the disk",
        )
    })?;
    for line in starter::next_steps(&found, &target.display().to_string()) {
        eprintln!("{line}");
    }
    Ok(Exit::Done)
}

/// `path` as the config file will say it: relative to the file's folder when inside it.
fn shown_path(base: &Path, path: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (b, p) = (abs(base), abs(path));
    match p.strip_prefix(&b) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
        Ok(rel) => format!("./{}", rel.display()),
        Err(_) => p.display().to_string(),
    }
}

fn find_charts(base: &Path, given: &[PathBuf], found: &mut Found) -> Result<(), Failure> {
    let default = base.join("charts");
    let roots: Vec<PathBuf> = if given.is_empty() {
        if default.is_dir() {
            vec![default]
        } else {
            Vec::new()
        }
    } else {
        given.to_vec()
    };
    for root in roots {
        let (folder, charts) = if root.join("Chart.yaml").is_file() {
            let parent = root
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            (parent, vec![root.clone()])
        } else if root.is_dir() {
            let mut charts: Vec<PathBuf> = std::fs::read_dir(&root)
                .map_err(|e| {
                    Failure::bad_input(
                        format!("cannot read {}: {e}", root.display()),
                        "check --chart",
                    )
                })?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("Chart.yaml").is_file())
                .collect();
            charts.sort();
            (root.clone(), charts)
        } else {
            return Err(Failure::bad_input(
                format!(
                    "{} is neither a chart folder nor a folder of charts",
                    root.display()
                ),
                "give --chart a folder holding Chart.yaml, or one holding chart folders",
            ));
        };
        let path = shown_path(base, &folder);
        let repo = match found.repositories.iter().find(|r| r.path == path) {
            Some(r) => r.name.clone(),
            None => {
                let stem = folder
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .map(|n| starter::environment_name(&n))
                    .unwrap_or_else(|| "charts".into());
                let mut name = stem.clone();
                let mut n = 2;
                while found.repositories.iter().any(|r| r.name == name) {
                    name = format!("{stem}-{n}");
                    n += 1;
                }
                found.repositories.push(FoundRepository {
                    name: name.clone(),
                    path,
                });
                name
            }
        };
        for chart in charts {
            let (name, version, _, _) = crate::sources::chart::read_meta(&chart)?;
            if !found
                .charts
                .iter()
                .any(|c| c.name == name && c.repository == repo)
            {
                found.charts.push(FoundChart {
                    repository: repo.clone(),
                    name,
                    version,
                });
            }
        }
    }
    Ok(())
}

/// The kubeconfig kube-rs reads by default: the first file of $KUBECONFIG, else
/// ~/.kube/config; and how the config file names it.
fn kubeconfig() -> Option<(PathBuf, String)> {
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let first = std::env::split_paths(&list).next()?;
        let abs = std::fs::canonicalize(&first).unwrap_or(first);
        return Some((abs.clone(), abs.display().to_string()));
    }
    let home = directories::BaseDirs::new()?
        .home_dir()
        .join(".kube/config");
    Some((home, "~/.kube/config".into()))
}

fn find_contexts(wanted: &[String], found: &mut Found) -> Result<(), Failure> {
    let Some((path, shown)) = kubeconfig() else {
        return Ok(());
    };
    if !path.is_file() {
        if !wanted.is_empty() {
            return Err(Failure::bad_input(
                format!(
                    "no kubeconfig at {}: cannot find context {}",
                    path.display(),
                    wanted.join(", ")
                ),
                "set KUBECONFIG to the file that holds the context",
            ));
        }
        found.notes.push(format!(
            "no kubeconfig at {}: add environments by hand",
            path.display()
        ));
        return Ok(());
    }
    let kc = kube::config::Kubeconfig::read_from(&path).map_err(|e| {
        Failure::bad_input(
            format!("cannot read kubeconfig {}: {e}", path.display()),
            "fix the file, or point KUBECONFIG at another",
        )
    })?;
    for w in wanted {
        if !kc.contexts.iter().any(|c| &c.name == w) {
            let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
            return Err(Failure::bad_input(
                format!("kubeconfig {} has no context `{w}`", path.display()),
                format!("pick one of: {}", known.join(", ")),
            ));
        }
    }
    for c in &kc.contexts {
        if !wanted.is_empty() && !wanted.contains(&c.name) {
            continue;
        }
        let namespace = c
            .context
            .as_ref()
            .and_then(|x| x.namespace.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into());
        found.contexts.push(FoundContext {
            name: c.name.clone(),
            kubeconfig: shown.clone(),
            namespace,
        });
    }
    Ok(())
}

/// Helm's releases in each context's namespace; a cluster that does not answer in time is
/// noted in the file, not fatal.
async fn find_releases(found: &mut Found) {
    let Some((path, _)) = kubeconfig() else {
        return;
    };
    for c in found.contexts.clone() {
        let target = crate::cluster::ClusterTarget {
            kubeconfig: Some(path.clone()),
            context: Some(c.name.clone()),
            namespace: c.namespace.clone(),
            timeout: Some(CLUSTER_WAIT),
        };
        let listed = tokio::time::timeout(CLUSTER_WAIT, async {
            let cluster = crate::cluster::connect(&target).await?;
            crate::cluster::helm_releases::list(&cluster).await
        })
        .await;
        match listed {
            Ok(Ok(releases)) => {
                for r in releases {
                    found.releases.push(starter::FoundRelease {
                        context: c.name.clone(),
                        namespace: c.namespace.clone(),
                        name: r.name,
                        chart: r.chart,
                        version: r.version,
                    });
                }
            }
            Ok(Err(e)) => found.notes.push(format!(
                "context {}: Helm releases not listed ({e})",
                c.name
            )),
            Err(_) => found.notes.push(format!(
                "context {}: the cluster did not answer in {} s; Helm releases not listed",
                c.name,
                CLUSTER_WAIT.as_secs()
            )),
        }
    }
}
