"""SageMaker's ``Search`` over the local cloud's records: training jobs, model packages and model package groups.

Each service hands its resources of a region to this module as their Describe answers, through a callable wired in
the server (services never import each other, nor this module them). A result is the resource's ``SearchRecord``
member: the description's members that botocore's shape of that member defines, plus the resource's ``Tags``. The
``SearchExpression`` is ``search_expression``'s; ``SortBy`` (default ``LastModifiedTime``, ``CreationTime`` for a
resource without one) and ``SortOrder`` (default ``Descending``) as AWS's API reference documents them, with the
resources that lack the sort property after the others (AWS does not say where they go). ``MaxResults`` defaults to
10 (not documented either), ``TotalHits`` counts every match, and ``NextToken`` names the last result of a page (its
sort value and ARN), like the List* operations' tokens, which the front seals.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import botocore.session

from local_sagemaker.cloud.platform.errors import ValidationError
from local_sagemaker.cloud.platform.resource import Action
from local_sagemaker.cloud.platform.search_expression import compile_expression
from local_sagemaker.cloud.platform.search_properties import Document, Property, resolve
from local_sagemaker.cloud.platform.tags import TagStore

DEFAULT_MAX_RESULTS = 10
# A service's resources of a region, each as its Describe operation answers it.
Source = Callable[[str], list[dict[str, Any]]]


@functools.total_ordering
class _Reversed:
    """A value that sorts the other way round (a descending order's key, for values that cannot be negated)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value == other.value

    def __lt__(self, other: _Reversed) -> bool:
        return other.value < self.value

    __hash__ = None  # type: ignore[assignment]


class Search:
    """The ``Search`` action over ``sources`` (``Resource`` -> the service's Describe answers of a region)."""

    def __init__(self, sources: dict[str, Source], tags: TagStore) -> None:
        self._sources, self._tags = sources, tags
        self._record = botocore.session.get_session().get_service_model("sagemaker").shape_for("SearchRecord")

    def actions(self) -> dict[str, Action]:
        return {"Search": self.search}

    def search(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        resource = request["Resource"]
        if resource not in self._sources:
            raise ValidationError(
                f"The local cloud searches {', '.join(sorted(self._sources))} resources, not {resource}. Search one "
                f"of those, or run against AWS (MAZE_TARGET=aws) to search {resource} resources."
            )
        if request.get("VisibilityConditions"):
            raise ValidationError(
                "The local cloud does not apply VisibilityConditions: leave them out (every resource here is the "
                "caller's own), or run against AWS (MAZE_TARGET=aws)."
            )
        shape = self._record.members[resource]
        matches = compile_expression(request.get("SearchExpression"), shape, resource)
        default_sort = "LastModifiedTime" if "LastModifiedTime" in shape.members else "CreationTime"
        sort_by = request.get("SortBy") or default_sort
        sort = resolve(sort_by, shape, resource)
        if sort.in_list or sort.kind == "other":
            raise ValidationError(f"SortBy {sort_by}: sort by one value of each resource (not a structure or list).")
        descending = request.get("SortOrder", "Descending") == "Descending"
        # CrossAccount: the resources other accounts made discoverable; there are no other accounts here.
        shared_only = request.get("CrossAccountFilterOption") == "CrossAccount"
        descriptions = [] if shared_only else self._sources[resource](region)
        found = [self._document(description, shape.members, resource) for description in descriptions]
        chosen = sorted(
            (document for document in found if matches(document)),
            key=lambda document: _rank(_position(document, sort, resource), descending),
        )
        listing = [resource, sort_by, descending, _digest(request.get("SearchExpression"))]
        after = _after(request.get("NextToken"), listing)
        if after is not None:
            start = _rank(after, descending)
            chosen_after = [d for d in chosen if _rank(_position(d, sort, resource), descending) > start]
        else:
            chosen_after = chosen
        size = int(request.get("MaxResults") or DEFAULT_MAX_RESULTS)
        page = chosen_after[:size]
        out: dict[str, Any] = {
            "Results": [{resource: document} for document in page],
            "TotalHits": {"Value": len(chosen), "Relation": "EqualTo"},
        }
        if len(chosen_after) > size:
            out["NextToken"] = json.dumps({"search": listing, "after": _position(page[-1], sort, resource)})
        return out

    def _document(self, description: dict[str, Any], members: dict[str, Any], resource: str) -> Document:
        """The SearchRecord member: the description's members the shape defines, and the resource's tags."""
        document = {key: value for key, value in description.items() if key in members}
        document["Tags"] = self._tags.current(description[f"{resource}Arn"])
        return document


def _position(document: Document, sort: Property, resource: str) -> list[Any]:
    """Where a document sorts, in JSON's types (a page token holds it): [has the property, its value, ARN]."""
    values = sort.values(document)
    value = values[0] if values else None
    if isinstance(value, datetime):
        value = value.timestamp()
    return [bool(values), value, document[f"{resource}Arn"]]


def _rank(position: list[Any], descending: bool) -> tuple[Any, ...]:
    """The ascending sort key of a position: those with the property first, in the asked order, then the others."""
    present, value, arn = position
    if not present:
        return (1, arn)
    return (0, _Reversed(value), _Reversed(arn)) if descending else (0, value, arn)


def _digest(expression: dict[str, Any] | None) -> str:
    return hashlib.sha256(json.dumps(expression, sort_keys=True).encode()).hexdigest()[:16]


def _after(token: str | None, listing: list[Any]) -> list[Any] | None:
    """The position a page token continues after; ValidationException for a token of another search."""
    if not token:
        return None
    try:
        inner = json.loads(token)
        if inner["search"] == listing:
            return list(inner["after"])
    except (ValueError, KeyError, TypeError):
        pass
    raise ValidationError(
        "Invalid pagination token: it continues another search (a different Resource, SearchExpression, SortBy or "
        "SortOrder)."
    )
