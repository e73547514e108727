"""Chapter 1: the ``src/train.py`` the notebooks write.

Task 2's script runs locally with plain argparse defaults; task 3 makes the defaults read SageMaker's
environment variables and takes the hyperparameters as the training toolkit passes them; task 4 reuses
task 3's script unchanged.
"""

import importlib.util

import joblib
import pandas as pd
import pytest
from sagemaker_training.mapping import to_cmd_args
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tests.notebooks import ROOT, written_file

TASK_2 = ROOT / "chapter_1/task_2/training.ipynb"
TASK_3 = ROOT / "chapter_1/task_3/training.ipynb"
TASK_4 = ROOT / "chapter_1/task_4/training.ipynb"
SAGEMAKER_VARIABLES = ("SM_MODEL_DIR", "SM_CHANNEL_TRAIN", "SM_CHANNEL_TEST")


def load_script(notebook, tmp_path_factory, name):
    path = tmp_path_factory.mktemp(name) / "train.py"
    path.write_text(written_file(notebook, "src/train.py"))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def task2(tmp_path_factory):
    return load_script(TASK_2, tmp_path_factory, "task2_train")


@pytest.fixture(scope="module")
def task3(tmp_path_factory):
    return load_script(TASK_3, tmp_path_factory, "task3_train")


@pytest.fixture(scope="module")
def frames():
    df = load_digits(as_frame=True).frame.rename(columns={"target": "label"})
    return train_test_split(df, test_size=0.2, stratify=df["label"], random_state=42)


@pytest.fixture
def data_dirs(tmp_path, frames):
    for name, frame in zip(("train", "test"), frames, strict=True):
        (tmp_path / name).mkdir()
        frame.to_csv(tmp_path / name / f"{name}.csv", index=False)
    return tmp_path


@pytest.fixture
def sagemaker_variables(monkeypatch, data_dirs):
    """The variables the training toolkit sets in the container, pointing at a fake /opt/ml tree."""
    paths = {
        "SM_MODEL_DIR": str(data_dirs / "opt-ml-model"),
        "SM_CHANNEL_TRAIN": str(data_dirs / "train"),
        "SM_CHANNEL_TEST": str(data_dirs / "test"),
    }
    for name, value in paths.items():
        monkeypatch.setenv(name, value)
    return paths


@pytest.fixture
def no_sagemaker_variables(monkeypatch):
    for name in SAGEMAKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_fit_is_pure_and_scores_above_090(task2, frames, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    model, metrics = task2.fit(*frames, n_estimators=30)
    assert set(metrics) == {"precision", "recall", "f1"}
    assert all(0.9 < v <= 1 for v in metrics.values()), metrics
    assert list(tmp_path.iterdir()) == [], "fit must not write files"
    assert model.n_estimators == 30


def test_fit_passes_hyperparameters(task2, frames) -> None:
    model, _ = task2.fit(*frames, n_estimators=5, max_depth=3, random_state=7)
    assert (model.n_estimators, model.max_depth, model.random_state) == (5, 3, 7)
    assert max(tree.get_depth() for tree in model.estimators_) <= 3


def test_task2_main_writes_a_loadable_model(task2, data_dirs, capsys) -> None:
    model_dir = data_dirs / "model"
    argv = ["--train", str(data_dirs / "train"), "--test", str(data_dirs / "test"), "--model-dir", str(model_dir)]
    metrics = task2.main([*argv, "--n-estimators", "20"])
    printed = capsys.readouterr().out
    assert f"f1: {metrics['f1']:.4f}" in printed
    model = joblib.load(model_dir / "model.joblib")
    test = pd.read_csv(data_dirs / "test" / "test.csv")
    assert model.n_estimators == 20
    assert (model.predict(test.drop(columns="label")) == test["label"]).mean() > 0.9


def test_task2_defaults_are_local_folders_even_inside_sagemaker(task2, sagemaker_variables) -> None:
    """The brief's order: SageMaker's variables arrive in task 3, so task 2 must not read them yet."""
    args = task2.parse_args(["--max-depth", "4"])
    assert (args.model_dir, args.train, args.test, args.max_depth, args.n_estimators) == (
        "model",
        "data/train",
        "data/test",
        4,
        100,
    )


def test_malformed_hyperparameter_is_an_argparse_error(task2, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        task2.parse_args(["--n-estimators", "many"])
    assert exit_info.value.code == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err


def test_task3_defaults_come_from_sagemaker_variables(task3, sagemaker_variables) -> None:
    args = task3.parse_args([])
    assert (args.model_dir, args.train, args.test) == tuple(sagemaker_variables[n] for n in SAGEMAKER_VARIABLES)


def test_task3_still_runs_locally_without_them(task3, no_sagemaker_variables) -> None:
    args = task3.parse_args([])
    assert (args.model_dir, args.train, args.test) == ("model", "data/train", "data/test")


def test_task3_main_runs_as_the_training_toolkit_calls_it(task3, sagemaker_variables, capsys) -> None:
    """The toolkit's own mapping turns the estimator's hyperparameters into the script's arguments."""
    argv = to_cmd_args({"n_estimators": 20, "max_depth": 10})
    metrics = task3.main(argv)
    assert f"f1: {metrics['f1']:.4f}" in capsys.readouterr().out
    model = joblib.load(f"{sagemaker_variables['SM_MODEL_DIR']}/model.joblib")
    assert (model.n_estimators, model.max_depth) == (20, 10)


def test_task4_reuses_task3_script() -> None:
    assert written_file(TASK_4, "src/train.py") == written_file(TASK_3, "src/train.py")
