//! Peak memory of a pull, per remote source (issue #6: ≤ 2× the chart's size above the
//! baseline). Run in release: `cargo test --release --test source_memory -- --ignored
//! --nocapture`. The peak is the kernel's: VmHWM, reset through /proc/self/clear_refs just
//! before the pull, against VmRSS at that moment; the servers are other processes.

mod remote;
mod support;

use helmdeck::config::{RepoType, Repository};
use helmdeck::sources::oci::OciSource;
use helmdeck::sources::{gcs, no_progress, s3, ChartSource};

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
async fn a_pull_needs_at_most_twice_the_chart_size_above_the_baseline() {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent");
    std::env::remove_var("AWS_ACCESS_KEY_ID");
    std::env::remove_var("GOOGLE_APPLICATION_CREDENTIALS");
    std::env::set_var("CLOUDSDK_CONFIG", "/nonexistent");

    let registry = remote::oci::registry(false);
    let moto = remote::s3::moto(false).await;
    let emulator = remote::gcs::emulator();
    let size = {
        let mut packages = remote::demo_packages();
        packages.push((
            "big".into(),
            "1.0.0".into(),
            remote::big_package("big", "1.0.0", 32 << 20),
        ));
        remote::oci::publish(&registry, "charts", &packages).await;
        remote::s3::publish(&moto, &packages).await;
        remote::gcs::publish(&emulator, &packages).await;
        packages.last().map(|p| p.2.len() as u64).unwrap_or(0)
    };
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
    for r in &configs {
        let cache = tempfile::tempdir().expect("tempdir");
        let src: Box<dyn ChartSource> = match r.kind {
            RepoType::Oci => Box::new(OciSource::new(r, cache.path().to_path_buf()).expect("oci")),
            RepoType::S3 => Box::new(s3::source(r, cache.path().to_path_buf()).expect("s3")),
            _ => Box::new(gcs::source(r, cache.path().to_path_buf()).expect("gcs")),
        };
        std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
        let baseline = status_kb("VmRSS:") * 1024;
        let fetched = src.fetch("big", None, no_progress()).await.expect("pull");
        let peak = status_kb("VmHWM:") * 1024;
        assert_eq!(std::fs::metadata(&fetched.path).expect("file").len(), size);
        let growth = peak.saturating_sub(baseline);
        println!(
            "{}: chart {:.1} MiB, RSS baseline {:.1} MiB, peak {:.1} MiB, growth {:.2} MiB ({:.2}× the chart)",
            r.kind.as_str(),
            size as f64 / 1048576.0,
            baseline as f64 / 1048576.0,
            peak as f64 / 1048576.0,
            growth as f64 / 1048576.0,
            growth as f64 / size as f64
        );
        assert!(
            growth <= 2 * size,
            "{}: {growth} bytes above the baseline for a {size}-byte chart",
            r.kind.as_str()
        );
        // A warm pull verifies the cached package's digest: streamed too.
        std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
        let baseline = status_kb("VmRSS:") * 1024;
        let again = src.fetch("big", None, no_progress()).await.expect("warm");
        assert!(again.from_cache);
        let growth = (status_kb("VmHWM:") * 1024).saturating_sub(baseline);
        println!(
            "{}: warm pull growth {:.2} MiB",
            r.kind.as_str(),
            growth as f64 / 1048576.0
        );
        assert!(growth <= 2 * size);
    }
}
