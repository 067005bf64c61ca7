#![doc = include_str!("../README.md")]

pub mod arn;
pub mod check;
pub mod checks;
pub mod classify;
pub mod declarative;
pub mod engine;
pub mod error;
pub mod finding;
pub mod location;
pub mod normalize;
pub mod notify;
pub mod output;
pub mod path;
pub mod policy;
pub mod projection;
pub mod remediate;
pub mod report;
pub mod resource;
pub mod resource_type;
pub mod rules;
pub mod source;
pub mod tags;
pub mod terraform;
pub mod vuln;

pub use arn::Arn;
pub use check::{Check, CheckMeta, EvalContext, Outcome};
pub use classify::{Classification, CreationEvent, TagPlan, TagPolicy};
pub use engine::{Engine, EngineBuilder, Keep, ResourceResult, Tallied};
pub use error::{Error, PolicyError, Result};
pub use finding::{Evidence, Finding, Severity, Status};
pub use policy::Policy;
pub use report::{ScanReport, ScanSink};
pub use resource::Resource;
pub use source::{InventoryFile, ResourceSource, SourceEvent};
pub use tags::Tags;

/// The YAML implementation the crate uses (for tests and tools that read the same files).
pub use serde_yaml;
