"""The first command of a network-isolated job, inside its new network namespace: loopback up, then the job.

Run as a script by ``unshare`` (``local_sagemaker/cloud/compute/network_isolation.py`` says when and why):
a new namespace's loopback is down, and a container has it up.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import sys

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def _bring_up_loopback() -> None:
    """A new network namespace's loopback is down; the job gets it up, as a container has it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))


if __name__ == "__main__":
    # Run by unshare inside the new namespace: loopback up, then become the job's command.
    _bring_up_loopback()
    os.execvp(sys.argv[1], sys.argv[1:])
