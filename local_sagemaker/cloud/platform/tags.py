"""SageMaker's AddTags, ListTags and DeleteTags over the resources the local cloud created."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from local_sagemaker.cloud.platform.errors import ValidationError
from local_sagemaker.cloud.platform.records import RecordStore

KIND = "Tags"


class TagStore:
    """Tags by ARN; a resource is taggable once its service registers it at creation. Each ARN's tags are one
    record of ``store``, written before the call that changed them answers."""

    def __init__(self, store: RecordStore) -> None:
        self._store = store
        self._tags: dict[str, dict[str, str]] = {body["arn"]: body["tags"] for body in store.load(KIND)}
        self._lock = threading.Lock()

    def register(self, arn: str, tags: list[dict[str, str]] | None) -> None:
        with self._lock:
            self._tags[arn] = {tag["Key"]: tag["Value"] for tag in tags or []}
            self._save(arn)

    def _save(self, arn: str) -> None:
        self._store.put(KIND, arn, {"arn": arn, "tags": self._tags[arn]})

    def actions(self) -> dict[str, Callable[[dict[str, Any], str], dict[str, Any]]]:
        return {"AddTags": self.add, "ListTags": self.list, "DeleteTags": self.delete}

    def _of(self, arn: str) -> dict[str, str]:
        if arn not in self._tags:
            raise ValidationError(f"Resource {arn} does not exist.")
        return self._tags[arn]

    def add(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            tags = self._of(request["ResourceArn"])
            tags.update({tag["Key"]: tag["Value"] for tag in request.get("Tags", [])})
            self._save(request["ResourceArn"])
            return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}

    def list(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            return {"Tags": [{"Key": k, "Value": v} for k, v in self._of(request["ResourceArn"]).items()]}

    def delete(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        with self._lock:
            tags = self._of(request["ResourceArn"])
            for key in request.get("TagKeys", []):
                tags.pop(key, None)
            self._save(request["ResourceArn"])
            return {}
