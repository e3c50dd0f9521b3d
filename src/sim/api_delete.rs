//! DELETE of one object or a collection: DeleteOptions (propagation policy, grace period,
//! UID precondition) read from the body or the query, as kube-apiserver reads them.

use super::{decode_body, json_response, DeleteOptions, RequestCtx};
use crate::sim::errors::ApiError;
use crate::sim::selector::{FieldSelector, LabelSelector};
use axum::response::Response;
use serde_json::json;

impl RequestCtx {
    /// (propagationPolicy, gracePeriodSeconds, preconditions.uid) from DeleteOptions.
    fn delete_options(&self) -> Result<DeleteOptions, ApiError> {
        let body = if self.body.is_empty() {
            json!({})
        } else {
            decode_body(&self.body)?
        };
        let policy = body["propagationPolicy"]
            .as_str()
            .map(str::to_string)
            .or_else(|| self.query.get("propagationPolicy").cloned());
        let policy = match body["orphanDependents"].as_bool() {
            Some(true) if policy.is_none() => Some("Orphan".to_string()),
            _ => policy,
        };
        if let Some(p) = &policy {
            if !matches!(p.as_str(), "Foreground" | "Background" | "Orphan") {
                return Err(ApiError::invalid(&self.target.subject(self.name()), vec![crate::sim::errors::Cause {
                    reason: "FieldValueNotSupported".into(),
                    message: format!("Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""),
                    field: "propagationPolicy".into(),
                }]));
            }
        }
        let grace = body["gracePeriodSeconds"].as_i64().or_else(|| {
            self.query
                .get("gracePeriodSeconds")
                .and_then(|g| g.parse().ok())
        });
        let uid = body["preconditions"]["uid"].as_str().map(str::to_string);
        Ok((policy, grace, uid))
    }

    pub(super) fn delete(&self) -> Result<Response, ApiError> {
        let (policy, grace, uid) = self.delete_options()?;
        let cur = self.current()?;
        if let Some(u) = &uid {
            if cur.uid() != u {
                return Err(ApiError::conflict(
                    &self.target.subject(self.name()),
                    &format!(
                        "Precondition failed: UID in precondition: {u}, UID in object meta: {}",
                        cur.uid()
                    ),
                ));
            }
        }
        if self.dry_run() {
            return Ok(self.respond(200, &cur));
        }
        let o = self.cluster.delete_object(
            &self.target.def,
            self.target.ns(),
            self.name(),
            policy.as_deref(),
            grace,
        )?;
        Ok(self.respond(200, &o))
    }

    pub(super) fn delete_collection(&self) -> Result<Response, ApiError> {
        let (policy, grace, _) = self.delete_options()?;
        let labels = LabelSelector::parse(
            self.query
                .get("labelSelector")
                .map(String::as_str)
                .unwrap_or_default(),
        )?;
        let fields = FieldSelector::parse(
            self.query
                .get("fieldSelector")
                .map(String::as_str)
                .unwrap_or_default(),
        )?;
        let (items, _) = self
            .store()
            .list(&self.key(), self.target.namespace.as_deref());
        let mut deleted = Vec::new();
        for o in items
            .iter()
            .filter(|o| labels.matches(o.labels()) && fields.matches_object(o))
        {
            if let Ok(d) = self.cluster.delete_object(
                &self.target.def,
                o.namespace(),
                o.name(),
                policy.as_deref(),
                grace,
            ) {
                deleted.push(d.value());
            }
        }
        let def = &self.target.def;
        Ok(json_response(
            200,
            &json!({"kind": format!("{}List", def.kind), "apiVersion": def.api_version(), "metadata": {"resourceVersion": self.store().current_rv().to_string()}, "items": deleted}),
        ))
    }
}
