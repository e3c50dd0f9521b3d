//! Just enough of the Kubernetes protobuf encoding to read the request bodies kubectl's
//! typed clients send (`kubectl create namespace|configmap|secret|serviceaccount`,
//! `kubectl auth can-i`): the `k8s\0` envelope and the few message schemas below, decoded
//! into the same JSON the API would have received. Responses are always JSON.

use base64::Engine;
use serde_json::{json, Map, Value};

#[derive(Clone, Copy)]
enum F {
    Str,
    Int,
    Bool,
    Msg(&'static [Field]),
    MapStrStr,
    MapStrBytes,
    RepStr,
    RepMsg(&'static [Field]),
}

type Field = (u64, &'static str, F);

const OWNER_REF: &[Field] = &[
    (1, "kind", F::Str),
    (3, "name", F::Str),
    (4, "uid", F::Str),
    (5, "apiVersion", F::Str),
    (6, "controller", F::Bool),
    (7, "blockOwnerDeletion", F::Bool),
];
const OBJECT_META: &[Field] = &[
    (1, "name", F::Str),
    (2, "generateName", F::Str),
    (3, "namespace", F::Str),
    (5, "uid", F::Str),
    (6, "resourceVersion", F::Str),
    (7, "generation", F::Int),
    (11, "labels", F::MapStrStr),
    (12, "annotations", F::MapStrStr),
    (13, "ownerReferences", F::RepMsg(OWNER_REF)),
    (14, "finalizers", F::RepStr),
];
const NAMESPACE: &[Field] = &[
    (1, "metadata", F::Msg(OBJECT_META)),
    (2, "spec", F::Msg(&[(1, "finalizers", F::RepStr)])),
];
const CONFIG_MAP: &[Field] = &[
    (1, "metadata", F::Msg(OBJECT_META)),
    (2, "data", F::MapStrStr),
    (3, "binaryData", F::MapStrBytes),
    (4, "immutable", F::Bool),
];
const SECRET: &[Field] = &[
    (1, "metadata", F::Msg(OBJECT_META)),
    (2, "data", F::MapStrBytes),
    (3, "type", F::Str),
    (4, "stringData", F::MapStrStr),
    (5, "immutable", F::Bool),
];
const OBJECT_REF: &[Field] = &[
    (1, "kind", F::Str),
    (2, "namespace", F::Str),
    (3, "name", F::Str),
    (4, "uid", F::Str),
    (5, "apiVersion", F::Str),
];
const SERVICE_ACCOUNT: &[Field] = &[
    (1, "metadata", F::Msg(OBJECT_META)),
    (2, "secrets", F::RepMsg(OBJECT_REF)),
    (3, "imagePullSecrets", F::RepMsg(&[(1, "name", F::Str)])),
    (4, "automountServiceAccountToken", F::Bool),
];
const RESOURCE_ATTRS: &[Field] = &[
    (1, "namespace", F::Str),
    (2, "verb", F::Str),
    (3, "group", F::Str),
    (4, "version", F::Str),
    (5, "resource", F::Str),
    (6, "subresource", F::Str),
    (7, "name", F::Str),
];
const ACCESS_REVIEW: &[Field] = &[
    (1, "metadata", F::Msg(OBJECT_META)),
    (
        2,
        "spec",
        F::Msg(&[
            (1, "resourceAttributes", F::Msg(RESOURCE_ATTRS)),
            (
                2,
                "nonResourceAttributes",
                F::Msg(&[(1, "path", F::Str), (2, "verb", F::Str)]),
            ),
        ]),
    ),
];
const RULES_REVIEW: &[Field] = &[
    (1, "metadata", F::Msg(OBJECT_META)),
    (2, "spec", F::Msg(&[(1, "namespace", F::Str)])),
];

fn schema_for(kind: &str) -> Option<&'static [Field]> {
    Some(match kind {
        "Namespace" => NAMESPACE,
        "ConfigMap" => CONFIG_MAP,
        "Secret" => SECRET,
        "ServiceAccount" => SERVICE_ACCOUNT,
        "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            ACCESS_REVIEW
        }
        "SelfSubjectRulesReview" => RULES_REVIEW,
        _ => return None,
    })
}

/// One decoded field: (number, wire type, varint value, payload bytes).
type Wire<'a> = (u64, u64, u64, &'a [u8]);

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.i)?;
            self.i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.varint()? as usize;
        let s = self.b.get(self.i..self.i.checked_add(n)?)?;
        self.i += n;
        Some(s)
    }
    /// (field number, wire type, payload): varints as their value, others as bytes.
    fn next(&mut self) -> Option<Option<Wire<'a>>> {
        if self.i >= self.b.len() {
            return Some(None);
        }
        let key = self.varint()?;
        let (field, wire) = (key >> 3, key & 7);
        Some(Some(match wire {
            0 => (field, wire, self.varint()?, &[][..]),
            1 => {
                let s = self.b.get(self.i..self.i + 8)?;
                self.i += 8;
                (field, wire, 0, s)
            }
            2 => (field, wire, 0, self.bytes()?),
            5 => {
                let s = self.b.get(self.i..self.i + 4)?;
                self.i += 4;
                (field, wire, 0, s)
            }
            _ => return None,
        }))
    }
}

fn text(b: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(b).into_owned())
}

fn map_entry(b: &[u8], bytes_value: bool) -> Option<(String, Value)> {
    let mut r = Reader { b, i: 0 };
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    while let Some((f, _, _, p)) = r.next()? {
        match f {
            1 => k = String::from_utf8_lossy(p).into_owned(),
            2 => {
                v = if bytes_value {
                    json!(base64::engine::general_purpose::STANDARD.encode(p))
                } else {
                    text(p)
                }
            }
            _ => {}
        }
    }
    Some((k, v))
}

fn message(b: &[u8], schema: &[Field]) -> Option<Value> {
    let mut out = Map::new();
    let mut r = Reader { b, i: 0 };
    while let Some((num, _, varint, payload)) = r.next()? {
        let Some((_, name, ty)) = schema.iter().find(|(n, _, _)| *n == num) else {
            continue;
        };
        let name = name.to_string();
        match ty {
            F::Str => {
                out.insert(name, text(payload));
            }
            F::Int => {
                out.insert(name, json!(varint as i64));
            }
            F::Bool => {
                out.insert(name, json!(varint != 0));
            }
            F::Msg(s) => {
                out.insert(name, message(payload, s)?);
            }
            F::MapStrStr | F::MapStrBytes => {
                let (k, v) = map_entry(payload, matches!(ty, F::MapStrBytes))?;
                if let Some(m) = out.entry(name).or_insert_with(|| json!({})).as_object_mut() {
                    m.insert(k, v);
                }
            }
            F::RepStr => {
                if let Some(a) = out.entry(name).or_insert_with(|| json!([])).as_array_mut() {
                    a.push(text(payload));
                }
            }
            F::RepMsg(s) => {
                let item = message(payload, s)?;
                if let Some(a) = out.entry(name).or_insert_with(|| json!([])).as_array_mut() {
                    a.push(item);
                }
            }
        }
    }
    Some(Value::Object(out))
}

/// Decodes a `k8s\0`-prefixed protobuf body into JSON. `Err` says why it cannot.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body
        .strip_prefix(b"k8s\0")
        .ok_or("not a Kubernetes protobuf body")?;
    let mut r = Reader { b: rest, i: 0 };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    while let Some((f, _, _, p)) = r.next().ok_or("malformed protobuf envelope")? {
        match f {
            1 => {
                let mut t = Reader { b: p, i: 0 };
                while let Some((tf, _, _, tp)) = t.next().ok_or("malformed protobuf typeMeta")? {
                    match tf {
                        1 => api_version = String::from_utf8_lossy(tp).into_owned(),
                        2 => kind = String::from_utf8_lossy(tp).into_owned(),
                        _ => {}
                    }
                }
            }
            2 => raw = p,
            _ => {}
        }
    }
    let schema = schema_for(&kind).ok_or_else(|| format!("the sim reads {kind} bodies as JSON or YAML only (protobuf is understood for Namespace, ConfigMap, Secret, ServiceAccount and access reviews); use `kubectl apply` or a JSON client"))?;
    let mut v = message(raw, schema).ok_or("malformed protobuf object")?;
    v["apiVersion"] = json!(api_version);
    v["kind"] = json!(kind);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![((n << 3) | 2) as u8, payload.len() as u8];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn decodes_a_namespace_envelope() {
        let meta = [
            field(1, b"team"),
            field(11, &[field(1, b"a"), field(2, b"b")].concat()),
        ]
        .concat();
        let obj = field(1, &meta);
        let tm = [field(1, b"v1"), field(2, b"Namespace")].concat();
        let body = [b"k8s\0".to_vec(), field(1, &tm), field(2, &obj)].concat();
        let v = decode(&body).unwrap();
        assert_eq!(
            v,
            json!({"metadata": {"name": "team", "labels": {"a": "b"}}, "apiVersion": "v1", "kind": "Namespace"})
        );
        assert!(decode(b"k8s\0\x0a\x05").is_err());
    }
}
