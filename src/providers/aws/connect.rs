//! Reaching EC2: credentials from the environment, the shared profile or the instance role
//! (IMDSv2, asked only when DMI says AWS or its endpoint variable is set), the region from
//! `--region`, the environment, the profile or IMDS, and this machine's identity from IMDS.

use super::creds;
use super::ec2::Ec2Client;
use super::imds::Imds;
use super::provider::AwsProvider;
use crate::providers::{CloudProvider, Identity};
use crate::sources::{CloudOptions, SourceError};
use std::sync::Arc;

/// A signed EC2 client for `options`, with this machine's identity when IMDS answers.
pub fn connect(options: &CloudOptions) -> Result<Arc<dyn CloudProvider>, SourceError> {
    Ok(Arc::new(connect_aws(options)?))
}

/// The same, as the concrete provider.
pub fn connect_aws(options: &CloudOptions) -> Result<AwsProvider, SourceError> {
    let on_aws = crate::providers::dmi::this_machine() == Some(crate::providers::dmi::Cloud::Aws);
    let imds = Imds::endpoint(on_aws).and_then(|e| Imds::connect(&e).ok());
    let credentials = match creds::from_env_or_profile() {
        Some(c) => c,
        None => imds
            .as_ref()
            .ok_or_else(creds::missing)
            .and_then(|i| i.role_credentials())?,
    };
    let imds_region = imds.as_ref().and_then(|i| i.region().ok());
    let region = options
        .region
        .clone()
        .or_else(creds::region_from_env_or_profile)
        .or_else(|| imds_region.clone())
        .ok_or_else(|| {
            SourceError::Refused("no AWS region: give --region, or set AWS_REGION".into())
        })?;
    let mut ec2 = Ec2Client::new(&region, credentials)?;
    if let Some(endpoint) = &options.endpoint {
        ec2 = ec2.with_endpoint(endpoint);
    }
    let identity = match &imds {
        Some(i) => Identity {
            instance: i.instance_id().ok(),
            region: imds_region,
            zone: i.zone().ok(),
        },
        None => Identity::default(),
    };
    Ok(AwsProvider { ec2, identity })
}
