"""SageMaker's List* operations, one implementation for all: filters, sort orders and pages as AWS documents.

Each operation declares what differs (``Listing``): the key of its answer, its summary of a record, the
``SortBy`` values of its botocore enum and its default ``SortOrder`` (Ascending for ListTrainingJobs and
ListProcessingJobs and the tuning lists, Descending for the others; SortBy defaults to CreationTime, but to Name for
the tuning jobs and their training jobs, which also sort by FinalObjectiveMetricValue). The filters
(``NameContains``, ``StatusEquals``, ``CreationTime``/``LastModifiedTime`` ``After``/``Before``) are those of
the request, which the front has already checked against the operation's model.

A page's ``NextToken`` names the last record it holds (its sort value and name), not an offset: a resource
created or deleted between two calls shifts nothing, so paging sees each remaining record once. The front
seals it (``page_tokens``); a token of another operation or another sort is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_sagemaker.cloud.platform.errors import ValidationError

DEFAULT_MAX_RESULTS = 10
SORT_VALUES: dict[str, Callable[[Any], str | float]] = {
    "CreationTime": lambda record: record.creation_time.timestamp(),
    "Name": lambda record: record.listed_name,
    "Status": lambda record: record.status,
    "FinalObjectiveMetricValue": lambda record: record.objective_value,
}


def _stamp(value: Any) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)


# Filter -> whether a record passes it, given the request's value.
FILTERS: dict[str, Callable[[Any, Any], bool]] = {
    "NameContains": lambda record, value: value in record.listed_name,
    "StatusEquals": lambda record, value: record.status == value,
    "CreationTimeAfter": lambda record, value: record.creation_time > _stamp(value),
    "CreationTimeBefore": lambda record, value: record.creation_time < _stamp(value),
    "LastModifiedTimeAfter": lambda record, value: record.last_modified_time > _stamp(value),
    "LastModifiedTimeBefore": lambda record, value: record.last_modified_time < _stamp(value),
}


@dataclass(frozen=True)
class Listing:
    """One List* operation over records with a ``name``, a ``listed_name`` and a ``creation_time`` (and the fields it
    filters on)."""

    key: str  # the answer's list member, e.g. "Models"
    summary: Callable[[Any], dict[str, Any]]
    sort_by: tuple[str, ...]  # the operation's SortBy enum
    default_order: str
    # ListTrainingJobs (documented): StatusEquals filters each page of MaxResults jobs after it was cut.
    status_after_page: bool = False
    default_sort: str = "CreationTime"

    def answer(self, records: Iterable[Any], request: dict[str, Any]) -> dict[str, Any]:
        sort_by = request.get("SortBy", self.default_sort)
        order = request.get("SortOrder", self.default_order)
        if sort_by not in self.sort_by:
            raise ValidationError(f"Invalid SortBy '{sort_by}': use one of {', '.join(self.sort_by)}.")
        late = {"StatusEquals"} if self.status_after_page else set()
        chosen = [
            record
            for record in records
            if all(FILTERS[f](record, request[f]) for f in FILTERS if f in request and f not in late)
        ]
        descending = order == "Descending"
        value = SORT_VALUES[sort_by]
        chosen.sort(key=lambda record: (value(record), record.name), reverse=descending)
        after = self._position(request.get("NextToken"), sort_by, order)
        if after is not None:
            chosen = [r for r in chosen if ((value(r), r.name) < after if descending else (value(r), r.name) > after)]
        size = int(request.get("MaxResults") or DEFAULT_MAX_RESULTS)
        page = chosen[:size]
        out: dict[str, Any] = {
            self.key: [self.summary(r) for r in page if all(FILTERS[f](r, request[f]) for f in late if f in request)]
        }
        if len(chosen) > size:
            last = page[-1]
            position = {"list": self.key, "sort": [sort_by, order], "after": [value(last), last.name]}
            out["NextToken"] = json.dumps(position)
        return out

    def _position(self, token: str | None, sort_by: str, order: str) -> tuple[Any, str] | None:
        """The (sort value, name) a page token continues after; ValidationException for another listing's."""
        if not token:
            return None
        try:
            inner = json.loads(token)
            if inner["list"] == self.key and inner["sort"] == [sort_by, order]:
                return tuple(inner["after"])
        except (ValueError, KeyError, TypeError):
            pass
        raise ValidationError(
            "Invalid pagination token: it continues another listing (a different operation, SortBy or SortOrder)."
        )
