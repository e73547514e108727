"""The handout's tests: each task's CI check (test_tasks.py) and the session's local cloud (session_cloud.py).

A package, so that `tests` is this folder and not a `tests` package some dependency installs into site-packages.
"""
