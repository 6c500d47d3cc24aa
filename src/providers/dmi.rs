//! Which cloud this machine runs on, from DMI (`/sys/class/dmi/id`): metadata services are
//! only asked when DMI says that cloud, or when configured.

use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cloud {
    Aws,
    Aliyun,
    Tencent,
}

/// This machine's cloud: DMI under `SNAPRESCUE_DMI_DIR`, else `/sys/class/dmi/id`.
pub fn this_machine() -> Option<Cloud> {
    let dir = std::env::var_os("SNAPRESCUE_DMI_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/sys/class/dmi/id".into());
    detect(&dir)
}

/// Reads `sys_vendor`, `product_name`, `board_vendor`, `bios_vendor` and `chassis_asset_tag`
/// under `dmi_dir` (normally `/sys/class/dmi/id`).
pub fn detect(dmi_dir: &Path) -> Option<Cloud> {
    let text: String = [
        "sys_vendor",
        "product_name",
        "board_vendor",
        "bios_vendor",
        "chassis_asset_tag",
        "product_version",
    ]
    .iter()
    .filter_map(|f| std::fs::read_to_string(dmi_dir.join(f)).ok())
    .collect::<Vec<_>>()
    .join("\n")
    .to_lowercase();
    if text.contains("amazon ec2") || text.contains("amazon.com") || text.contains("\namazon") {
        Some(Cloud::Aws)
    } else if text.contains("alibaba cloud") || text.contains("aliyun") {
        Some(Cloud::Aliyun)
    } else if text.contains("tencent cloud") {
        Some(Cloud::Tencent)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dmi(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, value) in files {
            std::fs::write(dir.path().join(name), format!("{value}\n")).unwrap();
        }
        dir
    }

    #[test]
    fn recognises_each_cloud_and_none() {
        assert_eq!(
            detect(dmi(&[("sys_vendor", "Amazon EC2"), ("product_name", "g5.xlarge")]).path()),
            Some(Cloud::Aws)
        );
        assert_eq!(
            detect(dmi(&[("sys_vendor", "Xen"), ("bios_vendor", "Amazon")]).path()),
            Some(Cloud::Aws)
        );
        assert_eq!(
            detect(
                dmi(&[
                    ("sys_vendor", "Alibaba Cloud"),
                    ("product_name", "Alibaba Cloud ECS")
                ])
                .path()
            ),
            Some(Cloud::Aliyun)
        );
        assert_eq!(
            detect(dmi(&[("sys_vendor", "Tencent Cloud"), ("product_name", "CVM")]).path()),
            Some(Cloud::Tencent)
        );
        assert_eq!(
            detect(
                dmi(&[
                    ("sys_vendor", "QEMU"),
                    ("product_name", "Standard PC (Q35 + ICH9, 2009)")
                ])
                .path()
            ),
            None
        );
    }
}
