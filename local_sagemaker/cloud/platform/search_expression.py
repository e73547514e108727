"""A ``Search`` request's ``SearchExpression`` as a test of one document, with the semantics AWS's API reference gives.

- A filter with a ``Value`` and no ``Operator`` uses ``Equals``; with neither, it asks whether the property exists.
- ``Equals``, ``NotEquals``, ``Exists`` and ``NotExists`` apply to every property; ``Contains`` and ``In`` (a comma
  separated list of values) to text only; the ordering operators (``GreaterThan``...) to numbers and timestamps only,
  and to ``HyperParameters.<name>``, compared as decimals, or as integers when the ``Value`` is an integer.
- A timestamp ``Value`` is ISO 8601 (``YYYY-mm-ddTHH:MM:SS``, UTC unless it names its offset).
- One ``Contains`` per expression ("'CONTAINS' operator usage limit of 1 exceeded"), at most 50 filters, nested
  filters and subexpressions in all, and at least one in each expression.
- A nested filter holds when one element of its list property satisfies all its filters, whose names start with
  the ``NestedPropertyName``.

Not documented, and chosen here: text comparisons are case-sensitive (as the List* operations' ``NameContains``
here); a property inside a list satisfies a filter when one of its values does, and ``NotEquals`` when none equals
the value (a document without the property satisfies ``NotEquals``); ``In`` ignores blanks around each value.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.model import Shape

from local_sagemaker.cloud.platform.errors import ValidationError
from local_sagemaker.cloud.platform.search_properties import Document, Property, resolve

MAX_ELEMENTS = 50
ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "GreaterThan": lambda value, target: value > target,
    "GreaterThanOrEqualTo": lambda value, target: value >= target,
    "LessThan": lambda value, target: value < target,
    "LessThanOrEqualTo": lambda value, target: value <= target,
}
Test = Callable[[Document], bool]


def compile_expression(expression: dict[str, Any] | None, shape: Shape, resource: str) -> Test:
    """The test a document of ``shape`` must pass; every document passes when the request has no expression."""
    if expression is None:
        return lambda document: True
    elements = _count(expression, lambda item: True)
    if elements > MAX_ELEMENTS:
        raise ValidationError(
            f"The SearchExpression holds {elements} filters, nested filters and subexpressions; at most "
            f"{MAX_ELEMENTS} are allowed."
        )
    if _count(expression, lambda item: item.get("Operator") == "Contains") > 1:
        raise ValidationError("'CONTAINS' operator usage limit of 1 exceeded.")
    return _expression(expression, shape, resource)


def _count(expression: dict[str, Any], counted: Callable[[dict[str, Any]], bool]) -> int:
    """How many filters (nested ones included), nested filters and subexpressions below ``expression`` are
    ``counted``."""
    total = sum(1 for item in expression.get("Filters", []) if counted(item))
    for nested in expression.get("NestedFilters", []):
        total += counted(nested) + sum(1 for item in nested.get("Filters", []) if counted(item))
    for sub in expression.get("SubExpressions", []):
        total += counted(sub) + _count(sub, counted)
    return total


def _expression(expression: dict[str, Any], shape: Shape, resource: str) -> Test:
    parts = [_filter(item, shape, resource) for item in expression.get("Filters", [])]
    parts += [_nested(item, shape, resource) for item in expression.get("NestedFilters", [])]
    parts += [_expression(item, shape, resource) for item in expression.get("SubExpressions", [])]
    if not parts:
        raise ValidationError("A SearchExpression must contain at least one subexpression, filter, or nested filter.")
    combine = any if expression.get("Operator", "And") == "Or" else all
    return lambda document: combine(part(document) for part in parts)


def _nested(nested: dict[str, Any], shape: Shape, resource: str) -> Test:
    name = nested["NestedPropertyName"]
    listed = resolve(name, shape, resource)
    if listed.elements is None:
        raise ValidationError(
            f"NestedPropertyName {name} is not a list of structures of the {resource}: nested filters look inside the "
            "elements of one (InputDataConfig, say)."
        )
    tests = []
    for item in nested["Filters"]:
        if not item["Name"].startswith(f"{name}."):
            raise ValidationError(
                f"Nested filter on {item['Name']}: the names of a nested filter start with its NestedPropertyName "
                f"({name}.<property>)."
            )
        tests.append(_filter({**item, "Name": item["Name"][len(name) + 1 :]}, listed.elements, resource))
    return lambda document: any(all(test(element) for test in tests) for element in listed.values(document))


def _filter(item: dict[str, Any], shape: Shape, resource: str) -> Test:
    prop = resolve(item["Name"], shape, resource)
    operator = item.get("Operator") or ("Equals" if "Value" in item else "Exists")
    if operator == "Exists":
        return lambda document: bool(prop.values(document))
    if operator == "NotExists":
        return lambda document: not prop.values(document)
    if "Value" not in item:
        raise ValidationError(f"The filter on {prop.name} with operator {operator} needs a Value.")
    if operator == "NotEquals":
        equal = _value_test(prop, "Equals", item["Value"])
        return lambda document: not any(equal(value) for value in prop.values(document))
    test = _value_test(prop, operator, item["Value"])
    return lambda document: any(test(value) for value in prop.values(document))


def _value_test(prop: Property, operator: str, raw: str) -> Callable[[Any], bool]:
    """Whether one value of ``prop`` satisfies ``operator`` with the filter's ``raw`` Value."""
    if prop.kind == "text" and operator in ORDERING and prop.hyperparameter:
        return _hyperparameter_test(prop, operator, raw)
    if prop.kind == "text":
        if operator in ORDERING:
            raise _unsupported(prop, operator, "it is not supported for text properties")
        if operator == "Contains":
            return lambda value: raw in str(value)
        if operator == "In":
            accepted = {part.strip() for part in raw.split(",")}
            return lambda value: str(value) in accepted
        return lambda value: str(value) == raw
    if operator in ("Contains", "In"):
        raise _unsupported(prop, operator, "it is only supported for text properties")
    if prop.kind == "boolean":
        if operator in ORDERING:
            raise _unsupported(prop, operator, "a Boolean property takes Equals, NotEquals, Exists and NotExists")
        if raw.lower() not in ("true", "false"):
            raise ValidationError(f"The filter on Boolean property {prop.name} needs Value true or false, not '{raw}'.")
        return lambda value: value is (raw.lower() == "true")
    if prop.kind == "number":
        target: Any = _number(prop, raw)
    elif prop.kind == "time":
        target = _timestamp(prop.name, raw)
    else:
        raise _unsupported(prop, operator, "it is not a number, text, Boolean or timestamp (use Exists or NotExists)")
    compare = ORDERING.get(operator, lambda value, wanted: value == wanted)
    return lambda value: compare(value, target)


def _hyperparameter_test(prop: Property, operator: str, raw: str) -> Callable[[Any], bool]:
    """AWS's rule for hyperparameters (text): decimals when the Value is a decimal, integers when it is an integer."""
    whole = raw.strip().lstrip("+-").isdigit()
    target = int(raw) if whole else _number(prop, raw)
    compare = ORDERING[operator]

    def test(value: Any) -> bool:
        try:
            number = float(value)
        except ValueError:
            return False  # a hyperparameter that is no number satisfies no ordering
        return compare(int(number) if whole else number, target)

    return test


def _number(prop: Property, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValidationError(
            f"The filter on numeric property {prop.name} needs an integer or decimal Value, not '{raw}'."
        ) from None


def _timestamp(name: str, raw: str) -> datetime:
    """A timestamp Value: ISO 8601, UTC unless it names its offset."""
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationError(
            f"The filter on timestamp property {name} needs an ISO 8601 Value (YYYY-mm-ddTHH:MM:SS), not '{raw}'."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _unsupported(prop: Property, operator: str, why: str) -> ValidationError:
    return ValidationError(f"Operator {operator} cannot filter property {prop.name}: {why}.")
