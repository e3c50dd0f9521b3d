//! A Helm repository in an S3 bucket, end to end against moto on loopback with its IAM
//! authentication on (so signatures are really checked): listed, resolved, pulled, verified,
//! rendered like the local copy, cached, served offline; wrong keys, missing buckets and
//! objects give their own errors; anonymous access works on a bucket that allows it.

mod remote;
mod support;

use helmdeck::config::{RepoAuth, RepoType, Repository};
use helmdeck::sources::s3;
use helmdeck::sources::{no_progress, ChartSource, SourceError};
use remote::s3::{anonymous_only, moto, publish, put, BUCKET};

fn repo_config(port: u16, url: &str, auth: Option<RepoAuth>) -> Repository {
    Repository {
        name: "bucket".into(),
        kind: RepoType::S3,
        path: None,
        url: Some(url.to_string()),
        auth,
        region: Some("us-east-1".into()),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        git_ref: None,
        plain_http: false,
    }
}

/// Nothing from the machine's own AWS setup leaks into a test.
fn isolate_aws(_env: &support::EnvGuard, home: &std::path::Path) {
    for v in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
    ] {
        std::env::remove_var(v);
    }
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"));
    std::env::set_var("AWS_CONFIG_FILE", home.join("config"));
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_repository_is_listed_resolved_pulled_verified_cached_and_served_offline() {
    let env = support::env_lock().await;
    let mut moto = moto(true).await;
    publish(&moto, &remote::demo_packages()).await;
    let home = tempfile::tempdir().expect("tempdir");
    isolate_aws(&env, home.path());
    std::env::set_var("AWS_ACCESS_KEY_ID", &moto.keys.access_key);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", &moto.keys.secret_key);
    let url = format!("s3://{BUCKET}/stable");
    let cache = tempfile::tempdir().expect("tempdir");
    let src = s3::source(
        &repo_config(moto.server.port, &url, None),
        cache.path().to_path_buf(),
    )
    .expect("source");
    assert_eq!(src.kind(), RepoType::S3);
    remote::lists_resolves_pulls_and_caches(&src).await;

    moto.server.stop();
    let empty = tempfile::tempdir().expect("tempdir");
    let cold = s3::source(
        &repo_config(moto.server.port, &url, None),
        empty.path().to_path_buf(),
    )
    .expect("source");
    remote::offline_uses_the_cache(&src, &cold).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_missing_buckets_and_missing_objects_have_their_own_errors() {
    let env = support::env_lock().await;
    let moto = moto(true).await;
    publish(&moto, &remote::demo_packages()).await;
    // The index names a package that is not in the bucket.
    let packages = remote::demo_packages();
    let index = remote::helm_index(&packages, |n, v| format!("gone/{n}-{v}.tgz"));
    put(
        &moto,
        &format!("{BUCKET}/broken/index.yaml"),
        index.into_bytes(),
    )
    .await;

    let home = tempfile::tempdir().expect("tempdir");
    isolate_aws(&env, home.path());
    let port = moto.server.port;
    let cache = tempfile::tempdir().expect("tempdir");
    let open = |url: &str, auth: Option<RepoAuth>| {
        s3::source(&repo_config(port, url, auth), cache.path().to_path_buf()).expect("source")
    };

    // Keys from the repository's `auth` variables; a wrong secret is refused by S3.
    std::env::set_var("S3_TEST_KEY", &moto.keys.access_key);
    std::env::set_var("S3_TEST_SECRET", "not-the-secret");
    let wrong = RepoAuth {
        username_env: Some("S3_TEST_KEY".into()),
        password_env: Some("S3_TEST_SECRET".into()),
        token_env: None,
    };
    let e = open(&format!("s3://{BUCKET}/stable"), Some(wrong))
        .fetch("web", None, no_progress())
        .await
        .expect_err("refused");
    assert!(
        matches!(e, SourceError::AuthRefused { status: 403, .. }),
        "{e:?}"
    );
    assert!(e.hint().contains("AWS_ACCESS_KEY_ID"), "{}", e.hint());
    assert!(!format!("{e} {e:?}").contains("not-the-secret"));

    // Keys from a profile in the shared credentials file.
    std::fs::write(
        home.path().join("credentials"),
        format!(
            "[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n[ci]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            moto.keys.access_key, moto.keys.secret_key
        ),
    )
    .expect("credentials");
    std::env::set_var("AWS_PROFILE", "ci");
    let good = open(&format!("s3://{BUCKET}/stable"), None);
    good.fetch("web", Some("1.2.0"), no_progress())
        .await
        .expect("profile credentials");

    let e = open("s3://no-such-bucket/stable", None)
        .fetch("web", None, no_progress())
        .await
        .expect_err("no bucket");
    assert!(
        matches!(&e, SourceError::BucketNotFound { bucket, .. } if bucket == "no-such-bucket"),
        "{e:?}"
    );
    let e = open(&format!("s3://{BUCKET}/nothing-here"), None)
        .index()
        .await
        .expect_err("no index");
    assert!(matches!(e, SourceError::ObjectNotFound { .. }), "{e:?}");
    assert!(e.hint().contains("helm repo index"), "{}", e.hint());
    let e = open(&format!("s3://{BUCKET}/broken"), None)
        .fetch("web", None, no_progress())
        .await
        .expect_err("package gone");
    assert!(
        matches!(&e, SourceError::ObjectNotFound { url, .. } if url.ends_with("gone/web-1.3.0.tgz")),
        "{e:?}"
    );

    std::env::set_var("AWS_PROFILE", "missing");
    let e = s3::source(
        &repo_config(port, &format!("s3://{BUCKET}/stable"), None),
        cache.path().to_path_buf(),
    )
    .err()
    .expect("unknown profile");
    assert!(matches!(e, SourceError::BadCredentials { .. }), "{e:?}");
}

/// Without credentials, requests go unsigned: checked against a front that refuses any
/// signed request, as S3 refuses a key it does not know (moto without IAM would accept a
/// signature from any key, so it could not tell).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_credentials_requests_go_unsigned() {
    let env = support::env_lock().await;
    let moto = moto(false).await;
    publish(&moto, &remote::demo_packages()).await;
    let front = anonymous_only(&moto).await;
    let home = tempfile::tempdir().expect("tempdir");
    isolate_aws(&env, home.path());
    let cache = tempfile::tempdir().expect("tempdir");
    let src = s3::source(
        &repo_config(front.port, &format!("s3://{BUCKET}/stable/"), None),
        cache.path().to_path_buf(),
    )
    .expect("source");
    let fetched = src
        .fetch("worker", None, no_progress())
        .await
        .expect("anonymous");
    assert_eq!(fetched.version, "0.4.0");
    let seen = front.seen.lock().expect("log").clone();
    assert!(
        seen.iter().any(|(p, _)| p.ends_with("index.yaml"))
            && seen.iter().any(|(p, _)| p.ends_with(".tgz")),
        "the index and the package went through the front: {seen:?}"
    );
    assert!(seen.iter().all(|(_, signed)| !signed), "{seen:?}");

    // The front does refuse signatures: with keys it does not know, the same pull fails.
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "not-a-known-secret");
    let cold = tempfile::tempdir().expect("tempdir");
    let signed = s3::source(
        &repo_config(front.port, &format!("s3://{BUCKET}/stable/"), None),
        cold.path().to_path_buf(),
    )
    .expect("source");
    let e = signed
        .fetch("worker", None, no_progress())
        .await
        .expect_err("a signed request is refused");
    assert!(
        matches!(e, SourceError::AuthRefused { status: 403, .. }),
        "{e:?}"
    );
    assert!(front
        .seen
        .lock()
        .expect("log")
        .iter()
        .any(|(_, signed)| *signed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_searches_pulls_and_exits_with_the_documented_codes() {
    let mut moto = moto(true).await;
    publish(&moto, &remote::demo_packages()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    let cfg = format!(
        "repositories:\n  - name: bucket\n    type: s3\n    url: s3://{BUCKET}/stable\n    region: us-east-1\n    endpoint: http://127.0.0.1:{}\n",
        moto.server.port
    );
    std::fs::write(dir.path().join("helmdeck.yaml"), cfg).expect("write");
    let d = dir.path().to_path_buf();
    let creds = home.path().join("none");
    let base = |key: &str, secret: &str| {
        vec![
            ("AWS_ACCESS_KEY_ID", key.to_string()),
            ("AWS_SECRET_ACCESS_KEY", secret.to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string()),
            ("AWS_CONFIG_FILE", creds.display().to_string()),
        ]
    };
    let run = |args: &[&str], env: &[(&str, String)]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        support::helmdeck(args, &d, &env)
    };
    let good = base(&moto.keys.access_key, &moto.keys.secret_key);
    let search = run(&["repo", "search", "web"], &good);
    assert!(search.status.success(), "{}", support::stderr(&search));
    assert!(
        support::stdout(&search).contains("bucket/web"),
        "{}",
        support::stdout(&search)
    );
    let pull = run(&["repo", "pull", "bucket/web@~1.2.0", "-o", "json"], &good);
    assert!(pull.status.success(), "{}", support::stderr(&pull));
    let pulled: serde_json::Value = serde_json::from_str(&support::stdout(&pull)).expect("json");
    assert_eq!(pulled["version"], "1.2.0");

    let wrong = run(
        &["repo", "pull", "bucket/web"],
        &base(&moto.keys.access_key, "wrong"),
    );
    assert_eq!(wrong.status.code(), Some(2), "{}", support::stderr(&wrong));
    let missing = run(&["repo", "pull", "bucket/nope"], &good);
    assert_eq!(
        missing.status.code(),
        Some(2),
        "{}",
        support::stderr(&missing)
    );

    moto.server.stop();
    let down = run(&["repo", "pull", "bucket/web"], &good);
    assert_eq!(down.status.code(), Some(3), "{}", support::stderr(&down));
}
