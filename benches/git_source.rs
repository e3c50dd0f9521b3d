//! Git source benchmarks (targets in issue #6): warm (cached) resolve + pull ≤ 5 ms; cold
//! pull of a ~1 MB chart from a loopback server ≤ 200 ms. Servers: `git daemon` (git://)
//! and `git http-backend` behind axum (http), both on 127.0.0.1.
//!
//! "Warm" is measured three ways: a commit-pinned ref (a full commit id the mirror already
//! holds never needs the network: the pull is local work only); a branch ref this process
//! fetched within the freshness window (`DEFAULT_FRESH_FOR`, local work only); and a branch
//! ref re-resolved against the server (one ls-refs round trip, what every new process does
//! so that a new commit is never missed).

#[path = "../tests/support/git_server.rs"]
mod git_server;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use git_server::{files_of, Daemon, GitRepos, HttpGit};
use helmdeck::config::{RepoType, Repository};
use helmdeck::sources::git::{GitSource, DEFAULT_FRESH_FOR};
use helmdeck::sources::{no_progress, ChartSource};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn charts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/charts")
}

fn repo(url: &str, git_ref: &str) -> Repository {
    Repository {
        name: "bench".into(),
        kind: RepoType::Git,
        path: Some("charts".into()),
        url: Some(url.into()),
        auth: None,
        region: None,
        endpoint: None,
        git_ref: Some(git_ref.into()),
        plain_http: false,
    }
}

/// The demo chart `web`, and `big`: a chart carrying 1 MiB of incompressible files.
fn build(repos: &GitRepos) -> String {
    let mut files = files_of(&charts().join("web"), "charts/web");
    files.extend(git_server::big_chart(1024 * 1024));
    repos.commit("charts", "main", &files)
}

fn pull(
    rt: &tokio::runtime::Runtime,
    url: &str,
    git_ref: &str,
    cache: &Path,
    chart: &str,
    fresh_for: Duration,
) {
    rt.block_on(async {
        let src = GitSource::new(&repo(url, git_ref), cache)
            .expect("source")
            .with_fresh_for(fresh_for);
        let f = src.fetch(chart, None, no_progress()).await.expect("pull");
        black_box(f);
    })
}

fn git_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let repos = GitRepos::new();
    let commit = build(&repos);
    let daemon = Daemon::start(&repos.srv());
    let http = HttpGit::start(&repos.srv(), None);
    let git_url = daemon.url("charts");
    let http_url = http.url("charts");

    let mut g = c.benchmark_group("git_source");
    g.sample_size(20).measurement_time(Duration::from_secs(8));

    for (name, url) in [("git_daemon", &git_url), ("http_backend", &http_url)] {
        g.bench_function(format!("cold_pull_1mib_chart_{name}"), |b| {
            b.iter_batched(
                || tempfile::tempdir().expect("cache"),
                |cache| pull(&rt, url, "main", cache.path(), "big", Duration::ZERO),
                BatchSize::PerIteration,
            )
        });
    }

    let zero = Duration::ZERO;
    let warm = tempfile::tempdir().expect("cache");
    pull(&rt, &git_url, "main", warm.path(), "web", zero);
    pull(&rt, &git_url, &commit, warm.path(), "web", zero);
    g.bench_function("warm_pull_commit_pinned", |b| {
        b.iter(|| pull(&rt, &git_url, &commit, warm.path(), "web", zero))
    });
    g.bench_function("warm_pull_branch_fresh_within_5s", |b| {
        b.iter(|| pull(&rt, &git_url, "main", warm.path(), "web", DEFAULT_FRESH_FOR))
    });
    g.bench_function("warm_pull_branch_round_trip_git_daemon", |b| {
        b.iter(|| pull(&rt, &git_url, "main", warm.path(), "web", zero))
    });
    pull(&rt, &http_url, "main", warm.path(), "web", zero);
    g.bench_function("warm_pull_branch_round_trip_http_backend", |b| {
        b.iter(|| pull(&rt, &http_url, "main", warm.path(), "web", zero))
    });
    g.finish();
}

criterion_group!(benches, git_benches);
criterion_main!(benches);
