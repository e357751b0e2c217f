//! Conformance suites for the ports.
