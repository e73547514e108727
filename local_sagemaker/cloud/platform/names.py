"""Names and ARNs of SageMaker resources, checked and formed as SageMaker does."""

from __future__ import annotations

import re

from local_sagemaker.cloud.platform.errors import ValidationError
from local_sagemaker.common.account import ACCOUNT_ID

NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def check_name(name: str, field: str) -> str:
    if not NAME.match(name or ""):
        raise ValidationError(
            f"1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
        )
    return name


def arn(region: str, kind: str, name: str) -> str:
    """SageMaker lower-cases the name in a resource's ARN."""
    return f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:{kind}/{name.lower()}"
