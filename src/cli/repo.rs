//! `helmdeck repo list | search TEXT | pull REPO/CHART[@CONSTRAINT]`: the configured chart
//! sources, the charts they offer, and fetching one into the cache.

use super::{warn_all, CmdResult, DownloadBar, Exit, Failure, OutputFormat};
use crate::domain::mask::Redactor;
use crate::sources::{self, ChartVersion};
use serde::Serialize;
use std::io::Write;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum RepoCommand {
    /// The configured repositories
    List {
        #[arg(long, short = 'o', value_enum, default_value = "text")]
        output: OutputFormat,
    },
    /// Charts whose name or description contains TEXT, across every repository
    Search {
        text: Option<String>,
        /// Every version, not only the newest stable one
        #[arg(long)]
        versions: bool,
        /// Include prereleases
        #[arg(long)]
        devel: bool,
        #[arg(long, short = 'o', value_enum, default_value = "text")]
        output: OutputFormat,
    },
    /// Fetch REPO/CHART[@CONSTRAINT] into the cache and print where it is
    Pull {
        reference: String,
        #[arg(long, short = 'o', value_enum, default_value = "text")]
        output: OutputFormat,
    },
}

#[derive(Serialize)]
struct RepoRow {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    location: String,
}

#[derive(Serialize)]
struct SearchRow<'a> {
    repository: &'a str,
    chart: &'a str,
    version: &'a str,
    app_version: Option<&'a str>,
    description: Option<&'a str>,
}

fn print(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count()).min(60);
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{:w$}  ", c, w = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

pub async fn run(config: Option<&std::path::Path>, cmd: &RepoCommand) -> CmdResult {
    let cfg = crate::config::discover(config)?;
    match cmd {
        RepoCommand::List { output } => {
            let rows: Vec<RepoRow> = cfg
                .file
                .repositories
                .iter()
                .map(|r| RepoRow {
                    name: r.name.clone(),
                    kind: r.kind.as_str().into(),
                    location: match r.kind {
                        crate::config::RepoType::Local => cfg
                            .resolve_path(r.path.as_deref().unwrap_or("."))
                            .display()
                            .to_string(),
                        _ => r.url.clone().unwrap_or_default(),
                    },
                })
                .collect();
            match output {
                OutputFormat::Json => {
                    print(&(serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n"))
                }
                OutputFormat::Yaml => print(&crate::domain::yaml::to_string(
                    &serde_json::to_value(&rows).unwrap_or_default(),
                )),
                OutputFormat::Text => print(&table(
                    &["NAME", "TYPE", "LOCATION"],
                    &rows
                        .iter()
                        .map(|r| vec![r.name.clone(), r.kind.clone(), r.location.clone()])
                        .collect::<Vec<_>>(),
                )),
            }
            Ok(Exit::Done)
        }
        RepoCommand::Search {
            text,
            versions,
            devel,
            output,
        } => {
            let needle = text.clone().unwrap_or_default().to_lowercase();
            let mut found: Vec<(String, ChartVersion)> = Vec::new();
            let mut failures = Vec::new();
            for r in &cfg.file.repositories {
                let index = match sources::open(&cfg, r) {
                    Ok(src) => src.index().await,
                    Err(e) => Err(e),
                };
                match index {
                    Ok(index) => {
                        warn_all(&index.warnings, &Redactor::default());
                        for (name, list) in index.charts {
                            let matches = needle.is_empty()
                                || name.to_lowercase().contains(&needle)
                                || list.iter().any(|v| {
                                    v.description
                                        .as_deref()
                                        .unwrap_or("")
                                        .to_lowercase()
                                        .contains(&needle)
                                });
                            if !matches {
                                continue;
                            }
                            let eligible = list
                                .into_iter()
                                .filter(|v| *devel || !v.version.contains('-'));
                            if *versions {
                                found.extend(eligible.map(|v| (r.name.clone(), v)));
                            } else if let Some(v) = eligible.into_iter().next() {
                                found.push((r.name.clone(), v));
                            }
                        }
                    }
                    Err(e) => failures.push(e),
                }
            }
            for e in &failures {
                eprintln!("warning: {e} — {}", e.hint());
            }
            if found.is_empty()
                && !failures.is_empty()
                && failures.len() == cfg.file.repositories.len()
            {
                return Err(failures.remove(0).into());
            }
            let rows: Vec<SearchRow> = found
                .iter()
                .map(|(repo, v)| SearchRow {
                    repository: repo,
                    chart: &v.name,
                    version: &v.version,
                    app_version: v.app_version.as_deref(),
                    description: v.description.as_deref(),
                })
                .collect();
            match output {
                OutputFormat::Json => {
                    print(&(serde_json::to_string_pretty(&rows).unwrap_or_default() + "\n"))
                }
                OutputFormat::Yaml => print(&crate::domain::yaml::to_string(
                    &serde_json::to_value(&rows).unwrap_or_default(),
                )),
                OutputFormat::Text => {
                    if rows.is_empty() {
                        eprintln!("no charts found");
                    } else {
                        print(&table(
                            &["NAME", "CHART VERSION", "APP VERSION", "DESCRIPTION"],
                            &rows
                                .iter()
                                .map(|r| {
                                    vec![
                                        format!("{}/{}", r.repository, r.chart),
                                        r.version.to_string(),
                                        r.app_version.unwrap_or("").to_string(),
                                        r.description.unwrap_or("").to_string(),
                                    ]
                                })
                                .collect::<Vec<_>>(),
                        ))
                    }
                }
            }
            Ok(Exit::Done)
        }
        RepoCommand::Pull { reference, output } => {
            let (repo_chart, constraint) = match reference.split_once('@') {
                Some((a, b)) => (a, Some(b)),
                None => (reference.as_str(), None),
            };
            let (repo, chart) = repo_chart.split_once('/').ok_or_else(|| {
                Failure::bad_input(
                    format!("`{reference}` is not REPO/CHART[@CONSTRAINT]"),
                    "write e.g. `demo/web` or `demo/web@^1.2`",
                )
            })?;
            let (_, r) = cfg.repository(repo)?;
            let src = sources::open(&cfg, r)?;
            let bar = DownloadBar::new();
            let progress = |d: u64, t: Option<u64>| bar.update(d, t);
            let fetched = src.fetch(chart, constraint, &progress).await;
            bar.finish();
            let fetched = fetched?;
            let origin = sources::deps::Origin {
                config: Some(&cfg),
                repository: Some(r),
            };
            let bar = DownloadBar::new();
            let progress = |d: u64, t: Option<u64>| bar.update(d, t);
            let fetched = sources::deps::vendor(&origin, fetched, &progress).await;
            bar.finish();
            let fetched = fetched?;
            warn_all(&fetched.warnings, &Redactor::default());
            match output {
                OutputFormat::Json => {
                    print(&(serde_json::to_string_pretty(&fetched).unwrap_or_default() + "\n"))
                }
                OutputFormat::Yaml => print(&crate::domain::yaml::to_string(
                    &serde_json::to_value(&fetched).unwrap_or_default(),
                )),
                OutputFormat::Text => {
                    let mut text = format!(
                        "pulled {} {} from {} ({}{})\n{}\n",
                        fetched.name,
                        fetched.version,
                        fetched.repository,
                        fetched.digest,
                        if fetched.from_cache { ", cached" } else { "" },
                        fetched.path.display()
                    );
                    for d in &fetched.dependencies {
                        text.push_str(&format!(
                            "  dependency {}{} {} from {} ({})\n",
                            d.name,
                            if d.alias.is_empty() {
                                String::new()
                            } else {
                                format!(" (as {})", d.alias)
                            },
                            d.version,
                            d.repository,
                            d.digest
                        ));
                    }
                    print(&text)
                }
            }
            Ok(Exit::Done)
        }
    }
}
