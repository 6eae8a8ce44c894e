//! `GET /api/audit?after=ID&limit=N` and `GET /api/audit.jsonl`: the audit events a principal
//! may see (its hosts' events, and a user's own logins).

use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::types::{AuditEvent, AuditList, AuditQuery};
use super::{authenticate, json_reply, Principal};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::AuditRecord;

/// Default and largest page of `GET /api/audit`.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;
/// Rows read from the store per step while filtering.
const SCAN_PAGE: u32 = 500;

fn visible(principal: &Principal, hosts: &[String], event: &AuditRecord) -> bool {
    let of_host = event.host_id.as_ref().is_some_and(|h| hosts.contains(h));
    match principal {
        Principal::Host { .. } => of_host,
        Principal::User { .. } => {
            of_host || event.actor.as_deref() == Some(principal.actor().as_str())
        }
    }
}

/// Up to `limit` visible events with `id > after`, oldest first.
fn collect(
    state: &AppState,
    principal: &Principal,
    after: i64,
    limit: usize,
) -> Result<Vec<AuditEvent>, ApiError> {
    let hosts = principal.host_ids(state)?;
    let mut out = Vec::new();
    let mut cursor = after;
    while out.len() < limit {
        let page = state.store().list_audit(cursor, SCAN_PAGE)?;
        let Some(last) = page.last().map(|e| e.id) else {
            break;
        };
        cursor = last;
        out.extend(
            page.into_iter()
                .filter(|e| visible(principal, &hosts, e))
                .map(AuditEvent::from),
        );
    }
    out.truncate(limit);
    Ok(out)
}

pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let principal = authenticate(&state, &parts)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let events = collect(
        &state,
        &principal,
        query.after.unwrap_or(0),
        usize::try_from(limit).unwrap_or(100),
    )?;
    Ok(json_reply(StatusCode::OK, &AuditList { events }))
}

pub async fn export(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let principal = authenticate(&state, &parts)?;
    let events = collect(&state, &principal, 0, usize::MAX)?;
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        to_json_lines(&events),
    )
        .into_response())
}

/// One JSON object per line.
pub fn to_json_lines(events: &[AuditEvent]) -> String {
    let mut out = String::new();
    for e in events {
        if let Ok(line) = serde_json::to_string(e) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
