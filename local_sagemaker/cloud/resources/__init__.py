"""The control plane: one package per SageMaker service, each in one shape. Services import the platform and
compute, never each other (a service reads another's resource through its public operation, e.g. batch
through hosting's DescribeModel, injected by the server).

Each package holds:

- ``record.py``: the typed record of each resource, a dataclass over ``platform.resource.Resource`` (its
  fields are what the store keeps; ``transient()`` ones live with the process), with ``describe()`` and
  ``summary()`` in the API's shapes;
- ``operations.py``: the service, the API (Create/Describe/List/Stop/Delete...). Its records live in a
  ``platform.resource.Registry`` (created only once written, with their tags; read back at start); each
  ``List*`` is a ``platform.listing.Listing`` (SortBy enum, default SortOrder, summary); it offers the
  ``platform.resource.Service`` face: ``actions()``, ``busy()``, ``shutdown()``;
- the executor: ``runner.py`` for jobs (one thread per job), ``fleet.py`` for hosting's instances.

Adding a sixth resource, a processing job say, takes ``resources/processing/`` with ``record.py``
(``ProcessingJobRecord(Resource)``, ``KIND = "ProcessingJob"``), ``operations.py`` (``ProcessingService``:
a Registry, ``Listing("ProcessingJobSummaries", ..., ("Name", "CreationTime", "Status"), "Ascending")``)
and ``runner.py``, plus one entry in ``cloud/server.py``'s ``services`` list. Nothing else changes: the front
routes every action a service lists, the store and tags take any kind, the server stops and waits for any
service, and the import contracts cover every package under ``resources``.
"""
