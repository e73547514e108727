"""Read what a committed notebook writes with ``%%writefile``, so its code is tested as committed."""

from __future__ import annotations

from pathlib import Path

import nbformat

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
