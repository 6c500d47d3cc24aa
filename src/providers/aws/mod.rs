//! AWS EC2: where the instance is (IMDSv2), credentials the way the official CLIs find
//! them, SigV4-signed Query API calls, the responses parsed namespace- and order-
//! independently, and its implementation of the provider contract with its rollback plans.

pub mod connect;
pub mod creds;
pub mod dlm;
pub mod ec2;
pub mod imds;
pub mod locks;
pub mod prevention;
pub mod provider;
pub mod rollback;
pub mod rollback_finish;
pub mod rollback_flow;
pub mod sign;
pub mod xml;

pub use connect::connect;
pub use provider::AwsProvider;
