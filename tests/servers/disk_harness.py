"""The data plane of the test clouds: when a test server creates, attaches, detaches or
deletes a disk, this presents it to the machine the way a cloud would, as a loop device
holding a copy of the snapshot's filesystem image, linked by serial in a by-id directory
(the tool finds it through SNAPRESCUE_BY_ID_DIR, never by a device name). Active when
SNAPRESCUE_HARNESS_DIR is set; that directory holds images/<snapshot>.img (made by the test),
volumes/<disk>.img, attached/<disk> (the loop device), by-id/ and events.jsonl. A file
`no-device` there makes attached disks never appear (a fault)."""
import hashlib
import json
import os
import shutil
import subprocess

DIR = os.environ.get("SNAPRESCUE_HARNESS_DIR")


def _path(*parts):
    return os.path.join(DIR, *parts)


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _log(event, **fields):
    with open(_path("events.jsonl"), "a") as log:
        log.write(json.dumps(dict(event=event, **fields)) + "\n")


def created(disk, snapshot):
    if not DIR or not snapshot:
        return
    image = _path("images", snapshot + ".img")
    if os.path.exists(image):
        os.makedirs(_path("volumes"), exist_ok=True)
        subprocess.run(["cp", "--sparse=always", image, _path("volumes", disk + ".img")], check=True)
        _log("created", disk=disk, snapshot=snapshot)


def attached(disk, link_name):
    """Presents `disk` as a loop device linked as by-id/<link_name>."""
    if not DIR:
        return
    image = _path("volumes", disk + ".img")
    if not os.path.exists(image) or os.path.exists(_path("no-device")):
        _log("attached-without-device", disk=disk)
        return
    loop = subprocess.run(["losetup", "--find", "--show", image], check=True, capture_output=True, text=True).stdout.strip()
    os.makedirs(_path("attached"), exist_ok=True)
    os.makedirs(_path("by-id"), exist_ok=True)
    with open(_path("attached", disk), "w") as f:
        f.write(loop)
    os.symlink(loop, _path("by-id", link_name))
    _log("attached", disk=disk, device=loop, sha256=_sha256(image))


def detached(disk):
    if not DIR or not os.path.exists(_path("attached", disk)):
        return
    loop = open(_path("attached", disk)).read().strip()
    for name in os.listdir(_path("by-id")):
        if os.path.realpath(_path("by-id", name)) == loop:
            os.unlink(_path("by-id", name))
    # A device still mounted is detached when it is unmounted (autoclear), like a forced detach.
    subprocess.run(["losetup", "-d", loop], capture_output=True)
    os.unlink(_path("attached", disk))
    image = _path("volumes", disk + ".img")
    _log("detached", disk=disk, device=loop, sha256=_sha256(image) if os.path.exists(image) else None)


def deleted(disk):
    if not DIR:
        return
    image = _path("volumes", disk + ".img")
    if os.path.exists(image):
        os.unlink(image)
    _log("deleted", disk=disk)


def snapshotted(disk, snapshot):
    """A snapshot of `disk` holds what its volume holds now."""
    image = _path("volumes", disk + ".img") if DIR else None
    if not image or not os.path.exists(image):
        return
    os.makedirs(_path("images"), exist_ok=True)
    subprocess.run(["cp", "--sparse=always", image, _path("images", snapshot + ".img")], check=True)
    _log("snapshotted", disk=disk, snapshot=snapshot, sha256=_sha256(image))


def reset(disk, snapshot):
    """`disk` holds `snapshot` again (written in place: an attached loop device sees it)."""
    image = _path("images", snapshot + ".img") if DIR else None
    if not image or not os.path.exists(image) or not os.path.exists(_path("volumes", disk + ".img")):
        return
    subprocess.run(["cp", "--sparse=always", image, _path("volumes", disk + ".img")], check=True)
    _log("reset", disk=disk, snapshot=snapshot, sha256=_sha256(image))
