"""moto's EC2 server on 127.0.0.1, with DescribeSnapshots paginated the way real EC2 does
(moto returns everything at once and never a NextToken). Usage: moto_ec2.py PORT.
Signature checking is turned on by INITIAL_NO_AUTH_ACTION_COUNT in the environment."""
import sys

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

from moto.server import main  # noqa: E402

main(["-H", "127.0.0.1", "-p", sys.argv[1]])
