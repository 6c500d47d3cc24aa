//! Every side effect the tool has lives behind one of these modules, so the engine and the
//! wizard can be tested without touching processes, devices or the network.

pub mod block;
pub mod command;
pub mod disk_by_serial;
pub mod file_replace;
pub mod fs_meta;
pub mod fstab;
pub mod gpu;
pub mod gpu_smi;
pub mod invocation;
pub mod job_container;
pub mod job_python;
pub mod mount_record;
pub mod mounts;
pub mod processes;
pub mod signals;
pub mod subvolume_info;
pub mod superblock;
