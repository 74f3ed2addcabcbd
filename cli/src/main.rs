//! `kubectl-voice`: the kubectl plugin binary.
fn main() {}
