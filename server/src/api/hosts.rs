//! `GET /api/hosts`: the hosts a principal manages (the dashboard's host picker).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::types::{HostInfo, HostList};
use super::{authenticate, json_reply};
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /api/hosts`: the principal's hosts, oldest first, and whether each agent is connected.
pub async fn list(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let principal = authenticate(&state, &parts)?;
    let hosts = principal
        .hosts(&state)?
        .into_iter()
        .map(|h| HostInfo { online: state.hub().is_online(&h.id), id: h.id, name: h.name, created_at: h.created_at })
        .collect();
    Ok(json_reply(StatusCode::OK, &HostList { hosts }))
}
