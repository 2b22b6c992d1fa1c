//! The cache: values by key, with the order they were inserted in (for eviction).
use std::collections::{HashMap, VecDeque};

pub struct Cache {
    values: HashMap<String, String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl Cache {
    pub fn new(capacity: usize) -> Cache {
        Cache { values: HashMap::new(), order: VecDeque::new(), capacity }
    }

    pub fn insert(&mut self, key: &str, value: &str) {
        if self.values.insert(key.to_string(), value.to_string()).is_none() {
            self.order.push_back(key.to_string());
        }
        while self.values.len() > self.capacity {
            self.evict();
        }
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.values.get(key)
    }

    /// Removes a key; its place in the eviction order is dropped too.
    pub fn remove(&mut self, key: &str) {
        self.values.remove(key);
        self.order.retain(|k| k != key);
    }

    /// Gives a value another key (it keeps its age... but leaves the eviction order).
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(v) = self.values.remove(from) {
            self.order.retain(|k| k != from);
            self.values.insert(to.to_string(), v);
        }
    }

    /// Changes the capacity, evicting the oldest keys that no longer fit.
    pub fn resize(&mut self, capacity: usize) {
        self.capacity = capacity;
        while self.values.len() > self.capacity {
            self.evict();
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Evicts the oldest key.
    fn evict(&mut self) {
        let oldest = self.order.pop_front().unwrap();
        self.values.remove(&oldest);
    }
}
