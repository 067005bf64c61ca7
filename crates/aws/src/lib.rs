//! Assetwarden's AWS adapters on the AWS SDK for Rust. They take an [`aws_config::SdkConfig`]
//! from their caller and never build a runtime of their own.
//!
//! - [`inventory::AwsInventory`]: the live inventory (tagging API, AWS Config, direct
//!   Describe/Get calls), a [`assetwarden_core::source::ResourceSource`];
//! - [`tagging::AwsTagWriter`]: applies tag plans (`TagResources`, S3 and EC2 native tagging);
//! - [`events`]: CloudTrail creation events → created resources and their creator;
//! - [`securityhub`]: `BatchImportFindings` export with archiving of resolved findings;
//! - [`ssm::Ssm`]: SSM Parameter Store for secrets and policies.

pub mod apimetrics;
pub mod autotag;
pub mod enrich;
pub mod events;
pub mod inspector;
pub mod inventory;
pub mod remediate;
pub mod securityhub;
pub mod ssm;
pub mod tagging;
pub mod util;

pub use inventory::{AwsInventory, ConfigMode};
pub use ssm::Ssm;
pub use tagging::AwsTagWriter;
pub use util::ApiFailure;
