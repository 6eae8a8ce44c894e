//! In-memory [`Store`] for tests: same contract as SQLite, nothing on disk.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::{
    AuditRecord, HostRecord, HostTokenRecord, LinkRecord, SessionRecord, Store, StoreError,
    UserRecord,
};

#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    hosts: HashMap<String, HostRecord>,
    host_tokens: HashMap<String, HostTokenRecord>,
    links: HashMap<String, LinkRecord>,
    users: HashMap<String, UserRecord>,
    sessions: HashMap<String, SessionRecord>,
    audit: Vec<AuditRecord>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding this lock cannot leave the maps half-updated (each write is one
        // insert), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn insert_new<V>(map: &mut HashMap<String, V>, key: &str, value: V) -> Result<(), StoreError> {
    if map.contains_key(key) {
        return Err(StoreError::Duplicate(key.to_string()));
    }
    map.insert(key.to_string(), value);
    Ok(())
}

impl Store for MemoryStore {
    fn create_host(&self, host: &HostRecord) -> Result<(), StoreError> {
        insert_new(&mut self.tables().hosts, &host.id, host.clone())
    }

    fn get_host(&self, id: &str) -> Result<Option<HostRecord>, StoreError> {
        Ok(self.tables().hosts.get(id).cloned())
    }

    fn list_hosts(&self) -> Result<Vec<HostRecord>, StoreError> {
        let mut hosts: Vec<HostRecord> = self.tables().hosts.values().cloned().collect();
        hosts.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(hosts)
    }

    fn add_host_token(&self, token: &HostTokenRecord) -> Result<(), StoreError> {
        insert_new(&mut self.tables().host_tokens, &token.jti, token.clone())
    }

    fn list_host_tokens(&self) -> Result<Vec<HostTokenRecord>, StoreError> {
        let mut tokens: Vec<_> = self.tables().host_tokens.values().cloned().collect();
        tokens.sort_by(|a, b| (a.created_at, &a.jti).cmp(&(b.created_at, &b.jti)));
        Ok(tokens)
    }

    fn host_token_valid(&self, jti: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .tables()
            .host_tokens
            .get(jti)
            .filter(|t| !t.revoked)
            .map(|t| t.host_id.clone()))
    }

    fn revoke_host_token(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(self
            .tables()
            .host_tokens
            .get_mut(jti)
            .map(|t| t.revoked = true)
            .is_some())
    }

    fn create_link(&self, link: &LinkRecord) -> Result<(), StoreError> {
        insert_new(&mut self.tables().links, &link.id, link.clone())
    }

    fn get_link(&self, id: &str) -> Result<Option<LinkRecord>, StoreError> {
        Ok(self.tables().links.get(id).cloned())
    }

    fn list_links(&self, host_id: &str) -> Result<Vec<LinkRecord>, StoreError> {
        let mut links: Vec<LinkRecord> = self
            .tables()
            .links
            .values()
            .filter(|l| l.host_id == host_id)
            .cloned()
            .collect();
        links.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(links)
    }

    fn revoke_link(&self, id: &str, now: u64) -> Result<bool, StoreError> {
        Ok(self
            .tables()
            .links
            .get_mut(id)
            .map(|l| {
                l.revoked_at.get_or_insert(now);
            })
            .is_some())
    }

    fn mark_link_used(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .tables()
            .links
            .get_mut(id)
            .is_some_and(|l| !std::mem::replace(&mut l.used, true)))
    }

    fn append_audit(&self, event: &AuditRecord) -> Result<i64, StoreError> {
        let mut tables = self.tables();
        let id = tables.audit.last().map_or(1, |e| e.id + 1);
        let mut row = event.clone();
        row.id = id;
        tables.audit.push(row);
        Ok(id)
    }

    fn list_audit(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(self
            .tables()
            .audit
            .iter()
            .filter(|e| e.id > after)
            .take(limit)
            .cloned()
            .collect())
    }

    fn create_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let mut tables = self.tables();
        if tables.users.values().any(|u| u.name == user.name) {
            return Err(StoreError::Duplicate(user.name.clone()));
        }
        insert_new(&mut tables.users, &user.id, user.clone())
    }

    fn get_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.tables().users.get(id).cloned())
    }

    fn get_user_by_name(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self
            .tables()
            .users
            .values()
            .find(|u| u.name == name)
            .cloned())
    }

    fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let mut users: Vec<UserRecord> = self.tables().users.values().cloned().collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(users)
    }

    fn set_user_totp(&self, user_id: &str, secret: Option<&str>) -> Result<bool, StoreError> {
        Ok(self
            .tables()
            .users
            .get_mut(user_id)
            .map(|u| u.totp_secret = secret.map(str::to_string))
            .is_some())
    }

    fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        insert_new(
            &mut self.tables().sessions,
            &session.id_hash,
            session.clone(),
        )
    }

    fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.tables().sessions.get(id_hash).cloned())
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.tables().sessions.remove(id_hash);
        Ok(())
    }

    fn delete_expired_sessions(&self, now: u64) -> Result<usize, StoreError> {
        let mut tables = self.tables();
        let before = tables.sessions.len();
        tables.sessions.retain(|_, s| s.expires_at > now);
        Ok(before - tables.sessions.len())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passes_the_store_contract() -> Result<(), super::StoreError> {
        super::super::contract::check(&super::MemoryStore::new())
    }
}
