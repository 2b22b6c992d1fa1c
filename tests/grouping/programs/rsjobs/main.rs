//! rsjobs: frames read from stdin are decoded by worker threads, and the jobs they carry are
//! queued and run.
//!
//!   rsjobs [--workers N] [--count N] < frames
//!
//! A frame is "KIND PAYLOAD [START..END]"; KIND is job, urgent or cancel.
mod cli;
mod frame;
mod job;
mod queue;

use std::io::{self, BufRead};
use std::sync::mpsc;
use std::thread;

fn main() {
    let opts = cli::parse(std::env::args().skip(1).collect());
    let lines: Vec<String> = io::stdin().lock().lines().map_while(Result::ok).collect();
    let (tx, rx) = mpsc::channel();
    let chunks: Vec<Vec<String>> = (0..opts.workers)
        .map(|w| lines.iter().skip(w).step_by(opts.workers).cloned().collect())
        .collect();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let tx = tx.clone();
            thread::spawn(move || {
                for line in chunk {
                    tx.send(frame::decode(&line)).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let q = queue::Queue::new(opts.count);
    for f in rx {
        q.push(job::Job::from_frame(&f));
    }
    for h in handles {
        let _ = h.join();
    }
    println!("{} jobs, {} done", q.len(), q.run_all());
}
