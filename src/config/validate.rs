//! Checks that go beyond the shape of the file: names are unique, references resolve, each
//! repository type has what it needs, files that the config names exist.

use super::{suggest, Config, ConfigError, RepoType, ValuesFile};
use std::collections::HashSet;

pub(super) fn validate(cfg: &Config) -> Result<(), ConfigError> {
    let f = &cfg.file;
    let err = |ptr: &str, msg: String, hint: String| {
        Err(ConfigError::new(Some(cfg.locate(ptr)), msg, hint))
    };
    // A git ref (of a repository, or of values read from one) at `ptr`.
    let check_git_ref = |ptr: &str, g: &str| -> Result<(), ConfigError> {
        if valid_git_ref(g) {
            return Ok(());
        }
        err(
            ptr,
            format!("`{g}` is not a valid git ref"),
            "write a branch (`main`), a tag (`v1.2.0`) or a full 40-character commit id".into(),
        )
    };

    unique(
        cfg,
        "repositories",
        f.repositories.iter().map(|r| r.name.as_str()),
    )?;
    unique(cfg, "services", f.services.iter().map(|s| s.name.as_str()))?;
    unique(
        cfg,
        "environments",
        f.environments.iter().map(|e| e.name.as_str()),
    )?;

    for (i, r) in f.repositories.iter().enumerate() {
        let at = format!("/repositories/{i}");
        let scheme_ok = |url: &str, schemes: &[&str]| schemes.iter().any(|s| url.starts_with(s));
        let need_url = |schemes: &[&str], example: &str| -> Result<(), ConfigError> {
            match &r.url {
                None => err(
                    &at,
                    format!(
                        "repository `{}` of type {} needs `url`",
                        r.name,
                        r.kind.as_str()
                    ),
                    format!("add `url: {example}`"),
                ),
                Some(u) if !scheme_ok(u, schemes) => err(
                    &format!("{at}/url"),
                    format!("`{u}` is not a {} URL", r.kind.as_str()),
                    format!("write it like `{example}`"),
                ),
                Some(_) => Ok(()),
            }
        };
        match r.kind {
            RepoType::Local => match &r.path {
                None => err(
                    &at,
                    format!("repository `{}` of type local needs `path`", r.name),
                    "add `path: ./charts` (a folder of charts, relative to helmdeck.yaml)".into(),
                )?,
                Some(p) if !cfg.resolve_path(p).is_dir() => err(
                    &format!("{at}/path"),
                    format!(
                        "folder `{}` of repository `{}` does not exist",
                        cfg.resolve_path(p).display(),
                        r.name
                    ),
                    "create it or fix the path (relative to helmdeck.yaml)".into(),
                )?,
                Some(_) => {}
            },
            RepoType::Http => need_url(&["http://", "https://"], "https://charts.example.com")?,
            RepoType::Oci => need_url(&["oci://"], "oci://ghcr.io/acme/charts")?,
            RepoType::S3 => need_url(&["s3://"], "s3://bucket/path")?,
            RepoType::Gcs => need_url(&["gs://"], "gs://bucket/path")?,
            RepoType::Git => {
                let scp_like = r.url.as_deref().is_some_and(is_scp_like);
                if !scp_like {
                    need_url(
                        &["https://", "http://", "ssh://", "git://", "file://"],
                        "https://git.example.com/platform/charts.git",
                    )?;
                }
                match r.git_ref.as_deref().map(str::trim) {
                    None => err(
                        &at,
                        format!("repository `{}` of type git needs `ref`", r.name),
                        "add `ref: main` (a branch, a tag or a full commit id)".into(),
                    )?,
                    Some(g) => check_git_ref(&format!("{at}/ref"), g)?,
                }
                if let Some(p) = &r.path {
                    if p.split('/').any(|s| s == "..") || p.starts_with('/') {
                        err(
                            &format!("{at}/path"),
                            format!("`{p}` must be a folder inside the repository"),
                            "write it relative to the repository's root, e.g. `path: charts`"
                                .into(),
                        )?;
                    }
                }
            }
        }
        remote_fields(r, &at, &err)?;
    }

    let repo_names: Vec<&str> = f.repositories.iter().map(|r| r.name.as_str()).collect();
    let check_repo_ref = |ptr: &str, name: &str, want_git: bool| -> Result<(), ConfigError> {
        match f.repositories.iter().find(|r| r.name == name) {
            None => err(
                ptr,
                format!("unknown repository `{name}`"),
                match suggest(name, &repo_names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if repo_names.is_empty() => "define it under `repositories:`".into(),
                    None => format!(
                        "define it under `repositories:` (known: {})",
                        repo_names.join(", ")
                    ),
                },
            ),
            Some(r) if want_git && r.kind != RepoType::Git => err(
                ptr,
                format!(
                    "repository `{name}` is of type {}, not git",
                    r.kind.as_str()
                ),
                "values from git need a repository of type git".into(),
            ),
            Some(_) => Ok(()),
        }
    };
    let check_values = |base: &str, files: &[ValuesFile]| -> Result<(), ConfigError> {
        for (j, v) in files.iter().enumerate() {
            let at = format!("{base}/{j}");
            match v {
                ValuesFile::Local(p) => {
                    if !cfg.resolve_path(p).is_file() {
                        err(
                            &at,
                            format!(
                                "values file `{}` does not exist",
                                cfg.resolve_path(p).display()
                            ),
                            "create it or fix the path (relative to helmdeck.yaml)".into(),
                        )?;
                    }
                }
                ValuesFile::Git { git } => {
                    check_repo_ref(&format!("{at}/git/repository"), &git.repository, true)?;
                    let p = git.path.trim();
                    if p.is_empty() || p.ends_with('/') || p.split('/').any(|s| s == "..") {
                        err(
                            &format!("{at}/git/path"),
                            format!("`{}` is not a file path inside the repository", git.path),
                            "write the file's path relative to the repository's root, e.g. `path: values/web.yaml`".into(),
                        )?;
                    }
                    if let Some(g) = git.git_ref.as_deref() {
                        check_git_ref(&format!("{at}/git/ref"), g)?;
                    }
                }
            }
        }
        Ok(())
    };

    for (i, s) in f.services.iter().enumerate() {
        let at = format!("/services/{i}");
        check_repo_ref(
            &format!("{at}/chart/repository"),
            &s.chart.repository,
            false,
        )?;
        if let Some(c) = s.chart.version.as_deref().filter(|c| !c.trim().is_empty()) {
            if let Err(e) = crate::domain::chartver::Constraint::parse(c) {
                err(
                    &format!("{at}/chart/version"),
                    format!("invalid version constraint `{c}`: {e}"),
                    "write e.g. \"^1.2\", \"~1.2.0\", \">=1.0 <2.0\" or an exact version".into(),
                )?;
            }
        }
        check_values(&format!("{at}/values"), &s.values)?;
        let release = s.release_name();
        if !valid_release_name(release) {
            err(
                &at,
                format!("release name `{release}` is not valid"),
                "use at most 53 lowercase letters, digits and '-', starting and ending with a letter or digit (set `release:` or rename the service)".into(),
            )?;
        }
        let checks = s
            .verify
            .iter()
            .map(|c| (format!("{at}/verify"), c))
            .chain(s.canary.iter().flat_map(|c| {
                c.steps
                    .iter()
                    .enumerate()
                    .flat_map(move |(k, st)| match st {
                        super::CanaryStep::Verify(list) => list
                            .iter()
                            .map(|c| (format!("/services/{i}/canary/steps/{k}"), c))
                            .collect::<Vec<_>>(),
                        _ => Vec::new(),
                    })
            }))
            .chain(s.bluegreen.iter().flat_map(|b| {
                b.pre_promotion
                    .iter()
                    .chain(b.post_promotion.iter())
                    .map(|c| (format!("/services/{i}/bluegreen"), c))
            }));
        for (ptr, c) in checks {
            let kinds = [
                c.http.is_some(),
                c.prometheus.is_some(),
                c.command.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if kinds != 1 {
                err(
                    &ptr,
                    format!(
                        "check `{}` must have exactly one of http, prometheus, command",
                        c.name
                    ),
                    "keep one kind per check; write several checks for several kinds".into(),
                )?;
            }
            if let Some(p) = &c.prometheus {
                if let Err(e) = crate::domain::gate::Condition::parse(&p.condition) {
                    err(
                        &ptr,
                        format!("check `{}`: {e}", c.name),
                        "write the condition as `result < 0.01` (one of < <= > >= == !=)".into(),
                    )?;
                }
            }
            if c.command.as_ref().is_some_and(|a| a.is_empty()) {
                err(
                    &ptr,
                    format!("check `{}` has an empty command", c.name),
                    "give the program and its arguments: command: [\"./e2e.sh\", \"--fast\"]"
                        .into(),
                )?;
            }
            if let Some(n) = c
                .count
                .filter(|n| *n == 0 || *n > crate::domain::gate::MAX_COUNT)
            {
                err(
                    &ptr,
                    format!("check `{}` has count {n}", c.name),
                    format!(
                        "count is how many measurements to take: 1 to {} (each is kept in the release record)",
                        crate::domain::gate::MAX_COUNT
                    ),
                )?;
            }
        }
        if let Some(canary) = &s.canary {
            for (k, st) in canary.steps.iter().enumerate() {
                if let super::CanaryStep::Percent(p) = st {
                    if *p == 0 || *p > 100 {
                        err(
                            &format!("{at}/canary/steps/{k}"),
                            format!("canary percent {p} is out of range"),
                            "use 1 to 100".into(),
                        )?;
                    }
                }
            }
        }
    }

    for (i, e) in f.environments.iter().enumerate() {
        let at = format!("/environments/{i}");
        if e.cluster.namespace.trim().is_empty() {
            err(
                &format!("{at}/cluster/namespace"),
                format!("environment `{}` has an empty namespace", e.name),
                "set `cluster.namespace` to the namespace releases go to".into(),
            )?;
        }
        check_values(&format!("{at}/values"), &e.values)?;
        for (j, s) in e.secrets.iter().enumerate() {
            if s.path.trim().is_empty() {
                err(
                    &format!("{at}/secrets/{j}/path"),
                    "a secret needs a values path".into(),
                    "write e.g. `path: database.password`".into(),
                )?;
            }
            if let super::SecretSource::File(p) = &s.from {
                if !cfg.resolve_path(p).is_file() {
                    err(
                        &format!("{at}/secrets/{j}/from"),
                        format!(
                            "secret file `{}` does not exist",
                            cfg.resolve_path(p).display()
                        ),
                        "create it or fix the path (relative to helmdeck.yaml)".into(),
                    )?;
                }
            }
        }
        if e.policy.keep_revisions == 0 {
            err(
                &format!("{at}/policy/keep_revisions"),
                "keep_revisions must be at least 1".into(),
                "rollback needs the previous revision: keep 2 or more".into(),
            )?;
        }
    }
    Ok(())
}

fn unique<'a>(
    cfg: &Config,
    list: &str,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (i, n) in names.enumerate() {
        if !seen.insert(n) {
            return Err(ConfigError::new(
                Some(cfg.locate(&format!("/{list}/{i}/name"))),
                format!("`{n}` is defined twice in `{list}`"),
                "give each a distinct name",
            ));
        }
    }
    Ok(())
}

/// `git@host:path` and `user@host:path`: ssh in scp form.
fn is_scp_like(url: &str) -> bool {
    !url.contains("://")
        && url
            .split_once(':')
            .is_some_and(|(host, path)| !host.is_empty() && !host.contains('/') && !path.is_empty())
}

/// A branch, tag or commit as `git check-ref-format` would take it (the checks that matter
/// for a value that ends up in a refspec).
fn valid_git_ref(r: &str) -> bool {
    !r.is_empty()
        && !r.starts_with(['-', '/', '.'])
        && !r.ends_with(['/', '.'])
        && !r.ends_with(".lock")
        && !r.contains("..")
        && !r.contains("//")
        && !r.contains("@{")
        && !r
            .chars()
            .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c))
}

/// Helm's release name rule: a DNS-1123 label of at most 53 characters.
pub fn valid_release_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 53
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// What oci, s3 and gcs repositories need beyond a URL scheme, and the fields that only
/// some repository types read (given elsewhere they would silently do nothing).
fn remote_fields(
    r: &super::Repository,
    at: &str,
    err: &dyn Fn(&str, String, String) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    let url = r.url.as_deref().unwrap_or("");
    let url_at = format!("{at}/url");
    match r.kind {
        RepoType::Oci => match crate::domain::repo_url::split_oci(url) {
            None => err(
                &url_at,
                format!("`{url}` names no registry"),
                "write it like `oci://ghcr.io/acme/charts` (the charts are below that path)".into(),
            )?,
            Some((_, path)) if path.contains('@') || path.contains(':') => err(
                &url_at,
                format!("`{url}` names a chart version, not a repository"),
                "give the path above the charts (`oci://ghcr.io/acme/charts`); services pick the chart and version".into(),
            )?,
            Some(_) => {}
        },
        RepoType::S3 | RepoType::Gcs => {
            let scheme = if r.kind == RepoType::S3 { "s3" } else { "gs" };
            if crate::domain::repo_url::split_bucket(url, scheme).is_none() {
                err(
                    &url_at,
                    format!("`{url}` names no bucket"),
                    format!("write it like `{scheme}://my-bucket/charts`"),
                )?
            }
        }
        _ => {}
    }
    if r.plain_http && r.kind != RepoType::Oci {
        err(
            &format!("{at}/plain_http"),
            format!(
                "`plain_http` applies to oci repositories, not {}",
                r.kind.as_str()
            ),
            "remove it (an http repository says http:// in its url)".into(),
        )?
    }
    if r.region.is_some() && r.kind != RepoType::S3 {
        err(
            &format!("{at}/region"),
            format!(
                "`region` applies to s3 repositories, not {}",
                r.kind.as_str()
            ),
            "remove it".into(),
        )?
    }
    if let Some(e) = &r.endpoint {
        if !matches!(r.kind, RepoType::S3 | RepoType::Gcs) {
            err(
                &format!("{at}/endpoint"),
                format!(
                    "`endpoint` applies to s3 and gcs repositories, not {}",
                    r.kind.as_str()
                ),
                "remove it".into(),
            )?
        } else if !(e.starts_with("http://") || e.starts_with("https://")) {
            err(
                &format!("{at}/endpoint"),
                format!("endpoint `{e}` is not an http(s) URL"),
                "write it like `http://127.0.0.1:9000` (S3-compatible stores, emulators)".into(),
            )?
        }
    }
    Ok(())
}
