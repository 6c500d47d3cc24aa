"""Automatic snapshot policies and encryption for the ECS stand-in (aliyun_ecs.py), as ECS
answers them: DescribeAutoSnapshotPolicyEx (upper-camel, paged by PageNumber/PageSize,
TimePoints and RepeatWeekdays as JSON-array strings, TimePoints in UTC+8),
CreateAutoSnapshotPolicy and ApplyAutoSnapshotPolicy with their lower-camel parameter
names (regionId, timePoints, repeatWeekdays, retentionDays, autoSnapshotPolicyName;
autoSnapshotPolicyId, diskIds) — the upper-camel spellings are refused as missing
parameters, as ECS does — DescribeDiskEncryptionByDefaultStatus, DescribeRegions (STATE.regions) and CopySnapshot
(sent to the source region: the copy lands in DestinationRegionId with SourceSnapshotId and
SourceRegionId, as ECS does; DescribeSnapshots answers a region's own snapshots). STATE: policies[]
(AutoSnapshotPolicyId, AutoSnapshotPolicyName, TimePoints, RepeatWeekdays, RetentionDays,
Status, EnableCrossRegionCopy, TargetCopyRegions), encryption_by_default (bool); a disk's
binding is its AutoSnapshotPolicyId and EnableAutomatedSnapshotPolicy."""
import json

LOWER_CAMEL = ("CreateAutoSnapshotPolicy", "ApplyAutoSnapshotPolicy")


def json_list(text, what):
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(value, list) or not value:
        return None
    return [str(v) for v in value]


def handle(action, p, state, disks_by_id, reply, refusal):
    """The reply to `action`, or None when it is not one of these."""
    policies = state.setdefault("policies", [])
    if action == "DescribeAutoSnapshotPolicyEx":
        found = [x for x in policies if p.get("AutoSnapshotPolicyId", x["AutoSnapshotPolicyId"]) == x["AutoSnapshotPolicyId"]]
        found = [x for x in found if p.get("AutoSnapshotPolicyName", x["AutoSnapshotPolicyName"]) == x["AutoSnapshotPolicyName"]]
        number, size = int(p.get("PageNumber", 1)), min(int(p.get("PageSize", 10)), state.get("page_size", 100))
        for x in found:
            x["DiskNums"] = sum(1 for d in disks_by_id.values() if d.get("AutoSnapshotPolicyId") == x["AutoSnapshotPolicyId"])
        page = found[(number - 1) * size:number * size]
        return reply(200, {"RequestId": "r-20", "TotalCount": len(found), "PageNumber": number, "PageSize": size,
                           "AutoSnapshotPolicies": {"AutoSnapshotPolicy": page}})
    if action == "CreateAutoSnapshotPolicy":
        for upper in ("TimePoints", "RepeatWeekdays", "RetentionDays"):
            if upper in p:
                return refusal(400, "MissingParameter", f"The input parameter \"{upper[0].lower() + upper[1:]}\" that is mandatory for processing this request is not supplied.")
        hours = json_list(p.get("timePoints"), "timePoints")
        days = json_list(p.get("repeatWeekdays"), "repeatWeekdays")
        if hours is None or any(not h.isdigit() or int(h) > 23 for h in hours):
            return refusal(400, "InvalidTimePoints.Malformed", "The specified parameter timePoints is not valid.")
        if days is None or any(d not in "1234567" or len(d) != 1 for d in days):
            return refusal(400, "InvalidRepeatWeekdays.Malformed", "The specified parameter repeatWeekdays is not valid.")
        try:
            keep = int(p.get("retentionDays", ""))
        except ValueError:
            return refusal(400, "InvalidRetentionDays.Malformed", "The specified parameter retentionDays is not valid.")
        policy_id = f"sp-bp1made{len(policies):04d}"
        policies.append({"AutoSnapshotPolicyId": policy_id, "AutoSnapshotPolicyName": p.get("autoSnapshotPolicyName", ""),
                         "TimePoints": json.dumps(hours), "RepeatWeekdays": json.dumps(days), "RetentionDays": keep,
                         "Status": "Normal", "RegionId": p["regionId"], "EnableCrossRegionCopy": False, "TargetCopyRegions": "[]"})
        return reply(200, {"RequestId": "r-21", "AutoSnapshotPolicyId": policy_id})
    if action == "ApplyAutoSnapshotPolicy":
        for upper in ("AutoSnapshotPolicyId", "DiskIds"):
            if upper in p:
                return refusal(400, "MissingParameter", f"The input parameter \"{upper[0].lower() + upper[1:]}\" that is mandatory for processing this request is not supplied.")
        policy = next((x for x in policies if x["AutoSnapshotPolicyId"] == p.get("autoSnapshotPolicyId")), None)
        if policy is None:
            return refusal(404, "ParameterInvalid", "The specified autoSnapshotPolicyId does not exist.")
        ids = json_list(p.get("diskIds"), "diskIds")
        if ids is None or any(i not in disks_by_id for i in ids):
            return refusal(404, "InvalidDiskId.NotFound", "The specified disk does not exist.")
        for i in ids:
            disks_by_id[i].update(AutoSnapshotPolicyId=policy["AutoSnapshotPolicyId"], EnableAutomatedSnapshotPolicy=True)
        return reply(200, {"RequestId": "r-22"})
    if action == "DescribeRegions":
        regions = state.get("regions", [p.get("RegionId")])
        return reply(200, {"RequestId": "r-24", "Regions": {"Region": [{"RegionId": r, "LocalName": r} for r in regions]}})
    if action == "CopySnapshot":
        snaps = {s["SnapshotId"]: s for s in state["snapshots"]}
        source = snaps.get(p.get("SnapshotId"))
        if source is None:
            return refusal(403, "InvalidSnapshotId.NotFound", "The specified snapshot does not exist.")
        if source["Status"] != "accomplished":
            return refusal(403, "InvalidSnapshotId.NotReady", "The specified snapshot is not ready.")
        to = p.get("DestinationRegionId")
        if not to or not p.get("DestinationSnapshotName") or to not in state.get("regions", []):
            return refusal(400, "InvalidParameter", "DestinationRegionId and DestinationSnapshotName are required.")
        copy_id = f"s-copy{len(state['snapshots']):04d}"
        state["snapshots"].append(dict(source, SnapshotId=copy_id, SnapshotName=p["DestinationSnapshotName"],
                                       RegionId=to, SourceRegionId=p["RegionId"], SourceSnapshotId=source["SnapshotId"]))
        return reply(200, {"RequestId": "r-25", "SnapshotId": copy_id})
    if action == "DescribeDiskEncryptionByDefaultStatus":
        return reply(200, {"RequestId": "r-23", "Encrypted": bool(state.get("encryption_by_default", False))})
    return None
