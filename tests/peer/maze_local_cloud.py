"""A pytest plugin for peer code's own test suites: ``connect()`` before anything, so boto3 and the SDK reach the
local cloud exactly as a notebook's do. Loaded by name (``-p maze_local_cloud``, this folder on ``PYTHONPATH``),
because the peer suites have a ``tests`` package of their own.

The fixture changes, both things the account the SDK's integration tests run in already has:

- an execution role named ``SageMakerRole`` (their ``ROLE``), trusted by SageMaker;
- the SDK's default bucket, ``sagemaker-{region}-{account}``. Their session sets a ``default_bucket_prefix``,
  and with one the SDK probes a missing default bucket with ``ListObjectsV2``, whose ``NoSuchBucket`` it does
  not recognise as "create it" (it only does for ``HeadBucket``'s bare 404): on a fresh AWS account, as on a
  fresh local cloud, every job that uploads code would stop there.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import boto3

import local_sagemaker

PEER_ROLE = "SageMakerRole"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def pytest_configure(config: Any) -> None:
    local_sagemaker.connect()
    iam = boto3.client("iam")
    try:
        iam.get_role(RoleName=PEER_ROLE)
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName=PEER_ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    account = boto3.client("sts").get_caller_identity()["Account"]
    own_bucket(f"sagemaker-{boto3.session.Session().region_name}-{account}")


def own_bucket(name: str) -> None:
    """The bucket, in this account and region: created unless it is there already."""
    region = boto3.session.Session().region_name
    s3 = boto3.client("s3")
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=name, **where)
