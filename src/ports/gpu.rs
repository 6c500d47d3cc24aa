//! GPU status through NVML. No driver is a normal state with a one-line reason; the trait
//! lets the wizard and its tests run with a fixed answer.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuProcess {
    pub pid: u32,
    pub used_memory: Option<u64>,
    pub kind: &'static str,
    /// The MIG instance it runs on, when the GPU is split into MIG instances.
    pub mig_instance: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuDevice {
    pub index: u32,
    pub name: String,
    pub uuid: String,
    pub memory_used: u64,
    pub memory_total: u64,
    pub utilization_percent: Option<u32>,
    pub temperature_c: Option<u32>,
    pub power_watts: Option<f64>,
    pub processes: Vec<GpuProcess>,
    /// A per-device problem (device in an error state), shown beside it.
    pub error: Option<String>,
}

/// Whose PIDs the driver's process lists hold. The NVIDIA driver does not know PID
/// namespaces: it always reports host PIDs, which are ours only outside a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverPids {
    /// This process runs in the host's PID namespace: the driver's PIDs are those in /proc.
    Ours,
    /// This process runs in a container: the driver's PIDs belong to the host, and a match
    /// with a PID here would be a coincidence.
    Host,
}

impl DriverPids {
    /// What the driver's PIDs are, seen from this process.
    pub fn here() -> Self {
        if super::processes::in_host_pid_namespace() {
            DriverPids::Ours
        } else {
            DriverPids::Host
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GpuStatus {
    Available {
        driver: String,
        devices: Vec<GpuDevice>,
        /// Where the facts came from: `NVML`, or `nvidia-smi` with why NVML did not load.
        via: String,
        /// Whether the processes' PIDs can be joined with ours.
        pids: DriverPids,
    },
    Unavailable {
        reason: String,
    },
}

impl GpuDevice {
    /// Why nothing at all could be read from it (not even its name), if so.
    pub fn unreadable(&self) -> Option<&str> {
        self.error.as_deref().filter(|_| self.name.is_empty())
    }
}

impl GpuStatus {
    /// GPU memory used by `pid` over all devices, if it uses any GPU: the join that shows a
    /// training job's GPU use beside its writes to the disk.
    /// None from inside a container: the driver's PIDs are the host's (see
    /// [`GpuStatus::pid_caveat`]).
    pub fn memory_of(&self, pid: i32) -> Option<u64> {
        let GpuStatus::Available {
            devices,
            pids: DriverPids::Ours,
            ..
        } = self
        else {
            return None;
        };
        let used: Vec<u64> = devices
            .iter()
            .flat_map(|d| &d.processes)
            .filter(|p| i64::from(p.pid) == i64::from(pid))
            .map(|p| p.used_memory.unwrap_or(0))
            .collect();
        (!used.is_empty()).then(|| used.iter().sum())
    }

    /// Why GPU memory is not shown per process, when the driver's PIDs are the host's.
    pub fn pid_caveat(&self) -> Option<&'static str> {
        matches!(
            self,
            GpuStatus::Available {
                pids: DriverPids::Host,
                ..
            }
        )
        .then_some(
            "this runs in a container: the driver reports host PIDs, so GPU memory cannot be \
             matched to processes here; GPU jobs are those holding /dev/nvidiaN open",
        )
    }
}

/// Reads the GPU state.
pub trait GpuProbe: Send + Sync {
    fn probe(&self) -> GpuStatus;
}

/// The real NVML library, loaded at run time.
pub struct Nvml;

impl GpuProbe for Nvml {
    fn probe(&self) -> GpuStatus {
        let nvml = match nvml_wrapper::Nvml::init() {
            Ok(n) => n,
            Err(e) => {
                if let Some(status) = super::gpu_smi::probe(&format!("NVML did not load: {e}")) {
                    return status;
                }
                let text = e.to_string();
                let why = if text.contains("cannot open shared object file") {
                    "libnvidia-ml.so.1 is not installed".to_string()
                } else {
                    text
                };
                return GpuStatus::Unavailable {
                    reason: format!("no NVIDIA driver here ({why}); no GPU jobs to show"),
                };
            }
        };
        let driver = nvml
            .sys_driver_version()
            .unwrap_or_else(|_| "unknown".into());
        let count = match nvml.device_count() {
            Ok(c) => c,
            Err(e) => {
                return GpuStatus::Unavailable {
                    reason: format!("NVML loaded but cannot count devices: {e}"),
                };
            }
        };
        let devices = (0..count).map(|i| read_device(&nvml, i)).collect();
        GpuStatus::Available {
            driver,
            devices,
            via: "NVML".into(),
            pids: DriverPids::here(),
        }
    }
}

fn read_device(nvml: &nvml_wrapper::Nvml, index: u32) -> GpuDevice {
    use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
    let mut gpu = GpuDevice {
        index,
        name: String::new(),
        uuid: String::new(),
        memory_used: 0,
        memory_total: 0,
        utilization_percent: None,
        temperature_c: None,
        power_watts: None,
        processes: Vec::new(),
        error: None,
    };
    let device = match nvml.device_by_index(index) {
        Ok(d) => d,
        Err(e) => {
            gpu.error = Some(format!("device {index} unreadable: {e}"));
            return gpu;
        }
    };
    gpu.name = device.name().unwrap_or_default();
    gpu.uuid = device.uuid().unwrap_or_default();
    match device.memory_info() {
        Ok(m) => {
            gpu.memory_used = m.used;
            gpu.memory_total = m.total;
        }
        Err(e) => gpu.error = Some(format!("memory unreadable: {e}")),
    }
    gpu.utilization_percent = device.utilization_rates().ok().map(|u| u.gpu);
    gpu.temperature_c = device.temperature(TemperatureSensor::Gpu).ok();
    gpu.power_watts = device.power_usage().ok().map(|mw| mw as f64 / 1000.0);
    for (kind, list) in [
        ("compute", device.running_compute_processes()),
        ("graphics", device.running_graphics_processes()),
    ] {
        for p in list.unwrap_or_default() {
            gpu.processes.push(GpuProcess {
                pid: p.pid,
                used_memory: used(p.used_gpu_memory),
                kind,
                mig_instance: None,
            });
        }
    }
    // A GPU split into MIG instances tells per-process memory only per instance: those
    // answers replace the parent's entries without memory.
    for p in mig_processes(&device) {
        gpu.processes
            .retain(|q| !(q.pid == p.pid && q.used_memory.is_none()));
        gpu.processes.push(p);
    }
    gpu
}

/// Bytes of GPU memory a process uses, when NVML knows.
fn used(memory: nvml_wrapper::enums::device::UsedGpuMemory) -> Option<u64> {
    use nvml_wrapper::enums::device::UsedGpuMemory;
    match memory {
        UsedGpuMemory::Used(b) => Some(b),
        UsedGpuMemory::Unavailable => None,
    }
}

/// The compute processes of each MIG instance of `device`, if MIG is enabled on it.
fn mig_processes(device: &nvml_wrapper::Device) -> Vec<GpuProcess> {
    const MIG_ENABLED: u32 = 1;
    if !device.mig_mode().is_ok_and(|m| m.current == MIG_ENABLED) {
        return Vec::new();
    }
    let count = device.mig_device_count().unwrap_or(0);
    // Instances that do not exist answer NotFound: skipped.
    (0..count)
        .filter_map(|i| Some((i, device.mig_device_by_index(i).ok()?)))
        .flat_map(|(i, mig)| {
            mig.running_compute_processes()
                .unwrap_or_default()
                .into_iter()
                .map(move |p| GpuProcess {
                    pid: p.pid,
                    used_memory: used(p.used_gpu_memory),
                    kind: "compute",
                    mig_instance: Some(i),
                })
        })
        .collect()
}

/// A fixed answer, for tests and for screens rendered without hardware.
pub struct FixedGpu(pub GpuStatus);

impl GpuProbe for FixedGpu {
    fn probe(&self) -> GpuStatus {
        self.0.clone()
    }
}
