"""Chapter 1 tasks 1-2 judged by what the team's scripts do when run, not by the names in them.

These two tasks leave nothing in the cloud: their evidence is the team's code. A name proves
nothing (the handout's stub of task 2 defines ``fit`` and ``main``, each raising
``NotImplementedError``), so the board runs the code as the task's "done when" does: task 1's
``train.py`` from its folder, printing the three metrics; task 2's ``fit`` imported and called on a
small sample of the digits (500 rows) and ``src/train.py`` run as a script with the notebook's
arguments, each printing or returning precision, recall and f1.

This runs participants' code on the facilitator's machine, so every run is bounded: a copy of the
team's files in a temporary folder (removed afterwards, so nothing is written into the team's
files), the board's own Python, an environment with nothing but ``PATH`` (no AWS or local cloud
credentials; ``HOME`` and ``TMPDIR`` in that folder), ``RUN_TIMEOUT_SECONDS``, and its own process
group, killed when the run ends or overruns, so no worker it forked outlives the check.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from maze.status import DONE, NOT_DONE, NOT_STARTED

TASK_1_SCRIPT = "chapter_1/task_1/train.py"
TASK_2_SOURCES = "chapter_1/task_2/src"
RUN_TIMEOUT_SECONDS = 120  # the solutions take 2 to 5 s; a run that is still going is not a training script at work
METRIC_LINE = re.compile(r"^(precision|recall|f1): ([0-9.]+)$", re.MULTILINE)
METRICS = ("precision", "recall", "f1")
SAMPLE_ROWS, SAMPLE_TEST_ROWS = 500, 100
MAIN_ARGS = ("--n-estimators", "50", "--max-depth", "10")  # as task 2's notebook runs it
RESULT = "maze-board-fit:"
# Imports fit as task 2's notebook does (``from src.train import fit`` in the task's folder) and calls it on the sample.
FIT_PROBE = f"""
import json
import pandas as pd
from src.train import fit
returned = fit(pd.read_csv("data/train/train.csv"), pd.read_csv("data/test/test.csv"))
try:
    _, metrics = returned
    figures = {{name: float(metrics[name]) for name in {METRICS!r}}}
except (TypeError, ValueError, KeyError, IndexError) as error:
    raise SystemExit(
        f"fit returns {{type(returned).__name__}}, not (model, {{{{'precision': ..., 'recall': ..., 'f1': ...}}}})"
    ) from error
print({RESULT!r} + json.dumps(figures))
"""


def run_bounded(args: list[str], folder: Path) -> subprocess.CompletedProcess[str] | None:
    """Run ``args`` in ``folder`` within the limits above; None when it did not finish in time."""
    environment = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(folder), "TMPDIR": str(folder)}
    process = subprocess.Popen(
        args,
        cwd=folder,
        env={**environment, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        stdout = stderr = None
    with contextlib.suppress(ProcessLookupError):  # the group is gone when nothing of it is left
        os.killpg(process.pid, signal.SIGKILL)
    if stdout is None:
        process.communicate()
        return None
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def _failure(what: str, ran: subprocess.CompletedProcess[str] | None) -> str:
    """Why a run counts as failed, in one line (the last line of a traceback names the exception)."""
    if ran is None:
        return f"{what} did not finish in {RUN_TIMEOUT_SECONDS} s"
    last = (ran.stderr.strip().splitlines() or ["no error output"])[-1]
    if last.startswith("NotImplementedError"):
        return f"{what} raises NotImplementedError: the handout's stub, its TODO not done yet"
    return f"{what} exits with {ran.returncode}: {last}"


def _printed(stdout: str) -> dict[str, str]:
    """The metrics a run printed as ``name: value`` lines (the last value of each)."""
    return dict(METRIC_LINE.findall(stdout))


def _figures(printed: dict[str, str]) -> str:
    return " ".join(f"{name}={printed[name]}" for name in METRICS)


def task_1_script(repo: Path) -> tuple[str, str]:
    """``train.py`` runs from its folder (a copy: the model it saves goes with the copy) and prints the metrics."""
    script = repo / TASK_1_SCRIPT
    if not script.is_file():
        return NOT_STARTED, f"no {TASK_1_SCRIPT}"
    with tempfile.TemporaryDirectory(prefix="maze-board-") as folder:
        shutil.copy(script, folder)
        ran = run_bounded([sys.executable, "train.py"], Path(folder))
    if ran is None or ran.returncode != 0:
        return NOT_DONE, _failure("train.py", ran)
    printed = _printed(ran.stdout)
    missing = [name for name in METRICS if name not in printed]
    if missing:
        return NOT_DONE, f"train.py does not print {', '.join(missing)}"
    return DONE, f"train.py prints {_figures(printed)}"


def write_sample(folder: Path) -> None:
    """``data/train/train.csv`` and ``data/test/test.csv`` as task 2's notebook writes them, 500 digits in all."""
    from sklearn.datasets import load_digits  # the board's other checks need no scikit-learn

    digits = load_digits(as_frame=True).frame.rename(columns={"target": "label"}).sample(SAMPLE_ROWS, random_state=0)
    for name, frame in {"train": digits[SAMPLE_TEST_ROWS:], "test": digits[:SAMPLE_TEST_ROWS]}.items():
        (folder / "data" / name).mkdir(parents=True)
        frame.to_csv(folder / "data" / name / f"{name}.csv", index=False)


def task_2_fit_and_main(repo: Path) -> tuple[str, str]:
    """``fit`` returns the three metrics on a sample, and ``python src/train.py`` prints them (task 2's two runs)."""
    sources = repo / TASK_2_SOURCES
    if not (sources / "train.py").is_file():
        return NOT_STARTED, f"no {TASK_2_SOURCES}/train.py (the notebook's %%writefile cell writes it; commit it)"
    with tempfile.TemporaryDirectory(prefix="maze-board-") as name:
        folder = Path(name)
        shutil.copytree(sources, folder / "src", ignore=shutil.ignore_patterns("__pycache__"))
        write_sample(folder)
        fitted = run_bounded([sys.executable, "-c", FIT_PROBE], folder)
        returned = _returned(fitted)
        if returned is None:
            return NOT_DONE, _failure("fit", fitted)
        script = run_bounded([sys.executable, "src/train.py", *MAIN_ARGS], folder)
    if script is None or script.returncode != 0:
        return NOT_DONE, _failure(f"src/train.py {' '.join(MAIN_ARGS)}", script)
    printed = _printed(script.stdout)
    missing = [name for name in METRICS if name not in printed]
    if missing:
        return NOT_DONE, f"fit works; src/train.py does not print {', '.join(missing)}"
    figures = _figures({name: f"{value:.4f}" for name, value in returned.items()})
    return DONE, f"fit returns {figures}; src/train.py prints {_figures(printed)} (on {SAMPLE_ROWS} digits)"


def _returned(ran: subprocess.CompletedProcess[str] | None) -> dict[str, float] | None:
    """The metrics the probe says ``fit`` returned; None when it failed."""
    if ran is None or ran.returncode != 0:
        return None
    lines = [line for line in ran.stdout.splitlines() if line.startswith(RESULT)]
    try:
        return json.loads(lines[-1].removeprefix(RESULT)) if lines else None
    except ValueError:  # the team's code printed the marker itself
        return None
