"""Execute a peer notebook, keep the executed copy, and say how far it got: what the peer notebook scripts share."""

from __future__ import annotations

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
