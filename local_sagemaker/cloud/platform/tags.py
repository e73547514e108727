"""SageMaker's AddTags, ListTags and DeleteTags over the resources the local cloud created."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from local_sagemaker.cloud.platform.errors import ValidationError
from local_sagemaker.cloud.platform.records import RecordStore

KIND = "Tags"


class TagStore:
    """Tags by ARN; a resource is taggable once the registry that created it adopted its tags. Each ARN's tags
    are one record of ``store``, written before the call that changed them answers."""

    def __init__(self, store: RecordStore) -> None:
        self._store = store
        self._tags: dict[str, dict[str, str]] = {body["arn"]: body["tags"] for body in store.load(KIND)}
        self._lock = threading.Lock()

    @staticmethod
    def entry(arn: str, tags: list[dict[str, str]] | None) -> tuple[str, str, dict[str, Any]]:
        """The store's record of a new resource's tags, written in the transaction that creates the resource."""
        return KIND, arn, {"arn": arn, "tags": {tag["Key"]: tag["Value"] for tag in tags or []}}

    def adopt(self, entry: tuple[str, str, dict[str, Any]]) -> None:
        """Make a resource taggable once ``entry`` (see ``entry``) is on disk."""
        _, arn, body = entry
        with self._lock:
            self._tags[arn] = dict(body["tags"])

    def actions(self) -> dict[str, Callable[[dict[str, Any], str], dict[str, Any]]]:
        return {"AddTags": self.add, "ListTags": self.list, "DeleteTags": self.delete}

    def _of(self, arn: str) -> dict[str, str]:
        if arn not in self._tags:
            raise ValidationError(f"Resource {arn} does not exist.")
        return self._tags[arn]

    def _change(self, arn: str, change: Callable[[dict[str, str]], None]) -> dict[str, str]:
        """Apply ``change`` to a copy of the tags, write it, then keep it: a failed write changes nothing."""
        with self._lock:
            tags = dict(self._of(arn))
            change(tags)
            self._store.put(KIND, arn, {"arn": arn, "tags": tags})
            self._tags[arn] = tags
            return tags

    def add(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        tags = self._change(request["ResourceArn"], lambda t: t.update({x["Key"]: x["Value"] for x in request["Tags"]}))
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}

    def list(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        """All of them: a resource holds at most 50 tags, ListTags' smallest MaxResults, so one page."""
        with self._lock:
            return {"Tags": [{"Key": k, "Value": v} for k, v in self._of(request["ResourceArn"]).items()]}

    def current(self, arn: str) -> list[dict[str, str]]:
        """A resource's tags as a Search record shows them: none for one deleted meanwhile."""
        with self._lock:
            return [{"Key": k, "Value": v} for k, v in self._tags.get(arn, {}).items()]

    def delete(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        def drop(tags: dict[str, str]) -> None:
            for key in request["TagKeys"]:
                tags.pop(key, None)

        self._change(request["ResourceArn"], drop)
        return {}
