//! The commented starter `helmdeck.yaml` that `helmdeck init` writes, from what it found:
//! chart folders, kubeconfig contexts and Helm releases. Pure text; finding things is the
//! command's job.

/// A folder of chart folders, as a `local` repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRepository {
    pub name: String,
    /// As written in the file: relative to it when it can be.
    pub path: String,
}

/// A chart found in one of the repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundChart {
    pub repository: String,
    pub name: String,
    pub version: String,
}

/// A kubeconfig context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundContext {
    pub name: String,
    /// As written in the file (`~/.kube/config` or a path).
    pub kubeconfig: String,
    pub namespace: String,
}

/// A release Helm installed in a context's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRelease {
    pub context: String,
    pub namespace: String,
    pub name: String,
    pub chart: String,
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub repositories: Vec<FoundRepository>,
    pub charts: Vec<FoundChart>,
    pub contexts: Vec<FoundContext>,
    pub releases: Vec<FoundRelease>,
    /// What could not be looked at (an unreachable cluster), said in the file's header.
    pub notes: Vec<String>,
}

/// A YAML scalar for a name or path: plain when safe, else double-quoted (JSON quoting is
/// valid YAML).
fn scalar(s: &str) -> String {
    if crate::domain::yaml::plain_safe(s) && !s.contains([' ', ':', '#', ',', '{', '}', '[', ']']) {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

/// An environment's name from a context's: lowercase letters, digits and dashes.
pub fn environment_name(context: &str) -> String {
    let mut out = String::new();
    for c in context.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "default".into()
    } else {
        out
    }
}

/// A service to write: name, repository, chart, and the Helm release it takes over.
struct ServiceEntry {
    name: String,
    repository: String,
    chart: String,
    release: Option<String>,
}

/// The service entries: one per chart, and one per Helm release of a chart found here
/// (named after the release when it differs); releases of other charts are listed as
/// comments for the user to fill in.
fn services(found: &Found) -> (Vec<ServiceEntry>, Vec<&FoundRelease>) {
    let mut out: Vec<ServiceEntry> = Vec::new();
    for c in &found.charts {
        if !out.iter().any(|s| s.name == c.name) {
            out.push(ServiceEntry {
                name: c.name.clone(),
                repository: c.repository.clone(),
                chart: c.name.clone(),
                release: None,
            });
        }
    }
    let mut unknown = Vec::new();
    for r in &found.releases {
        match found.charts.iter().find(|c| c.name == r.chart) {
            Some(c) => {
                if !out
                    .iter()
                    .any(|s| s.name == r.name || s.release.as_deref() == Some(&r.name))
                {
                    out.push(ServiceEntry {
                        name: r.name.clone(),
                        repository: c.repository.clone(),
                        chart: c.name.clone(),
                        release: Some(r.name.clone()),
                    });
                }
            }
            None => {
                if !unknown.iter().any(|u: &&FoundRelease| u.name == r.name) {
                    unknown.push(r);
                }
            }
        }
    }
    (out, unknown)
}

/// The starter file.
pub fn render(found: &Found) -> String {
    let mut y = String::new();
    y.push_str(
        "# helmdeck.yaml, written by `helmdeck init`. Every key is explained in README.md\n",
    );
    y.push_str("# (\"Configuration\"); relative paths are relative to this file.\n");
    for n in &found.notes {
        y.push_str(&format!("# note: {n}\n"));
    }
    y.push('\n');

    y.push_str(
        "# Where charts come from. `local` is a folder of chart folders; also http (a Helm\n",
    );
    y.push_str("# repository), oci, s3, gcs and git (url + ref + path).\n");
    if found.repositories.is_empty() {
        y.push_str("repositories: []\n");
        y.push_str("#  - { name: charts, type: local, path: ./charts }\n");
        y.push_str("#  - { name: stable, type: http, url: \"https://charts.example.com\" }\n");
    } else {
        y.push_str("repositories:\n");
        for r in &found.repositories {
            y.push_str(&format!(
                "  - {{ name: {}, type: local, path: {} }}\n",
                scalar(&r.name),
                scalar(&r.path)
            ));
        }
    }
    y.push('\n');

    let (svcs, unknown) = services(found);
    y.push_str("# What you deploy: a chart, its values files and how it rolls out.\n");
    y.push_str("# strategy: rolling | canary (steps below) | bluegreen.\n");
    if svcs.is_empty() {
        y.push_str("services: []\n");
    } else {
        y.push_str("services:\n");
    }
    for ServiceEntry {
        name,
        repository: repo,
        chart,
        release,
    } in &svcs
    {
        let version = found
            .charts
            .iter()
            .find(|c| &c.name == chart && &c.repository == repo)
            .map(|c| c.version.as_str())
            .unwrap_or("");
        y.push_str(&format!("  - name: {}\n", scalar(name)));
        if let Some(r) = release {
            if r != name {
                y.push_str(&format!("    release: {}\n", scalar(r)));
            }
            y.push_str("    # taken over from the Helm release of that name (helmdeck deploy keeps it running)\n");
        }
        y.push_str(&format!(
            "    chart: {{ repository: {}, name: {} }}   # add version: \"^{}\" to pin a range\n",
            scalar(repo),
            scalar(chart),
            version
        ));
        y.push_str("    values: []                    # service-level values files, e.g. ./values/NAME.yaml\n");
        y.push_str("    strategy: rolling\n");
        y.push_str("    # canary: { steps: [ { replicas: 1 }, { pause: {} }, { percent: 50 }, { pause: { duration: 30s } } ] }\n");
    }
    for r in unknown {
        y.push_str(&format!(
            "  # Helm release {} in {}/{} runs chart {} {}, which is in no repository above:\n",
            r.name, r.context, r.namespace, r.chart, r.version
        ));
        y.push_str("  # add the repository it comes from, then:\n");
        y.push_str(&format!(
            "  # - {{ name: {}, chart: {{ repository: TODO, name: {} }} }}\n",
            scalar(&r.name),
            scalar(&r.chart)
        ));
    }
    y.push('\n');

    y.push_str("# Where you deploy: one environment per kubeconfig context, in its namespace.\n");
    y.push_str("# policy.protected: true asks for the environment's name before a deploy.\n");
    if found.contexts.is_empty() {
        y.push_str("environments: []\n");
        y.push_str("#  - name: staging\n");
        y.push_str(
            "#    cluster: { kubeconfig: ~/.kube/config, context: staging, namespace: web }\n",
        );
    } else {
        y.push_str("environments:\n");
    }
    let mut taken: Vec<String> = Vec::new();
    for c in &found.contexts {
        let mut name = environment_name(&c.name);
        let base = name.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        taken.push(name.clone());
        y.push_str(&format!("  - name: {}\n", scalar(&name)));
        y.push_str(&format!(
            "    cluster: {{ kubeconfig: {}, context: {}, namespace: {} }}\n",
            scalar(&c.kubeconfig),
            scalar(&c.name),
            scalar(&c.namespace)
        ));
        y.push_str("    values: []                    # environment-level values files\n");
        y.push_str("    # secrets: [ { path: database.password, from: { env: DB_PASSWORD } } ]\n");
        y.push_str("    policy: { protected: false, auto_rollback: true, progress_deadline: 10m, keep_revisions: 10 }\n");
    }
    y
}

/// What to do next, printed after the file is written.
pub fn next_steps(found: &Found, file: &str) -> Vec<String> {
    let mut out = vec![format!("wrote {file}")];
    let (svcs, unknown) = services(found);
    if found.repositories.is_empty() {
        out.push(
            "add a repository for your charts (none found under ./charts; try --chart PATH)".into(),
        );
    }
    if found.contexts.is_empty() {
        out.push("add an environment (no kubeconfig context found; try --context CTX)".into());
    }
    if !unknown.is_empty() {
        out.push(format!(
            "{} Helm release(s) run charts from elsewhere: see the comments under services",
            unknown.len()
        ));
    }
    if let (Some(s), Some(c)) = (svcs.first(), found.contexts.first()) {
        out.push(format!(
            "try: helmdeck render {} --env {}   then: helmdeck diff {} --env {}",
            s.name,
            environment_name(&c.name),
            s.name,
            environment_name(&c.name)
        ));
    }
    out.push(
        "set each service's strategy and values files, and protect production environments".into(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found() -> Found {
        Found {
            repositories: vec![FoundRepository {
                name: "charts".into(),
                path: "./charts".into(),
            }],
            charts: vec![
                FoundChart {
                    repository: "charts".into(),
                    name: "web".into(),
                    version: "1.2.0".into(),
                },
                FoundChart {
                    repository: "charts".into(),
                    name: "worker".into(),
                    version: "0.4.1".into(),
                },
            ],
            contexts: vec![
                FoundContext {
                    name: "kind-dev".into(),
                    kubeconfig: "~/.kube/config".into(),
                    namespace: "default".into(),
                },
                FoundContext {
                    name: "arn:aws:eks:eu-west-1:1:cluster/prod".into(),
                    kubeconfig: "~/.kube/config".into(),
                    namespace: "shop".into(),
                },
            ],
            releases: vec![
                FoundRelease {
                    context: "kind-dev".into(),
                    namespace: "default".into(),
                    name: "legacy-web".into(),
                    chart: "web".into(),
                    version: "1.1.0".into(),
                },
                FoundRelease {
                    context: "kind-dev".into(),
                    namespace: "default".into(),
                    name: "cache".into(),
                    chart: "redis".into(),
                    version: "18.0.0".into(),
                },
            ],
            notes: vec![],
        }
    }

    #[test]
    fn the_starter_names_charts_contexts_and_releases_and_parses_as_a_config() {
        let text = render(&found());
        let file: crate::config::ConfigFile = serde_json::from_value(
            crate::domain::yaml::parse_document(&text)
                .expect("yaml")
                .value,
        )
        .expect("a config file");
        let names: Vec<&str> = file.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["web", "worker", "legacy-web"]);
        assert_eq!(file.services[2].release_name(), "legacy-web");
        assert_eq!(file.services[2].chart.name, "web");
        let envs: Vec<&str> = file.environments.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(envs, ["kind-dev", "arn-aws-eks-eu-west-1-1-cluster-prod"]);
        assert_eq!(
            file.environments[1].cluster.context.as_deref(),
            Some("arn:aws:eks:eu-west-1:1:cluster/prod")
        );
        assert!(text.contains("# Helm release cache in kind-dev/default runs chart redis 18.0.0"));
        let steps = next_steps(&found(), "helmdeck.yaml").join("\n");
        assert!(
            steps.contains("helmdeck render web --env kind-dev"),
            "{steps}"
        );
    }

    #[test]
    fn nothing_found_still_gives_a_valid_file_with_examples_in_comments() {
        let text = render(&Found::default());
        let file: crate::config::ConfigFile = serde_json::from_value(
            crate::domain::yaml::parse_document(&text)
                .expect("yaml")
                .value,
        )
        .expect("a config file");
        assert!(file.services.is_empty() && file.environments.is_empty());
        assert!(text.contains("#  - name: staging"));
    }
}
