"""An Alibaba Cloud ECS API stand-in on 127.0.0.1 for the tests: it checks every request's
RPC signature (HMAC-SHA1, its own implementation of the documented algorithm), the
timestamp and the nonce, answers DescribeDisks / DescribeSnapshots in the real JSON shape
with NextToken paging, and injects faults on demand. Usage: aliyun_ecs.py PORT STATE.json
STATE: access_key_id, secret, disks[], snapshots[], page_size, faults[] (applied in order to
DescribeSnapshots: throttle, 500, timeout, truncated, badtype). Every request is appended to
STATE.log as one JSON line."""
import base64
import datetime
import hashlib
import hmac
import json
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, state_path = int(sys.argv[1]), sys.argv[2]
state = json.load(open(state_path))
seen_nonces = set()
# Temporary keys issued by AssumeRole: id -> (secret, security token).
sts_keys = {}


def enc(s):
    return urllib.parse.quote(s, safe="-_.~")


def signature(method, params, secret):
    pairs = sorted(((k, v) for k, v in params if k != "Signature"), key=lambda kv: kv[0].encode())
    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs)
    to_sign = f"{method}&{enc('/')}&{enc(query)}"
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode(), to_sign


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
        self.answer(status, {"RequestId": "r-1", "HostId": "ecs.aliyuncs.com", "Code": code, "Message": message, "Recommend": "https://api.aliyun.com"})

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
        if p.get("Version") != "2014-05-26" or p.get("Format") != "JSON" or not p.get("RegionId"):
            return self.error(400, "MissingParameter", "Version, Format and RegionId are required.")
        if action == "DescribeDisks":
            disks = state["disks"]
            if "InstanceId" in p:
                disks = [d for d in disks if d.get("InstanceId") == p["InstanceId"]]
            if "DiskIds" in p:
                wanted = json.loads(p["DiskIds"])
                disks = [d for d in disks if d["DiskId"] in wanted]
            return self.answer(200, {"RequestId": "r-2", "TotalCount": len(disks), "Disks": {"Disk": disks}})
        if action == "DescribeSnapshots":
            faults = state.get("faults", [])
            if faults:
                fault = faults.pop(0)
                json.dump(state, open(state_path, "w"))
                if fault == "throttle":
                    return self.answer(400, {"RequestId": "r-3", "Code": "Throttling.User", "Message": "Request was denied due to user flow control."}, {"x-acs-retry-after": "20"})
                if fault == "500":
                    return self.error(500, "InternalError", "The request processing has failed due to some unknown error.")
                if fault == "timeout":
                    time.sleep(3)
                if fault == "truncated":
                    return self.answer(200, None, raw=b'{"RequestId": "r-4", "Snapshots": {"Snap')
                if fault == "badtype":
                    snaps = [dict(s, SourceDiskSize="forty") for s in state["snapshots"]]
                    return self.answer(200, {"RequestId": "r-5", "Snapshots": {"Snapshot": snaps}})
            snaps = [s for s in state["snapshots"] if s["SourceDiskId"] == p.get("DiskId", s["SourceDiskId"])]
            size = min(int(p.get("MaxResults", 10)), state.get("page_size", 100))
            start = int(p.get("NextToken") or 0)
            page = {"RequestId": "r-6", "Snapshots": {"Snapshot": snaps[start:start + size]}}
            if start + size < len(snaps):
                page["NextToken"] = str(start + size)
            return self.answer(200, page)
        return self.error(404, "InvalidAction.NotFound", f"Specified api {action} is not found.")


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
