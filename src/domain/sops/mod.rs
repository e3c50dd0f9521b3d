//! SOPS-encrypted values files, read as sops reads them (its source is the reference): the
//! `sops` metadata, the rules that say which values are encrypted (`unencrypted_suffix` by
//! default, or one of `encrypted_suffix`, `unencrypted_regex`, `encrypted_regex`), each value
//! decrypted with AES-256-GCM under the data key (a 32-byte IV; the additional data is the
//! value's key path joined by `:` with a trailing `:`; list items add nothing to the path),
//! and the MAC — SHA-512 over every value's plaintext in document order (only the encrypted
//! ones under `mac_only_encrypted`, after a fixed prefix), stored encrypted with
//! `lastmodified` as additional data — checked before anything is used. Pure: the data key
//! comes from the caller (age, or the sops binary for other key types).

pub mod tree;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use serde_json::Value;
use sha2::Digest as _;
use tree::{Node, Scalar};

/// The key under which sops keeps its metadata.
pub const METADATA_KEY: &str = "sops";
const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// sops' `MACOnlyEncryptedInitialization`: SHA-256("sops"), hashed first when only the
/// encrypted values are covered, so that the two kinds of MAC never coincide.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    /// sops decides by the file name: `.json` is JSON, anything else here YAML.
    pub fn of_path(path: &str) -> Format {
        if path.to_ascii_lowercase().ends_with(".json") {
            Format::Json
        } else {
            Format::Yaml
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SopsError {
    #[error("not valid {format}: {message}")]
    Syntax {
        format: &'static str,
        message: String,
    },
    #[error("its `sops` metadata is not valid: {0}")]
    Metadata(String),
    #[error("the value at `{path}` is not a sops-encrypted value ({message}): the file was altered or is truncated")]
    NotEncrypted { path: String, message: String },
    #[error("the value at `{path}` fails authentication: it was altered (or moved) after sops encrypted it")]
    Tampered { path: String },
    #[error("the file's MAC cannot be decrypted: the MAC or `lastmodified` was altered")]
    MacUnreadable,
    #[error("MAC mismatch: the values do not match the MAC sops computed when it encrypted the file (values, keys or their order were altered, or a value was added or removed)")]
    MacMismatch,
    #[error("{0}")]
    Unsupported(String),
}

/// An age recipient of the file and the data key encrypted to it (armored age file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeStanza {
    pub recipient: String,
    pub enc: String,
}

/// One key group: its age keys, and the names of other key types in it (`pgp`, `kms`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyGroup {
    pub age: Vec<AgeStanza>,
    pub others: Vec<String>,
}

/// Which values the file encrypts.
#[derive(Debug, Clone)]
enum Rule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(regex::Regex),
    EncryptedRegex(regex::Regex),
}

impl Rule {
    /// sops' `shouldBeEncrypted` for a value at `path` (comments play no part here).
    fn encrypts(&self, path: &[String]) -> bool {
        match self {
            Rule::UnencryptedSuffix(s) => !path.iter().any(|p| p.ends_with(s.as_str())),
            Rule::EncryptedSuffix(s) => path.iter().any(|p| p.ends_with(s.as_str())),
            Rule::UnencryptedRegex(r) => !path.iter().any(|p| r.is_match(p)),
            Rule::EncryptedRegex(r) => path.iter().any(|p| r.is_match(p)),
        }
    }
}

/// What a walk does with each scalar: given it, its key path and its pointer, returns its
/// replacement.
type LeafFn<'a> = dyn FnMut(&Scalar, &[String], &str) -> Result<Scalar, SopsError> + 'a;

/// A parsed SOPS file, not yet decrypted.
#[derive(Debug, Clone)]
pub struct SopsFile {
    pub format: Format,
    tree: Node,
    pub groups: Vec<KeyGroup>,
    pub shamir_threshold: Option<u64>,
    /// Why only the sops binary can read this file (comment rules), if so.
    pub needs_binary: Option<String>,
    rule: Option<Rule>,
    mac: String,
    lastmodified: String,
    mac_only_encrypted: bool,
}

/// What a SOPS file holds, decrypted.
#[derive(Debug, Clone)]
pub struct Decrypted {
    /// The values, as `sops decrypt` prints them (the metadata removed).
    pub values: serde_json::Map<String, Value>,
    /// Pointer and text of every value that was encrypted in the file.
    pub encrypted: Vec<(String, String)>,
}

/// Whether a parsed document is a SOPS file: a top-level `sops` map with a MAC or
/// `lastmodified` (a values file may well have a `sops` key of its own otherwise).
pub fn is_sops(values: &Value) -> bool {
    values
        .get(METADATA_KEY)
        .and_then(Value::as_object)
        .is_some_and(|m| m.contains_key("mac") || m.contains_key("lastmodified"))
}

/// Whether a text carries sops-encrypted values (to refuse one whose metadata is gone).
pub fn has_encrypted_values(text: &str) -> bool {
    text.contains("ENC[AES256_GCM,data:")
}

fn str_field(m: &serde_json::Map<String, Value>, k: &str) -> Option<String> {
    m.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn group_of(m: &serde_json::Map<String, Value>, names: &[&str]) -> Result<KeyGroup, SopsError> {
    let mut g = KeyGroup::default();
    for (k, v) in m {
        if !names.is_empty() && !names.contains(&k.as_str()) {
            continue;
        }
        let Some(list) = v.as_array().filter(|l| !l.is_empty()) else {
            continue;
        };
        if k == "age" {
            for item in list {
                let (Some(recipient), Some(enc)) = (
                    item.get("recipient").and_then(Value::as_str),
                    item.get("enc").and_then(Value::as_str),
                ) else {
                    return Err(SopsError::Metadata(
                        "an age entry needs `recipient` and `enc`".into(),
                    ));
                };
                g.age.push(AgeStanza {
                    recipient: recipient.to_string(),
                    enc: enc.to_string(),
                });
            }
        } else {
            g.others.push(k.clone());
        }
    }
    Ok(g)
}

/// The key types sops knows at the top of its metadata (one implicit key group).
const KEY_TYPES: &[&str] = &[
    "age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms", "barbican",
];

/// Go's `time.Parse(time.RFC3339, s).Format(time.RFC3339)`: fractional seconds dropped, a
/// zero offset written `Z`.
fn rfc3339_normalized(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| {
        s.get(r.clone())
            .filter(|d| d.bytes().all(|c| c.is_ascii_digit()))
    };
    let (date, hms) = (s.get(..10)?, s.get(11..19)?);
    for r in [0..4, 5..7, 8..10, 11..13, 14..16, 17..19] {
        digits(r)?;
    }
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let zone = match rest {
        "Z" => "Z".to_string(),
        z if z.len() == 6
            && (z.starts_with('+') || z.starts_with('-'))
            && z.as_bytes()[3] == b':'
            && z[1..3]
                .bytes()
                .chain(z[4..6].bytes())
                .all(|c| c.is_ascii_digit()) =>
        {
            if &z[1..3] == "00" && &z[4..6] == "00" {
                "Z".to_string()
            } else {
                z.to_string()
            }
        }
        _ => return None,
    };
    Some(format!("{date}T{hms}{zone}"))
}

/// Parses a SOPS file (`text` in `format`) without decrypting anything.
pub fn parse(text: &str, format: Format) -> Result<SopsFile, SopsError> {
    let root = match format {
        Format::Yaml => tree::from_yaml(text),
        Format::Json => tree::from_json(text),
    }
    .map_err(|e| SopsError::Syntax {
        format: format.name(),
        message: e.to_string(),
    })?;
    let Node::Map(mut entries) = root else {
        return Err(SopsError::Syntax {
            format: format.name(),
            message: "not a map of keys".into(),
        });
    };
    let Some(i) = entries.iter().position(|(k, _)| k == METADATA_KEY) else {
        return Err(SopsError::Metadata("there is no `sops` key".into()));
    };
    let meta = entries.remove(i).1.to_value(false);
    let Value::Object(meta) = meta else {
        return Err(SopsError::Metadata("`sops` is not a map".into()));
    };
    let mac = str_field(&meta, "mac").unwrap_or_default();
    let lastmodified = str_field(&meta, "lastmodified")
        .and_then(|l| rfc3339_normalized(&l))
        .ok_or_else(|| {
            SopsError::Metadata("`lastmodified` is missing or not an RFC 3339 time".into())
        })?;
    let mut groups = Vec::new();
    let top = group_of(&meta, KEY_TYPES)?;
    if !top.age.is_empty() || !top.others.is_empty() {
        groups.push(top);
    } else if let Some(list) = meta.get("key_groups").and_then(Value::as_array) {
        for g in list {
            let Some(m) = g.as_object() else {
                return Err(SopsError::Metadata("a key group is not a map".into()));
            };
            groups.push(group_of(m, &[])?);
        }
    }
    if groups.is_empty() {
        return Err(SopsError::Metadata("no keys found in the file".into()));
    }
    let regex = |k: &str, r: &str| {
        regex::Regex::new(r).map_err(|e| SopsError::Metadata(format!("`{k}`: {e}")))
    };
    let mut rules = Vec::new();
    let mut needs_binary = None;
    for k in [
        "unencrypted_suffix",
        "encrypted_suffix",
        "unencrypted_regex",
        "encrypted_regex",
        "unencrypted_comment_regex",
        "encrypted_comment_regex",
    ] {
        let Some(v) = str_field(&meta, k) else {
            continue;
        };
        rules.push(match k {
            "unencrypted_suffix" => Some(Rule::UnencryptedSuffix(v)),
            "encrypted_suffix" => Some(Rule::EncryptedSuffix(v)),
            "unencrypted_regex" => Some(Rule::UnencryptedRegex(regex(k, &v)?)),
            "encrypted_regex" => Some(Rule::EncryptedRegex(regex(k, &v)?)),
            _ => {
                // Which values a comment rule encrypts depends on where go-yaml v3 attaches
                // each comment; only sops itself reads that exactly.
                needs_binary = Some(format!("`{k}`"));
                None
            }
        });
    }
    if rules.len() > 1 {
        return Err(SopsError::Metadata(
            "more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex and unencrypted_comment_regex is set".into(),
        ));
    }
    let rule = match rules.pop() {
        None => Some(Rule::UnencryptedSuffix(DEFAULT_UNENCRYPTED_SUFFIX.into())),
        Some(r) => r,
    };
    Ok(SopsFile {
        format,
        tree: Node::Map(entries),
        shamir_threshold: meta.get("shamir_threshold").and_then(Value::as_u64),
        groups,
        needs_binary,
        rule,
        mac,
        lastmodified,
        mac_only_encrypted: meta
            .get("mac_only_encrypted")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// Pieces of `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
struct EncValue {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    kind: String,
}

fn parse_enc(s: &str) -> Result<EncValue, String> {
    use base64::Engine as _;
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")
            .expect("constant pattern")
    });
    let c = re
        .captures(s)
        .ok_or("it does not match sops' data format")?;
    let b64 = |i: usize, what: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(&c[i])
            .map_err(|e| format!("its {what} is not base64: {e}"))
    };
    Ok(EncValue {
        data: b64(1, "data")?,
        iv: b64(2, "iv")?,
        tag: b64(3, "tag")?,
        kind: c[4].to_string(),
    })
}

type Gcm32 = aes_gcm::AesGcm<aes_gcm::aes::Aes256, aes_gcm::aead::consts::U32>;
type Gcm12 = aes_gcm::AesGcm<aes_gcm::aes::Aes256, aes_gcm::aead::consts::U12>;

/// AES-256-GCM open of one value (sops writes 32-byte IVs; 12 is GCM's own size).
fn open(key: &[u8], v: &EncValue, aad: &[u8]) -> Option<Vec<u8>> {
    let mut msg = v.data.clone();
    msg.extend_from_slice(&v.tag);
    let payload = Payload { msg: &msg, aad };
    match v.iv.len() {
        32 => Gcm32::new_from_slice(key)
            .ok()?
            .decrypt(v.iv.as_slice().try_into().ok()?, payload)
            .ok(),
        12 => Gcm12::new_from_slice(key)
            .ok()?
            .decrypt(v.iv.as_slice().try_into().ok()?, payload)
            .ok(),
        _ => None,
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// sops' `Cipher.Decrypt` of one value under additional data `aad` (`path` names it in
/// errors); an empty string is one sops never encrypts.
fn decrypt_value(key: &[u8], text: &str, aad: &str, path: &str) -> Result<Scalar, SopsError> {
    if text.is_empty() {
        return Ok(Scalar::Str(String::new()));
    }
    let bad = |message: String| SopsError::NotEncrypted {
        path: path.to_string(),
        message,
    };
    let v = parse_enc(text).map_err(bad)?;
    let plain = open(key, &v, aad.as_bytes()).ok_or_else(|| SopsError::Tampered {
        path: path.to_string(),
    })?;
    let s = String::from_utf8_lossy(&plain).into_owned();
    let typed = |what: &str| bad(format!("its {what} plaintext does not parse"));
    Ok(match v.kind.as_str() {
        "str" | "bytes" => Scalar::Str(s),
        "int" | "int64" => Scalar::Int(s.parse().map_err(|_| typed("int"))?),
        "float" => Scalar::Float(s.parse().map_err(|_| typed("float"))?),
        "bool" => Scalar::Bool(go_bool(&s).ok_or_else(|| typed("bool"))?),
        "time" => Scalar::Time(tree::timestamp(&s).ok_or_else(|| typed("time"))?),
        other => return Err(bad(format!("unknown type `{other}`"))),
    })
}

impl SopsFile {
    /// Decrypts every value with the data key and checks the MAC; nothing is returned from a
    /// file whose MAC does not match.
    pub fn decrypt(&self, data_key: &[u8]) -> Result<Decrypted, SopsError> {
        let Some(rule) = &self.rule else {
            return Err(SopsError::Unsupported(format!(
                "{} needs the sops binary",
                self.needs_binary.clone().unwrap_or_default()
            )));
        };
        let mut hash = sha2::Sha512::new();
        if self.mac_only_encrypted {
            hash.update(MAC_ONLY_ENCRYPTED_INIT);
        }
        let mut encrypted = Vec::new();
        let mut path = Vec::new();
        let tree = self.walk(&self.tree, &mut path, "", &mut |leaf, path, ptr| {
            let enc = rule.encrypts(path);
            let v = if enc {
                let Scalar::Str(text) = leaf else {
                    return Err(SopsError::NotEncrypted {
                        path: path.join(":"),
                        message: "it is in clear text where the file's rules encrypt".into(),
                    });
                };
                let joined = path.join(":");
                let v = decrypt_value(data_key, text, &format!("{joined}:"), &joined)?;
                if !text.is_empty() {
                    encrypted.push((ptr.to_string(), v.to_value()));
                }
                v
            } else {
                leaf.clone()
            };
            if !self.mac_only_encrypted || enc {
                if matches!(leaf, Scalar::Uint(_)) {
                    return Err(SopsError::Unsupported(format!(
                        "the integer at `{}` is too large for sops",
                        path.join(":")
                    )));
                }
                hash.update(v.mac_bytes());
            }
            Ok(v)
        })?;
        let computed = hex::encode_upper(hash.finalize());
        let stored = if self.mac.is_empty() {
            String::new()
        } else {
            match decrypt_value(data_key, &self.mac, &self.lastmodified, "sops:mac") {
                Ok(Scalar::Str(s)) => s,
                Ok(_) | Err(SopsError::NotEncrypted { .. }) | Err(SopsError::Tampered { .. }) => {
                    return Err(SopsError::MacUnreadable)
                }
                Err(e) => return Err(e),
            }
        };
        if stored != computed {
            return Err(SopsError::MacMismatch);
        }
        let Value::Object(values) = tree.to_value(self.format == Format::Yaml) else {
            return Err(SopsError::Unsupported("the document is not a map".into()));
        };
        Ok(Decrypted {
            values,
            encrypted: encrypted
                .into_iter()
                .map(|(p, v)| {
                    let text = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (p, text)
                })
                .collect(),
        })
    }

    /// Walks the tree in document order, replacing each scalar by what `leaf` returns.
    fn walk(
        &self,
        node: &Node,
        path: &mut Vec<String>,
        ptr: &str,
        leaf: &mut LeafFn<'_>,
    ) -> Result<Node, SopsError> {
        Ok(match node {
            Node::Null => Node::Null,
            Node::Scalar(s) => Node::Scalar(leaf(s, path, ptr)?),
            Node::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, n) in items.iter().enumerate() {
                    let child = crate::domain::yaml::child_pointer(ptr, &i.to_string());
                    out.push(self.walk(n, path, &child, leaf)?);
                }
                Node::List(out)
            }
            Node::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (k, n) in entries {
                    path.push(k.clone());
                    let child = crate::domain::yaml::child_pointer(ptr, k);
                    let v = self.walk(n, path, &child, leaf);
                    path.pop();
                    out.push((k.clone(), v?));
                }
                Node::Map(out)
            }
        })
    }

    /// Pointers of the values that are encrypted in the file (`ENC[…]` where the rules
    /// encrypt), without decrypting anything: for files the sops binary decrypts.
    pub fn encrypted_pointers(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut path = Vec::new();
        let _ = self.walk(&self.tree, &mut path, "", &mut |leaf, _, ptr| {
            if let Scalar::Str(s) = leaf {
                if has_encrypted_values(s) {
                    out.push(ptr.to_string());
                }
            }
            Ok(leaf.clone())
        });
        out
    }
}
