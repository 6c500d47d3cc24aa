//! Reaching ECS: credentials from the environment, the aliyun CLI profile, a RAM role to
//! assume, or the instance's RAM role (the metadata service is asked only when DMI says
//! Alibaba Cloud or its endpoint variable is set), the region from `--region`, the
//! environment, the profile or metadata, and this machine's identity from metadata.

use super::creds::{self, ProfileCredentials};
use super::ecs::EcsClient;
use super::metadata::Metadata;
use super::provider::AliyunProvider;
use crate::providers::{CloudProvider, Identity};
use crate::sources::{CloudOptions, SourceError};
use std::sync::Arc;

/// A signed ECS client for `options`, with this machine's identity when metadata answers.
pub fn connect(options: &CloudOptions) -> Result<Arc<dyn CloudProvider>, SourceError> {
    Ok(Arc::new(connect_aliyun(options)?))
}

/// The same, as the concrete provider.
pub fn connect_aliyun(options: &CloudOptions) -> Result<AliyunProvider, SourceError> {
    let on_aliyun =
        crate::providers::dmi::this_machine() == Some(crate::providers::dmi::Cloud::Aliyun);
    let metadata = Metadata::endpoint(on_aliyun).and_then(|e| Metadata::connect(&e).ok());
    let profile = creds::from_config()?;
    let profile_region = profile.as_ref().and_then(|p| p.region.clone());
    let profile_endpoint = profile.as_ref().and_then(|p| p.endpoint.clone());
    let credentials = match (creds::from_env(), profile.map(|p| p.credentials)) {
        (Some(c), _) => c,
        (None, Some(ProfileCredentials::Keys(c))) => c,
        (
            None,
            Some(ProfileCredentials::AssumeRole {
                keys,
                role_arn,
                session,
                seconds,
            }),
        ) => super::sts::assume_role(&keys, &role_arn, &session, seconds)?,
        (None, Some(ProfileCredentials::EcsRole(role))) => metadata
            .as_ref()
            .ok_or_else(creds::missing)
            .and_then(|m| m.role_credentials(Some(&role)))?,
        (None, None) => metadata
            .as_ref()
            .ok_or_else(creds::missing)
            .and_then(|m| m.role_credentials(None))?,
    };
    let identity = match &metadata {
        Some(m) => Identity {
            instance: m.get("meta-data/instance-id").ok(),
            region: m.get("meta-data/region-id").ok(),
            zone: m.get("meta-data/zone-id").ok(),
        },
        None => Identity::default(),
    };
    let region = options
        .region
        .clone()
        .or_else(|| std::env::var("ALIBABA_CLOUD_REGION_ID").ok())
        .or(profile_region)
        .or_else(|| identity.region.clone())
        .ok_or_else(|| {
            SourceError::Refused(
                "no Alibaba Cloud region: give --region, or set ALIBABA_CLOUD_REGION_ID".into(),
            )
        })?;
    let endpoint = EcsClient::endpoint_for(
        &region,
        options.endpoint.as_deref(),
        profile_endpoint.as_deref(),
    );
    let ecs = EcsClient::new(endpoint, &region, credentials)?;
    Ok(AliyunProvider { ecs, identity })
}
