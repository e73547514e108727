"""The container's default encoders and decoders for the three content types it knows.

They keep the real container's behaviour, quirks included: a CSV body is squeezed, so a single
row becomes 1-D and the model rejects it; matching is exact (``text/csv; charset=utf-8`` is not
``text/csv``); an unknown type is an error. NPY is loaded without pickle, as current images do.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np

CSV, JSON, NPY = "text/csv", "application/json", "application/x-npy"
UTF8_TYPES = (JSON, CSV)


class UnsupportedFormatError(ValueError):
    def __init__(self, content_type: str) -> None:
        super().__init__(f"Content type {content_type} is not supported by this framework.")


def decode(body: Any, content_type: str) -> np.ndarray:
    if content_type == CSV:
        rows = list(csv.reader(io.StringIO(body), delimiter=",", quotechar='"', doublequote=True, strict=True))
        return np.array(rows).squeeze()
    if content_type == JSON:
        return np.array(json.loads(body))
    if content_type == NPY:
        return np.load(io.BytesIO(body), allow_pickle=False)
    raise UnsupportedFormatError(content_type)


def encode(array_like: Any, content_type: str) -> str | bytes:
    if content_type == JSON:
        return json.dumps(array_like, default=lambda value: value.tolist())
    if content_type == CSV:
        array = np.array(array_like)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        stream = io.StringIO()
        csv.writer(stream, lineterminator="\n", delimiter=",", quotechar='"', doublequote=True).writerows(array)
        return stream.getvalue()
    if content_type == NPY:
        stream = io.BytesIO()
        np.save(stream, np.asarray(array_like), allow_pickle=False)
        return stream.getvalue()
    raise UnsupportedFormatError(content_type)
