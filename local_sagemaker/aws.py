"""boto3 clients of the local cloud's own front: its runners use the same wire as any caller."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local-cloud", "AWS_SECRET_ACCESS_KEY": "local-cloud-secret"}


class LocalAws:
    """Clients and child-process environments pointed at ``endpoint``."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._session = boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint,
                    config=Config(retries={"max_attempts": 3}, max_pool_connections=32),
                )
            return self._clients[key]

    def environment(self, region: str) -> dict[str, str]:
        """What a job's container needs to reach 'AWS': here, this front."""
        return {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
        }
