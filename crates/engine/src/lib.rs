//! The engine: targets, checks, verdicts, and the report model.

pub mod model;
pub mod registry;

pub use model::*;
