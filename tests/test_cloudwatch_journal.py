"""The CloudWatch Logs and CloudWatch writes moto accepted come back identical after a replay into a fresh moto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto.backends import get_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from local_sagemaker.cloud.platform.cloudwatch_journal import CloudWatchJournal, action_of

ACCOUNT = "123456789012"


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[CloudWatchJournal, DomainDispatcherApplication, str]]:
    """moto behind the journal's middleware, on a loopback port."""
    moto = DomainDispatcherApplication(create_backend_app)
    journal = CloudWatchJournal(tmp_path / "cloudwatch.sqlite3")
    apps = {service: journal.middleware(moto, service) for service in ("logs", "monitoring")}

    def route(environ, start_response):
        scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=")[-1].split("/")
        return apps.get(scope[3] if len(scope) > 3 else "", moto)(environ, start_response)

    server = make_server("127.0.0.1", 0, route, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield journal, moto, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    journal.close()


def client(service: str, endpoint: str):
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIAJOURNAL",
        aws_secret_access_key="secret",
    )  # fmt: skip


def fresh_moto() -> None:
    for name in ("logs", "cloudwatch"):
        for backend in get_backend(name)[ACCOUNT].values():
            backend.reset()


def test_log_events_and_metrics_come_back_with_their_timestamps(served) -> None:
    journal, moto, endpoint = served
    logs, cloudwatch = client("logs", endpoint), client("cloudwatch", endpoint)
    group, stream = "/aws/sagemaker/TrainingJobs", "job-journal/algo-1-1"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    stamp = int(datetime.now(UTC).timestamp() * 1000)
    logs.put_log_events(
        logGroupName=group, logStreamName=stream,
        logEvents=[{"timestamp": stamp + i, "message": f"line {i}"} for i in range(3)],
    )  # fmt: skip
    cloudwatch.put_metric_data(
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricData=[{"MetricName": "f1", "Value": 0.96, "Dimensions": [{"Name": "Host", "Value": "h"}]}],
    )  # with no Timestamp: moto stamps it on arrival
    logs.describe_log_groups()  # a read: not journaled

    def read() -> tuple[list, list]:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
        points = cloudwatch.get_metric_statistics(
            Namespace="/aws/sagemaker/TrainingJobs", MetricName="f1", Dimensions=[{"Name": "Host", "Value": "h"}],
            StartTime=datetime.now(UTC) - timedelta(hours=1), EndTime=datetime.now(UTC) + timedelta(hours=1),
            Period=60, Statistics=["Maximum", "SampleCount"],
        )["Datapoints"]  # fmt: skip
        return events, points

    before = read()
    assert len(before[0]) == 3 and before[1][0]["Maximum"] == 0.96
    fresh_moto()
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        read()
    assert journal.replay(moto) == 4, "group, stream, events, metric: the reads are not journaled"
    assert read() == before, "same events (ingestionTime included) and the datum in the same minute"
    assert journal.replay(moto) == 4, "a replay is not journaled again"


def test_a_refused_write_is_not_journaled(served) -> None:
    journal, moto, endpoint = served
    logs = client("logs", endpoint)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.create_log_stream(logGroupName="/no/such/group", logStreamName="s")
    assert journal.replay(moto) == 0


@pytest.mark.parametrize(
    ("environ", "body", "action"),
    [
        ({"HTTP_X_AMZ_TARGET": "Logs_20140328.PutLogEvents"}, b"{}", "PutLogEvents"),
        ({"PATH_INFO": "/service/GraniteServiceVersion20100801/operation/PutMetricData"}, b"", "PutMetricData"),
        ({"PATH_INFO": "/"}, b"Action=PutMetricData&Version=2010-08-01", "PutMetricData"),
    ],
)
def test_the_action_is_read_in_every_protocol(environ, body, action) -> None:
    assert action_of(environ, body) == action
