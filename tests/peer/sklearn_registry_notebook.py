"""Run the public SageMaker example notebook of the Model Registry with batch transform against the local cloud, and
say how far it got.

    python tests/peer/sklearn_registry_notebook.py [EXAMPLES_CHECKOUT] [--keep DIR] [--without-search]

EXAMPLES_CHECKOUT: a checkout of https://github.com/aws/amazon-sagemaker-examples (cloned shallowly into a
temporary folder when left out; that needs the network). The notebook is
``archived/scikit_learn_model_registry_batch_transform.ipynb`` ("Develop, Train, Register and Batch Transform
Scikit-Learn Random Forest": two SKLearn training jobs on the California housing data, a model package group,
each model registered as an approved version, a batch transform job from each version, the versions listed and
described).

Changes: a first cell ``local_sagemaker.connect()``; the data (the notebook downloads ``cal_housing.tgz`` from
AWS's public ``sagemaker-example-files-prod-{region}`` bucket, which the local cloud cannot reach: this script
puts a synthetic archive of the same layout, ``CaliforniaHousing/cal_housing.data`` with the nine columns, at that
key in the local cloud's S3); and the notebook's two ``pip install`` cells are skipped: ``pip install -U
sagemaker`` moves the kernel to SDK v3, which no longer has ``sagemaker.sklearn`` (the notebook then stops at its
imports, on AWS too), and ``scikit-learn==1.2-1`` is no version pip knows. The executed notebook is written to
--keep DIR (default: a temporary folder, removed).

``--without-search`` makes a fourth change, to compare: ``estimator.register(...)`` looks up the estimator's
training job with SageMaker ``Search`` (to fill a model card); ``estimator.create_model().register(...)`` registers
the same model and container without that look-up (and without the card).

Prints: code cells executed / total, and the first failing cell with its error. Exit status 0 when every cell ran.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import boto3
import nbformat
import numpy as np
from maze_local_cloud import own_bucket  # this folder, the script's own (sys.path[0])
from notebook_runs import execute_and_report

import local_sagemaker

NOTEBOOK = Path("archived/scikit_learn_model_registry_batch_transform.ipynb")
CONNECT_CELL = "import local_sagemaker\n\nlocal_sagemaker.connect()"
DATA_KEY = "datasets/tabular/california_housing/cal_housing.tgz"
ROWS = 2000
CELL_TIMEOUT = 1800


def synthetic_housing(rows: int = ROWS, seed: int = 0) -> bytes:
    """cal_housing.tgz's layout: CaliforniaHousing/cal_housing.data, nine numeric columns without a header (the
    notebook names them), the house value a noisy function of the others."""
    rng = np.random.default_rng(seed)
    longitude, latitude = rng.uniform(-124.3, -114.3, rows), rng.uniform(32.5, 42.0, rows)
    age, rooms = rng.integers(1, 52, rows), rng.integers(100, 6000, rows)
    bedrooms, population = rooms // rng.integers(4, 7, rows), rng.integers(50, 4000, rows)
    households, income = population // rng.integers(2, 4, rows), rng.uniform(0.5, 15.0, rows)
    value = np.clip(40000 * income + 1000 * age + rng.normal(0, 20000, rows), 15000, 500001)
    columns = (longitude, latitude, age, rooms, bedrooms, population, households, income, value)
    text = "\n".join(",".join(f"{c[i]:.4f}" for c in columns) for i in range(rows)) + "\n"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("CaliforniaHousing/cal_housing.data")
        info.size = len(text.encode())
        tar.addfile(info, io.BytesIO(text.encode()))
    return archive.getvalue()


def stage_data() -> str:
    """The archive at the key the notebook downloads, in the local cloud's S3; the bucket's name."""
    local_sagemaker.connect()
    bucket = f"sagemaker-example-files-prod-{boto3.session.Session().region_name}"
    own_bucket(bucket)
    boto3.client("s3").put_object(Bucket=bucket, Key=DATA_KEY, Body=synthetic_housing())
    return bucket


def run(checkout: Path, keep: Path | None, without_search: bool = False) -> int:
    source = checkout / NOTEBOOK
    with tempfile.TemporaryDirectory(prefix="peer-notebook-") as scratch:
        work = keep or Path(scratch)
        (work / "notebook").mkdir(parents=True, exist_ok=True)
        shutil.copy(source, work / "notebook" / source.name)
        nb = nbformat.read(work / "notebook" / source.name, as_version=4)
        skipped = [c for c in nb.cells if c.cell_type == "code" and "pip install" in c.source]
        nb.cells = [c for c in nb.cells if c not in skipped]
        nb.cells.insert(0, nbformat.v4.new_code_cell(CONNECT_CELL))
        if without_search:
            for cell in nb.cells:
                for n in (1, 2):
                    cell.source = cell.source.replace(
                        f"sklearn_estimator_{n}.register(", f"sklearn_estimator_{n}.create_model().register("
                    )
        bucket = stage_data()
        print(f"Staged a synthetic cal_housing.tgz ({ROWS} rows) at s3://{bucket}/{DATA_KEY} in the local cloud.")
        print(f"Skipped the notebook's {len(skipped)} pip install cells.")
        return execute_and_report(nb, "python3", work / "notebook" / source.name, CELL_TIMEOUT)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", nargs="?", type=Path, help="a checkout of aws/amazon-sagemaker-examples")
    parser.add_argument("--keep", type=Path, help="write the copied and executed notebook here")
    parser.add_argument(
        "--without-search", action="store_true", help="register through create_model().register(): no Search"
    )
    args = parser.parse_args()
    keep = args.keep.resolve() if args.keep else None
    if args.checkout:
        sys.exit(run(args.checkout.resolve(), keep, args.without_search))
    with tempfile.TemporaryDirectory(prefix="amazon-sagemaker-examples-") as folder:
        url = "https://github.com/aws/amazon-sagemaker-examples"
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", url, folder], check=True)
        sys.exit(run(Path(folder), keep, args.without_search))
