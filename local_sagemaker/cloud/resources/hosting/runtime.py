"""InvokeEndpoint: the request goes to one of the endpoint's instances, the answer comes back as AWS gives it.

Metrics mean what AWS's CloudWatch page for SageMaker says (namespace AWS/SageMaker, dimensions
EndpointName and VariantName): ``Invocation4XXErrors``/``Invocation5XXErrors`` send 1 for each 4xx/5xx
the *model* returned and 0 otherwise, so a throttled request, which never reaches the model, counts in
neither (nor in ``Invocations``); ``ModelLatency`` is the time spent in the container, ``OverheadLatency``
the time from receiving the request to answering it minus ``ModelLatency`` (a serverless cold start
included), both in microseconds. Serverless endpoints add ``ModelSetupTime`` for each cold start and
``MemoryUtilization`` (percent of MemorySizeInMB); they publish no CPUUtilization.
"""

from __future__ import annotations

import json
import time

from local_sagemaker.cloud.compute.container_client import ContainerDropped, ContainerUnreachable
from local_sagemaker.cloud.compute.model_server import InstanceFailed, ModelServer
from local_sagemaker.cloud.platform.errors import AwsError
from local_sagemaker.cloud.resources.hosting.invocation_metrics import InvocationMetrics
from local_sagemaker.cloud.resources.hosting.operations import HostingService
from local_sagemaker.cloud.resources.hosting.record import EndpointRecord
from local_sagemaker.common.account import ACCOUNT_ID

REAL_TIME_PAYLOAD_LIMIT = 6 * 1024 * 1024
SERVERLESS_PAYLOAD_LIMIT = 4 * 1024 * 1024
INVOCATION_TIMEOUT_SECONDS = 60


class ModelError(AwsError):
    """A non-2xx answer of the container, relayed as SageMaker Runtime does (HTTP 424)."""

    def __init__(self, endpoint: EndpointRecord, region: str, status: int, body: str) -> None:
        kind = "client" if 400 <= status < 500 else "server"
        group = f"/aws/sagemaker/Endpoints/{endpoint.name}"
        message = (
            f'Received {kind} error ({status}) from primary with message "{body}". See '
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:group={group} "
            f"in account {ACCOUNT_ID} for more information."
        )
        super().__init__("ModelError", message, status=424)
        self.fields = {
            "OriginalStatusCode": status,
            "OriginalMessage": body,
            "LogStreamArn": f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{group}",
            "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
        }


class Runtime:
    """Routes invocations; enforces payload limits and a serverless endpoint's MaxConcurrency."""

    def __init__(self, hosting: HostingService, metrics: InvocationMetrics) -> None:
        self.hosting, self.metrics = hosting, metrics

    def invoke(self, name: str, body: bytes, headers: dict[str, str], region: str) -> tuple[int, dict[str, str], bytes]:
        received = time.perf_counter()
        try:
            endpoint = self.hosting.endpoint(name, region)
        except AwsError:
            endpoint = None
        if endpoint is None or endpoint.status not in ("InService", "Updating"):
            raise AwsError("ValidationError", f"Endpoint {name} of account {ACCOUNT_ID} not found.")
        limit = SERVERLESS_PAYLOAD_LIMIT if endpoint.serverless else REAL_TIME_PAYLOAD_LIMIT
        if len(body) > limit:
            raise AwsError(
                "ValidationError", f"Received payload of {len(body)} bytes, which exceeds the limit of {limit} bytes."
            )
        in_flight = endpoint.admit()
        if in_flight is None:
            raise AwsError("ThrottlingException", "Rate exceeded")  # not an invocation: no metric counts it
        try:
            if endpoint.serverless:
                self._warm(endpoint, region, in_flight)
            # An instance that is not listening (it died; the health watcher replaces it) never got the
            # request, so the next one takes it, as the endpoint's load balancer skips unhealthy instances.
            for instance in endpoint.candidates():
                started = time.perf_counter()
                try:
                    answer = self._forward(endpoint, instance, body, headers, region)
                except ContainerUnreachable:
                    continue
                except ModelError as error:
                    self._record(endpoint, region, instance, received, started, error.fields["OriginalStatusCode"])
                    raise
                self._record(endpoint, region, instance, received, started, 200)
                return answer
            raise AwsError("ServiceUnavailable", "The service is unavailable. Try your call again.", status=503)
        finally:
            endpoint.release()

    def _record(
        self, endpoint: EndpointRecord, region: str, instance: ModelServer, received: float, started: float, status: int
    ) -> None:
        """The metrics of one request the model answered (with ``status``)."""
        answered = time.perf_counter()
        model_latency = (answered - started) * 1e6
        values = {
            "Invocations": 1,
            "Invocation4XXErrors": int(400 <= status < 500),
            "Invocation5XXErrors": int(status >= 500),
            "ModelLatency": model_latency,
            "OverheadLatency": (answered - received) * 1e6 - model_latency,
        }
        if endpoint.serverless:
            memory = instance.memory_utilization()
            if memory is not None:
                values["MemoryUtilization"] = memory
        for metric, value in values.items():
            self.metrics.record(region, endpoint.name, endpoint.variant["VariantName"], metric, value)

    def _warm(self, endpoint: EndpointRecord, region: str, in_flight: int) -> None:
        variant = endpoint.variant["VariantName"]
        utilisation = in_flight / endpoint.serverless["MaxConcurrency"]
        self.metrics.record(region, endpoint.name, variant, "ServerlessConcurrentExecutionsUtilization", utilisation)
        try:
            setup = self.hosting.warm(endpoint)
        except InstanceFailed as error:
            raise ModelError(endpoint, region, 500, str(error)) from error
        if setup is not None:
            self.metrics.record(region, endpoint.name, variant, "ModelSetupTime", setup * 1e6)

    def _forward(
        self, endpoint: EndpointRecord, instance: ModelServer, body: bytes, headers: dict[str, str], region: str
    ) -> tuple[int, dict[str, str], bytes]:
        forwarded = {k: v for k, v in headers.items() if k in ("Content-Type", "Accept")}
        if "X-Amzn-SageMaker-Custom-Attributes" in headers:
            forwarded["X-Amzn-SageMaker-Custom-Attributes"] = headers["X-Amzn-SageMaker-Custom-Attributes"]
        try:
            answer = instance.client.request(
                "POST", "/invocations", body, forwarded, timeout=INVOCATION_TIMEOUT_SECONDS
            )
        except ContainerDropped as error:
            if not instance.alive:  # the whole instance died: the service's failure, worth a retry
                raise AwsError(
                    "ServiceUnavailable", "The service is unavailable. Try your call again.", status=503
                ) from error
            # The container dropped the request (a worker killed at its timeout, or crashed): the model's failure.
            raise ModelError(endpoint, region, 502, f"The model server closed the connection: {error}") from error
        if answer.status >= 400:
            raise ModelError(endpoint, region, answer.status, answer.body.decode("utf-8", errors="replace"))
        out_headers = {
            "Content-Type": answer.headers.get("Content-Type", "application/json"),
            "x-Amzn-Invoked-Production-Variant": endpoint.variant["VariantName"],
        }
        return 200, out_headers, answer.body


def error_body(error: AwsError) -> tuple[int, list[tuple[str, str]], bytes]:
    """SageMaker Runtime speaks rest-json: the error type in a header, the fields in the body."""
    fields = {"message": error.message, **getattr(error, "fields", {})}
    return (
        error.status,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", error.code)],
        json.dumps(fields).encode(),
    )
