"""Chapter 1, task 1: the plain script a participant runs from a terminal."""

import re
import shutil
import subprocess
import sys

import joblib
import pytest

from tests.notebooks import ROOT

LINE = re.compile(r"^(precision|recall|f1): (\d\.\d{4})$", re.MULTILINE)
README = ROOT / "chapter_1/task_1/README.md"
# The participant handout keeps README.md up to this line and drops the answers after it.
ANSWERS_MARKER = "<!-- answers -->"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs of a copy of the script, from its own folder as the task says."""
    folder = tmp_path_factory.mktemp("task_1")
    shutil.copy(ROOT / "chapter_1/task_1/train.py", folder)
    outputs = [
        subprocess.run([sys.executable, "train.py"], cwd=folder, capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    return folder, outputs


def test_prints_each_metric_once_above_090(runs) -> None:
    _, (first, _) = runs
    metrics = dict(LINE.findall(first))
    assert set(metrics) == {"precision", "recall", "f1"}
    assert all(float(v) > 0.9 for v in metrics.values()), metrics


def test_rerun_prints_the_same_numbers(runs) -> None:
    _, (first, second) = runs
    assert LINE.findall(first) == LINE.findall(second)


def test_model_is_saved_and_predicts_digits(runs) -> None:
    from sklearn.datasets import load_digits

    folder, _ = runs
    model = joblib.load(folder / "model" / "model.joblib")
    digits = load_digits()
    assert (model.predict(digits.data[:200]) == digits.target[:200]).mean() > 0.9
    assert set(model.classes_) == set(range(10)), "the target must be the digit, not a pixel column"


def test_readme_answers_every_question_after_the_marker() -> None:
    questions_part, answers_part = README.read_text().split(ANSWERS_MARKER)
    questions = re.findall(r"^(\d)\. \*\*(.+)\*\*$", questions_part, re.MULTILINE)
    assert len(questions) == 3, questions
    for number, question in questions:
        assert f"**{number}. {question}**" in answers_part, question
