"""The framework images the local cloud runs: SageMaker's scikit-learn container, one environment per version."""

from __future__ import annotations

import re

from local_sagemaker.cloud.compute.framework_envs import CONTAINERS, blocker, runnable_versions, sdk_framework_versions
from local_sagemaker.cloud.platform.errors import ValidationError

# The SDK's image URIs: <account>.dkr.ecr.<region>.amazonaws.com/sagemaker-scikit-learn:<version>-cpu-py3
SKLEARN_IMAGE = re.compile(r"/sagemaker-scikit-learn:(?P<version>[^:/]+)-cpu-py3$")


def check_image(image: str) -> str:
    """The framework version of ``image``; refuse, by name, an image the local cloud cannot run as SageMaker would.

    Runs per request: a regular expression and two cached tables, no I/O after the first call.
    """
    match = SKLEARN_IMAGE.search(image)
    if not match:
        raise ValidationError(
            f"The local cloud runs the SageMaker scikit-learn framework container only; it cannot run image "
            f"'{image}'. Use the SDK's SKLearn classes, or run on AWS (MAZE_TARGET=aws)."
        )
    version = match["version"]
    if blocker(version):
        runnable = ", ".join(f"'{v}'" for v in runnable_versions())
        if version in CONTAINERS:
            why = f"framework_version '{version}' cannot run on this machine: {blocker(version)}"
        else:
            listed = ", ".join(sdk_framework_versions())
            why = f"'{version}' is not a scikit-learn framework version the SageMaker Python SDK lists ({listed})"
        raise ValidationError(
            f"Image '{image}': {why}. Framework versions that run here: {runnable}. "
            "Use one of them, or run on AWS (MAZE_TARGET=aws)."
        )
    return version
