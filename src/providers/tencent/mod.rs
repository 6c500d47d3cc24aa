//! Tencent Cloud CBS: TC3-HMAC-SHA256-signed API 3.0 calls to CBS and CVM, credentials in
//! the SDK's order, the CVM metadata service, typed disks and snapshots (times in UTC+8),
//! its implementation of the provider contract with its rollback plans, and prevention
//! (automatic snapshot policies, encryption, the pre-run snapshot).

pub mod api;
pub mod cbs;
pub mod connect;
pub mod creds;
pub mod metadata;
pub mod policies;
pub mod provider;
pub mod retention;
pub mod rollback;
pub mod schedule;
pub mod sign;

pub use connect::connect;
pub use provider::TencentProvider;
