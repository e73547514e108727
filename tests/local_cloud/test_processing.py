"""SageMaker Processing on the local cloud: the container's contract (literal /opt/ml paths, sharded inputs,
outputs, config files, ExitMessage), stop, restart, and the SDK's processors unchanged."""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import textwrap
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_sagemaker.cloud.compute import opt_ml_view as opt_ml_view_module
from local_sagemaker.cloud.compute.opt_ml_view import opt_ml_view
from local_sagemaker.kernel import launcher
from testing import training_jobs as training
from testing.training_jobs import BUCKET, IMAGE, ROLE, unique
from tests.local_cloud.processes import cloud_of_its_own
from tests.local_cloud.test_connect import after_connect, run_python

pytestmark = pytest.mark.skipif(
    not opt_ml_view().available, reason=f"no mount namespace for /opt/ml here: {opt_ml_view().why}"
)
TERMINAL = ("Completed", "Failed", "Stopped")
CODE = "/opt/ml/processing/input/code"
GROUP = "/aws/sagemaker/ProcessingJobs"


def s3_input(name: str, uri: str, local: str, distribution: str = "FullyReplicated") -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {"S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix", "S3InputMode": "File",
                    "S3DataDistributionType": distribution},
    }  # fmt: skip


def create(
    sm: Any, s3: Any, script: str, *, count: int = 1, inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None, name: str | None = None, max_runtime: int = 600,
    isolated: bool = False,
) -> str:  # fmt: skip
    """A processing job running ``script`` as the SDK's ScriptProcessor sends it: the code as input ``code``."""
    name = name or unique("proc")
    s3.put_object(Bucket=BUCKET, Key=f"{name}/code/script.py", Body=textwrap.dedent(script).encode())
    optional = {"ProcessingOutputConfig": {"Outputs": outputs}} if outputs else {}
    if isolated:
        optional["NetworkConfig"] = {"EnableNetworkIsolation": True}
    sm.create_processing_job(
        ProcessingJobName=name,
        ProcessingInputs=[s3_input("code", f"s3://{BUCKET}/{name}/code/script.py", CODE), *(inputs or [])],
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": count, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}
        },
        StoppingCondition={"MaxRuntimeInSeconds": max_runtime},
        AppSpecification={"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", f"{CODE}/script.py"]},
        RoleArn=ROLE,
        **optional,
    )
    return name


def wait(sm: Any, name: str, timeout: float = 180, started: bool = False) -> dict[str, Any]:
    """The job's description once it ended (or, with ``started``, once its containers run)."""
    deadline = time.monotonic() + timeout
    while True:
        description = sm.describe_processing_job(ProcessingJobName=name)
        if description["ProcessingJobStatus"] in TERMINAL or (started and "ProcessingStartTime" in description):
            return description
        assert time.monotonic() < deadline, f"{name} still {description['ProcessingJobStatus']} after {timeout} s"
        time.sleep(0.1)


def log_streams(logs: Any, name: str) -> dict[str, list[str]]:
    streams = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    return {
        stream["logStreamName"]: [
            event["message"]
            for event in logs.get_log_events(
                logGroupName=GROUP, logStreamName=stream["logStreamName"], startFromHead=True
            )["events"]
        ]
        for stream in streams
    }


SHARD_SCRIPT = """
    import json, os
    config = json.load(open("/opt/ml/config/resourceconfig.json"))
    job = json.load(open("/opt/ml/config/processingjobconfig.json"))
    seen = sorted(os.listdir("/opt/ml/processing/input/data"))
    shared = open("/opt/ml/processing/input/shared/labels.txt").read()
    with open(f"/opt/ml/processing/output/report/{config['current_host']}.json", "w") as out:
        json.dump({"config": config, "job": job["ProcessingJobName"], "seen": seen, "shared": shared}, out)
    print(f"{config['current_host']} saw {seen}")
"""


def test_two_instances_each_see_their_own_shard_under_the_literal_paths(sm, s3, logs) -> None:
    name = unique("sharded")
    for index in range(5):
        s3.put_object(Bucket=BUCKET, Key=f"{name}/data/part-{index}.csv", Body=f"{index}\n".encode())
    s3.put_object(Bucket=BUCKET, Key=f"{name}/shared/labels.txt", Body=b"a,b")
    inputs = [
        s3_input("data", f"s3://{BUCKET}/{name}/data", "/opt/ml/processing/input/data", "ShardedByS3Key"),
        s3_input("shared", f"s3://{BUCKET}/{name}/shared/", "/opt/ml/processing/input/shared"),
    ]
    outputs = [
        {"OutputName": "report", "S3Output": {"S3Uri": f"s3://{BUCKET}/{name}/report",
                                              "LocalPath": "/opt/ml/processing/output/report",
                                              "S3UploadMode": "EndOfJob"}},
    ]  # fmt: skip
    create(sm, s3, SHARD_SCRIPT, count=2, inputs=inputs, outputs=outputs, name=name)
    done = wait(sm, name)
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    assert done["ProcessingStartTime"] <= done["ProcessingEndTime"]
    assert done["ProcessingInputs"][1]["S3Input"]["S3DataDistributionType"] == "ShardedByS3Key"
    reports = {
        host: json.loads(s3.get_object(Bucket=BUCKET, Key=f"{name}/report/{host}.json")["Body"].read())
        for host in ("algo-1", "algo-2")
    }
    assert reports["algo-1"]["seen"] == ["part-0.csv", "part-2.csv", "part-4.csv"]
    assert reports["algo-2"]["seen"] == ["part-1.csv", "part-3.csv"]
    for host, report in reports.items():
        assert report["config"] == {"current_host": host, "hosts": ["algo-1", "algo-2"]}
        assert (report["job"], report["shared"]) == (name, "a,b")
    streams = log_streams(logs, name)
    assert sorted(stream.rsplit("-", 1)[0] for stream in streams) == [f"{name}/algo-1", f"{name}/algo-2"]
    for stream, lines in streams.items():
        host = stream.split("/")[1].rsplit("-", 1)[0]
        assert f"{host} saw {reports[host]['seen']}" in lines


def test_a_failing_container_fails_the_job_with_its_exit_message(sm, s3) -> None:
    script = """
        import sys
        with open("/opt/ml/output/message", "w") as message:
            message.write("column 'price' is missing ✗")
        sys.exit(3)
    """
    name = create(sm, s3, script)
    done = wait(sm, name)
    assert done["ProcessingJobStatus"] == "Failed"
    assert done["FailureReason"] == "AlgorithmError: See job logs for more information"
    assert done["ExitMessage"] == "column 'price' is missing ✗"
    [summary] = sm.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
    assert (summary["ProcessingJobStatus"], summary["ExitMessage"]) == ("Failed", done["ExitMessage"])


def test_a_stopped_job_ends_stopped_and_cannot_be_stopped_again(sm, s3, logs) -> None:
    name = create(sm, s3, 'import time\nprint("waiting", flush=True)\ntime.sleep(600)\n')
    wait(sm, name, started=True)
    sm.stop_processing_job(ProcessingJobName=name)
    assert sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] in ("Stopping", "Stopped")
    done = wait(sm, name, timeout=60)
    assert done["ProcessingJobStatus"] == "Stopped" and "FailureReason" not in done
    with pytest.raises(ClientError, match="the processing job is in status Stopped"):
        sm.stop_processing_job(ProcessingJobName=name)
    [lines] = log_streams(logs, name).values()
    assert lines[-1] == "Stopping the processing job (requested)"


def test_a_job_running_when_its_cloud_is_killed_is_failed_with_the_reason_after_the_restart(tmp_path) -> None:
    """The running job ends Failed, saying why; a finished one and its tags come back as they were."""
    info, sm, s3 = cloud_of_its_own(tmp_path)
    state = info.state_dir
    try:
        empty = s3_input("data", f"s3://{BUCKET}/{unique('nothing')}/", "/opt/ml/processing/input/data")
        done = create(sm, s3, "pass\n", inputs=[empty])
        finished = {key: value for key, value in wait(sm, done).items() if key != "ResponseMetadata"}
        tags = [{"Key": "maze-team", "Value": "durable"}]
        sm.add_tags(ResourceArn=finished["ProcessingJobArn"], Tags=tags)
        name = create(sm, s3, "import time\ntime.sleep(600)\n")
        wait(sm, name, started=True)
        os.kill(info.pid, signal.SIGKILL)
        info, started = launcher.find_or_start(state, idle_seconds=None)
        assert started
        sm = info.client("sagemaker")
        failed = sm.describe_processing_job(ProcessingJobName=name)
        assert failed["ProcessingJobStatus"] == "Failed"
        assert failed["FailureReason"].startswith("InternalServerError: the local cloud stopped while the job ran")
        assert "ProcessingEndTime" in failed
        again = sm.describe_processing_job(ProcessingJobName=done)
        assert {key: value for key, value in again.items() if key != "ResponseMetadata"} == finished
        assert sm.list_tags(ResourceArn=finished["ProcessingJobArn"])["Tags"] == tags
        listed = sm.list_processing_jobs(NameContains="proc")["ProcessingJobSummaries"]
        assert [job["ProcessingJobName"] for job in listed] == [done, name], "CreationTime, Ascending"
    finally:
        launcher.stop(state)


def test_an_input_with_no_objects_fails_the_job_naming_the_uri(sm, s3) -> None:
    missing = f"s3://{BUCKET}/{unique('nothing')}/here"
    name = create(sm, s3, "pass\n", inputs=[s3_input("data", missing, "/opt/ml/processing/input/data")])
    done = wait(sm, name)
    assert done["ProcessingJobStatus"] == "Failed"
    assert done["FailureReason"].startswith(f'ClientError: No S3 objects found under S3 URL "{missing}"')
    assert "ProcessingStartTime" not in done, "the containers never started"


REACH_SCRIPT = """
    import os, socket, urllib.parse
    address = urllib.parse.urlsplit(os.environ["AWS_ENDPOINT_URL"])
    try:
        socket.create_connection((address.hostname, address.port), timeout=10).close()
        print("cloud endpoint: connected")
    except OSError as error:
        print(f"cloud endpoint: failed ({type(error).__name__})")
"""


@pytest.mark.parametrize(("isolated", "expected"), [(True, "failed (ConnectionRefusedError)"), (False, "connected")])
def test_network_isolation_takes_the_instance_off_the_network(sm, s3, logs, isolated, expected) -> None:
    name = create(sm, s3, REACH_SCRIPT, isolated=isolated)
    assert wait(sm, name)["ProcessingJobStatus"] == "Completed"
    [lines] = log_streams(logs, name).values()
    assert f"cloud endpoint: {expected}" in lines


def test_where_mount_namespaces_are_refused_the_view_says_why(tmp_path) -> None:
    refusing = tmp_path / "unshare"
    refusing.write_text("#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n")
    refusing.chmod(0o755)
    view = opt_ml_view_module._probe(str(refusing))
    assert not view.available
    assert view.why == f"{refusing} --mount --map-root-user failed: unshare: unshare failed: Operation not permitted"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"LocalPath": "/tmp/data"}, "must be an absolute path beginning with /opt/ml/processing/"),
        ({"S3InputMode": "Pipe"}, "S3InputMode 'File' only"),
    ],
)
def test_what_cannot_run_as_on_sagemaker_is_refused_by_name(sm, s3, change, message) -> None:
    request = s3_input("data", f"s3://{BUCKET}/any", "/opt/ml/processing/input/data")
    request["S3Input"].update(change)
    with pytest.raises(ClientError, match=message) as raised:
        create(sm, s3, "pass\n", inputs=[request])
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_describing_an_unknown_job_is_a_validation_error(sm) -> None:
    with pytest.raises(ClientError, match="Could not find requested job with name nope"):
        sm.describe_processing_job(ProcessingJobName="nope")


SDK_PROGRAM = """
    import pathlib, tempfile, local_sagemaker
    local_sagemaker.connect()
    import sagemaker
    from sagemaker.processing import FrameworkProcessor, ProcessingInput, ProcessingOutput
    from sagemaker.sklearn import SKLearn, SKLearnProcessor

    session = sagemaker.Session()
    role = sagemaker.get_execution_role()
    bucket = session.default_bucket()
    data = sagemaker.s3.S3Uploader.upload_string_as_file_body(
        "x,y\\n1,2\\n3,4\\n", f"s3://{bucket}/sdk-processing/data.csv", sagemaker_session=session
    )
    folder = pathlib.Path(tempfile.mkdtemp())
    (folder / "prep.py").write_text(
        "import pandas as pd\\n"
        "frame = pd.read_csv('/opt/ml/processing/input/data.csv')\\n"
        "frame.to_csv('/opt/ml/processing/output/rows.csv', index=False)\\n"
        "print('prepared', len(frame), 'rows')\\n"
    )
    (folder / "helper.py").write_text("GREETING = 'from the source dir'\\n")
    (folder / "framework.py").write_text("import helper\\nprint(helper.GREETING)\\n")
    (folder / "requirements.txt").write_text("pandas\\n")  # satisfied by the framework: runproc.sh's pip runs
    processor = SKLearnProcessor(
        "1.2-1", role=role, instance_type="ml.m5.large", instance_count=1, sagemaker_session=session
    )
    processor.run(
        code=str(folder / "prep.py"),
        inputs=[ProcessingInput(source=data, destination="/opt/ml/processing/input")],
        outputs=[ProcessingOutput(source="/opt/ml/processing/output", output_name="rows")],
        wait=True, logs=True,
    )
    rows = processor.latest_job.describe()["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    print("OUTPUT", sagemaker.s3.S3Downloader.read_file(f"{rows}/rows.csv", sagemaker_session=session).strip())
    framework = FrameworkProcessor(SKLearn, "1.2-1", role=role, instance_type="ml.m5.large", instance_count=1,
                                   sagemaker_session=session)
    framework.run(code="framework.py", source_dir=str(folder), wait=True, logs=True)
"""


@pytest.mark.timeout(600)
def test_the_sdks_processors_run_unchanged_logs_included(cloud) -> None:
    done = run_python(SDK_PROGRAM, {**os.environ}, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    lines = after_connect(done.stdout)
    assert "prepared 2 rows" in lines, "SKLearnProcessor's log, printed by run(logs=True)"
    assert "OUTPUT x,y\n1,2\n3,4" in done.stdout
    assert "from the source dir" in lines, "FrameworkProcessor's log, printed by run(logs=True)"
    assert any(line.startswith("Requirement already satisfied: pandas") for line in lines), "pip in the instance"


def test_a_training_script_that_hard_codes_opt_ml_model_works_as_on_sagemaker(sm, s3) -> None:
    """The same view serves training jobs: a script saving to the literal /opt/ml/model gets its model uploaded."""
    script = 'open("/opt/ml/model/model.txt", "w").write("literal path")\n'
    name = training.submit(sm, s3, script)
    done = training.wait(sm, name)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    body = s3.get_object(Bucket=BUCKET, Key=f"output/{name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        assert archive.extractfile("model.txt").read() == b"literal path"
