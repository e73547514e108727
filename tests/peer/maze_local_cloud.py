"""A pytest plugin for peer code's own test suites: ``connect()`` before anything, so boto3 and the SDK reach the
local cloud exactly as a notebook's do. Loaded by name (``-p maze_local_cloud``, this folder on ``PYTHONPATH``),
because the peer suites have a ``tests`` package of their own.

The one fixture change: the account the SDK's integration tests expect has an execution role named
``SageMakerRole`` (their ``ROLE``); the local cloud's account gets one, trusted by SageMaker, as theirs is.
"""

from __future__ import annotations

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
