//! AWS EC2: where the instance is (IMDSv2), credentials the way the official CLIs find
//! them, SigV4-signed Query API calls, and the responses parsed namespace- and
//! order-independently.

pub mod creds;
pub mod ec2;
pub mod imds;
pub mod sign;
pub mod xml;
