//! Settings from the environment.
use std::env;

pub struct Config {
    pub capacity: usize,
}

pub fn load() -> Config {
    let capacity = match env::var("KVSTORE_CAPACITY") {
        Ok(v) => v.parse().expect("KVSTORE_CAPACITY must be a number"),
        Err(_) => 1024,
    };
    Config { capacity }
}
