//! gcp-storage-emulator on loopback and publishing a Helm repository layout into a bucket
//! through its JSON API.

use super::Server;
use std::process::Command;

pub const BUCKET: &str = "acme-charts";

pub fn emulator() -> Server {
    let port = super::free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(super::gcs_emulator_binary());
    cmd.args([
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--in-memory",
    ])
    .current_dir(dir.path());
    Server::start(cmd, port, dir)
}

pub async fn upload(server: &Server, name: &str, body: Vec<u8>) {
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/upload/storage/v1/b/{BUCKET}/o?uploadType=media&name={}",
            server.url(),
            urlencoding::encode(name)
        ))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("upload");
    assert!(
        resp.status().is_success(),
        "{name}: {:?}",
        resp.text().await
    );
}

/// A bucket with `packages` under `gs://BUCKET/stable` (worker by an absolute `gs://` URL,
/// the others relative) and an index naming packages that are not there under `broken/`.
pub async fn publish(server: &Server, packages: &[(String, String, Vec<u8>)]) {
    let resp = reqwest::Client::new()
        .post(format!("{}/storage/v1/b", server.url()))
        .json(&serde_json::json!({ "name": BUCKET }))
        .send()
        .await
        .expect("create bucket");
    assert!(resp.status().is_success(), "{:?}", resp.text().await);
    for (name, version, bytes) in packages {
        upload(
            server,
            &format!("stable/{name}-{version}.tgz"),
            bytes.clone(),
        )
        .await;
    }
    let index = super::helm_index(packages, |name, version| {
        if name == "worker" {
            format!("gs://{BUCKET}/stable/{name}-{version}.tgz")
        } else {
            format!("./{name}-{version}.tgz")
        }
    });
    upload(server, "stable/index.yaml", index.into_bytes()).await;
    let broken = super::helm_index(packages, |n, v| format!("gone/{n}-{v}.tgz"));
    upload(server, "broken/index.yaml", broken.into_bytes()).await;
}
