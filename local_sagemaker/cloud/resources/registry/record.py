"""The Model Registry's records: a model package group, and a model package (a version of a group, or unversioned)
as DescribeModelPackageGroup and DescribeModelPackage show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from local_sagemaker.cloud.platform.clock import now
from local_sagemaker.cloud.platform.resource import Resource

PENDING = "PendingManualApproval"
# Members of CreateModelPackage (or set by UpdateModelPackage) that DescribeModelPackage answers as they were given.
ECHOED = (
    "ModelPackageDescription",
    "ModelPackageRegistrationType",
    "InferenceSpecification",
    "SourceAlgorithmSpecification",
    "ValidationSpecification",
    "CertifyForMarketplace",
    "MetadataProperties",
    "ModelMetrics",
    "Domain",
    "Task",
    "SamplePayloadUrl",
    "CustomerMetadataProperties",
    "DriftCheckBaselines",
    "AdditionalInferenceSpecifications",
    "SkipModelValidation",
    "SourceUri",
    "SecurityConfig",
    "ModelCard",
    "ModelLifeCycle",
)
# The caller as SageMaker records it (CreatedBy, LastModifiedBy): empty for a caller outside a Studio domain, and
# the local cloud has no Studio domain.
NO_STUDIO_USER: dict[str, Any] = {}


@dataclass(kw_only=True)
class ModelPackageGroupRecord(Resource):
    """A group: its request, and the last version number it issued (numbers are never reused, as on AWS)."""

    KIND: ClassVar[str] = "ModelPackageGroup"

    request: dict[str, Any]  # CreateModelPackageGroup's request without Tags
    versions_issued: int = 0

    @property
    def name(self) -> str:
        return self.request["ModelPackageGroupName"]

    def next_version(self) -> int:
        """The number of the group's next version, written before it is handed out."""
        with self.lock:
            self.versions_issued += 1
            self.changed()
            return self.versions_issued

    def summary(self) -> dict[str, Any]:
        out = {
            "ModelPackageGroupName": self.name,
            "ModelPackageGroupArn": self.arn,
            "CreationTime": self.creation_time,
            "ModelPackageGroupStatus": "Completed",
        }
        for key in ("ModelPackageGroupDescription", "ManagedConfiguration"):
            if key in self.request:
                out[key] = self.request[key]
        return out

    def describe(self) -> dict[str, Any]:
        return {**self.summary(), "CreatedBy": NO_STUDIO_USER}


@dataclass(kw_only=True)
class ModelPackageRecord(Resource):
    """A model package: versioned (``group`` and ``version`` set, kept as ``<group>/<version>``, listed under the
    group's name, as its ARN reads) or unversioned (kept and listed under its ModelPackageName)."""

    KIND: ClassVar[str] = "ModelPackage"

    request: dict[str, Any]  # CreateModelPackage's request without Tags and without the group
    group: str | None = None
    version: int | None = None
    approval_status: str | None = None  # versioned packages only
    approval_description: str | None = None
    last_modified_time: datetime | None = None

    @property
    def name(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.request["ModelPackageName"]

    @property
    def listed_name(self) -> str:
        return self.group or self.request["ModelPackageName"]

    @property
    def status(self) -> str:
        """ModelPackageStatus: the local cloud validates nothing asynchronously, so a package is Completed at once."""
        return "Completed"

    def update(self, request: dict[str, Any]) -> None:
        """UpdateModelPackage's changes (checked by the caller), written before the call answers."""
        with self.lock:
            if "ModelApprovalStatus" in request:
                self.approval_status = request["ModelApprovalStatus"]
            if "ApprovalDescription" in request:
                self.approval_description = request["ApprovalDescription"]
            if "CustomerMetadataProperties" in request or "CustomerMetadataPropertiesToRemove" in request:
                metadata = {
                    **self.request.get("CustomerMetadataProperties", {}),
                    **request.get("CustomerMetadataProperties", {}),
                }
                for key in request.get("CustomerMetadataPropertiesToRemove", []):
                    metadata.pop(key, None)
                self.request["CustomerMetadataProperties"] = metadata
            added = request.get("AdditionalInferenceSpecificationsToAdd", [])
            if added:
                self.request["AdditionalInferenceSpecifications"] = [
                    *self.request.get("AdditionalInferenceSpecifications", []),
                    *added,
                ]
            for key in (
                "InferenceSpecification",
                "SourceUri",
                "ModelCard",
                "ModelLifeCycle",
                "ModelPackageRegistrationType",
            ):
                if key in request:
                    self.request[key] = request[key]
            self.last_modified_time = now()
            self.changed()

    def summary(self) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {
                "ModelPackageName": self.listed_name,
                "ModelPackageArn": self.arn,
                "CreationTime": self.creation_time,
                "ModelPackageStatus": self.status,
            }
            if self.group:
                out.update(
                    ModelPackageGroupName=self.group,
                    ModelPackageVersion=self.version,
                    ModelApprovalStatus=self.approval_status,
                )
            for key in ("ModelPackageDescription", "ModelLifeCycle", "ModelPackageRegistrationType"):
                if key in self.request:
                    out[key] = self.request[key]
            return out

    def describe(self) -> dict[str, Any]:
        out = self.summary()
        with self.lock:
            out.update({key: self.request[key] for key in ECHOED if key in self.request})
            out["ModelPackageStatusDetails"] = {"ValidationStatuses": []}
            out["CreatedBy"] = NO_STUDIO_USER
            if self.last_modified_time:
                out.update(LastModifiedTime=self.last_modified_time, LastModifiedBy=NO_STUDIO_USER)
            if self.approval_description is not None:
                out["ApprovalDescription"] = self.approval_description
            return out
