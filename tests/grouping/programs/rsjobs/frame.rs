//! Frames: "KIND PAYLOAD [START..END]" (the range selects the part of the payload to keep).

pub struct Frame {
    pub kind: String,
    pub body: Vec<u8>,
}

fn range(spec: &str) -> Option<(usize, usize)> {
    let (a, b) = spec.split_once("..")?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

pub fn decode(line: &str) -> Frame {
    let mut parts = line.split_whitespace();
    let kind = parts.next().unwrap_or("job").to_string();
    let payload = parts.next().unwrap_or("").as_bytes();
    let (start, end) = parts.next().and_then(range).unwrap_or((0, payload.len()));
    Frame { kind, body: payload[start..end].to_vec() }
}
