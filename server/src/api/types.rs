//! JSON bodies of the management API. Links and viewers use the shared wire types of
//! `deskbeam_proto::api`; the audit and login bodies are still defined here and should move to
//! `proto::api` (with generated TypeScript) next.

use serde::{Deserialize, Serialize};

use crate::store::{AuditRecord, LinkRecord};

pub use deskbeam_proto::api::{CreateLinkRequest, HostInfo, HostList, LinkInfo, LinkList, ViewerInfo, ViewerList};

/// The API view of a link record; `url` only when it was just created.
pub fn link_info(link: &LinkRecord, url: Option<String>, viewers: usize) -> LinkInfo {
    LinkInfo {
        id: link.id.clone(),
        url,
        scope: link.scope,
        label: link.label.clone(),
        created_at: link.created_at,
        starts_at: link.starts_at,
        expires_at: link.expires_at,
        max_viewers: link.max_viewers,
        single_use: link.single_use,
        has_pin: link.pin_hash.is_some(),
        revoked_at: link.revoked_at,
        used: link.used,
        viewers: u32::try_from(viewers).unwrap_or(u32::MAX),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: u64,
    pub kind: String,
    pub actor: Option<String>,
    pub host_id: Option<String>,
    pub link_id: Option<String>,
    pub viewer_id: Option<String>,
    pub address: Option<String>,
    pub detail: serde_json::Value,
}

impl From<AuditRecord> for AuditEvent {
    fn from(r: AuditRecord) -> Self {
        Self {
            id: r.id,
            at: r.at,
            kind: r.kind,
            actor: r.actor,
            host_id: r.host_id,
            link_id: r.link_id,
            viewer_id: r.viewer_id,
            address: r.address,
            detail: r.detail,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditList {
    pub events: Vec<AuditEvent>,
}

/// `GET /api/audit?after=&limit=`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct AuditQuery {
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

/// `POST /api/login`. No `Debug`: it carries the password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub name: String,
    pub password: String,
    #[serde(default)]
    pub totp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: String,
    pub name: String,
    pub totp: bool,
}

/// Reply of `POST /api/login` and `GET /api/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: UserInfo,
    pub csrf_token: String,
}
