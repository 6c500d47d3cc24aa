"""A Tencent Cloud CBS + CVM API stand-in on 127.0.0.1 for the tests. Every request's
TC3-HMAC-SHA256 signature is checked with the official signer (tencentcloud-sdk-python-common,
`Sign.sign_tc3`) over the canonical request built from what was received; the timestamp must
be within 5 minutes and the credential scope must name the UTC date and the action's service.
Answers are HTTP 200 in the real `{"Response": …}` shapes, errors included. Times are
`YYYY-MM-DD HH:MM:SS` in China Standard Time (UTC+8), as Tencent's API answers.
Usage: tencent_cbs.py STATE.json (prints the port it listens on). STATE: secret_id,
secret_key, disks[], snapshots[], instances[], metadata{path: text} (served under /latest/,
no token), role{name, id, key, token} (CVM role keys), faults[] (applied in order to
DescribeSnapshots: throttle, internal, lost), fail{Action: code} (every call fails),
lose_once{Action: true} (done, then the connection is closed without an answer, once);
automatic snapshot policies: tencent_policies.py.
Disks walk through AttachDisks ATTACHING→ATTACHED, DetachDisks DETACHING→UNATTACHED,
ApplySnapshot ROLLBACKING (Rollbacking true)→back, CreateSnapshot CREATING→NORMAL, and
instances STOPPING→STOPPED, STARTING→RUNNING: one step per description. Attached disks are
presented by disk_harness.py (virtio serial = the full disk-… id). Every request is appended
to STATE.log as one JSON line."""
import datetime
import hashlib
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tencentcloud.common.sign import Sign

import disk_harness
import tencent_policies

state_path = sys.argv[1]
state = json.load(open(state_path))
lock = threading.Lock()
tokens = {}
CHINA = datetime.timezone(datetime.timedelta(hours=8))
CVM_ACTIONS = {"DescribeInstancesStatus", "StartInstances", "StopInstances"}
AUTH = re.compile(r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/(\w+)/tc3_request, "
                  r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")


def now_text():
    return datetime.datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def public(obj):
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def advance(obj, on_change=None):
    """Answers the current state, then applies the next pending step (a dict of fields)."""
    shown = public(obj)
    if obj.get("_pending"):
        obj.update(obj["_pending"].pop(0))
        if on_change:
            on_change(obj)
    return shown


def disk_changed(disk):
    if disk["DiskState"] == "ATTACHED" and disk.get("_present"):
        disk["_present"] = False
        disk_harness.attached(disk["DiskId"], "virtio-" + disk["DiskId"])


def error(code, message):
    return {"Error": {"Code": code, "Message": message}, "RequestId": "req-err"}


def ok(doc=None):
    return dict(doc or {}, RequestId="req-ok")


def matches(disk, filters):
    for f in filters:
        name, values = f.get("Name", ""), f.get("Values", [])
        if name == "instance-id" and disk.get("InstanceId") not in values:
            return False
        if name == "disk-id" and disk["DiskId"] not in values:
            return False
        if name.startswith("tag:") and not any(t["Key"] == name[4:] and t["Value"] in values for t in disk.get("Tags", [])):
            return False
    return True


def page(items, body, set_name):
    offset, limit = int(body.get("Offset", 0)), min(int(body.get("Limit", 20)), 100)
    return ok({"TotalCount": len(items), set_name: items[offset:offset + limit]})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def respond(self, response):
        self.send(200, json.dumps({"Response": response}))

    def do_GET(self):
        # The CVM metadata service: plain GETs under /latest/.
        path = self.path.removeprefix("/latest/")
        meta = dict(state.get("metadata", {}))
        role = state.get("role")
        if role:
            meta["meta-data/cam/security-credentials/"] = role["name"]
            meta["meta-data/cam/security-credentials/" + role["name"]] = json.dumps({
                "Code": "Success", "TmpSecretId": role["id"], "TmpSecretKey": role["key"], "Token": role["token"],
                "ExpiredTime": int(datetime.datetime.now().timestamp()) + 3600})
        if path in meta:
            return self.send(200, meta[path], "text/plain")
        return self.send(404, "", "text/plain")

    def check_signature(self, body, action):
        """The error code of a bad signature, or None (official signer)."""
        match = AUTH.match(self.headers.get("Authorization", ""))
        if not match:
            return "AuthFailure.SignatureFailure"
        secret_id, date, service, signed_headers, signature = match.groups()
        role = state.get("role") or {}
        if secret_id == state["secret_id"]:
            secret_key = state["secret_key"]
        elif secret_id == role.get("id") and self.headers.get("X-TC-Token") == role.get("token"):
            secret_key = role["key"]
        else:
            return "AuthFailure.SecretIdNotFound"
        try:
            timestamp = int(self.headers.get("X-TC-Timestamp", ""))
        except ValueError:
            return "AuthFailure.SignatureFailure"
        if abs(datetime.datetime.now(datetime.timezone.utc).timestamp() - timestamp) > 300:
            return "AuthFailure.SignatureExpire"
        utc_date = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%d")
        wanted_service = "cvm" if action in CVM_ACTIONS else "cbs"
        if date != utc_date or service != wanted_service or "host" not in signed_headers.split(";"):
            return "AuthFailure.SignatureFailure"
        canonical_headers = "".join(f"{h}:{self.headers.get(h, '').strip().lower()}\n" for h in signed_headers.split(";"))
        canonical = f"POST\n/\n\n{canonical_headers}\n{signed_headers}\n{hashlib.sha256(body).hexdigest()}"
        to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        if Sign.sign_tc3(secret_key, date, service, to_sign) != signature:
            return "AuthFailure.SignatureFailure"
        return None

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        action = self.headers.get("X-TC-Action", "")
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return self.respond(error("InvalidParameter", "The body is not JSON."))
        with open(state_path + ".log", "a") as log:
            log.write(json.dumps({"action": action, "params": params}) + "\n")
        bad = self.check_signature(body, action)
        if bad:
            return self.respond(error(bad, "The signature does not match (checked by the official signer)."))
        if self.headers.get("X-TC-Version") != "2017-03-12" or not self.headers.get("X-TC-Region"):
            return self.respond(error("MissingParameter", "X-TC-Version 2017-03-12 and X-TC-Region are required."))
        if action in state.get("fail", {}):
            return self.respond(error(state["fail"][action], f"{action} failed on purpose"))
        with lock:
            if action == "DescribeSnapshots" and state.get("faults"):
                fault = state["faults"].pop(0)
                self.save()
                if fault == "throttle":
                    return self.respond(error("RequestLimitExceeded", "Your current request times equals to `21` in a second, which exceeds the frequency limit `20` for a second."))
                if fault == "internal":
                    return self.respond(error("InternalError", "An internal error has occurred."))
                if fault == "lost":
                    self.close_connection = True
                    return None
            response = self.lifecycle(action, params)
            lose = state.get("lose_once", {}).pop(action, False)
            self.save()
        if lose:
            # Done, but the answer never arrives.
            self.close_connection = True
            return None
        return self.respond(response)

    def save(self):
        with open(state_path + ".tmp", "w") as f:
            json.dump(state, f)
        os.replace(state_path + ".tmp", state_path)

    def lifecycle(self, action, p):
        disks = {d["DiskId"]: d for d in state["disks"]}
        snaps = {s["SnapshotId"]: s for s in state["snapshots"]}
        instances = {i["InstanceId"]: i for i in state.get("instances", [])}
        if action == "DescribeSnapshots":
            found = state["snapshots"]
            if "SnapshotIds" in p:
                found = [s for s in found if s["SnapshotId"] in p["SnapshotIds"]]
            for f in p.get("Filters", []):
                if f.get("Name") == "disk-id":
                    found = [s for s in found if s["DiskId"] in f.get("Values", [])]
            return page([advance(s) for s in found], p, "SnapshotSet")
        if action == "DescribeDisks":
            found = state["disks"]
            if "DiskIds" in p:
                found = [d for d in found if d["DiskId"] in p["DiskIds"]]
            found = [d for d in found if matches(d, p.get("Filters", []))]
            return page([advance(d, disk_changed) for d in found], p, "DiskSet")
        if action == "CreateDisks":
            token = p.get("ClientToken")
            if token in tokens:
                return ok({"DiskIdSet": [tokens[token]]})
            snap = snaps.get(p.get("SnapshotId"))
            if snap is None:
                return error("InvalidSnapshotId.NotFound", "The snapshot does not exist.")
            if snap["DiskUsage"] == "SYSTEM_DISK":
                return error("InvalidParameter.ShouldConvertSnapshotToImage", "A system disk snapshot must be converted to an image.")
            if snap["SnapshotState"] != "NORMAL":
                return error("ResourceUnavailable.SnapshotCreating", "The snapshot is being created.")
            if p.get("DiskChargeType") != "POSTPAID_BY_HOUR" or not p.get("Placement", {}).get("Zone") or not p.get("DiskType"):
                return error("MissingParameter", "Placement.Zone, DiskChargeType and DiskType are required.")
            disk_id = f"disk-rsc{len(state['disks']):05d}"
            state["disks"].append({"DiskId": disk_id, "DiskState": "UNATTACHED", "Attached": False, "InstanceId": "", "DiskUsage": "DATA_DISK",
                                   "DiskType": p["DiskType"], "DiskSize": snap["DiskSize"], "Portable": True, "Rollbacking": False,
                                   "Placement": {"Zone": p["Placement"]["Zone"]}, "Tags": p.get("Tags", []), "CreateTime": now_text()})
            if token:
                tokens[token] = disk_id
            disk_harness.created(disk_id, snap["SnapshotId"])
            return ok({"DiskIdSet": [disk_id]})
        if action in ("AttachDisks", "DetachDisks", "TerminateDisks"):
            wanted = [disks.get(i) for i in p.get("DiskIds", [])]
            if not wanted or None in wanted:
                return error("InvalidDiskId.NotFound", "The disk does not exist.")
            for disk in wanted:
                if disk["Rollbacking"]:
                    return error("ResourceInUse.DiskRollbacking", "The disk is rolling back.")
                if action == "AttachDisks":
                    if p.get("InstanceId") not in instances:
                        return error("InvalidInstanceId.NotFound", "The instance does not exist.")
                    if disk["DiskState"] != "UNATTACHED":
                        return error("InvalidDisk.Busy", "The disk is not unattached.")
                    disk.update(DiskState="ATTACHING", InstanceId=p["InstanceId"], _present=True,
                                _pending=[{"DiskState": "ATTACHED", "Attached": True}])
                elif action == "DetachDisks":
                    if disk["DiskState"] != "ATTACHED" or not disk.get("Portable"):
                        return error("UnsupportedOperation.StateError", "The disk is not an attached elastic disk.")
                    disk.update(DiskState="DETACHING", _pending=[{"DiskState": "UNATTACHED", "Attached": False, "InstanceId": ""}])
                    disk_harness.detached(disk["DiskId"])
                else:
                    if disk["DiskState"] != "UNATTACHED":
                        return error("InvalidDisk.Attached", "The disk is attached.")
                    state["disks"].remove(disk)
                    disk_harness.deleted(disk["DiskId"])
            return ok()
        if action == "CreateSnapshot":
            disk = disks.get(p.get("DiskId"))
            if disk is None:
                return error("InvalidDiskId.NotFound", "The disk does not exist.")
            tags = p.get("Tags", [])
            if not isinstance(tags, list) or any(not isinstance(t, dict) or not isinstance(t.get("Key"), str)
                                                 or not isinstance(t.get("Value"), str) for t in tags):
                return error("InvalidParameter", "Tags must be an array of {Key, Value} strings.")
            deadline_time = None
            if "Deadline" in p:
                # ISO 8601 UTC, at least a day ahead: deleted then (DeadlineTime in UTC+8).
                try:
                    deadline = datetime.datetime.fromisoformat(p["Deadline"].replace("Z", "+00:00"))
                except ValueError:
                    return error("InvalidParameterValue", "Deadline is not an ISO 8601 time.")
                if deadline < datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1) - datetime.timedelta(minutes=5):
                    return error("InvalidParameterValue", "Deadline must be at least one day ahead.")
                deadline_time = deadline.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
            snap_id = f"snap-grd{len(state['snapshots']):05d}"
            state["snapshots"].append({"SnapshotId": snap_id, "SnapshotName": p.get("SnapshotName", "未命名"), "SnapshotState": "CREATING",
                                       "Percent": 0, "DiskId": disk["DiskId"], "DiskSize": disk["DiskSize"], "DiskUsage": disk["DiskUsage"],
                                       "Encrypt": disk.get("Encrypt", False), "CreateTime": now_text(), "DeadlineTime": deadline_time,
                                       "IsPermanent": deadline_time is None,
                                       "Tags": p.get("Tags", []), "_pending": [{"SnapshotState": "NORMAL", "Percent": 100}]})
            disk_harness.snapshotted(disk["DiskId"], snap_id)
            return ok({"SnapshotId": snap_id})
        if action == "ApplySnapshot":
            disk, snap = disks.get(p.get("DiskId")), snaps.get(p.get("SnapshotId"))
            if disk is None or snap is None:
                return error("InvalidSnapshotId.NotFound" if snap is None else "InvalidDiskId.NotFound", "Not found.")
            if snap["DiskId"] != disk["DiskId"]:
                return error("InvalidParameterValue", "The snapshot was not taken of this disk.")
            if disk["Rollbacking"]:
                return error("ResourceInUse.DiskRollbacking", "The disk is rolling back.")
            instance = instances.get(disk.get("InstanceId"))
            if disk["Portable"] and disk["DiskState"] != "UNATTACHED":
                return error("ResourceUnavailable.Attached", "An elastic disk must be detached first.")
            if instance is not None and instance["InstanceState"] != "STOPPED":
                if not p.get("AutoStopInstance"):
                    return error("UnsupportedOperation.InstanceNotStopped", "The instance is not stopped.")
                instance.update(InstanceState="STOPPING", _pending=[{"InstanceState": "STOPPED"}]
                                + ([{"InstanceState": "STARTING"}, {"InstanceState": "RUNNING"}] if p.get("AutoStartInstance") else []))
            back = disk["DiskState"]
            disk.update(DiskState="ROLLBACKING", Rollbacking=True, _pending=[{"Rollbacking": True}, {"DiskState": back, "Rollbacking": False}])
            disk_harness.reset(disk["DiskId"], snap["SnapshotId"])
            return ok()
        if action == "DescribeInstancesStatus":
            found = [advance(i) for i in state.get("instances", []) if i["InstanceId"] in p.get("InstanceIds", [i["InstanceId"]])]
            return page([{"InstanceId": i["InstanceId"], "InstanceState": i["InstanceState"]} for i in found], p, "InstanceStatusSet")
        if action in ("StartInstances", "StopInstances"):
            for instance_id in p.get("InstanceIds", []):
                instance = instances.get(instance_id)
                if instance is None:
                    return error("InvalidInstanceId.NotFound", "The instance does not exist.")
                if action == "StartInstances":
                    if instance["InstanceState"] != "STOPPED":
                        return error("UnsupportedOperation.InstanceStateRunning", "The instance is not stopped.")
                    instance.update(InstanceState="STARTING", _pending=[{"InstanceState": "RUNNING"}])
                else:
                    instance.update(InstanceState="STOPPING", _pending=[{"InstanceState": "STOPPED"}])
            return ok()
        if action == "ModifySnapshotAttribute":
            return modify_snapshot_attribute(snaps, p)
        answer = tencent_policies.handle(action, p, state, disks, ok, error)
        if answer is not None:
            return answer
        return error("InvalidAction", f"The action {action} is not supported by the stand-in.")


def modify_snapshot_attribute(snaps, p):
    """SnapshotName, IsPermanent and Deadline: a Deadline (ISO 8601) makes the snapshot
    non-permanent, deleted at that time (shown as DeadlineTime in UTC+8); a Deadline that has
    passed is refused."""
    snap = snaps.get(p.get("SnapshotId"))
    if snap is None:
        return error("InvalidSnapshotId.NotFound", "The snapshot does not exist.")
    if "Deadline" in p:
        try:
            deadline = datetime.datetime.fromisoformat(p["Deadline"].replace("Z", "+00:00"))
        except ValueError:
            return error("InvalidParameterValue", "Deadline is not an ISO 8601 time.")
        if deadline <= datetime.datetime.now(datetime.timezone.utc):
            return error("InvalidParameterValue", "Deadline must be in the future.")
        snap["IsPermanent"] = False
        snap["DeadlineTime"] = deadline.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    elif p.get("IsPermanent") is True:
        snap["IsPermanent"] = True
        snap["DeadlineTime"] = None
    elif p.get("IsPermanent") is False:
        snap["IsPermanent"] = False
    if "SnapshotName" in p:
        snap["SnapshotName"] = p["SnapshotName"]
    return ok()


# Disks attached when the state was written are presented now (an instance's own disks).
for d in state["disks"]:
    if d.get("DiskState") == "ATTACHED":
        disk_harness.attached(d["DiskId"], "virtio-" + d["DiskId"])

# Port 0: the kernel picks a free one, announced on stdout for the test that started us.
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_port, flush=True)
server.serve_forever()
