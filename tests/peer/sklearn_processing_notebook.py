"""Run a public SageMaker example notebook that uses SKLearnProcessor against the local cloud, and say how far it got.

    python tests/peer/sklearn_processing_notebook.py [EXAMPLES_CHECKOUT] [--keep DIR]

EXAMPLES_CHECKOUT: a checkout of https://github.com/aws/amazon-sagemaker-examples (cloned shallowly into a
temporary folder when left out; that needs the network). The notebook is
``archived/scikit_learn_data_processing_and_model_evaluation/scikit_learn_data_processing_and_model_evaluation.ipynb``
("Amazon SageMaker Processing jobs with scikit-learn": preprocess census data with SKLearnProcessor, train a
logistic regression with the SKLearn estimator, evaluate it in a second processing job, then FrameworkProcessor
and a ScriptProcessor on an image built with docker).

Two changes, nothing else: a first cell ``local_sagemaker.connect()``, and the census data. The notebook reads
``s3://sagemaker-sample-data-{region}/processing/census/census-income.csv``, a public AWS bucket the local cloud
cannot reach; this script puts a small synthetic CSV at that key in the local cloud's S3 (same header as the
KDD census-income data, random rows). The notebook's cells run unchanged, in a copy of its folder, on a kernel
of an overlay environment: this venv's packages, plus whatever the notebook's own ``%pip install`` adds (its
``--upgrade s3fs`` would otherwise replace this venv's botocore). The executed notebook is written to --keep DIR
(default: a temporary folder, removed).

Prints: code cells executed / total, and the first failing cell with its error. Exit status 0 when every cell ran.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import boto3
import nbformat
import numpy as np
from maze_local_cloud import own_bucket  # this folder, the script's own (sys.path[0])
from notebook_runs import execute_and_report, main

import local_sagemaker

NOTEBOOK = Path(
    "archived/scikit_learn_data_processing_and_model_evaluation/scikit_learn_data_processing_and_model_evaluation.ipynb"
)
NOTEBOOK_VERSION = "0.20.0"  # the scikit-learn framework version the notebook names
CONNECT_CELL = "import local_sagemaker\n\nlocal_sagemaker.connect()"
DATA_KEY = "processing/census/census-income.csv"
ROWS = 400
CELL_TIMEOUT = 1800
# The KDD census-income header (UCI census-income.names), the columns of the notebook's source file.
COLUMNS = (
    "age", "class of worker", "detailed industry recode", "detailed occupation recode", "education",
    "wage per hour", "enroll in edu inst last wk", "marital stat", "major industry code", "major occupation code",
    "race", "hispanic origin", "sex", "member of a labor union", "reason for unemployment",
    "full or part time employment stat", "capital gains", "capital losses", "dividends from stocks",
    "tax filer stat", "region of previous residence", "state of previous residence",
    "detailed household and family stat", "detailed household summary in household", "instance weight",
    "migration code-change in msa", "migration code-change in reg", "migration code-move within reg",
    "live in this house 1 year ago", "migration prev res in sunbelt", "num persons worked for employer",
    "family members under 18", "country of birth father", "country of birth mother", "country of birth self",
    "citizenship", "own business or self employed", "fill inc questionnaire for veteran's admin",
    "veterans benefits", "weeks worked in year", "year", "income",
)  # fmt: skip
# Values as the raw file writes them (a leading space); the categories the notebook one-hot encodes.
CATEGORIES = {
    "class of worker": (" Not in universe", " Private", " Self-employed-not incorporated", " Local government"),
    "education": (" Children", " High school graduate", " Some college but no degree", " Bachelors degree(BA AB BS)"),
    "major industry code": (" Not in universe or children", " Retail trade", " Manufacturing-durable goods",
                            " Education"),
    "income": (" - 50000.", " 50000+."),
}  # fmt: skip
NUMERIC = {
    "age": (0, 90),
    "num persons worked for employer": (0, 6),
    "capital gains": (0, 5000),
    "capital losses": (0, 2000),
    "dividends from stocks": (0, 3000),
}


def synthetic_census(rows: int = ROWS, seed: int = 0) -> str:
    """A CSV with census-income's header: the notebook's columns filled plausibly, the others with a placeholder."""
    rng = np.random.default_rng(seed)
    values: dict[str, list[str]] = {}
    for column in COLUMNS:
        if column in CATEGORIES:
            values[column] = list(rng.choice(CATEGORIES[column], size=rows))
        elif column in NUMERIC:
            low, high = NUMERIC[column]
            values[column] = [str(v) for v in rng.integers(low, high, size=rows)]
        else:
            values[column] = [" Not in universe"] * rows
    lines = [",".join(COLUMNS)] + [",".join(values[c][i] for c in COLUMNS) for i in range(rows)]
    return "\n".join(lines) + "\n"


def stage_data() -> str:
    """The census CSV at the key the notebook reads, in the local cloud's S3; the bucket's name."""
    local_sagemaker.connect()
    bucket = f"sagemaker-sample-data-{boto3.session.Session().region_name}"
    own_bucket(bucket)
    boto3.client("s3").put_object(Bucket=bucket, Key=DATA_KEY, Body=synthetic_census().encode())
    return bucket


def overlay_kernel(folder: Path) -> str:
    """A kernel on a venv that sees this one's packages but installs into its own; its kernelspec's name."""
    env = folder / "overlay"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    purelib = subprocess.run(
        [str(env / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # After the overlay's own site-packages, so what the notebook installs comes first; addsitedir, so the
    # project venv's own .pth files (its editable install) count too.
    project = sysconfig.get_paths()["purelib"]
    Path(purelib, "zz_project_venv.pth").write_text(f"import site; site.addsitedir({project!r})\n")
    spec = folder / "jupyter/kernels/peer-overlay"
    spec.mkdir(parents=True)
    argv = [str(env / "bin/python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "peer overlay", "language": "python"}))
    paths = [str(folder / "jupyter"), os.environ.get("JUPYTER_PATH")]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, paths))
    return "peer-overlay"


def run(checkout: Path, keep: Path | None, framework_version: str | None = None) -> int:
    source = checkout / NOTEBOOK
    with tempfile.TemporaryDirectory(prefix="peer-notebook-") as scratch:
        work = keep or Path(scratch)
        shutil.copytree(source.parent, work / "notebook", dirs_exist_ok=True)
        nb = nbformat.read(work / "notebook" / source.name, as_version=4)
        nb.cells.insert(0, nbformat.v4.new_code_cell(CONNECT_CELL))
        if framework_version:
            for cell in nb.cells:
                cell.source = cell.source.replace(f'"{NOTEBOOK_VERSION}"', f'"{framework_version}"')
        bucket = stage_data()
        print(f"Staged a synthetic census-income.csv ({ROWS} rows) at s3://{bucket}/{DATA_KEY} in the local cloud.")
        return execute_and_report(nb, overlay_kernel(Path(scratch)), work / "notebook" / source.name, CELL_TIMEOUT)


if __name__ == "__main__":
    sys.exit(main(run, __doc__, NOTEBOOK_VERSION))
