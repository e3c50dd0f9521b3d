//! Errors: `ApiError` is what a request gets back as a Kubernetes `Status` object;
//! `SimError` is what starting the sim or reading a scenario can fail with.

use serde_json::{json, Value};

/// Failures of the sim as a whole (start-up, scenario files).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("cannot write kubeconfig {path}: {source}")]
    Kubeconfig {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("invalid scenario: {0}")]
    Scenario(String),
    #[error("server stopped: {0}")]
    Server(String),
}

/// One field-level cause of an error, as in `Status.details.causes`.
#[derive(Debug, Clone)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// An API failure rendered as a `Status` object with the HTTP code the API server uses.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

/// What an error is about: resource (plural) and group, and the object name.
#[derive(Debug, Clone, Default)]
pub struct Subject<'a> {
    pub group: &'a str,
    pub resource: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
}

impl Subject<'_> {
    /// `deployments.apps` or `pods`, the qualified resource the API server names in messages.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
    fn details(&self) -> Value {
        let mut d = json!({"name": self.name, "kind": self.resource});
        if !self.group.is_empty() {
            d["group"] = json!(self.group);
        }
        d
    }
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }
    pub fn not_found(s: &Subject) -> Self {
        ApiError {
            details: Some(s.details()),
            ..Self::new(
                404,
                "NotFound",
                format!("{} \"{}\" not found", s.qualified(), s.name),
            )
        }
    }
    pub fn already_exists(s: &Subject) -> Self {
        ApiError {
            details: Some(s.details()),
            ..Self::new(
                409,
                "AlreadyExists",
                format!("{} \"{}\" already exists", s.qualified(), s.name),
            )
        }
    }
    /// Optimistic-concurrency failure of an update with a stale resourceVersion.
    pub fn conflict(s: &Subject, why: &str) -> Self {
        ApiError {
            details: Some(s.details()),
            ..Self::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{}\": {why}",
                    s.qualified(),
                    s.name
                ),
            )
        }
    }
    /// 422 with field causes: `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: …`.
    pub fn invalid(s: &Subject, causes: Vec<Cause>) -> Self {
        let kind_q = if s.group.is_empty() {
            s.kind.to_string()
        } else {
            format!("{}.{}", s.kind, s.group)
        };
        let text: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let message = if text.len() == 1 {
            format!("{kind_q} \"{}\" is invalid: {}", s.name, text[0])
        } else {
            format!("{kind_q} \"{}\" is invalid: [{}]", s.name, text.join(", "))
        };
        let mut details = json!({"name": s.name, "kind": s.kind});
        if !s.group.is_empty() {
            details["group"] = json!(s.group);
        }
        details["causes"] = Value::Array(
            causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect(),
        );
        ApiError {
            details: Some(details),
            ..Self::new(422, "Invalid", message)
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }
    /// An injected API fault from a scenario: the reason the API server pairs with the code.
    pub fn injected(code: u16) -> Self {
        let reason = match code {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            409 => "Conflict",
            410 => "Expired",
            422 => "Invalid",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        Self::new(
            code,
            reason,
            format!("simulated fault: the server could not handle the request ({code})"),
        )
    }

    /// The `Status` object the API server writes.
    pub fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        if self.reason == "InternalError" || self.reason == "BadRequest" && self.details.is_none() {
            // The API server leaves `reason` empty for plain BadRequest decoding errors.
        }
        v
    }
}

/// A `Status` of success, as DELETE of some kinds and `deletecollection` return.
pub fn success_status(details: Value) -> Value {
    json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":details})
}
