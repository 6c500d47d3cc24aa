//! Reaching Tencent Cloud: credentials in the SDK's order (see `creds`), the metadata
//! service asked only when DMI says Tencent Cloud or its endpoint variable is set, the
//! region from `--region`, `TENCENTCLOUD_REGION`, tccli's profile or metadata, and this
//! machine's identity from metadata.

use super::api::TencentClient;
use super::creds::{self, Found};
use super::metadata::Metadata;
use super::provider::TencentProvider;
use crate::providers::{CloudProvider, Identity};
use crate::sources::{CloudOptions, SourceError};
use std::sync::Arc;

/// A signed CBS/CVM client for `options`, with this machine's identity when metadata answers.
pub fn connect(options: &CloudOptions) -> Result<Arc<dyn CloudProvider>, SourceError> {
    Ok(Arc::new(connect_tencent(options)?))
}

/// The same, as the concrete provider.
pub fn connect_tencent(options: &CloudOptions) -> Result<TencentProvider, SourceError> {
    let on_tencent =
        crate::providers::dmi::this_machine() == Some(crate::providers::dmi::Cloud::Tencent);
    let metadata = Metadata::endpoint(on_tencent).and_then(|e| Metadata::connect(&e).ok());
    let identity = match &metadata {
        Some(m) => Identity {
            instance: m.get("meta-data/instance-id").ok(),
            region: m.get("meta-data/placement/region").ok(),
            zone: m.get("meta-data/placement/zone").ok(),
        },
        None => Identity::default(),
    };
    let (credentials, refresh_from) = match creds::find()? {
        Found::Keys(c) => (c, None),
        Found::CvmRole => {
            let m = metadata.ok_or_else(creds::missing)?;
            (m.role_credentials()?, Some(m))
        }
    };
    let region = options
        .region
        .clone()
        .or_else(|| std::env::var("TENCENTCLOUD_REGION").ok())
        .or_else(creds::tccli_region)
        .or_else(|| identity.region.clone())
        .ok_or_else(|| {
            SourceError::Refused(
                "no Tencent Cloud region: give --region, or set TENCENTCLOUD_REGION".into(),
            )
        })?;
    let client = TencentClient::new(
        &region,
        options.endpoint.as_deref(),
        credentials,
        refresh_from,
    )?;
    Ok(TencentProvider { client, identity })
}
