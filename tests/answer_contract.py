"""botocore's answer contract: every SageMaker and SageMaker Runtime answer a boto3 client of the test
process receives is checked against botocore's model of the operation's output (required members, types,
ranges, enums, patterns). ``tests/conftest.py`` installs the hook for the session and fails the test during
which an answer broke it, naming the operation and member. Programs a test starts in a subprocess (and the
notebooks under nbval) are not checked.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
from botocore import handlers

from local_sagemaker.cloud.gateway.validation import validation_message, violations

# botocore names events after-call.<service id>.<operation>; a prefix catches every operation.
CHECKED_SERVICES = ("after-call.sagemaker", "after-call.sagemaker-runtime")
breaches: list[str] = []
reported = [0]  # how many breaches earlier tests reported: a module fixture's breach fails the first test using it


def check_answer(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
    """botocore ``after-call`` hook: record a successful answer that breaks the operation's output shape."""
    if http_response.status_code >= 300 or model.output_shape is None:
        return
    answer = {key: value for key, value in parsed.items() if key != "ResponseMetadata"}
    found = violations(answer, model.output_shape)
    if found:
        breaches.append(f"{model.service_model.service_name} {model.name}: {validation_message(found)}")


HOOKS = [(event, check_answer) for event in CHECKED_SERVICES]


def install() -> None:
    """The hook on every botocore session: those created from now on, and boto3's default one."""
    handlers.BUILTIN_HANDLERS.extend(HOOKS)
    if boto3.DEFAULT_SESSION is not None:
        for event, handler in HOOKS:
            boto3.DEFAULT_SESSION.events.register(event, handler)


def uninstall() -> None:
    for hook in HOOKS:
        handlers.BUILTIN_HANDLERS.remove(hook)


def unreported() -> str | None:
    """The breaches recorded since the last call, counted, as one message; None when there were none."""
    new = breaches[reported[0] :]
    reported[0] = len(breaches)
    if not new:
        return None
    counted = Counter(new)
    return "\n".join(f"{breach} ({count} answers)" if count > 1 else breach for breach, count in counted.items())
