//! Command sizes, by command.
use std::collections::HashMap;

#[derive(Default)]
pub struct Sizes {
    by_command: HashMap<String, Vec<u64>>,
}

impl Sizes {
    pub fn record(&mut self, cmd: &str, size: usize) {
        self.by_command.entry(cmd.to_string()).or_default().push(size as u64);
    }

    pub fn of(&self, cmd: &str) -> &[u64] {
        self.by_command.get(cmd).map(|v| v.as_slice()).unwrap_or(&[])
    }
}

/// The average of values, rounded down.
pub fn mean(values: &[u64]) -> u64 {
    let sum: u64 = values.iter().sum();
    sum / values.len() as u64
}
