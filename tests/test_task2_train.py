"""Chapter 1, task 2: ``fit`` and ``main`` of the src/train.py the notebook writes."""

import importlib.util

import joblib
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tests.notebooks import ROOT, written_file

NOTEBOOK = ROOT / "chapter_1/task_2/training.ipynb"


@pytest.fixture(scope="module")
def train_module(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "train.py"
    path.write_text(written_file(NOTEBOOK, "src/train.py"))
    spec = importlib.util.spec_from_file_location("task2_train", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_fit_is_pure_and_scores_above_090(train_module, frames, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    model, metrics = train_module.fit(*frames, n_estimators=30)
    assert set(metrics) == {"precision", "recall", "f1"}
    assert all(0.9 < v <= 1 for v in metrics.values()), metrics
    assert list(tmp_path.iterdir()) == [], "fit must not write files"
    assert model.n_estimators == 30


def test_fit_passes_hyperparameters(train_module, frames) -> None:
    model, _ = train_module.fit(*frames, n_estimators=5, max_depth=3, random_state=7)
    assert (model.n_estimators, model.max_depth, model.random_state) == (5, 3, 7)
    assert max(tree.get_depth() for tree in model.estimators_) <= 3


def test_main_writes_a_loadable_model(train_module, data_dirs, capsys) -> None:
    model_dir = data_dirs / "model"
    argv = [
        "--train",
        str(data_dirs / "train"),
        "--test",
        str(data_dirs / "test"),
        "--model-dir",
        str(model_dir),
    ]
    metrics = train_module.main([*argv, "--n_estimators", "20"])
    printed = capsys.readouterr().out
    assert f"f1: {metrics['f1']:.4f}" in printed
    model = joblib.load(model_dir / "model.joblib")
    test = pd.read_csv(data_dirs / "test" / "test.csv")
    assert model.n_estimators == 20
    assert (model.predict(test.drop(columns="label")) == test["label"]).mean() > 0.9


def test_defaults_come_from_sagemaker_variables(train_module, monkeypatch) -> None:
    monkeypatch.setenv("SM_MODEL_DIR", "/opt/ml/model")
    monkeypatch.setenv("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train")
    monkeypatch.setenv("SM_CHANNEL_TEST", "/opt/ml/input/data/test")
    args = train_module.parse_args([])
    assert (args.model_dir, args.train, args.test) == (
        "/opt/ml/model",
        "/opt/ml/input/data/train",
        "/opt/ml/input/data/test",
    )


def test_defaults_without_sagemaker_are_local_folders(train_module, monkeypatch) -> None:
    for name in ("SM_MODEL_DIR", "SM_CHANNEL_TRAIN", "SM_CHANNEL_TEST"):
        monkeypatch.delenv(name, raising=False)
    args = train_module.parse_args(["--max-depth", "4"])
    assert (args.model_dir, args.train, args.test, args.max_depth, args.n_estimators) == (
        "model",
        "data/train",
        "data/test",
        4,
        100,
    )


def test_malformed_hyperparameter_is_an_argparse_error(train_module, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train_module.parse_args(["--n_estimators", "many"])
    assert exit_info.value.code == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err
