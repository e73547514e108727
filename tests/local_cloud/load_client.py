"""One client process of the load-with-faults test: many threads invoking an endpoint, each outcome recorded.

Run as ``python -m tests.local_cloud.load_client``; it finds the session's cloud through ``MAZE_STATE_DIR``
(inherited, as a notebook's kernel finds its cloud) and reads its order as JSON on stdin:
``endpoint``, ``first`` (index of its first request), ``threads``, ``per_thread``, ``labels`` (the local
model's prediction of every digit) and ``out`` (where to write the records). It prints ``running`` once its
first request has ended, so the test knows the load is on before it injects faults.

Each request sends two digits as CSV, with botocore's standard retry mode (what a participant's SDK
uses), and is recorded as ``answered`` (the local model's prediction), ``wrong`` (another prediction),
``retryable`` (an error AWS asks to retry, after botocore's own retries), or ``error`` (anything else),
with the error's code, ``RetryAttempts``, what each failed attempt got (so retries can be told apart:
an instance lost with the request, or a connection the front refused) and its wall-clock start and end.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from sklearn.datasets import load_digits

from local_sagemaker.common import state_files
from local_sagemaker.kernel import launcher

# What SageMaker Runtime answers when a retry may succeed: the call never reached a model that could answer it.
RETRYABLE = frozenset({"ServiceUnavailable", "ThrottlingException", "InternalFailure"})
DIGITS = load_digits().data
attempts = threading.local()  # the failed attempts of the request this thread is sending


def note_failed_attempt(response: Any, caught_exception: Exception | None, **_: Any) -> None:
    """botocore's ``needs-retry`` event, before its retry handler decides: record an attempt that failed."""
    if caught_exception is not None:
        attempts.failed.append(type(caught_exception).__name__)
    elif response is not None and response[0].status_code >= 300:
        attempts.failed.append(response[1].get("Error", {}).get("Code", str(response[0].status_code)))


def rows(index: int) -> tuple[str, slice]:
    """The CSV body of request ``index`` (two digits: one row would decode 1-D) and which digits it holds."""
    start = (2 * index) % (len(DIGITS) - 1)
    chosen = slice(start, start + 2)
    return "\n".join(",".join(str(v) for v in row) for row in DIGITS[chosen]), chosen


def invoke(runtime: Any, endpoint: str, index: int, labels: list[int]) -> dict[str, Any]:
    body, chosen = rows(index)
    record: dict[str, Any] = {"index": index, "started": time.time(), "code": None, "retries": 0}
    attempts.failed = record["failed_attempts"] = []
    try:
        answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="text/csv")
        prediction = json.loads(answer["Body"].read())
        record["retries"] = answer["ResponseMetadata"]["RetryAttempts"]
        record["outcome"] = "answered" if prediction == labels[chosen] else "wrong"
        if record["outcome"] == "wrong":
            record["code"] = f"predicted {prediction}, expected {labels[chosen]}"
    except ClientError as error:
        record["code"] = error.response["Error"]["Code"]
        record["message"] = error.response["Error"]["Message"]
        record["retries"] = error.response["ResponseMetadata"].get("RetryAttempts", 0)
        record["outcome"] = "retryable" if record["code"] in RETRYABLE else "error"
    except BotoCoreError as error:  # no answer at all (connection refused or reset, timeout) after botocore's retries
        record["code"] = record["message"] = repr(error)
        record["outcome"] = "error"
    record["ended"] = time.time()
    return record


def main() -> None:
    order = json.load(sys.stdin)
    cloud = launcher.find(state_files.state_dir())
    assert cloud is not None, "the test's cloud answers"
    retries = Config(retries={"mode": "standard"}, max_pool_connections=order["threads"])
    runtime = cloud.client("sagemaker-runtime", config=retries)
    runtime.meta.events.register_first("needs-retry.sagemaker-runtime.InvokeEndpoint", note_failed_attempt)
    first, count = order["first"], order["threads"] * order["per_thread"]
    announced = threading.Lock()
    running = [False]

    def one(index: int) -> dict[str, Any]:
        record = invoke(runtime, order["endpoint"], index, order["labels"])
        with announced:
            if not running[0]:
                running[0] = True
                print("running", flush=True)
        return record

    with ThreadPoolExecutor(order["threads"]) as pool:
        records = list(pool.map(one, range(first, first + count)))
    with open(order["out"], "w") as out:
        json.dump(records, out)


if __name__ == "__main__":
    main()
