"""Automatic snapshot policies for the CBS stand-in (tencent_cbs.py), as CBS 2017-03-12 answers
them: DescribeAutoSnapshotPolicies (AutoSnapshotPolicyIds or Filters auto-snapshot-policy-id,
-state, -name; Offset/Limit paging; TotalCount, AutoSnapshotPolicySet),
DescribeDiskAssociatedAutoSnapshotPolicy (DiskId; TotalCount, AutoSnapshotPolicySet),
CreateAutoSnapshotPolicy (Policy[{DayOfWeek[] 0=Sunday | IntervalDays | DayOfMonth[], Hour[]}],
AutoSnapshotPolicyName, IsActivated, IsPermanent, RetentionDays (7 when not given), DryRun;
AutoSnapshotPolicyId, NextTriggerTime) and BindAutoSnapshotPolicy (AutoSnapshotPolicyId,
DiskIds[] up to 80). Bad input gets the real error codes: MissingParameter, InvalidParameter
(a wrong type), InvalidParameterValue (a value out of range),
InvalidAutoSnapshotPolicyId.NotFound, InvalidDiskId.NotFound, InvalidDisk.AlreadyBound.
STATE: policies[] (AutoSnapshotPolicy objects: AutoSnapshotPolicyId, AutoSnapshotPolicyName,
AutoSnapshotPolicyState, IsActivated, IsPermanent, RetentionDays, Policy[], IsCopyToRemote,
CopyToAccountUin, DiskIdSet[] — a disk's binding is its id in DiskIdSet),
one_policy_per_disk (bool: binding a second policy to a disk is refused with
InvalidDisk.AlreadyBound)."""
import datetime

CHINA = datetime.timezone(datetime.timedelta(hours=8))
FILTERS = {"auto-snapshot-policy-id": "AutoSnapshotPolicyId", "auto-snapshot-policy-state": "AutoSnapshotPolicyState",
           "auto-snapshot-policy-name": "AutoSnapshotPolicyName"}


def china_text(t):
    return t.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def ints(value, low, high):
    """The list as ints within [low, high]; 'type' when it is not a list of ints, 'range' when
    a value is outside."""
    if not isinstance(value, list) or any(not isinstance(v, int) or isinstance(v, bool) for v in value):
        return "type"
    if any(v < low or v > high for v in value):
        return "range"
    return value


def check_policy(entries, error):
    """The error for a bad Policy[] of CreateAutoSnapshotPolicy, or None."""
    if entries is None:
        return error("MissingParameter", "The request is missing a required parameter `Policy`.")
    if not isinstance(entries, list) or not entries or any(not isinstance(e, dict) for e in entries):
        return error("InvalidParameter", "Policy must be a non-empty array of Policy objects.")
    for e in entries:
        hours = ints(e.get("Hour"), 0, 23)
        if hours == "type" or (isinstance(hours, list) and not hours):
            return error("InvalidParameter", "Policy.Hour must be a non-empty array of integers.")
        if hours == "range":
            return error("InvalidParameterValue", "Policy.Hour values must be 0 to 23.")
        kinds = [k for k in ("DayOfWeek", "IntervalDays", "DayOfMonth") if k in e]
        if len(kinds) != 1:
            return error("InvalidParameterValue", "Give exactly one of Policy.DayOfWeek, IntervalDays and DayOfMonth.")
        if kinds[0] == "IntervalDays":
            days = e["IntervalDays"]
            if not isinstance(days, int) or isinstance(days, bool):
                return error("InvalidParameter", "Policy.IntervalDays must be an integer.")
            if not 1 <= days <= 365:
                return error("InvalidParameterValue", "Policy.IntervalDays must be 1 to 365.")
            continue
        low, high = (0, 6) if kinds[0] == "DayOfWeek" else (1, 31)
        days = ints(e[kinds[0]], low, high)
        if days == "type" or (isinstance(days, list) and not days):
            return error("InvalidParameter", f"Policy.{kinds[0]} must be a non-empty array of integers.")
        if days == "range":
            return error("InvalidParameterValue", f"Policy.{kinds[0]} values must be {low} to {high} (0 = Sunday).")
    return None


def next_trigger(entries):
    """The next weekly trigger after now (UTC+8), as CBS writes times; now when none is weekly."""
    now = datetime.datetime.now(CHINA).replace(minute=0, second=0, microsecond=0)
    for step in range(1, 8 * 24 + 1):
        t = now + datetime.timedelta(hours=step)
        for e in entries:
            # Python's weekday: Monday 0; CBS's DayOfWeek: Sunday 0.
            if (t.weekday() + 1) % 7 in e.get("DayOfWeek", []) and t.hour in e["Hour"]:
                return china_text(t)
    return china_text(now)


def described(policy, disks_by_id):
    policy["InstanceIdSet"] = sorted({disks_by_id[d].get("InstanceId") for d in policy.get("DiskIdSet", [])
                                      if d in disks_by_id and disks_by_id[d].get("InstanceId")})
    return policy


def handle(action, p, state, disks_by_id, ok, error):
    """The Response of `action`, or None when it is not one of these."""
    policies = state.setdefault("policies", [])
    if action == "DescribeAutoSnapshotPolicies":
        if "AutoSnapshotPolicyIds" in p and "Filters" in p:
            return error("InvalidParameter", "AutoSnapshotPolicyIds and Filters cannot be specified at the same time.")
        found = list(policies)
        if "AutoSnapshotPolicyIds" in p:
            found = [x for x in found if x["AutoSnapshotPolicyId"] in p["AutoSnapshotPolicyIds"]]
        for f in p.get("Filters", []):
            field = FILTERS.get(f.get("Name"))
            if field is None:
                return error("InvalidParameterValue", f"The filter {f.get('Name')!r} is not supported.")
            found = [x for x in found if x.get(field) in f.get("Values", [])]
        offset, limit = p.get("Offset", 0), p.get("Limit", 20)
        if not isinstance(limit, int) or not 1 <= limit <= 100 or not isinstance(offset, int) or offset < 0:
            return error("InvalidParameterValue", "Limit must be 1 to 100 and Offset at least 0.")
        page = [described(x, disks_by_id) for x in found[offset:offset + limit]]
        return ok({"TotalCount": len(found), "AutoSnapshotPolicySet": page})
    if action == "DescribeDiskAssociatedAutoSnapshotPolicy":
        if not p.get("DiskId"):
            return error("MissingParameter", "The request is missing a required parameter `DiskId`.")
        if p["DiskId"] not in disks_by_id:
            return error("InvalidDiskId.NotFound", "The disk does not exist.")
        found = [described(x, disks_by_id) for x in policies if p["DiskId"] in x.get("DiskIdSet", [])]
        return ok({"TotalCount": len(found), "AutoSnapshotPolicySet": found})
    if action == "CreateAutoSnapshotPolicy":
        bad = check_policy(p.get("Policy"), error)
        if bad:
            return bad
        name = p.get("AutoSnapshotPolicyName", "未命名")
        if not isinstance(name, str) or len(name.encode()) > 60:
            return error("InvalidParameterValue", "AutoSnapshotPolicyName must be at most 60 bytes.")
        for flag in ("IsActivated", "IsPermanent", "DryRun"):
            if flag in p and not isinstance(p[flag], bool):
                return error("InvalidParameter", f"{flag} must be a boolean.")
        if p.get("IsPermanent") and "RetentionDays" in p:
            return error("InvalidParameterValue", "RetentionDays cannot be given with IsPermanent TRUE.")
        days = p.get("RetentionDays", 7)
        if not isinstance(days, int) or isinstance(days, bool):
            return error("InvalidParameter", "RetentionDays must be an integer.")
        if not 1 <= days <= 65535:
            return error("InvalidParameterValue", "RetentionDays must be 1 to 65535.")
        trigger = next_trigger(p["Policy"])
        if p.get("DryRun"):
            return ok({"AutoSnapshotPolicyId": "", "NextTriggerTime": trigger})
        policy_id = f"asp-made{len(policies):04d}"
        policies.append({"AutoSnapshotPolicyId": policy_id, "AutoSnapshotPolicyName": name,
                         "AutoSnapshotPolicyState": "NORMAL", "IsActivated": p.get("IsActivated", True),
                         "IsPermanent": p.get("IsPermanent", False), "RetentionDays": 0 if p.get("IsPermanent") else days,
                         "Policy": p["Policy"], "CreateTime": china_text(datetime.datetime.now(CHINA)),
                         "NextTriggerTime": trigger, "DiskIdSet": [], "IsCopyToRemote": 0, "Tags": []})
        return ok({"AutoSnapshotPolicyId": policy_id, "NextTriggerTime": trigger})
    if action == "BindAutoSnapshotPolicy":
        for required in ("AutoSnapshotPolicyId", "DiskIds"):
            if not p.get(required):
                return error("MissingParameter", f"The request is missing a required parameter `{required}`.")
        ids = p["DiskIds"]
        if not isinstance(ids, list) or any(not isinstance(i, str) for i in ids):
            return error("InvalidParameter", "DiskIds must be an array of strings.")
        if len(ids) > 80:
            return error("InvalidParameterValue.BindDiskLimitExceeded", "At most 80 disks can be bound per request.")
        policy = next((x for x in policies if x["AutoSnapshotPolicyId"] == p["AutoSnapshotPolicyId"]), None)
        if policy is None:
            return error("InvalidAutoSnapshotPolicyId.NotFound", "The AutoSnapshotPolicyId entered does not exist.")
        if any(i not in disks_by_id for i in ids):
            return error("InvalidDiskId.NotFound", "The disk does not exist.")
        for i in ids:
            bound = [x for x in policies if i in x.get("DiskIdSet", [])]
            if policy in bound or (bound and state.get("one_policy_per_disk")):
                return error("InvalidDisk.AlreadyBound", "Cloud disk is already bound to scheduled snapshot policy.")
        policy.setdefault("DiskIdSet", []).extend(ids)
        return ok()
    return None
