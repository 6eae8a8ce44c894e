//! `POST /api/links`, `GET /api/links`, `DELETE /api/links/{id}`.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::types::{link_info, CreateLinkRequest, LinkList};
use super::{authenticate, json_reply, read_json, Principal};
use crate::closing;
use crate::error::ApiError;
use crate::links::{LinkError, LinkRequest};
use crate::state::AppState;

/// `POST /api/links`: a new link to one of the principal's hosts.
pub async fn create(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let principal = authenticate(&state, &parts)?;
    let body: CreateLinkRequest = read_json(&parts, body).await?;
    let host_id = pick_host(&state, &principal, body.host_id.as_deref())?;
    let req = LinkRequest {
        scope: body.scope,
        ttl_secs: body.ttl_secs,
        max_viewers: body.max_viewers,
        label: body.label,
        pin: body.pin,
        single_use: body.single_use,
        starts_at: body.starts_at,
    };
    let created = state
        .create_link(&host_id, &req, &principal.actor())
        .map_err(|e| match e {
            e if e.is_bad_request() => ApiError::BadRequest(e.to_string()),
            LinkError::Store(e) => e.into(),
            other => ApiError::Internal(other.to_string()),
        })?;
    let info = link_info(&created.record, Some(created.url), 0);
    Ok(json_reply(StatusCode::CREATED, &info))
}

/// The host a new link is for: the named one if the principal owns it, else its only host.
fn pick_host(
    state: &AppState,
    principal: &Principal,
    wanted: Option<&str>,
) -> Result<String, ApiError> {
    let hosts = principal.host_ids(state)?;
    match wanted {
        Some(id) if hosts.iter().any(|h| h == id) => Ok(id.to_string()),
        Some(_) => Err(ApiError::Forbidden),
        None => match hosts.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(ApiError::BadRequest("this account has no host".into())),
            _ => Err(ApiError::BadRequest(
                "host_id is required: this account has several hosts".into(),
            )),
        },
    }
}

/// `GET /api/links`: every link of the principal's hosts, oldest first.
pub async fn list(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let principal = authenticate(&state, &parts)?;
    let mut links = Vec::new();
    for host_id in principal.host_ids(&state)? {
        for link in state.store().list_links(&host_id)? {
            let viewers = state.hub().viewer_count(&link.id);
            links.push(link_info(&link, None, viewers));
        }
    }
    links.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(json_reply(StatusCode::OK, &LinkList { links }))
}

/// `DELETE /api/links/{id}`: revoke, and end its viewers now.
pub async fn revoke(
    State(state): State<AppState>,
    Path(link_id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let principal = authenticate(&state, &parts)?;
    let hosts = principal.host_ids(&state)?;
    let link = state
        .store()
        .get_link(&link_id)?
        .filter(|l| hosts.contains(&l.host_id))
        .ok_or(ApiError::NotFound)?;
    let revoked = closing::revoke_link(&state, &link.id, &principal.actor())
        .await?
        .ok_or(ApiError::NotFound)?;
    let viewers = state.hub().viewer_count(&revoked.id);
    Ok(json_reply(
        StatusCode::OK,
        &link_info(&revoked, None, viewers),
    ))
}
