#!/usr/bin/env python3
"""An ops script in the style teams already run: boto3 lists what an account holds, the
Assetwarden engine judges it, the findings are printed by severity, and the tag plan is applied
(with --apply; a dry run by default).

    python ops_script.py --policy policy.yaml [--region eu-west-1] [--endpoint-url URL] [--apply]

Point --endpoint-url (or AWS_ENDPOINT_URL) at moto's server to try it without an account.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from typing import Any

import boto3
from botocore.exceptions import ClientError

import assetwarden

S3_CALLS = [
    "GetBucketAcl",
    "GetBucketEncryption",
    "GetBucketLocation",
    "GetBucketLogging",
    "GetBucketPolicy",
    "GetBucketTagging",
    "GetBucketVersioning",
    "GetPublicAccessBlock",
    "GetBucketLifecycleConfiguration",
]


def snake(name: str) -> str:
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i:
            out.append("_")
        out.append(c.lower())
    return "".join(out)


def collect(session: boto3.session.Session, endpoint: str | None) -> list[dict[str, Any]]:
    """What a boto3 script usually gathers: buckets with their settings, groups, instances."""
    s3 = session.client("s3", endpoint_url=endpoint)
    ec2 = session.client("ec2", endpoint_url=endpoint)
    records: list[dict[str, Any]] = []
    for bucket in s3.list_buckets().get("Buckets", []):
        record: dict[str, Any] = {"Bucket": bucket["Name"], "CreationDate": bucket.get("CreationDate")}
        for call in S3_CALLS:
            try:
                record[call] = getattr(s3, snake(call))(Bucket=bucket["Name"])
            except ClientError as e:  # "not configured" and AccessDenied alike: the engine decides
                record[call] = {"Error": e.response["Error"]}
        records.append(record)
    for page in ec2.get_paginator("describe_security_groups").paginate():
        records.append(page)
    for page in ec2.get_paginator("describe_instances").paginate():
        records.append(page)
    return records


def apply_plan(session: boto3.session.Session, endpoint: str | None, plans: list[assetwarden.TagPlan]) -> int:
    s3 = session.client("s3", endpoint_url=endpoint)
    ec2 = session.client("ec2", endpoint_url=endpoint)
    written = 0
    for plan in plans:
        tags = plan.tags
        if not tags:
            continue
        if plan.resource_type == "AWS::S3::Bucket":
            bucket = plan.arn.split(":::", 1)[1]
            try:
                current = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
            except ClientError:
                current = {}
            current.update(tags)  # PutBucketTagging replaces the whole set: read, merge, write
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in current.items()]})
        elif plan.arn.split(":")[2] == "ec2":
            ec2.create_tags(Resources=[plan.arn.rsplit("/", 1)[1]], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        else:
            print(f"  skipped {plan.arn}: no writer for {plan.resource_type} in this script")
            continue
        written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--policy", required=True)
    p.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"))
    p.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    p.add_argument("--apply", action="store_true", help="write the tag plan (default: print it)")
    args = p.parse_args(argv)

    session = boto3.session.Session(region_name=args.region)
    account = session.client("sts", endpoint_url=args.endpoint_url).get_caller_identity()["Account"]
    records = collect(session, args.endpoint_url)

    engine = assetwarden.Engine(assetwarden.Policy.from_file(args.policy))
    by_severity: dict[str, list[assetwarden.Finding]] = collections.defaultdict(list)
    for f in engine.evaluate(records, account=account, region=args.region, include_pass=False):
        by_severity[f.severity].append(f)
    for severity in ["critical", "high", "medium", "low", "informational"]:
        found = by_severity.get(severity, [])
        print(f"{severity}: {len(found)}")
        for f in found:
            print(f"  {f.status:<8} {f.check_id:<36} {f.resource_name:<28} {f.message}")

    plans = engine.plan_tags(records, account=account, region=args.region)
    print(f"tag plan: {sum(len(p.changes) for p in plans)} changes on {len(plans)} resources")
    for plan in plans:
        for c in plan.changes:
            print(f"  {c['action']:<4} {plan.arn} {c['key']}={c['new_value']} ({c['reason']})")
    if args.apply:
        print(f"applied to {apply_plan(session, args.endpoint_url, plans)} resources")
    else:
        print("dry run: nothing written (use --apply)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
