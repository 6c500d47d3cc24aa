//! Alibaba Cloud ECS: RPC-signed API calls (HMAC-SHA1), credentials the way the aliyun CLI
//! reads them, the instance metadata service (token first), JSON responses.

pub mod creds;
pub mod ecs;
pub mod metadata;
pub mod rpc;
pub mod sign;
pub mod sts;
