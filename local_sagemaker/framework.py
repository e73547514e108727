"""The one framework image the local cloud runs: SageMaker's scikit-learn container, at the pinned version."""

from __future__ import annotations

import re

import sklearn

from local_sagemaker.aws_errors import ValidationError
from local_sagemaker.versions import FRAMEWORK_VERSION

SKLEARN_IMAGE = re.compile(r"/sagemaker-scikit-learn:(?P<version>\d+\.\d+)-\d+-cpu-py3$")


def installed_framework() -> str:
    """The scikit-learn minor version this machine runs, as it appears in the container's tag (``1.4``)."""
    return ".".join(sklearn.__version__.split(".")[:2])


def check_image(image: str) -> None:
    """Refuse, by name, an image the local cloud cannot run as SageMaker would."""
    match = SKLEARN_IMAGE.search(image)
    if not match:
        raise ValidationError(
            f"The local cloud runs the SageMaker scikit-learn framework container only; it cannot run image "
            f"'{image}'. Use the SDK's SKLearn classes, or run on AWS (MAZE_TARGET=aws)."
        )
    if match["version"] != installed_framework():
        raise ValidationError(
            f"Image '{image}' is scikit-learn {match['version']}, but the local cloud runs scikit-learn "
            f"{sklearn.__version__}. Use framework_version='{FRAMEWORK_VERSION}' (the version pinned in "
            "pyproject.toml), or run on AWS (MAZE_TARGET=aws)."
        )
