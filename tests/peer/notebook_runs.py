"""Execute a peer notebook, keep the executed copy, and say how far it got: what the peer notebook scripts share."""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def execute_and_report(nb: nbformat.NotebookNode, kernel_name: str, path: Path, timeout: float) -> int:
    """Run ``nb`` in ``path``'s folder and write it as ``executed-<name>`` there; print the code cells run and the
    first failing cell with its error. Returns 0 when every cell ran, else 1."""
    client = NotebookClient(
        nb, kernel_name=kernel_name, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}
    )
    failure: CellExecutionError | None = None
    try:
        client.execute()
    except CellExecutionError as error:
        failure = error
    finally:
        nbformat.write(nb, path.parent / f"executed-{path.name}")
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    ran = sum(1 for _, c in code if c.get("execution_count") is not None)
    print(f"Code cells run: {ran} / {len(code)} (the added connect() cell included, a failing one too).")
    if failure is None:
        print("Every cell ran.")
        return 0
    index, cell = next((i, c) for i, c in reversed(code) if c.get("execution_count") is not None)
    first_line = cell.source.splitlines()[0] if cell.source else ""
    print(f"First failing cell: notebook cell {index} (code cell {ran}), starting {first_line!r}")
    print(f"  {failure.ename}: {failure.evalue}")
    return 1


def main(run: Callable[[Path, Path | None, str | None], int], doc: str, notebook_version: str) -> int:
    """The scripts' command line: ``[EXAMPLES_CHECKOUT] [--keep DIR] [--framework-version V]``; without a checkout,
    a shallow clone of aws/amazon-sagemaker-examples (that needs the network). Returns ``run``'s exit status."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("checkout", nargs="?", type=Path, help="a checkout of aws/amazon-sagemaker-examples")
    parser.add_argument("--keep", type=Path, help="write the copied and executed notebook here")
    parser.add_argument(
        "--framework-version",
        help=f"a third change: this scikit-learn framework version instead of the notebook's {notebook_version!r}",
    )
    args = parser.parse_args()
    keep = args.keep.resolve() if args.keep else None
    if args.checkout:
        return run(args.checkout.resolve(), keep, args.framework_version)
    with tempfile.TemporaryDirectory(prefix="amazon-sagemaker-examples-") as folder:
        url = "https://github.com/aws/amazon-sagemaker-examples"
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", url, folder], check=True)
        return run(Path(folder), keep, args.framework_version)
