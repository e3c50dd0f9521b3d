//! Peak memory of a pull, per remote source (issue #6: ≤ 2× the chart's size above the
//! baseline). Run in release: `cargo test --release --test source_memory -- --ignored
//! --nocapture`. The peak is the kernel's: VmHWM, reset through /proc/self/clear_refs just
//! before the pull, against VmRSS at that moment; the servers are other processes.

mod remote;
mod support;

use helmdeck::sources::no_progress;

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
async fn a_pull_needs_at_most_twice_the_chart_size_above_the_baseline() {
    let mut packages = remote::demo_packages();
    packages.push((
        "big".into(),
        "1.0.0".into(),
        remote::big_package("big", "1.0.0", 32 << 20),
    ));
    let size = packages.last().map(|p| p.2.len() as u64).unwrap_or(0);
    let env = support::env_lock().await;
    let servers = remote::AllServers::start(&env, &packages).await;
    drop(packages);
    for r in &servers.repositories() {
        let cache = tempfile::tempdir().expect("tempdir");
        let src = remote::open(r, cache.path());
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
