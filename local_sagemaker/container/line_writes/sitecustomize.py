"""Every Python process of a local cloud container writes each line of stdout and stderr in one piece.

A container's processes share one pipe (gunicorn's workers, a job's subprocesses), and the reader
makes one CloudWatch Logs event per line. With ``PYTHONUNBUFFERED`` (set in the containers, as in
SageMaker's images) ``print("model loaded in 4.2 s")`` is two writes, the text and then the newline,
so two workers printing at once interleave into ``model loaded in 4.2 smodel loaded in 3.5 s``: one
event, and an empty one. Line buffering keeps the text until its newline and writes both with one
``write``, which a pipe never interleaves with another's (up to ``PIPE_BUF``, 4096 bytes); and a
line still leaves the process as soon as it is complete, so logs stream live. Processes forked from
this one (gunicorn's workers) inherit the setting; Python processes started later load this module
again: ``spawn_container`` puts this folder first on the container's ``PYTHONPATH``, and the
training toolkit passes its ``sys.path`` on to the script it runs.

It holds nothing else: the folder is on the container's path, so every name in it is importable there.
"""

import sys

for _stream in (sys.stdout, sys.stderr):
    if _stream is not None and hasattr(_stream, "reconfigure"):
        _stream.reconfigure(line_buffering=True, write_through=False)
