//! Alibaba Cloud ECS: RPC-signed API calls (HMAC-SHA1), credentials the way the aliyun CLI
//! reads them, the instance metadata service (token first), JSON responses, and its
//! implementation of the provider contract with its stop-and-reset rollback plan.

pub mod connect;
pub mod creds;
pub mod ecs;
pub mod metadata;
pub mod policies;
pub mod provider;
pub mod retention;
pub mod rollback;
pub mod rpc;
pub mod sign;
pub mod sts;

pub use connect::connect;
pub use provider::AliyunProvider;
