//! The `nvidia-smi` fallback: when the binary exists but NVML cannot be loaded by us
//! (a library path problem, a container without the library mounted), its CSV output gives
//! the same facts.

use super::gpu::{DriverPids, GpuDevice, GpuProcess, GpuStatus};

fn number<T: std::str::FromStr>(field: &str) -> Option<T> {
    field.trim().parse().ok()
}

/// Parses `nvidia-smi --query-gpu=index,name,uuid,memory.used,memory.total,utilization.gpu,
/// temperature.gpu,power.draw,driver_version --format=csv,noheader,nounits` and
/// `--query-compute-apps=gpu_uuid,pid,used_memory --format=csv,noheader,nounits`.
pub fn parse(gpus: &str, apps: &str, why: &str, pids: DriverPids) -> Option<GpuStatus> {
    let mut driver = String::new();
    let mut devices = Vec::new();
    for line in gpus.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() < 9 {
            return None;
        }
        driver = f[8].to_string();
        let mib = |s: &str| number::<u64>(s).map(|m| m << 20);
        devices.push(GpuDevice {
            index: number(f[0])?,
            name: f[1].to_string(),
            uuid: f[2].to_string(),
            memory_used: mib(f[3]).unwrap_or(0),
            memory_total: mib(f[4]).unwrap_or(0),
            utilization_percent: number(f[5]),
            temperature_c: number(f[6]),
            power_watts: number(f[7]),
            processes: Vec::new(),
            error: None,
        });
    }
    for line in apps.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() < 3 {
            continue;
        }
        if let (Some(device), Some(pid)) =
            (devices.iter_mut().find(|d| d.uuid == f[0]), number(f[1]))
        {
            device.processes.push(GpuProcess {
                pid,
                used_memory: number::<u64>(f[2]).map(|m| m << 20),
                kind: "compute",
                mig_instance: None,
            });
        }
    }
    (!devices.is_empty()).then(|| GpuStatus::Available {
        driver,
        devices,
        via: format!("nvidia-smi ({why})"),
        pids,
    })
}

/// Runs nvidia-smi when it is installed; `why` says why NVML was not used.
pub fn probe(why: &str) -> Option<GpuStatus> {
    if !crate::ports::command::exists("nvidia-smi") {
        return None;
    }
    let gpus = crate::ports::command::run(
        "nvidia-smi",
        &[
            "--query-gpu=index,name,uuid,memory.used,memory.total,utilization.gpu,temperature.gpu,power.draw,driver_version",
            "--format=csv,noheader,nounits",
        ],
    )
    .ok()?;
    let apps = crate::ports::command::run(
        "nvidia-smi",
        &[
            "--query-compute-apps=gpu_uuid,pid,used_memory",
            "--format=csv,noheader,nounits",
        ],
    )
    .unwrap_or_default();
    parse(&gpus, &apps, why, DriverPids::here())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_nvidia_smi_csv() {
        let gpus = "0, NVIDIA H200, GPU-5f3a1c2e-0000-1111-2222-333344445555, 40321, 143771, 97, 61, 512.34, 550.54.15\n";
        let apps = "GPU-5f3a1c2e-0000-1111-2222-333344445555, 4242, 39012\n";
        let GpuStatus::Available {
            driver,
            devices,
            via,
            ..
        } = parse(gpus, apps, "NVML did not load", DriverPids::Ours).unwrap()
        else {
            panic!()
        };
        assert_eq!(driver, "550.54.15");
        assert_eq!(via, "nvidia-smi (NVML did not load)");
        assert_eq!(devices[0].name, "NVIDIA H200");
        assert_eq!(devices[0].memory_total, 143771 << 20);
        assert_eq!(devices[0].utilization_percent, Some(97));
        assert_eq!(devices[0].power_watts, Some(512.34));
        assert_eq!(devices[0].processes[0].pid, 4242);
        assert_eq!(devices[0].processes[0].used_memory, Some(39012 << 20));
    }

    #[test]
    fn not_supported_fields_are_none_and_garbage_is_rejected() {
        let gpus = "0, Tesla T4, GPU-1, 0, 15360, [N/A], 40, [N/A], 535.1\n";
        let GpuStatus::Available { devices, .. } = parse(gpus, "", "-", DriverPids::Ours).unwrap()
        else {
            panic!()
        };
        assert_eq!(devices[0].utilization_percent, None);
        assert_eq!(devices[0].power_watts, None);
        assert!(
            parse(
                "NVIDIA-SMI has failed because it couldn't communicate",
                "",
                "-",
                DriverPids::Ours
            )
            .is_none()
        );
    }
}
