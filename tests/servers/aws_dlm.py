"""An Amazon Data Lifecycle Manager (DLM) stand-in on 127.0.0.1 for the tests (moto has no
DLM): REST-JSON, API 2018-01-12, every request's SigV4 signature (service `dlm`) checked by
botocore's own signer against the key in STATE. GET /policies (filters resourceTypes,
state, targetTags `Key=Value`) answers summaries, GET /policies/{id} the whole policy,
POST /policies (CreateLifecyclePolicy) checks the body the way DLM does: ExecutionRoleArn
naming a role in STATE.roles (else InvalidRequestException), PolicyDetails with
PolicyType, ResourceTypes, TargetTags and 1-4 Schedules, each with a CreateRule (Interval
1|2|3|4|6|8|12|24 and IntervalUnit HOURS, or a CronExpression) and a RetainRule (Count, or
Interval + IntervalUnit). Errors are JSON with x-amzn-ErrorType. Usage: aws_dlm.py
STATE.json (prints its port). STATE: access_key_id, secret, roles[], policies[]; every
request is appended to STATE.log as a JSON line."""
import datetime
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

state_path = sys.argv[1]
state = json.load(open(state_path))
lock = threading.Lock()
INTERVALS = (1, 2, 3, 4, 6, 8, 12, 24)


def save():
    with open(state_path + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(state_path + ".tmp", state_path)


def signature_ok(handler, body):
    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return False, "no SigV4 Authorization header"
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    key, date, region, service, _ = fields["Credential"].split("/")
    if key != state["access_key_id"]:
        return False, "UnrecognizedClientException"
    if service != "dlm":
        return False, f"signed for {service}, not dlm"
    signed = fields["SignedHeaders"].split(";")
    headers = {h: handler.headers.get(h, "") for h in signed}
    url = f"http://{handler.headers.get('Host')}{handler.path}"
    request = AWSRequest(method=handler.command, url=url, data=body, headers=headers)
    request.context["timestamp"] = handler.headers.get("X-Amz-Date", "")
    signer = SigV4Auth(Credentials(state["access_key_id"], state["secret"], None), "dlm", region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != fields["Signature"]:
        return False, "The request signature we calculated does not match the signature you provided."
    return True, ""


def invalid(schedule_or_details):
    return ("InvalidRequestException", 400, schedule_or_details)


def validate(body):
    role = body.get("ExecutionRoleArn", "")
    if role not in state.get("roles", []):
        return invalid(f"Provided ExecutionRoleArn {role} does not exist or DLM cannot assume it.")
    details = body.get("PolicyDetails") or {}
    if body.get("State") not in ("ENABLED", "DISABLED") or not body.get("Description"):
        return invalid("State and Description are required.")
    if details.get("PolicyType", "EBS_SNAPSHOT_MANAGEMENT") != "EBS_SNAPSHOT_MANAGEMENT" or details.get("ResourceTypes") != ["VOLUME"]:
        return invalid("PolicyType EBS_SNAPSHOT_MANAGEMENT needs ResourceTypes [VOLUME].")
    tags = details.get("TargetTags") or []
    if not tags or any(set(t) != {"Key", "Value"} for t in tags):
        return invalid("TargetTags must be a list of {Key, Value}.")
    schedules = details.get("Schedules") or []
    if not 1 <= len(schedules) <= 4:
        return invalid("1 to 4 Schedules are required.")
    for s in schedules:
        create, retain = s.get("CreateRule") or {}, s.get("RetainRule") or {}
        if "CronExpression" not in create and (create.get("Interval") not in INTERVALS or create.get("IntervalUnit") != "HOURS"):
            return invalid(f"CreateRule Interval must be one of {INTERVALS} HOURS.")
        if "Count" not in retain and not (retain.get("Interval", 0) >= 1 and retain.get("IntervalUnit") in ("DAYS", "WEEKS", "MONTHS", "YEARS")):
            return invalid("RetainRule needs Count, or Interval and IntervalUnit.")
    return None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, doc, error_type=None):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        with open(state_path + ".log", "a") as log:
            log.write(json.dumps({"method": self.command, "path": url.path, "query": query, "body": body.decode() or None}) + "\n")
        global state
        # Read afresh: a test may add a role or a policy between calls.
        with lock:
            state = json.load(open(state_path))
        ok, why = signature_ok(self, body)
        if not ok:
            return self.answer(403, {"message": why}, "InvalidSignatureException" if "signature" in why else "UnrecognizedClientException")
        with lock:
            return self.route(url.path, query, body)

    do_GET = handle_any
    do_POST = handle_any

    def route(self, path, query, body):
        policies = state.setdefault("policies", [])
        if self.command == "GET" and path == "/policies":
            found = policies
            if "resourceTypes" in query:
                found = [p for p in found if set(query["resourceTypes"]) & set(p["PolicyDetails"]["ResourceTypes"])]
            if "state" in query:
                found = [p for p in found if p["State"] in query["state"]]
            if "targetTags" in query:
                wanted = [tuple(t.split("=", 1)) for t in query["targetTags"]]
                found = [p for p in found if any((t["Key"], t["Value"]) in wanted for t in p["PolicyDetails"]["TargetTags"])]
            summaries = [{"PolicyId": p["PolicyId"], "Description": p["Description"], "State": p["State"],
                          "Tags": p.get("Tags", {}), "PolicyType": p["PolicyDetails"].get("PolicyType", "EBS_SNAPSHOT_MANAGEMENT")} for p in found]
            return self.answer(200, {"Policies": summaries})
        if self.command == "GET" and path.startswith("/policies/"):
            wanted = path.removeprefix("/policies/").strip("/")
            for p in policies:
                if p["PolicyId"] == wanted:
                    return self.answer(200, {"Policy": p})
            return self.answer(404, {"Message": f"Policy {wanted} not found", "Code": "ResourceNotFoundException", "ResourceType": "LifecyclePolicy", "ResourceIds": [wanted]}, "ResourceNotFoundException")
        if self.command == "POST" and path == "/policies":
            try:
                doc = json.loads(body)
            except ValueError:
                return self.answer(400, {"Message": "The request body is not JSON", "Code": "InvalidRequestException"}, "InvalidRequestException")
            refused = validate(doc)
            if refused:
                code, status, message = refused
                return self.answer(status, {"Message": message, "Code": code}, code)
            policy_id = f"policy-0{len(policies):016x}"
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            policies.append({"PolicyId": policy_id, "Description": doc["Description"], "State": doc["State"],
                             "ExecutionRoleArn": doc["ExecutionRoleArn"], "DateCreated": now, "DateModified": now,
                             "PolicyDetails": doc["PolicyDetails"], "Tags": doc.get("Tags", {}),
                             "PolicyArn": f"arn:aws:dlm:us-east-1:123456789012:policy/{policy_id}"})
            save()
            return self.answer(200, {"PolicyId": policy_id})
        return self.answer(404, {"Message": f"no route {self.command} {path}"}, "ResourceNotFoundException")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_port, flush=True)
server.serve_forever()
