//! Properties of every parser and of the pure rules built on them, on stable Rust (proptest):
//! the YAML loader and emitter, helmdeck.yaml, `--set`, semver constraints, the manifest
//! reader, values merge, diff and object naming. Each case runs under a watchdog (a hang
//! fails with the input that caused it) on a thread with a tokio worker's stack, so a
//! recursion that would overflow in production overflows here too.
//!
//! Every case also runs the seeds kept in `tests/corpus/` (inputs that found bugs, and
//! inputs shaped like real ones), so CI replays them on every run. The case count per
//! property is `PROPTEST_CASES` (default 256 here, kept short for CI); a long campaign:
//! `PROPTEST_CASES=20000 cargo nextest run --test properties --release`.

#[path = "properties/chartver.rs"]
mod chartver;
#[path = "properties/config.rs"]
mod config;
#[path = "properties/gen.rs"]
mod gen;
#[path = "properties/harness.rs"]
mod harness;
#[path = "properties/manifest.rs"]
mod manifest;
#[path = "properties/setvals.rs"]
mod setvals;
#[path = "properties/values_diff.rs"]
mod values_diff;
#[path = "properties/yaml.rs"]
mod yaml;
