//! kvstore: a key-value store with transactions, driven by commands on stdin.
//!
//!   put K V | get K | del K | rename K NEW | resize N | begin | commit | rollback
//!   field LINE I | mean [CMD] | stats
//!
//! KVSTORE_CAPACITY (environment) bounds the number of keys.
mod cache;
mod config;
mod parse;
mod stats;
mod store;

use std::io::{self, BufRead};

fn main() {
    let cfg = config::load();
    let mut db = store::Store::new(cache::Cache::new(cfg.capacity));
    let mut sizes = stats::Sizes::default();
    for line in io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let words: Vec<&str> = line.split_whitespace().collect();
        let (cmd, args) = match words.split_first() {
            Some((&cmd, args)) => (cmd, args),
            None => continue,
        };
        sizes.record(cmd, line.len());
        match cmd {
            "put" if args.len() >= 2 => db.put(args[0], args[1]),
            "get" if !args.is_empty() => println!("{:?}", db.get(args[0])),
            "del" if !args.is_empty() => db.delete(args[0]),
            "rename" if args.len() >= 2 => db.cache().rename(args[0], args[1]),
            "resize" if !args.is_empty() => db.cache().resize(args[0].parse().unwrap_or(0)),
            "begin" => db.begin(),
            "commit" => db.commit(),
            "rollback" => db.rollback(),
            "field" if args.len() >= 2 => {
                let i: usize = args[1].parse().unwrap_or(0);
                println!("{}", parse::field(args[0], i));
            }
            "mean" => println!("mean {}", stats::mean(sizes.of(args.first().copied().unwrap_or("get")))),
            "stats" => println!("{} keys", db.len()),
            _ => eprintln!("unknown command {cmd}"),
        }
    }
}
