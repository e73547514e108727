"""What batch transform does to records: split, filter in, join to the input, filter out, assemble.

JSONPath expressions are evaluated by jsonpath-ng. For CSV, SageMaker treats a record as a
JSON array of its columns, and its slices include their end (``$[1:3]`` is columns 1 to 3).
"""

from __future__ import annotations

import csv
import io
import json
from functools import lru_cache
from typing import Any

from jsonpath_ng import parse
from jsonpath_ng.jsonpath import JSONPath, Slice

CSV, JSON_TYPES = "text/csv", ("application/json", "application/jsonlines")


class RecordError(ValueError):
    """A record the job cannot process; the message names what is wrong."""


def split(body: bytes, split_type: str) -> list[bytes]:
    """Line: one record per non-empty line (ends at b"\\n", a CRLF's b"\\r" included). None: the whole object.

    Records are bytes: the container gets them unchanged, whatever their encoding (NPY, latin-1, ...).
    """
    if split_type == "None":
        return [body]
    return [line.removesuffix(b"\r") for line in body.split(b"\n") if line.strip()]


def parse_record(record: bytes, content_type: str) -> Any:
    """A record as data for the filters and the join, which need CSV or JSON text."""
    try:
        text = record.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RecordError(
            f"not UTF-8 text (byte {error.start}); InputFilter, OutputFilter and JoinSource need CSV or JSON records"
        ) from error
    if content_type == CSV:
        return next(csv.reader([text]))
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError(f"not valid JSON: {error}") from error


def serialize(value: Any, content_type: str) -> str:
    if content_type == CSV:
        stream = io.StringIO()
        csv.writer(stream, lineterminator="").writerow(value if isinstance(value, list) else [value])
        return stream.getvalue()
    return json.dumps(value, separators=(",", ":"))


@lru_cache(maxsize=64)
def _compiled(expression: str, inclusive_slices: bool) -> JSONPath:
    path = parse(expression)
    if inclusive_slices:
        _include_slice_ends(path)
    return path


def _include_slice_ends(node: Any) -> None:
    if isinstance(node, Slice) and node.end is not None:
        node.end = node.end + 1 if node.end != -1 else None
    for child in ("left", "right", "expression"):
        if hasattr(node, child):
            _include_slice_ends(getattr(node, child))


def select(expression: str | None, value: Any, content_type: str) -> Any:
    """Apply a JSONPath filter ('$' or none: everything) to one parsed record."""
    if not expression or expression == "$":
        return value
    matches = [m.value for m in _compiled(expression, content_type == CSV).find(value)]
    if not matches:
        raise RecordError(f"the filter {expression} selects nothing from the record")
    if content_type == CSV:
        return [item for match in matches for item in (match if isinstance(match, list) else [match])]
    return matches[0] if len(matches) == 1 else matches


def join(original: Any, output: Any, content_type: str) -> Any:
    """JoinSource=Input: CSV rows get the output appended; JSON objects get it as SageMakerOutput."""
    if content_type == CSV:
        return [*original, *(output if isinstance(output, list) else [output])]
    if isinstance(original, dict):
        return {**original, "SageMakerOutput": output}
    return {"SageMakerInput": original, "SageMakerOutput": output}


def split_response(body: str, accept: str, expected: int) -> list[Any]:
    """One output per record of the request: CSV lines, or the elements of a JSON array."""
    if accept == CSV:
        outputs: list[Any] = [next(csv.reader([line])) for line in body.splitlines() if line.strip()]
        outputs = [row[0] if len(row) == 1 else row for row in outputs]
    else:
        parsed = json.loads(body)
        outputs = parsed if isinstance(parsed, list) and expected > 1 else [parsed]
    if len(outputs) != expected:
        raise RecordError(f"the model answered {len(outputs)} records for a request of {expected}")
    return outputs
