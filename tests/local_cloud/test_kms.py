"""KMS through the front, answered by moto's KMS (issue 20, item 2): the SDK's integration fixtures look a key
up by alias and create it when missing; S3 takes a KmsKeyId and records it, without encrypting locally."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_sagemaker.common.account import ACCOUNT_ID, ROLE_ARN
from local_sagemaker.kernel import launcher
from testing.training_jobs import BUCKET

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "kms:*"},
        {"Sid": "Role", "Effect": "Allow", "Principal": {"AWS": ROLE_ARN}, "Action": ["kms:Encrypt", "kms:Decrypt"]},
    ],
}


@pytest.fixture(scope="module")
def kms(cloud: launcher.CloudInfo) -> Any:
    return cloud.client("kms")


def get_or_create_key(kms: Any, alias: str) -> str:
    """What the SageMaker SDK's ``tests/integ/kms_utils.get_or_create_kms_key`` does."""
    try:
        return kms.describe_key(KeyId=f"alias/{alias}")["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        arn = kms.create_key(Policy=json.dumps(POLICY), Description="for the tests")["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName=f"alias/{alias}", TargetKeyId=arn)
        return arn


def test_a_key_is_looked_up_by_alias_created_when_missing_and_found_after(kms) -> None:
    alias = f"maze-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as missing:
        kms.describe_key(KeyId=f"alias/{alias}")
    assert missing.value.response["Error"]["Code"] == "NotFoundException"
    arn = get_or_create_key(kms, alias)
    assert arn.startswith(f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/")
    assert get_or_create_key(kms, alias) == arn
    assert f"alias/{alias}" in [entry["AliasName"] for entry in kms.list_aliases()["Aliases"]]
    assert json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]) == POLICY
    secret = kms.encrypt(KeyId=f"alias/{alias}", Plaintext=b"model weights key")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=secret)["Plaintext"] == b"model weights key"


def test_s3_records_the_kms_key_of_an_object_and_serves_it_back(cloud, kms, s3) -> None:
    arn = get_or_create_key(kms, "maze-s3")
    s3.put_object(Bucket=BUCKET, Key="kms/object", Body=b"secret", ServerSideEncryption="aws:kms", SSEKMSKeyId=arn)
    answer = s3.get_object(Bucket=BUCKET, Key="kms/object")
    assert answer["Body"].read() == b"secret"
    assert (answer["ServerSideEncryption"], answer["SSEKMSKeyId"]) == ("aws:kms", arn)
