//! Fields of comma-separated lines.

/// The i-th field of a comma-separated line.
pub fn field(line: &str, i: usize) -> &str {
    let parts: Vec<&str> = line.split(',').collect();
    parts[i].trim()
}
