//! Transactions over the cache: writes of a transaction are buffered until commit.
use crate::cache::Cache;
use std::collections::HashMap;

pub struct Store {
    cache: Cache,
    pending: Option<HashMap<String, Option<String>>>,
    versions: HashMap<String, u64>,
    read_at: HashMap<String, u64>,
}

impl Store {
    pub fn new(cache: Cache) -> Store {
        Store { cache, pending: None, versions: HashMap::new(), read_at: HashMap::new() }
    }

    pub fn begin(&mut self) {
        self.pending = Some(HashMap::new());
        self.read_at.clear();
    }

    pub fn put(&mut self, key: &str, value: &str) {
        match self.pending.as_mut() {
            Some(p) => {
                p.insert(key.to_string(), Some(value.to_string()));
            }
            None => self.write(key, Some(value)),
        }
    }

    pub fn delete(&mut self, key: &str) {
        match self.pending.as_mut() {
            Some(p) => {
                p.insert(key.to_string(), None);
            }
            None => self.write(key, None),
        }
    }

    pub fn get(&mut self, key: &str) -> Option<String> {
        if let Some(Some(v)) = self.pending.as_ref().and_then(|p| p.get(key)) {
            return Some(v.clone());
        }
        let version = self.versions.get(key).copied().unwrap_or(0);
        self.read_at.insert(key.to_string(), version);
        self.cache.get(key).cloned()
    }

    fn write(&mut self, key: &str, value: Option<&str>) {
        *self.versions.entry(key.to_string()).or_insert(0) += 1;
        match value {
            Some(v) => self.cache.insert(key, v),
            None => self.cache.remove(key),
        }
    }

    /// Applies the pending writes; a key read in the transaction must not have changed since.
    pub fn commit(&mut self) {
        let pending = self.pending.take().unwrap_or_default();
        for (key, value) in pending {
            self.write(&key, value.as_deref());
        }
        for (key, seen) in &self.read_at {
            if self.versions.get(key).copied().unwrap_or(0) != *seen {
                panic!("commit conflict on {key}");
            }
        }
    }

    pub fn cache(&mut self) -> &mut Cache {
        &mut self.cache
    }

    pub fn rollback(&mut self) {
        self.pending = None;
    }

    pub fn len(&self) -> usize {
        self.cache.len()
    }
}
