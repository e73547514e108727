"""The property names SageMaker's ``Search`` accepts, resolved against botocore's shape of the searched resource.

A name is a dotted path into the resource's ``SearchRecord`` member (``ModelArtifacts.S3ModelArtifacts``,
``InputDataConfig.DataSource.S3DataSource.S3Uri``): a structure's member by name, a list's elements transparently
(a property inside a list has every element's value), a map's entry by the rest of the name
(``HyperParameters.learning_rate``). AWS documents two more forms: ``Tags.<key>`` (the value of the tag of that
key) and, for training jobs, ``Metrics.<name>`` (the final value of that metric). A name that does not resolve is
refused, as AWS requires a valid property of the resource. The shape also says a property's type, which decides
the operators it takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.model import Shape

from local_sagemaker.cloud.platform.errors import ValidationError

NUMBER_TYPES = ("integer", "long", "float", "double")
Document = dict[str, Any]


@dataclass(frozen=True)
class Property:
    """A resolved property: its kind (text, number, time, boolean, or other: a structure), its values in a document
    (several when it lies inside a list, none when the document lacks it), and, for a list of structures, the shape
    of its elements (what a nested filter's names are resolved against)."""

    name: str
    kind: str
    values: Callable[[Document], list[Any]]
    in_list: bool
    elements: Shape | None = None
    hyperparameter: bool = False  # compared as a number by the ordering operators (AWS's API reference)


def _kind(shape: Shape) -> str:
    if shape.type_name in NUMBER_TYPES:
        return "number"
    if shape.type_name == "timestamp":
        return "time"
    if shape.type_name == "boolean":
        return "boolean"
    if shape.type_name in ("string", "blob"):
        return "text"
    return "other"


def _member(name: str) -> Callable[[list[Any]], list[Any]]:
    return lambda values: [value[name] for value in values if isinstance(value, dict) and name in value]


def _elements(values: list[Any]) -> list[Any]:
    return [element for value in values if isinstance(value, list) for element in value]


def _tagged(key: str) -> Callable[[Document], list[Any]]:
    return lambda document: [tag["Value"] for tag in document.get("Tags", []) if tag.get("Key") == key]


def _metric(name: str) -> Callable[[Document], list[Any]]:
    return lambda document: [
        metric["Value"] for metric in document.get("FinalMetricDataList", []) if metric.get("MetricName") == name
    ]


def _unknown(name: str, resource: str) -> ValidationError:
    return ValidationError(
        f"Unknown property name: {name}. A filter or SortBy names a property of the {resource} (a member of "
        f"SearchRecord's {resource}, dotted into its structures: e.g. {resource}Arn), Tags.<key>"
        + (", Metrics.<metric name>" if resource == "TrainingJob" else "")
        + " or, for a map, <member>.<key>."
    )


def resolve(name: str, shape: Shape, resource: str) -> Property:
    """``name`` as a property of documents of ``shape`` (the resource's, or a nested filter's list element)."""
    head, _, rest = name.partition(".")
    if head == "Tags" and rest and "Tags" in shape.members:
        return Property(name, "text", _tagged(rest), in_list=False)
    if head == "Metrics" and rest and "FinalMetricDataList" in shape.members:
        return Property(name, "number", _metric(rest), in_list=False)
    steps: list[Callable[[list[Any]], list[Any]]] = []
    segments, current, in_list = name.split("."), shape, False
    elements: Shape | None = None
    while segments or current.type_name == "list":
        if current.type_name == "list":
            steps.append(_elements)
            current, in_list = current.member, True
            elements = current if not segments and current.type_name == "structure" else None
        elif current.type_name == "structure" and segments[0] in current.members:
            steps.append(_member(segments[0]))
            current = current.members[segments.pop(0)]
        elif current.type_name == "map" and segments:
            steps.append(_member(".".join(segments)))
            current, segments = current.value, []
        else:
            raise _unknown(name, resource)

    def values(document: Document) -> list[Any]:
        found: list[Any] = [document]
        for step in steps:
            found = step(found)
        return found

    return Property(name, _kind(current), values, in_list, elements, hyperparameter=head == "HyperParameters")
