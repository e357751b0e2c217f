//! The worker function's integration tests in one binary (each file a module).

mod bootstrap;
mod chaos;
