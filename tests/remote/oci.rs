//! docker-registry on loopback (optionally with one htpasswd user), and pushing charts to
//! it the way `helm push` does.

use super::{sha256, Server};
use base64::Engine as _;
use helmdeck::sources::oci::CHART_MEDIA_TYPE;
use std::process::Command;

pub const USER: &str = "deploy";
pub const PASS: &str = "s3cret-oci";

/// A registry on a free port with one htpasswd user.
pub fn registry(auth: bool) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = super::free_port();
    let hash = Command::new(super::python())
        .args([
            "-c",
            "import bcrypt,sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(rounds=4)).decode())",
            PASS,
        ])
        .output()
        .expect("python bcrypt");
    assert!(
        hash.status.success(),
        "{}",
        super::super::support::stderr(&hash)
    );
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(
        &htpasswd,
        format!("{USER}:{}\n", super::super::support::stdout(&hash).trim()),
    )
    .expect("htpasswd");
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{}",
            dir.path().join("data").display(),
            if auth {
                format!("auth:\n  htpasswd:\n    realm: helmdeck-test\n    path: {}\n", htpasswd.display())
            } else {
                String::new()
            }
        ),
    )
    .expect("config");
    let mut cmd = Command::new(super::registry_binary());
    cmd.arg("serve").arg(&config);
    Server::start(cmd, port, dir)
}

pub fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"))
    )
}

pub async fn push_blob(client: &reqwest::Client, base: &str, repo: &str, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let start = client
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .header("authorization", basic())
        .send()
        .await
        .expect("start upload");
    assert_eq!(start.status().as_u16(), 202, "{:?}", start.text().await);
    let location = start
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_string();
    let location = if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let put = client
        .put(format!("{location}{sep}digest={digest}"))
        .header("authorization", basic())
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(put.status().as_u16(), 201, "{:?}", put.text().await);
    digest
}

/// Pushes a chart as `helm push` does: a config blob (Chart.yaml as JSON), the package as
/// the one layer, an OCI manifest tagged with the version (`+` written `_`).
pub async fn push_chart(
    base: &str,
    path: &str,
    name: &str,
    version: &str,
    package: &[u8],
    config_type: &str,
) {
    let client = reqwest::Client::new();
    let repo = format!("{path}/{name}");
    let config = serde_json::json!({
        "apiVersion": "v2", "name": name, "version": version,
        "description": format!("demo chart {name}"), "appVersion": version,
    })
    .to_string();
    let config_digest = push_blob(&client, base, &repo, config.as_bytes()).await;
    let layer_digest = push_blob(&client, base, &repo, package).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": config_type, "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": CHART_MEDIA_TYPE, "digest": layer_digest, "size": package.len()}],
    });
    let put = client
        .put(format!(
            "{base}/v2/{repo}/manifests/{}",
            version.replace('+', "_")
        ))
        .header("authorization", basic())
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .expect("manifest");
    assert_eq!(put.status().as_u16(), 201, "{:?}", put.text().await);
}

/// Pushes every package under `path/<name>:<version>`.
pub async fn publish(server: &Server, path: &str, packages: &[(String, String, Vec<u8>)]) {
    for (name, version, bytes) in packages {
        push_chart(
            &server.url(),
            path,
            name,
            version,
            bytes,
            helmdeck::sources::oci::CONFIG_MEDIA_TYPE,
        )
        .await;
    }
}
