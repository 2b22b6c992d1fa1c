//! Command-line options.

pub struct Options {
    pub workers: usize,
    pub count: usize,
}

pub fn parse_count(s: &str) -> usize {
    s.parse().unwrap()
}

pub fn parse(args: Vec<String>) -> Options {
    let mut opts = Options { workers: 2, count: 64 };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--workers" => opts.workers = it.next().map_or(2, |v| parse_count(v)),
            "--count" => opts.count = it.next().map_or(64, |v| parse_count(v)),
            _ => {}
        }
    }
    opts
}
