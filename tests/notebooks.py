"""The notebooks under test: what a committed notebook writes with ``%%writefile``, the modules the
notebooks import, and a program doing what their first cells do."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import nbformat

from local_sagemaker.kernel.versions import FRAMEWORK_VERSION

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(ROOT.glob("chapter_*/task_*/*.ipynb"))


def written_file(notebook: Path, target: str) -> str:
    """The body of the last cell that starts with ``%%writefile <target>``."""
    nb = nbformat.read(notebook, as_version=4)
    bodies = [
        cell.source.split("\n", 1)[1]
        for cell in nb.cells
        if cell.cell_type == "code" and cell.source.startswith(f"%%writefile {target}")
    ]
    if not bodies:
        raise LookupError(f"{notebook} has no %%writefile {target} cell")
    return bodies[-1]


def imported_modules() -> set[str]:
    """Every non-standard-library module the notebooks (and the scripts they write) import, absolute imports only.

    Modules a notebook writes itself (``src.train``) are left out: they are not installed.
    """
    modules: set[str] = set()
    for notebook in NOTEBOOKS:
        for cell in nbformat.read(notebook, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            python = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(python, filename=str(notebook))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    modules.add(node.module)
    return {m for m in modules if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "src"}


# What the SDK prints when nothing quietens it: its v2 deprecation warnings and its config INFO lines.
SDK_NOISE = ("sagemaker.config INFO", "SageMaker Python SDK v2, which is on path of deprecation", "SUPPRESS_V2_WARNING")


def first_cells_program() -> str:
    """Python that does what the notebooks' first cells do: ``connect()``, import every module the
    notebooks import, build the SDK objects they build. Prints the Python version and whether the
    local cloud's moto is importable, as JSON, last."""
    return textwrap.dedent(
        f"""
        import importlib, importlib.util, json, sys
        import local_sagemaker
        cloud = local_sagemaker.connect()
        for name in {sorted(imported_modules())!r}:
            importlib.import_module(name)
        import sagemaker
        from sagemaker.sklearn import SKLearn, SKLearnModel
        session = sagemaker.Session()
        role = "arn:aws:iam::123456789012:role/service-role/maze"
        version = {FRAMEWORK_VERSION!r}
        SKLearn(entry_point="train.py", framework_version=version, instance_type="ml.m5.large", role=role,
                sagemaker_session=session)
        SKLearnModel(model_data="s3://bucket/model.tar.gz", entry_point="predict.py", framework_version=version,
                     role=role, sagemaker_session=session)
        print(json.dumps({{"python": sys.version.split()[0], "moto": importlib.util.find_spec("moto") is not None}}))
        """
    )
