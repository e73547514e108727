"""AWS's request and response contracts, checked with botocore's own service model.

The local cloud checks every SageMaker and SageMaker Runtime request against its operation's input
shape before a handler sees it, and the tests check every answer against the output shape. Both use
botocore's ``ParamValidator`` (required members, types, minimums) with the constraints it leaves to
the service added here: maximums, enums and patterns. Violations read as AWS words them
("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must
not be null"). Members the model does not know are ignored, as AWS's servers ignore them.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.validate import ParamValidator, ValidationErrors

from local_sagemaker.cloud.platform.errors import AwsError

# Java regex constructs the service model uses that Python's ``re`` spells differently.
JAVA_CLASSES = {"ASCII": r"\x00-\x7f", "Print": r"\x20-\x7e", "Alnum": r"a-zA-Z0-9"}
JAVA_TO_PYTHON = {r"\uD800\uDC00-\uDBFF\uDFFF": r"\U00010000-\U0010ffff", r"\z": r"\Z"}
SHOWN_VALUE_CHARS = 200
MUST = "failed to satisfy constraint: Member must"
NUMBERS = ("integer", "long", "double", "float")


@cache
def service_model(service: str) -> ServiceModel:
    """The service model botocore ships (the same one the clients of this venv use)."""
    return botocore.session.get_session().get_service_model(service)


def operation_model(service: str, operation: str) -> OperationModel | None:
    """The operation's model, or None when the service has no such operation."""
    model = service_model(service)
    return model.operation_model(operation) if operation in model.operation_names else None


@cache
def java_pattern(pattern: str) -> re.Pattern[str] | None:
    """A model pattern as a Python regex; None for Unicode-category classes ``re`` cannot express.

    Those (``\\p{L}``, ``\\p{N}``, ... in tag values and descriptions) admit nearly any text, so
    leaving them unchecked refuses nothing AWS accepts.
    """
    translated = _posix_classes(pattern)
    for java, python in JAVA_TO_PYTHON.items():
        translated = translated.replace(java, python)
    if "\\p{" in translated:
        return None
    try:
        return re.compile(translated)  # as Java: "." stops at a line end
    except re.error:
        return None


def _posix_classes(pattern: str) -> str:
    """Java's ``\\p{ASCII}``-style classes as ranges: bracketed alone, bare inside a bracket."""
    out, inside, at = [], False, 0
    while at < len(pattern):
        named = re.match(r"\\p\{(\w+)\}", pattern[at:])
        if named and named.group(1) in JAVA_CLASSES:
            ranges = JAVA_CLASSES[named.group(1)]
            out.append(ranges if inside else f"[{ranges}]")
            at += named.end()
            continue
        step = 2 if pattern[at] == "\\" else 1
        inside = {"[": True, "]": False}.get(pattern[at], inside) if step == 1 else inside
        out.append(pattern[at : at + step])
        at += step
    return "".join(out)


class ContractErrors(ValidationErrors):
    """botocore's error collector, keeping the shape of each reported name to word AWS's message."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, dict[str, Any]]] = []
        self.shapes: dict[str, Shape] = {}

    def report(self, name: str, reason: str, **kwargs: Any) -> None:
        if reason == "unknown field":
            return
        super().report(name, reason, **kwargs)
        self.found.append((name, reason, kwargs))

    def messages(self) -> list[str]:
        """One AWS-worded sentence per violation."""
        return [self._message(name, reason, details) for name, reason, details in self.found]

    def _message(self, name: str, reason: str, details: dict[str, Any]) -> str:
        shape = self.shapes.get(name)
        if reason == "missing required field":
            return f"Value null at '{aws_path(name + '.' + details['required_name'])}' {MUST} not be null"
        value = f"Value {shown(details.get('param'))} at '{aws_path(name)}' {MUST}"
        if reason == "invalid type":
            return f"{value} be of type {shape.type_name if shape else ' or '.join(details['valid_types'])}"
        if reason in ("invalid range", "invalid length"):
            what = "value" if reason == "invalid range" else "length"
            return f"{value} have {what} greater than or equal to {details['min_allowed']}"
        if reason in ("above range", "above length"):
            what = "value" if reason == "above range" else "length"
            return f"{value} have {what} less than or equal to {details['max_allowed']}"
        if reason == "not in enum":
            return f"{value} satisfy enum value set: [{', '.join(details['allowed'])}]"
        if reason == "no pattern match":
            return f"{value} satisfy regular expression pattern: {details['pattern']}"
        return f"{value} satisfy the model ({reason})"


class ContractValidator(ParamValidator):
    """botocore's validator plus the maximums, enums and patterns of the model."""

    # botocore skips list items whose shape has none of its own constraints; these are constraints too.
    VALIDATED_METADATA_ATTRS = ParamValidator.VALIDATED_METADATA_ATTRS | {"max", "enum", "pattern"}

    def __init__(self, wire: bool = False) -> None:
        """``wire``: check a request as it arrives (JSON), where a timestamp is epoch seconds, never a string."""
        super().__init__()
        self.wire = wire

    def _validate_timestamp(self, param: Any, shape: Shape, errors: ContractErrors, name: str) -> None:
        if self.wire and (isinstance(param, bool) or not isinstance(param, int | float)):
            errors.report(name, "invalid type", param=param, valid_types=["epoch seconds"])
            return
        super()._validate_timestamp(param, shape, errors, name)

    def validate(self, params: Any, shape: Shape) -> ContractErrors:
        errors = ContractErrors()
        self._validate(params, shape, errors, name="")
        return errors

    def _validate(self, params: Any, shape: Shape, errors: ContractErrors, name: str) -> None:  # type: ignore[override]
        errors.shapes[name] = shape
        super()._validate(params, shape, errors, name)
        self._check_constraints(params, shape, errors, name)

    @staticmethod
    def _check_constraints(params: Any, shape: Shape, errors: ContractErrors, name: str) -> None:
        meta = shape.metadata
        if shape.type_name == "string" and isinstance(params, str):
            if "max" in meta and len(params) > meta["max"]:
                errors.report(name, "above length", param=params, max_allowed=meta["max"])
            if shape.enum and params not in shape.enum:
                errors.report(name, "not in enum", param=params, allowed=shape.enum)
            pattern = java_pattern(meta["pattern"]) if "pattern" in meta else None
            if pattern is not None and pattern.fullmatch(params) is None:
                errors.report(name, "no pattern match", param=params, pattern=meta["pattern"])
        elif shape.type_name in ("list", "map") and isinstance(params, list | tuple | dict):
            if "max" in meta and len(params) > meta["max"]:
                errors.report(name, "above length", param=params, max_allowed=meta["max"])
            if shape.type_name == "map" and len(params) < meta.get("min", 0):  # botocore checks lists only
                errors.report(name, "invalid length", param=params, min_allowed=meta["min"])
        elif shape.type_name in NUMBERS and isinstance(params, int | float) and params > meta.get("max", params):
            errors.report(name, "above range", param=params, max_allowed=meta["max"])


def violations(params: Any, shape: Shape, wire: bool = False) -> list[str]:
    """Every way ``params`` breaks ``shape``'s contract, worded as AWS words it; empty when it holds.

    ``wire``: ``params`` is a request as the JSON protocol carries it (see ContractValidator).
    """
    return ContractValidator(wire).validate(params, shape).messages()


def check_request(service: str, operation: str, params: Any, error_code: str) -> None:
    """Refuse a request that breaks its operation's input contract, as AWS does (HTTP 400)."""
    model = operation_model(service, operation)
    if model is None or model.input_shape is None:
        return
    if not isinstance(params, dict):
        raise AwsError(error_code, f"The request body must be a JSON object, not {shown(params)}.")
    found = violations(params, model.input_shape, wire=True)
    if found:
        raise AwsError(error_code, validation_message(found))


def answer_violations(service: str, operation: str, answer: dict[str, Any]) -> list[str]:
    """How an answer breaks its operation's output shape (required members, types, constraints)."""
    model = operation_model(service, operation)
    if model is None or model.output_shape is None:
        return []
    return violations(answer, model.output_shape)


def validation_message(found: list[str]) -> str:
    """AWS's summary line: ``N validation error(s) detected: <first>; <second>``."""
    count = f"{len(found)} validation error{'s' if len(found) > 1 else ''} detected"
    return f"{count}: {'; '.join(found)}"


def aws_path(name: str) -> str:
    """botocore's ``.ProductionVariants[0].InitialInstanceCount`` as AWS writes it:
    ``productionVariants.1.member.initialInstanceCount``."""
    path = re.sub(r"\[(\d+)\]", lambda match: f".{int(match.group(1)) + 1}.member", name.lstrip("."))
    return ".".join(part[:1].lower() + part[1:] for part in path.split("."))


def shown(value: Any) -> str:
    """A value as AWS quotes it in a message: ``'abc'``, ``'3'``, ``null``."""
    if value is None:
        return "null"
    text = str(value)
    return f"'{text[:SHOWN_VALUE_CHARS]}{'...' if len(text) > SHOWN_VALUE_CHARS else ''}'"
