"""moto's EC2 server on 127.0.0.1, with DescribeSnapshots paginated the way real EC2 does
(moto returns everything at once and never a NextToken), the replace-root-volume task moto
lacks, and the disk harness (disk_harness.py) presenting attached volumes as loop devices by
NVMe serial, and snapshot locks (LockSnapshot, UnlockSnapshot, DescribeLockedSnapshots),
which moto 5.2.5 lacks, answered in the real shapes. Usage: moto_ec2.py (prints the port it listens on). Signature checking is turned on by
INITIAL_NO_AUTH_ACTION_COUNT in the environment."""
import datetime
import sys
import threading
import uuid

import disk_harness
from moto.ec2.models.elastic_block_store import EBSBackend

from moto.core.responses import ActionResult
from moto.ec2.responses.elastic_block_store import ElasticBlockStore


def paginated_describe_snapshots(self):
    filters = self._filters_from_querystring()
    snapshot_ids = self._get_param("SnapshotIds", [])
    snapshots = sorted(
        self.ec2_backend.describe_snapshots(snapshot_ids=snapshot_ids, filters=filters),
        key=lambda s: s.id,
    )
    size = int(self._get_param("MaxResults") or 1000)
    start = int(self._get_param("NextToken") or 0)
    result = {"Snapshots": snapshots[start : start + size]}
    if start + size < len(snapshots):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


ElasticBlockStore.describe_snapshots = paginated_describe_snapshots


def wrap(name, after):
    original = getattr(EBSBackend, name)

    def wrapped(self, *args, **kwargs):
        if name in ("detach_volume",):
            after(self, None, *args, **kwargs)
            return original(self, *args, **kwargs)
        result = original(self, *args, **kwargs)
        after(self, result, *args, **kwargs)
        return result

    setattr(EBSBackend, name, wrapped)


wrap("create_volume", lambda self, volume, *a, **k: disk_harness.created(volume.id, k.get("snapshot_id")))
wrap("attach_volume", lambda self, att, volume_id, *a, **k: disk_harness.attached(volume_id, "nvme-Amazon_Elastic_Block_Store_" + volume_id.replace("vol-", "vol")))
wrap("detach_volume", lambda self, _, volume_id, *a, **k: disk_harness.detached(volume_id))
wrap("delete_volume", lambda self, _, volume_id, *a, **k: disk_harness.deleted(volume_id))

# CreateReplaceRootVolumeTask, which moto lacks: the old root is detached (and kept unless
# DeleteReplacedRootVolume), a volume from the snapshot is attached at the root device. The
# task is "in-progress" on its first description and "succeeded" afterwards.
tasks = {}


def create_replace_root_volume_task(self):
    token = self._get_param("ClientToken")
    for task in tasks.values():
        if token and task["token"] == token:
            return ActionResult({"ReplaceRootVolumeTask": task["public"]})
    instance = self.ec2_backend.get_instance(self._get_param("InstanceId"))
    snapshot_id = self._get_param("SnapshotId")
    root = instance.root_device_name
    old = instance.block_device_mapping[root].volume_id
    self.ec2_backend.detach_volume(old, instance.id, root)
    if self._get_bool_param("DeleteReplacedRootVolume", False):
        self.ec2_backend.delete_volume(old)
    new = self.ec2_backend.create_volume(size=None, zone_name=instance.placement.zone, snapshot_id=snapshot_id)
    self.ec2_backend.attach_volume(new.id, instance.id, root)
    now = datetime.datetime.now(datetime.timezone.utc)
    task_id = "replacevol-" + uuid.uuid4().hex[:17]
    public = {"ReplaceRootVolumeTaskId": task_id, "InstanceId": instance.id, "TaskState": "pending",
              "StartTime": now.isoformat(), "SnapshotId": snapshot_id, "DeleteReplacedRootVolume": False}
    tasks[task_id] = {"token": token, "public": public, "described": 0, "new_volume": new.id, "old_volume": old}
    return ActionResult({"ReplaceRootVolumeTask": public})


def describe_replace_root_volume_tasks(self):
    wanted = self._get_param("ReplaceRootVolumeTaskIds", [])
    found = []
    for task_id, task in tasks.items():
        if wanted and task_id not in wanted:
            continue
        task["described"] += 1
        task["public"]["TaskState"] = "in-progress" if task["described"] == 1 else "succeeded"
        found.append(task["public"])
    return ActionResult({"ReplaceRootVolumeTasks": found})


ElasticBlockStore.create_replace_root_volume_task = create_replace_root_volume_task
ElasticBlockStore.describe_replace_root_volume_tasks = describe_replace_root_volume_tasks

# Snapshot locks, which moto lacks: governance or compliance mode for LockDuration days or
# until ExpirationDate; a compliance lock past its cool-off cannot be unlocked or weakened,
# a lock past its expiry reads as "expired"; a locked snapshot cannot be deleted.
from moto.ec2.exceptions import EC2ClientError  # noqa: E402

locks = {}


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _lock_now(snapshot_id):
    lock = locks.get(snapshot_id)
    if lock is None:
        return None
    now = _now()
    state = lock["LockState"]
    if lock["LockExpiresOn"] <= now:
        state = "expired"
    elif state == "compliance-cooloff" and lock["CoolOffPeriodExpiresOn"] <= now:
        state = "compliance"
    return {**lock, "LockState": state}


def lock_snapshot(self):
    snapshot_id = self._get_param("SnapshotId")
    self.ec2_backend.get_snapshot(snapshot_id)
    mode = self._get_param("LockMode")
    if mode not in ("governance", "compliance"):
        raise EC2ClientError("InvalidParameterValue", f"Value ({mode}) for parameter LockMode is invalid.")
    current = _lock_now(snapshot_id)
    if current and current["LockState"] == "compliance":
        raise EC2ClientError("SnapshotLocked", f"The snapshot '{snapshot_id}' is locked in compliance mode and its lock cannot be changed.")
    now = _now()
    duration = self._get_param("LockDuration")
    expiration = self._get_param("ExpirationDate")
    if (duration is None) == (expiration is None):
        raise EC2ClientError("InvalidParameterCombination", "Specify either LockDuration or ExpirationDate.")
    if duration is not None:
        days = int(duration)
        if not 1 <= days <= 36500:
            raise EC2ClientError("InvalidParameterValue", f"Value ({duration}) for parameter LockDuration is invalid.")
        expires = now + datetime.timedelta(days=days)
    else:
        if not isinstance(expiration, datetime.datetime):
            expiration = datetime.datetime.fromisoformat(str(expiration).replace("Z", "+00:00"))
        expires = expiration if expiration.tzinfo else expiration.replace(tzinfo=datetime.timezone.utc)
        days = max(1, (expires - now).days)
    lock = {"OwnerId": "123456789012", "SnapshotId": snapshot_id, "LockState": mode, "LockDuration": days,
            "LockCreatedOn": now, "LockExpiresOn": expires, "LockDurationStartTime": now}
    if mode == "compliance":
        hours = int(self._get_param("CoolOffPeriod") or 0)
        lock["CoolOffPeriod"] = hours
        lock["CoolOffPeriodExpiresOn"] = now + datetime.timedelta(hours=hours)
        if hours:
            lock["LockState"] = "compliance-cooloff"
    locks[snapshot_id] = lock
    return ActionResult({k: v for k, v in _lock_now(snapshot_id).items() if k != "OwnerId"})


def unlock_snapshot(self):
    snapshot_id = self._get_param("SnapshotId")
    self.ec2_backend.get_snapshot(snapshot_id)
    current = _lock_now(snapshot_id)
    if current is None:
        raise EC2ClientError("SnapshotNotLocked", f"The snapshot '{snapshot_id}' is not locked.")
    if current["LockState"] == "compliance":
        raise EC2ClientError("SnapshotLocked", f"The snapshot '{snapshot_id}' is locked in compliance mode and cannot be unlocked.")
    del locks[snapshot_id]
    return ActionResult({"SnapshotId": snapshot_id})


def describe_locked_snapshots(self):
    wanted = self._get_param("SnapshotIds", [])
    states = []
    for f in self._filters_from_querystring().items():
        if f[0] == "lock-state":
            states = f[1]
    found = []
    for snapshot_id in sorted(locks):
        lock = _lock_now(snapshot_id)
        if (wanted and snapshot_id not in wanted) or (states and lock["LockState"] not in states):
            continue
        found.append(lock)
    size = int(self._get_param("MaxResults") or 1000)
    start = int(self._get_param("NextToken") or 0)
    result = {"Snapshots": found[start : start + size]}
    if start + size < len(found):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


ElasticBlockStore.lock_snapshot = lock_snapshot
ElasticBlockStore.unlock_snapshot = unlock_snapshot
ElasticBlockStore.describe_locked_snapshots = describe_locked_snapshots
original_delete_snapshot = EBSBackend.delete_snapshot


def delete_unless_locked(self, snapshot_id):
    lock = _lock_now(snapshot_id)
    if lock and lock["LockState"] != "expired":
        raise EC2ClientError("SnapshotLocked", f"The snapshot '{snapshot_id}' is locked and cannot be deleted.")
    return original_delete_snapshot(self, snapshot_id)


EBSBackend.delete_snapshot = delete_unless_locked

from moto.server import ThreadedMotoServer  # noqa: E402

# The server picks a free port itself and says which on stdout: a port chosen by the test
# and bound later could be taken meanwhile by another test's server.
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
threading.Event().wait()
