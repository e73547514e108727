"""SageMaker Maze's local cloud: the AWS APIs the notebooks call, executed on this machine.

``connect()`` is the notebook switch; ``python -m local_sagemaker up|status|down`` the terminal's.
"""

from local_sagemaker.kernel.connect import Connection, connect

__all__ = ["Connection", "connect"]
