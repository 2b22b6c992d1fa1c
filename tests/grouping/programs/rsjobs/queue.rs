//! The job queue; urgent jobs are moved to the front.
use crate::job::{Job, State};
use std::cell::RefCell;

pub struct Queue {
    jobs: RefCell<Vec<Job>>,
    limit: usize,
}

impl Queue {
    pub fn new(limit: usize) -> Queue {
        Queue { jobs: RefCell::new(Vec::new()), limit }
    }

    pub fn push(&self, job: Job) {
        let mut jobs = self.jobs.borrow_mut();
        if jobs.len() >= self.limit {
            eprintln!("queue full, dropping {}", job.name);
            return;
        }
        let urgent = job.urgent;
        jobs.push(job);
        if urgent {
            self.promote(jobs.len() - 1);
        }
    }

    fn promote(&self, index: usize) {
        let mut jobs = self.jobs.borrow_mut();
        let job = jobs.remove(index);
        jobs.insert(0, job);
    }

    pub fn len(&self) -> usize {
        self.jobs.borrow().len()
    }

    pub fn run_all(&self) -> usize {
        let mut done = 0;
        for job in self.jobs.borrow_mut().iter_mut() {
            while job.advance() != State::Done {}
            done += 1;
        }
        done
    }
}
