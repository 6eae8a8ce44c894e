//! `GET /api/viewers`, `DELETE /api/viewers/{id}` (kick).

use std::collections::HashMap;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::types::{ViewerInfo, ViewerList};
use super::{authenticate, json_reply};
use crate::closing;
use crate::error::ApiError;
use crate::hub::ActiveViewer;
use crate::state::AppState;

fn info(
    state: &AppState,
    labels: &mut HashMap<String, Option<String>>,
    id: String,
    v: ActiveViewer,
) -> Result<ViewerInfo, ApiError> {
    let label = match labels.get(&v.link_id) {
        Some(label) => label.clone(),
        None => {
            let label = state.store().get_link(&v.link_id)?.and_then(|l| l.label);
            labels.insert(v.link_id.clone(), label.clone());
            label
        }
    };
    Ok(ViewerInfo {
        id,
        link_id: v.link_id,
        link_label: label,
        address: v.address,
        since: v.since,
        scope: v.scope,
    })
}

/// `GET /api/viewers`: who is watching the principal's hosts.
pub async fn list(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let principal = authenticate(&state, &parts)?;
    let hosts = principal.host_ids(&state)?;
    let mut labels = HashMap::new();
    let viewers = state
        .hub()
        .viewers_of_hosts(&hosts)
        .into_iter()
        .map(|(id, v)| info(&state, &mut labels, id, v))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json_reply(StatusCode::OK, &ViewerList { viewers }))
}

/// `DELETE /api/viewers/{id}`: end one viewer now.
pub async fn kick(
    State(state): State<AppState>,
    Path(viewer_id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, _) = request.into_parts();
    let principal = authenticate(&state, &parts)?;
    let hosts = principal.host_ids(&state)?;
    let viewer = state
        .hub()
        .viewer(&viewer_id)
        .filter(|v| hosts.contains(&v.host_id))
        .ok_or(ApiError::NotFound)?;
    let shown = info(&state, &mut HashMap::new(), viewer_id.clone(), viewer)?;
    if !closing::kick_viewer(&state, &viewer_id, &principal.actor()).await {
        return Err(ApiError::NotFound);
    }
    Ok(json_reply(StatusCode::OK, &shown))
}
