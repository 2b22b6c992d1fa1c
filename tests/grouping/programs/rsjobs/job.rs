//! Jobs and their states.
use crate::frame::Frame;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum State {
    Queued,
    Running,
    Done,
    Cancelled,
}

pub struct Job {
    pub name: String,
    pub urgent: bool,
    pub state: State,
}

impl Job {
    pub fn from_frame(f: &Frame) -> Job {
        let state = if f.kind == "cancel" { State::Cancelled } else { State::Queued };
        Job { name: String::from_utf8_lossy(&f.body).into_owned(), urgent: f.kind == "urgent", state }
    }

    /// The next state of a job being run.
    pub fn advance(&mut self) -> State {
        self.state = match self.state {
            State::Queued => State::Running,
            State::Running => State::Done,
            State::Done => State::Done,
            State::Cancelled => unreachable!("cancelled jobs are never queued"),
        };
        self.state
    }
}
