"""Run the SageMaker examples' scikit-learn end-to-end notebook against the local cloud, and say how far it got.

    python tests/peer/sklearn_end2end_notebook.py [EXAMPLES_CHECKOUT] [--keep DIR] [--framework-version V]

EXAMPLES_CHECKOUT: a checkout of https://github.com/aws/amazon-sagemaker-examples (cloned shallowly into a
temporary folder when left out; that needs the network). The notebook is ``archived/Sklearn_on_SageMaker_end2end.ipynb``
("Developing, Training, Tuning and Deploying a scikit-learn model on SageMaker"): an SKLearn estimator, the same
training job through boto3, a HyperparameterTuner (10 training jobs, 2 at a time) read back with
``analytics().dataframe()``, then an SKLearnModel deployed to a real-time endpoint, invoked and deleted.

Two changes, nothing else: a first cell ``local_sagemaker.connect()``, and the data: ``fetch_california_housing()``
downloads from a public server; scikit-learn's data cache (``SCIKIT_LEARN_DATA``, set for the kernel) holds a
synthetic California housing set of the same shape instead (a target that depends on the median income, so the
forests learn something). ``--framework-version`` makes a third change: the notebook's ``"0.23-1"`` has no
scikit-learn build for the Python the local cloud runs, and is refused at the first ``fit()``, naming the versions
that run.

Prints: code cells executed / total, and the first failing cell with its error. Exit status 0 when every cell ran.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import joblib
import nbformat
import numpy as np
from notebook_runs import execute_and_report, main  # this folder, the script's own (sys.path[0])

NOTEBOOK = Path("archived/Sklearn_on_SageMaker_end2end.ipynb")
NOTEBOOK_VERSION = "0.23-1"  # the scikit-learn framework version the notebook names
CONNECT_CELL = "import local_sagemaker\n\nlocal_sagemaker.connect()"
ROWS = 2000
CELL_TIMEOUT = 1800


def synthetic_california_housing(data_home: Path, rows: int = ROWS, seed: int = 0) -> None:
    """scikit-learn's cache file of the California housing set (``cal_housing_py3.pkz``), synthetic: the columns
    fetch_california_housing reads from it (value, income, age, rooms, bedrooms, population, households, latitude,
    longitude), in plausible ranges."""
    rng = np.random.default_rng(seed)
    income = rng.uniform(0.5, 15, rows)
    households = rng.integers(50, 2000, rows).astype(float)
    columns = [
        np.clip(income * 40000 + rng.normal(0, 30000, rows), 15000, 500001),  # median house value
        income,
        rng.integers(1, 52, rows).astype(float),  # housing median age
        households * rng.uniform(3, 7, rows),  # total rooms
        households * rng.uniform(0.8, 1.3, rows),  # total bedrooms
        households * rng.uniform(2, 4, rows),  # population
        households,
        rng.uniform(32.5, 42, rows),  # latitude
        rng.uniform(-124.3, -114.3, rows),  # longitude
    ]
    data_home.mkdir(parents=True, exist_ok=True)
    joblib.dump(np.column_stack(columns), data_home / "cal_housing_py3.pkz", compress=6)


def run(checkout: Path, keep: Path | None, framework_version: str | None = None) -> int:
    source = checkout / NOTEBOOK
    with tempfile.TemporaryDirectory(prefix="peer-notebook-") as scratch:
        work = (keep or Path(scratch)) / "notebook"
        work.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, work / source.name)
        nb = nbformat.read(work / source.name, as_version=4)
        nb.cells.insert(0, nbformat.v4.new_code_cell(CONNECT_CELL))
        if framework_version:
            for cell in nb.cells:
                cell.source = cell.source.replace(f'"{NOTEBOOK_VERSION}"', f'"{framework_version}"')
        os.environ["SCIKIT_LEARN_DATA"] = str(Path(scratch) / "scikit_learn_data")  # the kernel inherits it
        synthetic_california_housing(Path(os.environ["SCIKIT_LEARN_DATA"]))
        print(f"Cached a synthetic California housing set ({ROWS} rows) in {os.environ['SCIKIT_LEARN_DATA']}.")
        return execute_and_report(nb, "python3", work / source.name, CELL_TIMEOUT)


if __name__ == "__main__":
    sys.exit(main(run, __doc__, NOTEBOOK_VERSION))
