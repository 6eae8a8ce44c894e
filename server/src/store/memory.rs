//! In-memory [`Store`] for tests: same contract as SQLite, nothing on disk.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::{HostRecord, HostTokenRecord, LinkRecord, Store, StoreError};

#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    hosts: HashMap<String, HostRecord>,
    host_tokens: HashMap<String, HostTokenRecord>,
    links: HashMap<String, LinkRecord>,
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

    fn add_host_token(&self, token: &HostTokenRecord) -> Result<(), StoreError> {
        insert_new(&mut self.tables().host_tokens, &token.jti, token.clone())
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

    fn revoke_link(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .tables()
            .links
            .get_mut(id)
            .map(|l| l.revoked = true)
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passes_the_store_contract() -> Result<(), super::StoreError> {
        super::super::contract::check(&super::MemoryStore::new())
    }
}
