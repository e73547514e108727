"""boto3 clients of the local cloud's own front: its runners use the same wire, and sign, as any caller."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config


class LocalAws:
    """Clients and child-process environments pointed at ``endpoint``, signing with the cloud's issued ``key``."""

    def __init__(self, endpoint: str, key: dict[str, str]) -> None:
        self.endpoint = endpoint
        self.key = key
        self._session = boto3.session.Session(
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
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
        """What a job's container needs to reach 'AWS': here, this front, with the cloud's key."""
        return {
            "AWS_ACCESS_KEY_ID": self.key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": self.key["SecretAccessKey"],
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
        }
