//! Chart sources against real servers on loopback (docker-registry, moto, the GCS
//! emulator): a warm resolve + pull (index or tags revalidated, package from the cache)
//! and a cold pull of a 1 MB chart into an empty cache. Targets (issue #6): warm ≤ 5 ms,
//! cold 1 MB ≤ 200 ms. `server_round_trip` is the servers' own time for the requests a
//! warm pull makes, to tell helmdeck's share from the emulator's. Servers come from scripts/provision-tests.sh, as for the tests.

#[path = "../tests/remote/mod.rs"]
mod remote;
#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use helmdeck::sources::no_progress;

fn sources(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut packages = remote::demo_packages();
    let big = remote::big_package("big", "1.0.0", 1 << 20);
    eprintln!("cold-pull chart: {} bytes packaged", big.len());
    packages.push(("big".into(), "1.0.0".into(), big));
    let env = support::env_lock_blocking();
    let servers = rt.block_on(remote::AllServers::start(&env, &packages));
    let configs = servers.repositories();
    let open = remote::open;

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

    // The servers' own share of a warm pull: one plain GET of what the warm path
    // revalidates (index.yaml; for OCI the tag list, then the manifest), no helmdeck code.
    let client = reqwest::Client::new();
    let mut raw = c.benchmark_group("server_round_trip");
    let raw_urls = [
        (
            "oci",
            vec![
                format!("{}/v2/charts/web/tags/list", servers.registry.url()),
                format!("{}/v2/charts/web/manifests/1.2.0", servers.registry.url()),
            ],
        ),
        (
            "s3",
            vec![format!(
                "{}/{}/stable/index.yaml",
                servers.moto.server.url(),
                remote::s3::BUCKET
            )],
        ),
        (
            "gcs",
            vec![format!(
                "{}/storage/v1/b/{}/o/stable%2Findex.yaml?alt=media",
                servers.emulator.url(),
                remote::gcs::BUCKET
            )],
        ),
    ];
    for (name, urls) in &raw_urls {
        raw.bench_function(*name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    for u in urls {
                        let r = client
                            .get(u)
                            .header("accept", "application/vnd.oci.image.manifest.v1+json")
                            .send()
                            .await
                            .expect("get");
                        assert!(r.status().is_success(), "{u}: {}", r.status());
                        r.bytes().await.expect("body");
                    }
                })
            })
        });
    }
    raw.finish();

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
