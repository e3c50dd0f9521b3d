//! The watchdog every case runs under, the shared proptest configuration and the corpus.

use proptest::test_runner::{Config, FileFailurePersistence};
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// How long one case may take before it counts as a hang. Every parser answers a few
/// kilobytes in microseconds; the margin is for a loaded 2-core CI machine and debug builds.
pub const CASE_LIMIT: Duration = Duration::from_secs(10);

/// The stack a case runs on: a tokio worker's default (2 MiB), where helmdeck parses.
pub const STACK: usize = 2 * 1024 * 1024;

/// proptest's defaults (`PROPTEST_CASES`, 256 cases) with shrinking bounded in time, so
/// a failure found late still reports within CI's budget. Failing inputs are saved beside
/// each property's source (`yaml.regressions`, …) and replayed first on every run: commit
/// them with the fix.
pub fn config() -> Config {
    Config {
        max_shrink_time: 60_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

/// Runs `f` on its own thread under a watchdog: a panic inside is re-raised here (so
/// proptest shrinks it), and no answer within [`CASE_LIMIT`] fails the case, naming the
/// input. A hung thread is left behind (Rust cannot kill one); the failure is reported at
/// once all the same.
pub fn bounded<I, T, F>(what: &str, input: &I, f: F) -> T
where
    I: Debug + ?Sized,
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let shown = shown(input);
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(format!("case: {what}"))
        .stack_size(STACK)
        .spawn(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(out);
        })
        .expect("a thread for the case");
    match rx.recv_timeout(CASE_LIMIT) {
        Ok(Ok(value)) => {
            let _ = worker.join();
            value
        }
        Ok(Err(panic)) => {
            let _ = worker.join();
            std::panic::resume_unwind(panic)
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: no answer within {CASE_LIMIT:?} (a hang) for input {shown}")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The thread died without sending: a stack overflow aborts the process before
            // this line, so this is only reached if the thread was torn down otherwise.
            panic!("{what}: the case's thread ended without an answer for input {shown}")
        }
    }
}

fn shown<I: Debug + ?Sized>(input: &I) -> String {
    let text = format!("{input:?}");
    if text.len() > 2_000 {
        let cut = (0..=2_000)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}… ({} bytes)", &text[..cut], text.len())
    } else {
        text
    }
}

/// The seed inputs of one target, `tests/corpus/<target>/*`, as (file name, text). An
/// empty or missing folder fails: a corpus test that reads nothing proves nothing.
pub fn corpus(target: &str) -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(target);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            let text = std::fs::read_to_string(e.path())
                .unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "corpus {} is empty", dir.display());
    out
}
