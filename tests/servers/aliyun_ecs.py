"""An Alibaba Cloud ECS API stand-in on 127.0.0.1 for the tests: it checks every request's
RPC signature (HMAC-SHA1, its own implementation of the documented algorithm), the
timestamp and the nonce, answers DescribeDisks / DescribeSnapshots in the real JSON shape
with NextToken paging, and injects faults on demand. Usage: aliyun_ecs.py STATE.json (prints the port it listens on)
STATE: access_key_id, secret, disks[], snapshots[], instances[], page_size, faults[] (applied
in order to DescribeSnapshots: throttle, 500, timeout, truncated, badtype), fail{Action:
[http status, code]} (every call of that action fails), fail_after{Action: [status, code]} (the action is done
but answered with that error), fail_once_after{Action: [status, code]} (the same, for the first call only: a
lost answer followed by a retry). Disks, snapshots and instances walk
through their real states, one step per description: CreateDisk Creating→Available,
AttachDisk Attaching→In_use, DetachDisk Detaching→Available, CreateSnapshot
progressing→accomplished, StopInstance Stopping→Stopped, StartInstance Starting→Running (the
first StartInstance after a ResetDisk is refused with IncorrectDiskStatus, as ECS does while
the reset settles). ResetDisk of a detached data disk: ReIniting, then Available under an
operation lock, then free; the first AttachDisk after it is refused with IncorrectDiskStatus.
ResetDisk of an attached disk needs its instance Stopped (IncorrectInstanceStatus), and a
snapshot of that disk (InvalidParameter.Mismatch). Attached disks are presented to the
machine by disk_harness.py (virtio serial = id without d-). ModifySnapshotAttribute extends
RetentionDays (counted from CreationTime; shortening is refused). CreateSnapshot refuses a
SnapshotName ECS would (2-128 characters, a letter first, not `auto…`). Automatic policies
and encryption by default: aliyun_policies.py. fail_regions[]: every call naming one of those
regions is answered 503 (a region that is down). Every request is appended to STATE.log as
one JSON line."""
import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import time
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aliyun_policies
import disk_harness

state_path = sys.argv[1]
state = json.load(open(state_path))
seen_nonces = set()
# Temporary keys issued by AssumeRole: id -> (secret, security token).
sts_keys = {}
lock = threading.Lock()
tokens = {}


def public(obj):
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def advance(obj, on_change=None):
    """Answers the current state, then moves one step along the object's pending states."""
    shown = public(obj)
    if obj.get("_pending"):
        step = obj["_pending"].pop(0)
        if step == "_unlock":
            obj["OperationLocks"] = {"OperationLock": []}
        else:
            obj["Status"] = step
        if on_change:
            on_change(obj)
    return shown


def disk_changed(disk):
    if disk["Status"] == "In_use":
        disk_harness.attached(disk["DiskId"], "virtio-" + disk["DiskId"].removeprefix("d-"))


def tags_match(obj, p):
    key, value = p.get("Tag.1.Key"), p.get("Tag.1.Value")
    if key is None:
        return True
    return any(t["TagKey"] == key and (value is None or t["TagValue"] == value) for t in obj.get("Tags", {}).get("Tag", []))


def request_tags(p):
    tags, n = [], 1
    while f"Tag.{n}.Key" in p:
        tags.append({"TagKey": p[f"Tag.{n}.Key"], "TagValue": p.get(f"Tag.{n}.Value", "")})
        n += 1
    return {"Tag": tags}


def enc(s):
    return urllib.parse.quote(s, safe="-_.~")


def signature(method, params, secret):
    pairs = sorted(((k, v) for k, v in params if k != "Signature"), key=lambda kv: kv[0].encode())
    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs)
    to_sign = f"{method}&{enc('/')}&{enc(query)}"
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode(), to_sign


def reply(status, doc, headers=None, raw=None):
    """An answer to send: status, JSON document, extra headers, or raw (cut) bytes."""
    return (status, doc, headers, raw)


def refusal(status, code, message):
    return reply(status, {"RequestId": "r-1", "HostId": "ecs.aliyuncs.com", "Code": code, "Message": message, "Recommend": "https://api.aliyun.com"})


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, doc, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if raw is None else len(body) * 2))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, message):
        self.answer(*refusal(status, code, message))

    def do_PUT(self):
        # The metadata service's token API.
        if self.path == "/latest/api/token" and self.headers.get("X-aliyun-ecs-metadata-token-ttl-seconds"):
            return self._text(200, "metadata-token-1")
        return self._text(403, "")

    def _text(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.headers.get("X-aliyun-ecs-metadata-token") != "metadata-token-1":
            return self._text(401, "")
        meta = state.get("metadata", {})
        path = self.path.removeprefix("/latest/")
        if path in meta:
            value = meta[path]
            return self._text(200, value if isinstance(value, str) else json.dumps(value))
        return self._text(404, "")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        params = urllib.parse.parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
        p = dict(params)
        action = p.get("Action", "")
        with open(state_path + ".log", "a") as log:
            log.write(json.dumps({"action": action, "params": {k: v for k, v in p.items() if k not in ("Signature",)}}) + "\n")
        key = p.get("AccessKeyId")
        if key == state["access_key_id"]:
            secret = state["secret"]
        elif key in sts_keys and p.get("SecurityToken") == sts_keys[key][1]:
            secret = sts_keys[key][0]
        else:
            return self.error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        expected, to_sign = signature("POST", params, secret)
        if p.get("Signature") != expected:
            return self.error(400, "SignatureDoesNotMatch", f"Specified signature is not matched with our calculation. server string to sign is:{to_sign}")
        stamp = datetime.datetime.strptime(p.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        if abs((datetime.datetime.now(datetime.timezone.utc) - stamp).total_seconds()) > 900:
            return self.error(400, "IllegalTimestamp", "The input parameter \"Timestamp\" that is mandatory for processing this request is not supplied.")
        if p.get("SignatureNonce") in seen_nonces:
            return self.error(400, "SignatureNonceUsed", "The request signature nonce has been used.")
        seen_nonces.add(p.get("SignatureNonce"))
        if action == "AssumeRole":
            if p.get("Version") != "2015-04-01" or not p.get("RoleArn", "").startswith("acs:ram::"):
                return self.error(400, "InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
            issued = f"STS.{len(sts_keys) + 1:04d}"
            sts_keys[issued] = ("sts-secret-" + issued, "sts-token-" + issued)
            return self.answer(200, {"RequestId": "r-7", "AssumedRoleUser": {"Arn": p["RoleArn"] + "/" + p.get("RoleSessionName", "")},
                                     "Credentials": {"AccessKeyId": issued, "AccessKeySecret": sts_keys[issued][0], "SecurityToken": sts_keys[issued][1], "Expiration": "2099-01-01T00:00:00Z"}})
        if key == state["access_key_id"] and state.get("require_sts"):
            return self.error(403, "Forbidden.RAM", "User not authorized to operate on the specified resource.")
        region = p.get("regionId") if action in aliyun_policies.LOWER_CAMEL else p.get("RegionId")
        if p.get("Version") != "2014-05-26" or p.get("Format") != "JSON" or not region:
            return self.error(400, "MissingParameter", "Version, Format and RegionId are required.")
        if region in state.get("fail_regions", []):
            return self.error(503, "ServiceUnavailable", f"The request has failed due to a temporary failure of the server in {region}.")
        if action in state.get("fail", {}):
            status, code = state["fail"][action]
            return self.error(status, code, f"{action} failed on purpose")
        with lock:
            once = state.get("fail_once_after", {})
            if action in once:
                status, code = once.pop(action)
                self.lifecycle(action, p)
                answer = refusal(status, code, f"{action} answer lost on purpose (once)")
            elif action in state.get("fail_after", {}):
                # The action happens, but its answer is an error (a reply lost on the way).
                status, code = state["fail_after"][action]
                self.lifecycle(action, p)
                answer = refusal(status, code, f"{action} answer lost on purpose")
            else:
                answer = self.lifecycle(action, p)
            # The state on disk is what the tests inspect afterwards.
            with open(state_path + ".tmp", "w") as f:
                json.dump(state, f)
            os.replace(state_path + ".tmp", state_path)
        return self.answer(*answer)

    def lifecycle(self, action, p):
        """Carries out `action` on the state and returns its reply (sent by the caller)."""
        disks_by_id = {d["DiskId"]: d for d in state["disks"]}
        instances = {i["InstanceId"]: i for i in state.get("instances", [])}
        snaps = {s["SnapshotId"]: s for s in state["snapshots"]}
        if action == "DescribeDisks":
            disks = state["disks"]
            if "InstanceId" in p:
                disks = [d for d in disks if d.get("InstanceId") == p["InstanceId"]]
            if "DiskIds" in p:
                wanted = json.loads(p["DiskIds"])
                disks = [d for d in disks if d["DiskId"] in wanted]
            disks = [advance(d, disk_changed) for d in disks if tags_match(d, p)]
            return reply(200, {"RequestId": "r-2", "TotalCount": len(disks), "Disks": {"Disk": disks}})
        if action == "CreateDisk":
            token = p.get("ClientToken")
            if token in tokens:
                return reply(200, {"RequestId": "r-10", "DiskId": tokens[token]})
            snap = snaps.get(p.get("SnapshotId"))
            if snap is None:
                return refusal(404, "InvalidSnapshotId.NotFound", "The specified snapshot does not exist.")
            if snap["Status"] != "accomplished":
                return refusal(403, "InvalidSnapshot.NotReady", "The specified snapshot is not ready.")
            if not p.get("ZoneId"):
                return refusal(400, "MissingParameter", "ZoneId is required.")
            disk_id = f"d-bp1rescue{len(state['disks']):04d}"
            state["disks"].append({"DiskId": disk_id, "Size": snap["SourceDiskSize"], "ZoneId": p["ZoneId"], "Status": "Creating",
                                   "_pending": ["Available"], "Type": "data", "InstanceId": "", "SourceSnapshotId": snap["SnapshotId"],
                                   "Category": p.get("DiskCategory", "cloud"), "Tags": request_tags(p)})
            if token:
                tokens[token] = disk_id
            disk_harness.created(disk_id, snap["SnapshotId"])
            return reply(200, {"RequestId": "r-10", "DiskId": disk_id, "OrderId": ""})
        if action in ("AttachDisk", "DetachDisk", "DeleteDisk", "ResetDisk"):
            disk = disks_by_id.get(p.get("DiskId"))
            if disk is None:
                if action == "DeleteDisk":
                    return reply(200, {"RequestId": "r-11"})
                return refusal(404, "InvalidDiskId.NotFound", "The specified disk does not exist.")
            if action == "AttachDisk":
                instance = instances.get(p.get("InstanceId"))
                if instance is None:
                    return refusal(404, "InvalidInstanceId.NotFound", "The specified instance does not exist.")
                if disk["Status"] != "Available" or instance["Status"] not in ("Running", "Stopped"):
                    return refusal(403, "IncorrectDiskStatus", "The current disk status does not support this operation.")
                if disk.get("OperationLocks", {}).get("OperationLock") or disk.get("_attach_refusals"):
                    # Available again after a reset, but ECS still settles it for a moment.
                    if not disk.get("OperationLocks", {}).get("OperationLock"):
                        disk["_attach_refusals"] -= 1
                    return refusal(403, "IncorrectDiskStatus", "The current disk status does not support this operation.")
                disk.update(Status="Attaching", _pending=["In_use"], InstanceId=instance["InstanceId"])
            elif action == "DetachDisk":
                if disk["Status"] != "In_use" or disk["InstanceId"] != p.get("InstanceId"):
                    return refusal(403, "InvalidDisk.AlreadyDetached", "The disk is not attached to the instance.")
                disk.update(Status="Detaching", _pending=["Available"], InstanceId="")
                disk_harness.detached(disk["DiskId"])
            elif action == "DeleteDisk":
                if disk["Status"] != "Available":
                    return refusal(403, "DiskStillAttached" if disk["Status"] == "In_use" else "IncorrectDiskStatus", "The disk cannot be deleted in its state.")
                state["disks"].remove(disk)
                disk_harness.deleted(disk["DiskId"])
            else:
                instance = instances.get(disk.get("InstanceId"))
                snap = snaps.get(p.get("SnapshotId"))
                if snap is None:
                    return refusal(404, "InvalidSnapshotId.NotFound", "The specified snapshot does not exist.")
                if snap["SourceDiskId"] != disk["DiskId"]:
                    return refusal(403, "InvalidParameter.Mismatch", "The specified snapshot is not created from the specified disk.")
                if instance is not None and instance["Status"] != "Stopped":
                    return refusal(403, "IncorrectInstanceStatus", "The current status of the instance does not support this operation.")
                if disk["Status"] not in ("In_use", "Available"):
                    return refusal(403, "IncorrectDiskStatus", "The current disk status does not support this operation.")
                disk["_reset_to"] = snap["SnapshotId"]
                disk_harness.reset(disk["DiskId"], snap["SnapshotId"])
                if instance is not None:
                    instance["_start_refusals"] = 1
                else:
                    # A detached disk: ReIniting, then Available under an operation lock, then free.
                    disk.update(Status="ReIniting", _pending=["ReIniting", "Available", "_unlock"],
                                OperationLocks={"OperationLock": [{"LockReason": "resetting"}]}, _attach_refusals=1)
            return reply(200, {"RequestId": "r-12"})
        if action == "CreateSnapshot":
            disk = disks_by_id.get(p.get("DiskId"))
            if disk is None:
                return refusal(404, "InvalidDiskId.NotFound", "The specified disk does not exist.")
            token = p.get("ClientToken")
            if token in tokens:
                return reply(200, {"RequestId": "r-13", "SnapshotId": tokens[token]})
            name = p.get("SnapshotName", "")
            if name and (not 2 <= len(name) <= 128 or not name[0].isalpha() or name.startswith(("auto", "http://", "https://"))):
                return refusal(400, "InvalidSnapshotName.Malformed", "The specified parameter SnapshotName is not valid.")
            snap_id = f"s-bp1guard{len(state['snapshots']):04d}"
            state["snapshots"].append({"SnapshotId": snap_id, "SnapshotName": p.get("SnapshotName", ""), "Description": p.get("Description", ""),
                                       "Status": "progressing", "_pending": ["progressing", "accomplished"], "Progress": "0%",
                                       "CreationTime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                       "SourceDiskId": disk["DiskId"], "SourceDiskSize": disk["Size"], "SourceDiskType": disk["Type"],
                                       "Encrypted": False, "Tags": request_tags(p)})
            if "RetentionDays" in p:
                try:
                    days = int(p["RetentionDays"])
                except ValueError:
                    days = 0
                if not 1 <= days <= 65536:
                    state["snapshots"].pop()
                    return refusal(400, "InvalidParameter", "The specified parameter RetentionDays is not valid.")
                state["snapshots"][-1]["RetentionDays"] = days
            if token:
                tokens[token] = snap_id
            disk_harness.snapshotted(disk["DiskId"], snap_id)
            return reply(200, {"RequestId": "r-13", "SnapshotId": snap_id})
        if action in ("StopInstance", "StartInstance"):
            instance = instances.get(p.get("InstanceId"))
            if instance is None:
                return refusal(404, "InvalidInstanceId.NotFound", "The specified instance does not exist.")
            if action == "StopInstance":
                if instance["Status"] != "Running":
                    return refusal(403, "IncorrectInstanceStatus", "The current status of the instance does not support this operation.")
                instance.update(Status="Stopping", _pending=["Stopped"])
            else:
                if instance["Status"] != "Stopped":
                    return refusal(403, "IncorrectInstanceStatus", "The current status of the instance does not support this operation.")
                if instance.get("_start_refusals"):
                    instance["_start_refusals"] -= 1
                    return refusal(403, "IncorrectDiskStatus", "The current status of the disk does not support this operation.")
                instance.update(Status="Starting", _pending=["Running"])
            return reply(200, {"RequestId": "r-14"})
        if action == "DescribeInstanceStatus":
            wanted, n = [], 1
            while f"InstanceId.{n}" in p:
                wanted.append(p[f"InstanceId.{n}"])
                n += 1
            found = [advance(i) for i in state.get("instances", []) if not wanted or i["InstanceId"] in wanted]
            return reply(200, {"RequestId": "r-15", "TotalCount": len(found), "InstanceStatuses": {"InstanceStatus": [{"InstanceId": i["InstanceId"], "Status": i["Status"]} for i in found]}})
        if action == "DescribeSnapshots":
            faults = state.get("faults", [])
            if faults:
                fault = faults.pop(0)
                json.dump(state, open(state_path, "w"))
                if fault == "throttle":
                    return reply(400, {"RequestId": "r-3", "Code": "Throttling.User", "Message": "Request was denied due to user flow control."}, {"x-acs-retry-after": "20"})
                if fault == "500":
                    return refusal(500, "InternalError", "The request processing has failed due to some unknown error.")
                if fault == "timeout":
                    time.sleep(3)
                if fault == "truncated":
                    return reply(200, None, raw=b'{"RequestId": "r-4", "Snapshots": {"Snap')
                if fault == "badtype":
                    snaps = [dict(s, SourceDiskSize="forty") for s in state["snapshots"]]
                    return reply(200, {"RequestId": "r-5", "Snapshots": {"Snapshot": snaps}})
            snaps = [s for s in state["snapshots"] if s["SourceDiskId"] == p.get("DiskId", s["SourceDiskId"])]
            # A snapshot is in its region (a copy in its destination's); unplaced: everywhere.
            snaps = [s for s in snaps if s.get("RegionId", p["RegionId"]) == p["RegionId"]]
            if "SnapshotIds" in p:
                wanted = json.loads(p["SnapshotIds"])
                snaps = [advance(s) for s in snaps if s["SnapshotId"] in wanted]
            snaps = [public(s) for s in snaps]
            size = min(int(p.get("MaxResults", 10)), state.get("page_size", 100))
            start = int(p.get("NextToken") or 0)
            page = {"RequestId": "r-6", "Snapshots": {"Snapshot": snaps[start:start + size]}}
            if start + size < len(snaps):
                page["NextToken"] = str(start + size)
            return reply(200, page)
        if action == "ModifySnapshotAttribute":
            return modify_snapshot_attribute(snaps, p)
        answer = aliyun_policies.handle(action, p, state, disks_by_id, reply, refusal)
        if answer is not None:
            return answer
        return refusal(404, "InvalidAction.NotFound", f"Specified api {action} is not found.")


def modify_snapshot_attribute(snaps, p):
    """Name, description and RetentionDays (1-65536 days from CreationTime, only ever
    extended: a shorter or equal retention is refused, as ECS does)."""
    snap = snaps.get(p.get("SnapshotId"))
    if snap is None:
        return refusal(404, "InvalidSnapshotId.NotFound", "The specified snapshot does not exist.")
    if "RetentionDays" in p:
        try:
            days = int(p["RetentionDays"])
        except ValueError:
            return refusal(400, "InvalidParameter", "The specified parameter RetentionDays is not valid.")
        if not 1 <= days <= 65536:
            return refusal(400, "InvalidParameter", "The specified parameter RetentionDays is not valid.")
        current = snap.get("RetentionDays")
        if current is not None and current > 0 and days <= current:
            return refusal(400, "InvalidRetentionDays.ValueNotSupported", "The retention period of a snapshot can only be extended.")
        snap["RetentionDays"] = days
    if "SnapshotName" in p:
        snap["SnapshotName"] = p["SnapshotName"]
    if "Description" in p:
        snap["Description"] = p["Description"]
    return reply(200, {"RequestId": "r-16"})


# Disks attached when the state was written are presented now (an instance's own disks).
for d in state["disks"]:
    if d.get("Status") == "In_use":
        disk_changed(d)

# Port 0: the kernel picks a free one, announced on stdout for the test that started us.
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_port, flush=True)
server.serve_forever()
