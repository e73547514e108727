"""The SageMaker Model Registry of the local cloud: model package groups and the model packages they version.

Nothing runs here: a package records what to deploy (its InferenceSpecification) and whether it may be deployed
(its ModelApprovalStatus). Hosting creates models from packages through ``deployable_container``, wired in the
server, never by importing this module.
"""

from __future__ import annotations

from typing import Any

from local_sagemaker.cloud.platform.errors import Conflict, ValidationError
from local_sagemaker.cloud.platform.listing import Listing
from local_sagemaker.cloud.platform.names import arn, check_name
from local_sagemaker.cloud.platform.records import RecordStore
from local_sagemaker.cloud.platform.resource import Action, Registry
from local_sagemaker.cloud.platform.tags import TagStore
from local_sagemaker.cloud.resources.registry.record import PENDING, ModelPackageGroupRecord, ModelPackageRecord

# Both sorted by CreationTime, Ascending unless asked otherwise (botocore's model of the two operations).
GROUPS = Listing("ModelPackageGroupSummaryList", ModelPackageGroupRecord.summary, ("Name", "CreationTime"), "Ascending")
PACKAGES = Listing("ModelPackageSummaryList", ModelPackageRecord.summary, ("Name", "CreationTime"), "Ascending")
GROUP_KIND, PACKAGE_KIND = "model-package-group", "model-package"


def _resource_part(name_or_arn: str, kind: str) -> str | None:
    """What follows ``<kind>/`` in an ARN (``grp``, or ``grp/3`` for a version); the name itself when it is no
    ARN; None for an ARN of another kind of resource, which names nothing of ``kind``."""
    if not name_or_arn.startswith("arn:"):
        return name_or_arn
    resource = name_or_arn.split(":", 5)[-1]
    prefix, _, rest = resource.partition("/")
    return rest if prefix == kind else None


def _group_missing(name_or_arn: str, region: str) -> ValidationError:
    shown = name_or_arn if name_or_arn.startswith("arn:") else arn(region, GROUP_KIND, name_or_arn)
    return ValidationError(f"ModelPackageGroup {shown} does not exist.")


def _package_missing(name_or_arn: str, region: str) -> ValidationError:
    shown = name_or_arn if name_or_arn.startswith("arn:") else arn(region, PACKAGE_KIND, name_or_arn)
    return ValidationError(f"ModelPackage {shown} does not exist.")


def _check_create(request: dict[str, Any]) -> None:
    """CreateModelPackage names either a group (a versioned package) or a package (unversioned), as AWS requires."""
    if "ModelPackageGroupName" in request and "ModelPackageName" in request:
        raise ValidationError(
            "Both ModelPackageName and ModelPackageGroupName are provided in the input. Cannot determine which one "
            "to use. Give ModelPackageGroupName for a version of a group, ModelPackageName for an unversioned package."
        )
    if "ModelPackageGroupName" not in request and "ModelPackageName" not in request:
        raise ValidationError(
            "Missing ARN: give ModelPackageGroupName (a versioned model package) or ModelPackageName (unversioned)."
        )
    if "ModelPackageGroupName" in request and request.get("Tags"):
        raise ValidationError(
            "A versioned model package uses the tags of its model package group: Tags cannot be supplied together "
            "with ModelPackageGroupName. Tag the group instead."
        )
    if "ModelPackageName" in request:
        check_name(request["ModelPackageName"], "modelPackageName")
        if "ModelApprovalStatus" in request:
            raise ValidationError(
                "ModelApprovalStatus applies to versioned model packages only (give ModelPackageGroupName), not to "
                "an unversioned one."
            )


class ModelRegistryService:
    """Model package groups and model packages, kept in the store: read back at start, each change written before
    it is answered."""

    def __init__(self, tags: TagStore, store: RecordStore) -> None:
        self._tags = tags
        self.groups = Registry(store, tags, ModelPackageGroupRecord, _group_missing)
        self.packages = Registry(store, tags, ModelPackageRecord, _package_missing)

    def actions(self) -> dict[str, Action]:
        return {
            "CreateModelPackageGroup": self.create_group,
            "DescribeModelPackageGroup": lambda request, region: self._group(
                request["ModelPackageGroupName"], region
            ).describe(),
            "ListModelPackageGroups": self.list_groups,
            "DeleteModelPackageGroup": self.delete_group,
            "CreateModelPackage": self.create_package,
            "DescribeModelPackage": lambda request, region: self._package(
                request["ModelPackageName"], region
            ).describe(),
            "ListModelPackages": self.list_packages,
            "UpdateModelPackage": self.update_package,
            "DeleteModelPackage": self.delete_package,
        }

    def searchable_packages(self, region: str) -> list[dict[str, Any]]:
        """The model packages of ``region`` as DescribeModelPackage answers them, for Search (wired in the server)."""
        return [package.describe() for package in self.packages.all() if package.region == region]

    def searchable_groups(self, region: str) -> list[dict[str, Any]]:
        """The groups of ``region`` as DescribeModelPackageGroup answers them, for Search (wired in the server)."""
        return [group.describe() for group in self.groups.all() if group.region == region]

    # lookups --------------------------------------------------------------------------------
    def _group(self, name_or_arn: str, region: str) -> ModelPackageGroupRecord:
        """By name, or by ARN (whose name SageMaker lower-cases)."""
        part = _resource_part(name_or_arn, GROUP_KIND)
        found = [
            group
            for group in self.groups.all()
            if part is not None and (group.name == part or (part != name_or_arn and group.name.lower() == part.lower()))
        ]
        if not found:
            raise _group_missing(name_or_arn, region)
        return found[0]

    def _package(self, name_or_arn: str, region: str) -> ModelPackageRecord:
        """By ARN, ``<group>/<version>`` or an unversioned package's name."""
        part = _resource_part(name_or_arn, PACKAGE_KIND)
        by_arn = part != name_or_arn
        found = [
            package
            for package in self.packages.all()
            if part is not None and (package.name == part or (by_arn and package.name.lower() == part.lower()))
        ]
        if not found:
            raise _package_missing(name_or_arn, region)
        return found[0]

    # groups ---------------------------------------------------------------------------------
    def create_group(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        name = check_name(request.get("ModelPackageGroupName", ""), "modelPackageGroupName")
        group_arn = arn(region, GROUP_KIND, name)
        kept = {key: value for key, value in request.items() if key != "Tags"}
        record = ModelPackageGroupRecord(request=kept, arn=group_arn)
        self.groups.add(
            record,
            request.get("Tags"),
            lambda: ValidationError(f'Cannot create already existing model package group "{group_arn}".'),
        )
        return {"ModelPackageGroupArn": group_arn}

    def list_groups(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        # Groups shared from other accounts: there are no other accounts here.
        shared_only = request.get("CrossAccountFilterOption") == "CrossAccount"
        return GROUPS.answer([] if shared_only else self.groups.all(), request)

    def delete_group(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        group = self._group(request["ModelPackageGroupName"], region)
        versions = sorted(p.version or 0 for p in self.packages.all() if p.group == group.name)
        if versions:
            raise Conflict(
                f"Model package group {group.arn} still holds model package versions {versions}: delete them "
                "(DeleteModelPackage) before the group."
            )
        self.groups.remove(group)
        return {}

    # packages -------------------------------------------------------------------------------
    def create_package(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        _check_create(request)
        kept = {key: value for key, value in request.items() if key not in ("Tags", "ModelPackageGroupName")}
        if "ModelPackageName" in request:
            record = ModelPackageRecord(request=kept, arn=arn(region, PACKAGE_KIND, request["ModelPackageName"]))
            tags = request.get("Tags")
        else:
            group = self._group(request["ModelPackageGroupName"], region)
            repeated = self._same_token(group.name, request.get("ClientToken"))
            if repeated is not None:  # a retried call: the version it created, not another one
                return {"ModelPackageArn": repeated.arn}
            version = group.next_version()
            record = ModelPackageRecord(
                request=kept,
                arn=arn(region, PACKAGE_KIND, f"{group.name}/{version}"),
                group=group.name,
                version=version,
                approval_status=request.get("ModelApprovalStatus", PENDING),
            )
            tags = self._tags.list({"ResourceArn": group.arn}, region)["Tags"]
        exists = ValidationError(f'Cannot create already existing model package "{record.arn}".')
        self.packages.add(record, tags, lambda: exists)
        return {"ModelPackageArn": record.arn}

    def _same_token(self, group: str, token: str | None) -> ModelPackageRecord | None:
        """The version of ``group`` an earlier call with this ClientToken created (the call is idempotent)."""
        if token is None:
            return None
        return next(
            (p for p in self.packages.all() if p.group == group and p.request.get("ClientToken") == token), None
        )

    def list_packages(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        """AWS's documented default type is Unversioned, but a listing of one group lists its versions."""
        group_name = request.get("ModelPackageGroupName")
        group = _resource_part(group_name, GROUP_KIND) if group_name else None
        default_type = "Versioned" if group_name else "Unversioned"
        wanted = request.get("ModelPackageType", default_type)
        status = request.get("ModelApprovalStatus")
        chosen = [
            package
            for package in self.packages.all()
            if wanted in ("Both", "Versioned" if package.group else "Unversioned")
            and (group_name is None or (package.group or "").lower() == (group or "").lower())
            and (status is None or package.approval_status == status)
        ]
        return PACKAGES.answer(chosen, request)

    def update_package(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        package = self._package(request["ModelPackageArn"], region)
        if package.group is None and "ModelApprovalStatus" in request:
            raise ValidationError(
                f"Model package {package.arn} is unversioned: ModelApprovalStatus applies to versioned model "
                "packages (the versions of a model package group) only."
            )
        if "InferenceSpecification" in request and "InferenceSpecification" in package.request:
            raise ValidationError(
                f"Model package {package.arn} has an InferenceSpecification already; it can be given once. Register "
                "a new version with the new one."
            )
        package.update(request)
        return {"ModelPackageArn": package.arn}

    def delete_package(self, request: dict[str, Any], region: str) -> dict[str, Any]:
        self.packages.remove(self._package(request["ModelPackageName"], region))
        return {}

    # what hosting deploys -------------------------------------------------------------------
    def deployable_container(self, name_or_arn: str, specification: str | None, region: str) -> dict[str, Any]:
        """The container a model created from the package runs (CreateModel with ``ModelPackageName``): the one
        container of its InferenceSpecification, or of its additional specification named ``specification``.

        A version must be Approved first, as AWS requires to deploy it; the local cloud hosts one container per
        model, so a package of several is refused, naming the limit.
        """
        package = self._package(name_or_arn, region)
        if package.group and package.approval_status != "Approved":
            raise ValidationError(
                f"Model package {package.arn} has ModelApprovalStatus {package.approval_status}: a model package "
                "version must be Approved to deploy it. Approve it first (UpdateModelPackage with "
                "ModelApprovalStatus=Approved)."
            )
        if specification is None:
            spec = package.request.get("InferenceSpecification")
        else:
            additional = package.request.get("AdditionalInferenceSpecifications", [])
            spec = next((s for s in additional if s["Name"] == specification), None)
            if spec is None:
                raise ValidationError(
                    f"Model package {package.arn} has no additional inference specification named '{specification}'"
                    f" (it has {sorted(s['Name'] for s in additional)})."
                )
        if spec is None:
            raise ValidationError(
                f"Model package {package.arn} has no InferenceSpecification: the local cloud deploys packages that "
                "name their container (algorithm packages of AWS Marketplace are not part of it)."
            )
        containers = spec.get("Containers", [])
        if len(containers) != 1:
            raise ValidationError(
                f"Model package {package.arn} has {len(containers)} containers: the local cloud hosts models with "
                "exactly one container. Register a package of one container, or run on AWS (MAZE_TARGET=aws)."
            )
        return dict(containers[0])

    def busy(self) -> bool:
        return False  # nothing of it runs

    def shutdown(self) -> None:
        """Nothing runs: every change is on disk when its call answers."""
