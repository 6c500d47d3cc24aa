//! A btrfs subvolume that is itself mounted (`subvol=/data` on /data) keeps showing the old
//! subvolume after it is renamed: a mount holds the subvolume, not its name. A rollback
//! therefore mounts the new subvolume where each such mount was, with its options; and it
//! first refuses what a remount cannot do safely: the root filesystem, filesystems mounted
//! inside, bind mounts of a part of it, our own or our shell's working directory inside it,
//! and an fstab line naming the old subvolume by id (the next boot would bring the old
//! state back).

use super::btrfs::{BtrfsSource, top_relative};
use crate::ports::invocation;
use crate::ports::mounts::{MountEntry, MountError, MountTable, mount_as};
use std::path::{Path, PathBuf};

/// The mounts of the filesystem `majmin` that show `subvolume` (top-relative) itself.
fn direct_mounts(table: &MountTable, majmin: &str, subvolume: &Path) -> Vec<MountEntry> {
    table
        .of_filesystem(majmin)
        .filter(|m| top_relative(&m.root) == subvolume)
        .cloned()
        .collect()
}

/// Mounts that show a part of `subvolume` (a bind mount of a directory in it): they would
/// keep showing the old subvolume, and cannot be moved to the new one as they are.
/// Directories of nested subvolumes (`nested`, top-relative) belong to those, not to it.
fn partial_mounts(
    table: &MountTable,
    majmin: &str,
    subvolume: &Path,
    nested: &[PathBuf],
) -> Vec<MountEntry> {
    table
        .of_filesystem(majmin)
        .filter(|m| {
            let root = top_relative(&m.root);
            root != subvolume
                && root.starts_with(subvolume)
                && !nested.iter().any(|n| root.starts_with(n))
        })
        .cloned()
        .collect()
}

/// The mounts a rollback of `source`'s subvolume must move to the new one, or why it
/// cannot be done (nothing is changed then).
pub fn mounts_to_move(source: &BtrfsSource, table: &MountTable) -> Result<Vec<MountEntry>, String> {
    let subvolume = &source.subvolume.path;
    let majmin = &source.mount.majmin;
    let nested: Vec<PathBuf> = source
        .all
        .iter()
        .filter(|r| r.path != *subvolume && r.path.starts_with(subvolume))
        .map(|r| r.path.clone())
        .collect();
    if let Some(part) = partial_mounts(table, majmin, subvolume, &nested).first() {
        return Err(format!(
            "{} shows a part of the subvolume ({}, a bind mount) and would keep showing the \
             old state; unmount it first, or restore the files instead",
            part.mount_point.display(),
            part.root.display()
        ));
    }
    let direct = direct_mounts(table, majmin, subvolume);
    match refusal(
        table,
        &direct,
        &crate::ports::fstab::text(),
        &own_working_dirs(),
    ) {
        Some(why) => Err(why),
        None => Ok(direct),
    }
}

/// The working directories of this process and of its ancestors (the shell that started
/// it, `sudo`, …): none is ever listed as a user of the filesystem, but any of them inside
/// a mount keeps it busy.
fn own_working_dirs() -> Vec<(String, PathBuf)> {
    let ancestors = invocation::ancestors();
    let mut dirs: Vec<(String, String)> = vec![("snaprescue".into(), "/proc/self/cwd".into())];
    for (i, pid) in ancestors.iter().enumerate() {
        let who = if i == 0 {
            "the shell that started snaprescue".to_string()
        } else {
            format!("{}, which started snaprescue", invocation::describe(*pid))
        };
        dirs.push((who, format!("/proc/{pid}/cwd")));
    }
    dirs.into_iter()
        .filter_map(|(who, link)| Some((who, std::fs::read_link(link).ok()?)))
        .collect()
}

/// Why the mounts in `direct` cannot be moved to a new subvolume, if they cannot.
fn refusal(
    table: &MountTable,
    direct: &[MountEntry],
    fstab: &str,
    own_dirs: &[(String, PathBuf)],
) -> Option<String> {
    for mount in direct {
        let point = &mount.mount_point;
        if point == Path::new("/") {
            return Some(
                "the subvolume is the root filesystem (/), which cannot be swapped while the \
                 system runs; restore the files instead, or make a writable snapshot of the \
                 chosen one, point `btrfs subvolume set-default` (or the bootloader's \
                 rootflags=subvol=) at it and reboot"
                    .into(),
            );
        }
        if let Some((who, dir)) = own_dirs.iter().find(|(_, d)| d.starts_with(point)) {
            return Some(format!(
                "the working directory of {who} ({}) is inside {}, which the rollback must \
                 unmount: `cd /` and run it again",
                dir.display(),
                point.display()
            ));
        }
        let inside: Vec<String> = table
            .entries
            .iter()
            .filter(|m| m.mount_point != *point && m.mount_point.starts_with(point))
            .map(|m| m.mount_point.display().to_string())
            .collect();
        if !inside.is_empty() {
            return Some(format!(
                "other filesystems are mounted inside {} ({}); unmount them first, or restore \
                 the files instead",
                point.display(),
                inside.join(", ")
            ));
        }
        let by_id = fstab
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| {
                f.len() >= 4
                    && crate::ports::fstab::path_field(f[1]) == *point
                    && f[3].split(',').any(|o| o.starts_with("subvolid="))
            });
        if let Some(fields) = by_id {
            return Some(format!(
                "/etc/fstab mounts {} by subvolume id ({}): after a rollback the next boot \
                 would mount the old state again. Change it to subvol=/{} first, or restore \
                 the files instead",
                point.display(),
                fields[3],
                top_relative(&mount.root).display()
            ));
        }
    }
    None
}

/// Mounts what `mount` names (its source, subvolume path and options) where it was.
fn mount_again(mount: &MountEntry) -> Result<(), MountError> {
    mount_as(Path::new(&mount.source), &mount.spec(), &mount.mount_point)
}

/// A remount that did not happen, and the mounts it had already unmounted (some of them
/// mounted again on the new subvolume).
pub struct RemountFailed {
    pub error: MountError,
    pub touched: Vec<MountEntry>,
}

/// Mounts what is now at each mount's subvolume path where it was, as it was. Stops at the
/// first failure.
pub fn remount(mounts: &[MountEntry]) -> Result<(), RemountFailed> {
    for (done, mount) in mounts.iter().enumerate() {
        if let Err(errno) = nix::mount::umount2(&mount.mount_point, nix::mount::MntFlags::empty()) {
            return Err(RemountFailed {
                error: MountError::Unmount {
                    target: mount.mount_point.clone(),
                    errno,
                },
                touched: mounts[..done].to_vec(),
            });
        }
        if let Err(error) = mount_again(mount) {
            return Err(RemountFailed {
                error,
                touched: mounts[..=done].to_vec(),
            });
        }
    }
    Ok(())
}

/// Unmounts the touched mounts that show the new subvolume (before the swap is undone).
pub fn unmount_new(touched: &[MountEntry]) {
    for m in touched {
        let _ = nix::mount::umount2(&m.mount_point, nix::mount::MntFlags::empty());
    }
}

/// Mounts `mounts` back as they were (once the old subvolume has its name again); says
/// which could not be.
pub fn mount_back(mounts: &[MountEntry]) -> Vec<String> {
    mounts
        .iter()
        .filter_map(|m| mount_again(m).err().map(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(root: &str, point: &str) -> MountEntry {
        MountEntry {
            root: root.into(),
            mount_point: point.into(),
            fs_type: "btrfs".into(),
            source: "/dev/nvme0n1p2".into(),
            majmin: "0:31".into(),
            read_only: false,
            upper_dir: None,
            options: vec!["rw".into(), "noatime".into()],
            subvol: Some(root.into()),
        }
    }

    #[test]
    fn the_root_an_fstab_line_by_id_and_bind_mounts_of_a_part_are_found() {
        let root = mount("/@", "/");
        let home = mount("/@home", "/srv/my data");
        let table = MountTable {
            entries: vec![root.clone(), home.clone()],
        };
        assert_eq!(
            direct_mounts(&table, "0:31", Path::new("@home")),
            vec![home.clone()]
        );
        let why = refusal(&table, &[root], "", &[]).unwrap();
        assert!(why.contains("set-default"), "{why}");
        let fstab = "# comment /srv/my\\040data subvolid=1\n\
                     UUID=1 /srv/my\\040data btrfs rw,subvolid=258 0 0\n";
        let why = refusal(&table, std::slice::from_ref(&home), fstab, &[]).unwrap();
        assert!(why.contains("subvol=/@home"), "{why}");
        let by_name = "UUID=1 /srv/my\\040data btrfs subvol=/@home 0 0\n";
        // A bind mount of a directory of @home, and one of its nested .snapshots.
        let part = mount("/@home/alice/runs", "/workspace");
        let snaps = mount("/@home/.snapshots/1/snapshot", "/mnt/snap");
        let table = MountTable {
            entries: vec![home.clone(), part.clone(), snaps],
        };
        let nested = [PathBuf::from("@home/.snapshots")];
        assert_eq!(
            partial_mounts(&table, "0:31", Path::new("@home"), &nested),
            vec![part]
        );
        assert_eq!(
            refusal(&table, std::slice::from_ref(&home), by_name, &[]),
            None
        );
        let shell = [("the shell".to_string(), PathBuf::from("/srv/my data/run"))];
        let why = refusal(&table, &[home], by_name, &shell).unwrap();
        assert!(why.contains("`cd /`"), "{why}");
    }
}
