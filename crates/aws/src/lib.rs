//! Assetwarden's AWS adapters on the AWS SDK for Rust. They take an [`aws_config::SdkConfig`]
//! from their caller and never build a runtime of their own.
//!
//! So far: SSM Parameter Store, for secrets (`ssm:/path` references) and for policies kept there.
//! Inventory, tag writing, events, Security Hub, Inspector and budgets come with their issue.

pub mod ssm;

pub use ssm::Ssm;
