//! What the `torch.cuda` check asks the job's interpreter, and what its answers mean: torch
//! version and CUDA build, whether a GPU is usable and really runs a kernel, cuDNN, loading
//! each restored checkpoint with `weights_only=True`. Each way it can fail gets its own
//! plain diagnosis.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub(crate) const SCRIPT: &str = r#"
import json, sys
out = {"python": sys.version.split()[0]}
try:
    import torch
except Exception as e:
    out["import_error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out)); sys.exit(0)
out["torch"] = torch.__version__
out["cuda_build"] = torch.version.cuda
try:
    out["available"] = bool(torch.cuda.is_available())
    out["count"] = torch.cuda.device_count() if out["available"] else 0
    out["names"] = [torch.cuda.get_device_name(i) for i in range(out["count"])]
    if not out["available"] and torch.version.cuda:
        try:
            torch.cuda.init()
        except Exception as e:
            out["cuda_error"] = str(e)
except Exception as e:
    out["cuda_error"] = str(e)
if out.get("available"):
    # is_available() only asks the driver; a real kernel (cuBLAS) proves this build of
    # torch runs on this GPU.
    try:
        x = torch.ones(256, 256, device="cuda")
        out["kernel_ok"] = (x @ x)[0, 0].item() == 256.0
        torch.cuda.synchronize()
    except Exception as e:
        out["kernel_error"] = f"{type(e).__name__}: {e}"[:300]
    try:
        out["cudnn"] = torch.backends.cudnn.version()
    except Exception:
        pass
loads = []
for p in sys.argv[1:]:
    try:
        if p.endswith(".safetensors"):
            try:
                from safetensors.torch import load_file
            except ImportError:
                loads.append({"path": p, "ok": False, "skipped": "safetensors is not installed for this interpreter"})
                continue
            load_file(p, device="cpu")
        else:
            torch.load(p, map_location="cpu", weights_only=True)
        loads.append({"path": p, "ok": True})
    except Exception as e:
        loads.append({"path": p, "ok": False, "error": f"{type(e).__name__}: {e}"[:300]})
out["loads"] = loads
print(json.dumps(out))
"#;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckpointLoad {
    pub path: PathBuf,
    /// torch (or safetensors) loaded it.
    pub ok: bool,
    #[serde(default)]
    pub error: Option<String>,
    /// Why it was not tried (the interpreter lacks the library that reads it): not a fault
    /// of the file, whose header the file check has read already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl CheckpointLoad {
    /// Loading was tried and failed.
    pub fn failed(&self) -> bool {
        !self.ok && self.skipped.is_none()
    }
}

/// What the interpreter said, as it printed it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TorchFacts {
    pub python: Option<String>,
    pub import_error: Option<String>,
    pub torch: Option<String>,
    pub cuda_build: Option<String>,
    pub available: Option<bool>,
    pub count: u32,
    pub names: Vec<String>,
    pub cuda_error: Option<String>,
    /// A matrix product on the GPU gave the right answer (None: not tried).
    pub kernel_ok: Option<bool>,
    /// Why no kernel could run although torch sees the GPU.
    pub kernel_error: Option<String>,
    pub cudnn: Option<u32>,
    pub loads: Vec<CheckpointLoad>,
}

impl TorchFacts {
    /// What was proven beyond "torch sees the GPU", for the one-line summaries.
    pub fn proven(&self) -> String {
        let mut text = String::new();
        if self.kernel_ok == Some(true) {
            text.push_str("; a matrix product ran on it");
        }
        if let Some(v) = self.cudnn {
            text.push_str(&format!("; cuDNN {v}"));
        }
        text
    }
}

pub(crate) fn diagnose(python: &Path, facts: &TorchFacts) -> Option<String> {
    let exe = python.display();
    if let Some(e) = &facts.import_error {
        return Some(format!(
            "torch is not installed for {exe} ({e}); run the check with the training job's own interpreter, or install torch there"
        ));
    }
    let version = facts.torch.as_deref().unwrap_or("?");
    let Some(cuda) = &facts.cuda_build else {
        return Some(format!(
            "torch {version} is a CPU-only build: install a CUDA build of torch to train on the GPU"
        ));
    };
    if facts.available != Some(true) {
        let why = facts
            .cuda_error
            .clone()
            .unwrap_or_else(|| "no usable NVIDIA driver or device".into());
        return Some(format!(
            "torch {version} is built for CUDA {cuda} but cannot use the GPU ({why}); check that `nvidia-smi` works and that the driver supports CUDA {cuda}"
        ));
    }
    let gpu = facts.names.first().map_or("the GPU", String::as_str);
    if let Some(e) = &facts.kernel_error {
        return Some(format!(
            "torch {version} (CUDA {cuda}) sees {gpu} but cannot run a kernel on it ({e}); this torch build may not support the GPU's architecture: install a build that does"
        ));
    }
    if facts.kernel_ok == Some(false) {
        return Some(format!(
            "a matrix product on {gpu} gave a wrong result: the GPU may be failing; check `dmesg` for Xid errors and `nvidia-smi -q` for ECC errors"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_own_diagnosis() {
        let py = Path::new("/env/bin/python");
        let cpu = TorchFacts {
            torch: Some("2.5.0+cpu".into()),
            available: Some(false),
            ..Default::default()
        };
        assert!(diagnose(py, &cpu).unwrap().contains("CPU-only build"));
        let mismatch = TorchFacts {
            torch: Some("2.5.0".into()),
            cuda_build: Some("12.4".into()),
            available: Some(false),
            cuda_error: Some(
                "The NVIDIA driver on your system is too old (found version 11040)".into(),
            ),
            ..Default::default()
        };
        let d = diagnose(py, &mismatch).unwrap();
        assert!(d.contains("CUDA 12.4") && d.contains("too old"), "{d}");
        let ok = TorchFacts {
            torch: Some("2.5.0".into()),
            cuda_build: Some("12.4".into()),
            available: Some(true),
            count: 1,
            ..Default::default()
        };
        assert_eq!(diagnose(py, &ok), None);
        // is_available() is true, yet no kernel runs: a build without this GPU's arch.
        let no_kernel = TorchFacts {
            names: vec!["NVIDIA H200".into()],
            kernel_error: Some(
                "RuntimeError: CUDA error: no kernel image is available for execution on the device"
                    .into(),
            ),
            ..ok.clone()
        };
        let d = diagnose(py, &no_kernel).unwrap();
        assert!(
            d.contains("sees NVIDIA H200 but cannot run a kernel"),
            "{d}"
        );
        assert!(d.contains("no kernel image"), "{d}");
        let wrong = TorchFacts {
            kernel_ok: Some(false),
            ..ok
        };
        assert!(diagnose(py, &wrong).unwrap().contains("Xid"));
    }
}
