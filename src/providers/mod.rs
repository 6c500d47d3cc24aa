//! The clouds snaprescue works with, one folder each (client, signing, credentials,
//! metadata and its implementation of the one [`CloudProvider`] contract), plus what they
//! share: the HTTP client with retries, errors, secrets, DMI detection, metadata tokens and
//! time parsing. Everything outside this folder sees a cloud only through the contract and
//! the registry below.

pub mod aliyun;
pub mod aws;
pub mod contract;
pub mod dmi;
pub mod error;
pub mod http;
pub mod iso_time;
pub mod secret;
pub mod tencent;
pub mod token_metadata;

pub use contract::{CloudProvider, DiskState, GuardRequest, Identity, RollbackFlow};
pub use error::CloudError;
pub use http::{Answer, Retry, RetryPolicy, head, http_client, send_with_retries, warn_if_exposed};

use crate::sources::{CloudOptions, SourceError};
use std::sync::Arc;

/// One cloud in the registry: its `--source` name, how DMI names it, and how to reach it.
pub struct ProviderEntry {
    pub name: &'static str,
    pub dmi: dmi::Cloud,
    /// A signed client for `options` (credentials, region, endpoint) and this machine's
    /// identity when the metadata service answers.
    pub connect: fn(&CloudOptions) -> Result<Arc<dyn CloudProvider>, SourceError>,
}

/// Every cloud, in the order detection tries them.
pub const PROVIDERS: [ProviderEntry; 3] = [
    ProviderEntry {
        name: "aws",
        dmi: dmi::Cloud::Aws,
        connect: aws::connect,
    },
    ProviderEntry {
        name: "aliyun",
        dmi: dmi::Cloud::Aliyun,
        connect: aliyun::connect,
    },
    ProviderEntry {
        name: "tencent",
        dmi: dmi::Cloud::Tencent,
        connect: tencent::connect,
    },
];

/// The provider called `name`, if there is one.
pub fn by_name(name: &str) -> Option<&'static ProviderEntry> {
    PROVIDERS.iter().find(|p| p.name == name)
}

/// Reaches the cloud of an interrupted run again, at the region and endpoint it used.
pub fn reconnect(
    header: &crate::rescue::journal::RunHeader,
) -> Result<Arc<dyn CloudProvider>, SourceError> {
    let entry = by_name(&header.cloud).ok_or_else(|| {
        SourceError::Refused(format!(
            "journal of run {} names an unknown cloud `{}`",
            header.run, header.cloud
        ))
    })?;
    (entry.connect)(&CloudOptions {
        region: Some(header.region.clone()),
        endpoint: Some(header.endpoint.clone()),
        ..Default::default()
    })
}
