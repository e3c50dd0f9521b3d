//! Chart sources against real servers on loopback (docker-registry, moto, the GCS
//! emulator): a warm resolve + pull (index or tags revalidated, package from the cache)
//! and a cold pull of a 1 MB chart into an empty cache. Targets (issue #6): warm ≤ 5 ms,
//! cold 1 MB ≤ 200 ms. Servers come from scripts/provision.sh, as for the tests.

#[path = "../tests/remote/mod.rs"]
mod remote;
#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use helmdeck::config::{RepoType, Repository};
use helmdeck::sources::oci::OciSource;
use helmdeck::sources::{gcs, no_progress, s3, ChartSource};
use std::path::Path;

fn repository(kind: RepoType, url: String, endpoint: Option<String>) -> Repository {
    Repository {
        name: kind.as_str().into(),
        kind,
        path: None,
        url: Some(url),
        auth: None,
        region: None,
        endpoint,
        git_ref: None,
        plain_http: kind == RepoType::Oci,
    }
}

fn sources(c: &mut Criterion) {
    // Anonymous access everywhere, and nothing from this machine's cloud setup.
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent");
    std::env::remove_var("AWS_ACCESS_KEY_ID");
    std::env::remove_var("GOOGLE_APPLICATION_CREDENTIALS");
    std::env::set_var("CLOUDSDK_CONFIG", "/nonexistent");

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut packages = remote::demo_packages();
    let big = remote::big_package("big", "1.0.0", 1 << 20);
    eprintln!("cold-pull chart: {} bytes packaged", big.len());
    packages.push(("big".into(), "1.0.0".into(), big));

    let registry = remote::oci::registry(false);
    let moto = rt.block_on(remote::s3::moto(false));
    let emulator = remote::gcs::emulator();
    rt.block_on(async {
        remote::oci::publish(&registry, "charts", &packages).await;
        remote::s3::publish(&moto, &packages).await;
        remote::gcs::publish(&emulator, &packages).await;
    });

    let configs = [
        repository(
            RepoType::Oci,
            format!("oci://127.0.0.1:{}/charts", registry.port),
            None,
        ),
        repository(
            RepoType::S3,
            format!("s3://{}/stable", remote::s3::BUCKET),
            Some(moto.server.url()),
        ),
        repository(
            RepoType::Gcs,
            format!("gs://{}/stable", remote::gcs::BUCKET),
            Some(emulator.url()),
        ),
    ];
    let open = |r: &Repository, cache: &Path| -> Box<dyn ChartSource> {
        match r.kind {
            RepoType::Oci => Box::new(OciSource::new(r, cache.to_path_buf()).expect("oci")),
            RepoType::S3 => Box::new(s3::source(r, cache.to_path_buf()).expect("s3")),
            _ => Box::new(gcs::source(r, cache.to_path_buf()).expect("gcs")),
        }
    };

    let mut warm = c.benchmark_group("warm_resolve_and_pull");
    for r in &configs {
        let cache = tempfile::tempdir().expect("tempdir");
        let src = open(r, cache.path());
        rt.block_on(src.fetch("web", Some("~1.2.0"), no_progress()))
            .expect("first pull");
        warm.bench_function(r.kind.as_str(), |b| {
            b.iter(|| {
                let f = rt
                    .block_on(src.fetch("web", Some("~1.2.0"), no_progress()))
                    .expect("warm pull");
                assert!(f.from_cache);
            })
        });
    }
    warm.finish();

    let mut cold = c.benchmark_group("cold_pull_1mb");
    cold.sample_size(20);
    for r in &configs {
        cold.bench_function(r.kind.as_str(), |b| {
            b.iter_batched(
                || tempfile::tempdir().expect("tempdir"),
                |cache| {
                    let src = open(r, cache.path());
                    let f = rt
                        .block_on(src.fetch("big", None, no_progress()))
                        .expect("cold pull");
                    assert!(!f.from_cache);
                    cache
                },
                BatchSize::PerIteration,
            )
        });
    }
    cold.finish();
}

criterion_group!(benches, sources);
criterion_main!(benches);
