//! snapper's side of the btrfs source: a snapper snapshot is `…/.snapshots/N/snapshot` with
//! its `info.xml` beside it, whose `<cleanup>` (`number`, `timeline`, `empty-pre-post`)
//! says which `snapper cleanup` may delete it. A pin clears that algorithm — with `snapper
//! modify --cleanup-algorithm ""` when snapper manages the subvolume, else by the same edit
//! of `info.xml`, written atomically beside it, never through a symbolic link (this runs as
//! root) — and `unpin` puts it back. A btrfs snapshot outside snapper has no policy.

use super::btrfs::BtrfsSource;
use super::{PinDone, PinPrior, Retention, Snapshot, SnapshotSource, SourceError, Unpinned};
use crate::engine::beneath::{Mounts, open, open_resolved};
use crate::ports::command;
use crate::ports::mounts::{MountTable, TempMount};
use nix::fcntl::{OFlag, renameat};
use nix::sys::stat::Mode;
use serde_json::json;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What snapper's `info.xml` says about one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapperInfo {
    pub description: Option<String>,
    pub date: Option<String>,
    /// The cleanup algorithm; `None` when empty or absent (never cleaned up).
    pub cleanup: Option<String>,
    /// `<userdata>`'s key/value pairs, in order.
    pub userdata: Vec<(String, String)>,
}

impl SnapperInfo {
    pub fn parse(text: &str) -> Option<Self> {
        let doc = roxmltree::Document::parse(text).ok()?;
        let field = |name: &str| {
            doc.descendants()
                .find(|n| n.has_tag_name(name))
                .and_then(|n| n.text())
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        };
        let text_of = |n: roxmltree::Node| n.text().unwrap_or("").to_string();
        let userdata = doc
            .descendants()
            .filter(|n| n.has_tag_name("userdata"))
            .filter_map(|n| {
                let key = n.children().find(|c| c.has_tag_name("key"))?;
                let value = n.children().find(|c| c.has_tag_name("value"));
                Some((text_of(key), value.map(text_of).unwrap_or_default()))
            })
            .collect();
        Some(Self {
            description: field("description"),
            date: field("date"),
            cleanup: field("cleanup"),
            userdata,
        })
    }

    /// Taken by `snaprescue snapshot`: its userdata has the pre-run tag.
    pub fn is_pre_run(&self) -> bool {
        let (key, value) = crate::protect::request::PRE_RUN_TAG;
        self.userdata.iter().any(|(k, v)| k == key && v == value)
    }

    /// The `info.xml` snapper writes for a single snapshot `number` taken at `date` (UTC,
    /// `YYYY-MM-DD HH:MM:SS`).
    pub fn to_xml(&self, number: u64) -> String {
        let esc = |t: &str| {
            t.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let mut out = format!(
            "<?xml version=\"1.0\"?>\n<snapshot>\n  <type>single</type>\n  <num>{number}</num>\n"
        );
        if let Some(date) = &self.date {
            out.push_str(&format!("  <date>{}</date>\n", esc(date)));
        }
        if let Some(d) = &self.description {
            out.push_str(&format!("  <description>{}</description>\n", esc(d)));
        }
        if let Some(c) = &self.cleanup {
            out.push_str(&format!("  <cleanup>{}</cleanup>\n", esc(c)));
        }
        for (k, v) in &self.userdata {
            out.push_str(&format!(
                "  <userdata>\n    <key>{}</key>\n    <value>{}</value>\n  </userdata>\n",
                esc(k),
                esc(v)
            ));
        }
        out.push_str("</snapshot>\n");
        out
    }

    /// `snapper timeline cleanup` may delete it, or nothing does.
    pub fn retention(&self) -> Retention {
        Retention {
            expiry_rule: self
                .cleanup
                .as_ref()
                .map(|c| format!("snapper {c} cleanup")),
            ..Default::default()
        }
    }
}

/// `N` for a snapper path `…/.snapshots/N/snapshot`.
pub fn snapper_number(path: &Path) -> Option<u64> {
    let mut parts = path.iter().rev();
    (parts.next()? == "snapshot").then_some(())?;
    let number = parts.next()?.to_str()?.parse().ok()?;
    (parts.next()? == ".snapshots").then_some(number)
}

/// `text` with its `<cleanup>` set to `algorithm` (removed when empty, as snapper writes it).
pub fn with_cleanup(text: &str, algorithm: &str) -> Option<String> {
    let without = match (text.find("<cleanup>"), text.find("</cleanup>")) {
        (Some(start), Some(end)) if end > start => {
            let line_start = text[..start].rfind('\n').map_or(start, |n| n + 1);
            let cut_from = if text[line_start..start].trim().is_empty() {
                line_start
            } else {
                start
            };
            let mut cut_to = end + "</cleanup>".len();
            if text[cut_to..].starts_with('\n') && cut_from == line_start {
                cut_to += 1;
            }
            format!("{}{}", &text[..cut_from], &text[cut_to..])
        }
        (None, None) => text.to_string(),
        _ => return None,
    };
    let edited = if algorithm.is_empty() {
        without
    } else {
        let close = without.rfind("</snapshot>")?;
        format!(
            "{}  <cleanup>{algorithm}</cleanup>\n{}",
            &without[..close],
            &without[close..]
        )
    };
    (SnapperInfo::parse(&edited)?
        .cleanup
        .as_deref()
        .unwrap_or("")
        == algorithm)
        .then_some(edited)
}

/// The snapper config whose `SUBVOLUME` is `mount_point`, when snapper is installed.
fn snapper_config(mount_point: &Path) -> Option<String> {
    command::locate("snapper")?;
    let configs = std::fs::read_dir("/etc/snapper/configs").ok()?;
    configs.flatten().find_map(|entry| {
        let text = std::fs::read_to_string(entry.path()).ok()?;
        let subvolume = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("SUBVOLUME="))?;
        (Path::new(subvolume.trim_matches('"')) == mount_point)
            .then(|| entry.file_name().to_string_lossy().into_owned())
    })
}

/// The directory `…/.snapshots/N` of a snapshot, opened without following links, writable
/// (through a private read-write mount of the top level when no writable mount shows it).
struct NumberDir {
    fd: OwnedFd,
    _mount: Option<TempMount>,
}

impl BtrfsSource {
    fn number_dir(&self, snapshot: &Snapshot) -> Result<NumberDir, SourceError> {
        let top_path = snapshot.path.parent().unwrap_or(Path::new(""));
        let table = MountTable::read()?;
        let (path, mount): (PathBuf, _) = match self.shown_inside(&table, top_path) {
            Some(p) => (p, None),
            None => {
                let m = TempMount::read_write(&self.mount.source, "btrfs", "subvolid=5")?;
                (m.path().join(top_path), Some(m))
            }
        };
        let fd = open_resolved(&path).map_err(|e| {
            SourceError::Refused(format!("cannot open snapper's {}: {e}", path.display()))
        })?;
        Ok(NumberDir { fd, _mount: mount })
    }

    /// The text of `info.xml` (a small regular file, never a link, a FIFO or a device),
    /// what it says, and its metadata (kept when it is rewritten).
    fn read_info(
        &self,
        dir: &NumberDir,
    ) -> Result<(String, SnapperInfo, std::fs::Metadata), SourceError> {
        let fd = open(
            dir.fd.as_fd(),
            Path::new("info.xml"),
            OFlag::O_RDONLY | OFlag::O_NONBLOCK,
            Mounts::Stay,
        )
        .map_err(|e| SourceError::Refused(format!("snapper's info.xml: {e}")))?;
        let file = std::fs::File::from(fd);
        let meta = file
            .metadata()
            .map_err(SourceError::io("cannot stat snapper's info.xml"))?;
        let text = read_small_text(file)
            .map_err(|e| SourceError::Refused(format!("snapper's info.xml: {e}; left as it is")))?;
        let info = SnapperInfo::parse(&text).ok_or_else(|| {
            SourceError::Refused("snapper's info.xml is not valid XML: left as it is".into())
        })?;
        Ok((text, info, meta))
    }

    /// Sets the cleanup algorithm of `snapshot` (snapper, else an atomic edit of info.xml).
    fn set_cleanup(&self, snapshot: &Snapshot, algorithm: &str) -> Result<String, SourceError> {
        let number = snapper_number(&snapshot.path).unwrap_or_default();
        // Read-only on purpose (step 1 offers it): a pin must not write behind that.
        if self.mount.read_only {
            return Err(SourceError::Refused(format!(
                "{} is mounted read-only, and changing snapper's cleanup of #{number} writes to \
                 it: remount it read-write first (`mount -o remount,rw {}`), or leave the \
                 snapshot as it is",
                self.mount.mount_point.display(),
                self.mount.mount_point.display()
            )));
        }
        if let Some(config) = self.live_root().and_then(|root| snapper_config(&root)) {
            command::run(
                "snapper",
                &[
                    "--no-dbus",
                    "-c",
                    &config,
                    "modify",
                    "--cleanup-algorithm",
                    algorithm,
                    &number.to_string(),
                ],
            )?;
            return Ok(format!("snapper config {config}"));
        }
        let dir = self.number_dir(snapshot)?;
        let (text, _, meta) = self.read_info(&dir)?;
        let edited = with_cleanup(&text, algorithm).ok_or_else(|| {
            SourceError::Refused(format!(
                "snapper's info.xml of #{number} has no editable <cleanup>: left as it is"
            ))
        })?;
        let temp = format!("info.xml.snaprescue-{}", std::process::id());
        let fd = nix::fcntl::openat(
            dir.fd.as_fd(),
            temp.as_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| SourceError::Refused(format!("cannot write beside info.xml: {e}")))?;
        let mut file = std::fs::File::from(fd);
        // The new file keeps the old one's mode and owner (snapper's are 0600 root).
        let written = file
            .write_all(edited.as_bytes())
            .and_then(|_| {
                use std::os::unix::fs::{MetadataExt, PermissionsExt};
                file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
                std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()))
            })
            .and_then(|_| file.sync_all())
            .map_err(|e| e.to_string());
        let renamed = written.and_then(|_| {
            renameat(dir.fd.as_fd(), temp.as_str(), dir.fd.as_fd(), "info.xml")
                .map_err(|e| e.to_string())
        });
        if let Err(e) = renamed {
            let _ = nix::unistd::unlinkat(
                dir.fd.as_fd(),
                temp.as_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
            return Err(SourceError::Refused(format!(
                "cannot replace info.xml: {e}"
            )));
        }
        let _ = nix::unistd::fsync(dir.fd.as_fd());
        Ok("info.xml".into())
    }

    pub(crate) fn snapper_pin_prior(&self, snapshot: &Snapshot) -> Result<PinPrior, SourceError> {
        let Some(number) = snapper_number(&snapshot.path) else {
            return Ok(PinPrior {
                state: json!({}),
                not_needed: Some(format!(
                    "{} is a btrfs snapshot outside snapper: no policy deletes it",
                    snapshot.path.display()
                )),
            });
        };
        let (_, info, _) = self.read_info(&self.number_dir(snapshot)?)?;
        Ok(PinPrior {
            state: json!({ "number": number, "cleanup": info.cleanup }),
            not_needed: info.cleanup.is_none().then(|| {
                format!("snapper #{number} has no cleanup algorithm: no snapper cleanup removes it")
            }),
        })
    }

    pub(crate) fn snapper_pin(
        &self,
        snapshot: &Snapshot,
        prior: &PinPrior,
    ) -> Result<PinDone, SourceError> {
        let how = self.set_cleanup(snapshot, "")?;
        Ok(PinDone {
            did: format!(
                "cleared the cleanup algorithm ({}) of snapper #{} ({how}): no snapper cleanup \
                 removes it",
                prior.state["cleanup"].as_str().unwrap_or("-"),
                prior.state["number"]
            ),
            until: None,
            state: json!({ "cleanup": null }),
        })
    }

    pub(crate) fn snapper_unpin(
        &self,
        snapshot: &Snapshot,
        prior: &PinPrior,
    ) -> Result<Unpinned, SourceError> {
        let number = &prior.state["number"];
        let Some(algorithm) = prior.state["cleanup"].as_str() else {
            return Ok(Unpinned::not_undone(format!(
                "snapper #{number} had no cleanup algorithm to restore"
            )));
        };
        let (_, now, _) = self.read_info(&self.number_dir(snapshot)?)?;
        if let Some(current) = now.cleanup {
            return Ok(Unpinned::not_undone(format!(
                "snapper #{number} was changed since the pin (its cleanup is now {current}): \
                 left as it is"
            )));
        }
        let how = self.set_cleanup(snapshot, algorithm)?;
        Ok(Unpinned::undone(format!(
            "snapper #{number} is again subject to snapper {algorithm} cleanup ({how})"
        )))
    }
}

/// The text of a small regular file: anything else (a FIFO, a device, more than 64 KiB)
/// is refused without reading it.
pub(crate) fn read_small_text(file: std::fs::File) -> std::io::Result<String> {
    const MAX: u64 = 64 << 10;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > MAX {
        return Err(std::io::Error::other(format!(
            "{} bytes, more than snapper ever writes",
            meta.len()
        )));
    }
    let mut text = String::new();
    file.take(MAX).read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "<?xml version=\"1.0\"?>\n<snapshot>\n  <type>single</type>\n  <num>3</num>\n  <date>2026-11-30 10:00:00</date>\n  <description>timeline</description>\n  <cleanup>timeline</cleanup>\n</snapshot>\n";

    #[test]
    fn cleanup_is_read_cleared_and_restored() {
        let info = SnapperInfo::parse(INFO).unwrap();
        assert_eq!(info.cleanup.as_deref(), Some("timeline"));
        assert_eq!(
            info.retention().expiry_rule.as_deref(),
            Some("snapper timeline cleanup")
        );
        let cleared = with_cleanup(INFO, "").unwrap();
        assert!(!cleared.contains("cleanup"), "{cleared}");
        assert_eq!(
            SnapperInfo::parse(&cleared).unwrap().retention(),
            Retention::default()
        );
        let restored = with_cleanup(&cleared, "timeline").unwrap();
        assert_eq!(restored, INFO);
        assert_eq!(with_cleanup("<snapshot><cleanup>", ""), None);
    }

    #[test]
    fn snapper_numbers_are_recognised() {
        assert_eq!(
            snapper_number(Path::new("data/.snapshots/12/snapshot")),
            Some(12)
        );
        assert_eq!(snapper_number(Path::new(".snapshots/3/snapshot")), Some(3));
        assert_eq!(snapper_number(Path::new("snaps/3/snapshot")), None);
        assert_eq!(
            snapper_number(Path::new("data/.snapshots/x/snapshot")),
            None
        );
    }
}
