//! The `mxdoctor` command line, as a library so tests can drive it.

pub mod app;
pub mod cli;
pub mod labcmd;
pub mod scancmd;
pub mod servecmd;
