"""Runs a transform job: its instances, input objects assigned to instances by key, data records batched.

Words: an *instance* is one ModelServer; a *record* is a data record of an input object (a line, or the whole
object), as the API's SplitType, BatchStrategy and MaxPayloadInMB mean it; the transform job is the *job*.

Each instance logs as on AWS: the container's output (its access lines included) in
``<job>/<instance-id>-<epoch>``, the platform's lines in ``<job>/<instance-id>-<epoch>/data-log``.
"""

from __future__ import annotations

import json
import posixpath
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_sagemaker.cloud.compute.container_client import ContainerDropped, ContainerUnreachable
from local_sagemaker.cloud.compute.framework_envs import FrameworkEnvs
from local_sagemaker.cloud.compute.model_server import InstanceFailed, InstanceSpec, ModelServer, stop_all
from local_sagemaker.cloud.platform.aws_clients import LocalAws
from local_sagemaker.cloud.platform.errors import AwsError
from local_sagemaker.cloud.platform.resource import ModelLookup
from local_sagemaker.cloud.platform.s3 import split_s3_uri
from local_sagemaker.cloud.platform.shutdown_stops import ShutdownStops
from local_sagemaker.cloud.resources.batch import data_processing as dp
from local_sagemaker.cloud.resources.batch.data_log import DataLog
from local_sagemaker.cloud.resources.batch.record import TransformJobRecord

LOG_GROUP = "/aws/sagemaker/TransformJobs"
MB = 1024 * 1024
# The batch platform's HTTP client, as the container's access lines on AWS show it.
USER_AGENT = "Go-http-client/1.1"
# BatchStrategy when CreateTransformJob leaves it out. AWS's API reference states no default; AWS's own data log
# does: a job of a custom container without /execution-parameters, created with SplitType Line and no strategy,
# logged "MaxConcurrentTransforms=1, MaxPayloadInMB=6, BatchStrategy=MULTI_RECORD" (amazon-sagemaker-examples,
# archived/inference_pipeline_custom_containers, saved output), and DescribeTransformJob then shows no
# BatchStrategy (the record echoes the request's only).
DEFAULT_STRATEGY = "MultiRecord"


class JobFailed(Exception):
    """The job's FailureReason."""


@dataclass
class InstanceWithLog:
    """One transform instance and the platform's data log beside it."""

    server: ModelServer
    data_log: DataLog


class TransformRunner:
    """One thread per job: starts its instances, hands each its share of the input objects, ends the job."""

    def __init__(self, root: Path, aws: LocalAws, describe_model: ModelLookup, frameworks: FrameworkEnvs) -> None:
        """``describe_model``: the hosting service's DescribeModel (the model may be deleted meanwhile)."""
        self.root, self.aws, self.describe_model, self.frameworks = root, aws, describe_model, frameworks
        shutil.rmtree(root, ignore_errors=True)  # folders of jobs a cloud killed by SIGKILL left behind
        self._threads: list[threading.Thread] = []
        self._shutdown_stops = ShutdownStops()

    def start(self, job: TransformJobRecord) -> None:
        thread = threading.Thread(target=self._run, args=(job,), name=f"transform:{job.name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def shutdown(self, jobs: list[TransformJobRecord]) -> None:
        self._shutdown_stops.stop(jobs)
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, job: TransformJobRecord) -> None:
        job.mark_started()
        region = job.region
        servers: list[ModelServer] = []
        instances: list[InstanceWithLog] = []
        try:
            servers = self._servers(job, region)
            with ThreadPoolExecutor(max_workers=len(servers)) as pool:
                list(pool.map(ModelServer.start, servers))
            logs = self.aws.client("logs", region)
            instances = [InstanceWithLog(server, DataLog(logs, LOG_GROUP, server.log_stream)) for server in servers]
            objects = self._input_objects(job, region)
            # SageMaker hands whole objects to instances; one object is never split across two.
            shares = [objects[i :: len(instances)] for i in range(len(instances))]

            def work(instance: InstanceWithLog, keys: list[str]) -> None:
                try:
                    self._process(job, region, instance, keys)
                except Exception:
                    job.stop_requested.set()  # the other instances stop at their next object
                    raise

            with ThreadPoolExecutor(max_workers=len(instances)) as pool:
                list(pool.map(work, instances, shares))
            # DescribeTransformJob has no member but FailureReason to say why a job ended: a job the cloud's stop
            # stopped carries it (a job its user stopped carries none).
            stopped = job.stop_requested.is_set()
            outcome: tuple[str, str | None] = (
                ("Stopped", self._shutdown_stops.reason(job)) if stopped else ("Completed", None)
            )
        except (JobFailed, InstanceFailed) as error:
            job.stop_requested.set()
            outcome = ("Failed", str(error)[:1024])
        except Exception as error:  # a fault of the local cloud must not leave a job InProgress
            outcome = ("Failed", f"InternalServerError: local cloud: {error!r}")
        finally:
            stop_all(servers)  # flushes each instance's log before the job reports its end
            for instance in instances:
                instance.data_log.close()
        job.finish(*outcome)

    def _servers(self, job: TransformJobRecord, region: str) -> list[ModelServer]:
        try:
            model = self.describe_model(job.request["ModelName"], region)
        except AwsError as error:  # deleted since the job was created
            raise JobFailed(f"ClientError: {error.message}") from error
        container = dict(model["PrimaryContainer"])
        container["Environment"] = {**container.get("Environment", {}), **job.request.get("Environment", {})}
        count = int(job.request.get("TransformResources", {}).get("InstanceCount", 1))
        servers = []
        for _ in range(count):
            instance = f"i-{uuid.uuid4().hex[:17]}"
            spec = InstanceSpec(
                root=self.root / job.name / instance,
                container=container,
                region=region,
                log_group=LOG_GROUP,
                log_stream=f"{job.name}/{instance}-{int(time.time())}",
                user_agent=USER_AGENT,
                isolated=bool(model.get("EnableNetworkIsolation")),
            )
            servers.append(ModelServer(spec, self.aws, self.frameworks))
        return servers

    def _input_objects(self, job: TransformJobRecord, region: str) -> list[str]:
        uri = job.request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        bucket, prefix = split_s3_uri(uri)
        s3 = self.aws.client("s3", region)
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        try:
            keys = sorted(
                item["Key"] for page in pages for item in page.get("Contents", []) if not item["Key"].endswith("/")
            )
        except s3.exceptions.NoSuchBucket:
            keys = []
        if not keys:
            raise JobFailed(f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source.')
        return keys

    def _process(self, job: TransformJobRecord, region: str, instance: InstanceWithLog, keys: list[str]) -> None:
        request = job.request
        transform_input = request["TransformInput"]
        bucket, prefix = split_s3_uri(transform_input["DataSource"]["S3DataSource"]["S3Uri"])
        bucket_out, prefix_out = split_s3_uri(request["TransformOutput"]["S3OutputPath"].rstrip("/"))
        s3 = self.aws.client("s3", region)
        concurrency = request.get("MaxConcurrentTransforms") or _execution_parameter(
            instance.server, "MaxConcurrentTransforms", 1
        )
        instance.data_log.parameters(
            concurrency, request.get("MaxPayloadInMB", 6), request.get("BatchStrategy", DEFAULT_STRATEGY)
        )
        for key in keys:
            if job.stop_requested.is_set():
                return
            relative = Path(key).name if key == prefix else key[len(prefix) :].lstrip("/")
            if posixpath.normpath(relative).split("/")[0] == "..":
                raise JobFailed(
                    f'ClientError: S3 object key "{key}" would give an output key outside the output path '
                    f"s3://{bucket_out}/{prefix_out}; keys may not use '..'."
                )
            out_key = f"{prefix_out}/{relative}.out" if prefix_out else f"{relative}.out"
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except (ClientError, BotoCoreError) as error:
                raise JobFailed(f'ClientError: Could not read input object "s3://{bucket}/{key}": {error}') from error
            output = self._transform_object(request, instance, (bucket, key), body, concurrency)
            try:
                s3.put_object(Bucket=bucket_out, Key=out_key, Body=output)
            except (ClientError, BotoCoreError) as error:
                raise JobFailed(
                    f'ClientError: Could not upload the output of "s3://{bucket}/{key}" to '
                    f'"s3://{bucket_out}/{out_key}": {error}'
                ) from error

    def _transform_object(
        self, request: dict[str, Any], instance: InstanceWithLog, source: tuple[str, str], body: bytes, concurrency: int
    ) -> bytes:
        """The object's output: the container's answers as they came, or one line per record (filters, join)."""
        uri = f"s3://{source[0]}/{source[1]}"
        transform_input = request["TransformInput"]
        content_type = transform_input.get("ContentType", "application/json")
        accept = request["TransformOutput"].get("Accept", "application/json")
        processing = request.get("DataProcessing", {})
        joining = processing.get("JoinSource", "None") == "Input"
        per_record = (
            joining
            or processing.get("OutputFilter", "$") != "$"
            or request["TransformOutput"].get("AssembleWith") == "Line"
        )
        records = dp.split(body, transform_input.get("SplitType", "None"))
        parsed, payloads = [], []
        for index, record in enumerate(records):
            try:
                value = dp.parse_record(record, content_type) if processing else record
                parsed.append(value)
                selected = dp.select(processing.get("InputFilter"), value, content_type) if processing else value
                payloads.append(dp.serialize(selected, content_type).encode() if processing else record)
            except dp.RecordError as error:
                raise JobFailed(f"ClientError: record {index + 1} of {uri}: {error}") from error
        batches = self._batches(request, payloads, uri)
        with ThreadPoolExecutor(max_workers=max(1, int(concurrency))) as pool:
            answers = list(pool.map(lambda batch: _invoke(instance, batch, content_type, accept, source), batches))
        if not per_record:
            return b"".join(content for content, _ in answers)
        outputs: list[Any] = []
        for (content, batch), first in zip(answers, _starts(batches), strict=True):
            try:
                outputs += dp.split_response(content.decode("utf-8", errors="replace"), accept, len(batch))
            except dp.RecordError as error:
                raise JobFailed(f"ClientError: records {first + 1}-{first + len(batch)} of {uri}: {error}") from error
        lines = []
        output_type = dp.CSV if accept == dp.CSV else "application/json"
        for index, output in enumerate(outputs):
            value = dp.join(parsed[index], output, content_type) if joining else output
            try:
                value = dp.select(processing.get("OutputFilter"), value, content_type if joining else output_type)
            except dp.RecordError as error:
                raise JobFailed(f"ClientError: record {index + 1} of {uri}: {error}") from error
            lines.append(dp.serialize(value, content_type if joining else output_type))
        return ("\n".join(lines) + "\n").encode()

    @staticmethod
    def _batches(request: dict[str, Any], payloads: list[bytes], uri: str) -> list[list[bytes]]:
        limit = request.get("MaxPayloadInMB", 6) * MB or float("inf")
        multi = request.get("BatchStrategy", DEFAULT_STRATEGY) == "MultiRecord"
        batches: list[list[bytes]] = []
        size = 0
        for index, payload in enumerate(payloads):
            length = len(payload) + 1
            if length > limit:
                raise JobFailed(
                    f"ClientError: record {index + 1} of {uri} is {length} bytes, larger than MaxPayloadInMB "
                    f"({request.get('MaxPayloadInMB', 6)} MB). Raise MaxPayloadInMB or split the record."
                )
            if multi and batches and size + length <= limit:
                batches[-1].append(payload)
                size += length
            else:
                batches.append([payload])
                size = length
        return batches


def _starts(batches: list[list[bytes]]) -> list[int]:
    starts, total = [], 0
    for batch in batches:
        starts.append(total)
        total += len(batch)
    return starts


def _invoke(
    instance: InstanceWithLog, batch: list[bytes], content_type: str, accept: str, source: tuple[str, str]
) -> tuple[bytes, list[bytes]]:
    uri = f"s3://{source[0]}/{source[1]}"
    headers = {"Content-Type": content_type, "Accept": accept}
    try:
        answer = instance.server.client.request("POST", "/invocations", b"\n".join(batch), headers, timeout=600)
    except (ContainerUnreachable, ContainerDropped) as error:
        instance.data_log.no_response(*source)
        raise JobFailed(f"ClientError: the model server dropped a request for {uri}: {error}") from error
    if answer.status != 200:
        text = answer.body.decode("utf-8", errors="replace")
        instance.data_log.bad_status(*source, answer.status, text)
        first = batch[0][:80].decode("utf-8", errors="replace")
        raise JobFailed(
            f"ClientError: The model rejected a request for {uri} (records starting {first!r}) with status "
            f"{answer.status}: {text[:300]}. See the instance's log stream in {LOG_GROUP}."
        )
    return answer.body, batch


def _execution_parameter(server: ModelServer, name: str, default: int) -> int:
    try:
        answer = server.client.request("GET", "/execution-parameters", timeout=10)
        return int(json.loads(answer.body).get(name, default)) if answer.status == 200 else default
    except (ContainerUnreachable, ContainerDropped, ValueError, AttributeError):  # AttributeError: not a JSON object
        return default
