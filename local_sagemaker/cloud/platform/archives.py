"""The one rule for every tar archive the local cloud unpacks: nothing lands outside the folder it is unpacked into.

On SageMaker an archive from a user (a training job's ``sourcedir.tar.gz``, a model's ``model.tar.gz``)
is unpacked inside a container, whose file system is the job's alone; here it is unpacked on the host,
as the cloud's user. So every archive is checked whole before a byte is written, and refused, naming the
member, if any member could write elsewhere:

- a name that is absolute or climbs with ``..`` (GNU tar and tarfile's "data" filter would strip a
  leading ``/`` and write the member inside; refused here instead, so a file never lands silently
  somewhere other than where its archive names it);
- a member whose path goes through a symbolic link of the archive (``lnk -> /tmp`` then ``lnk/x``);
- a symbolic link whose target is absolute, leaves the folder, or goes through another link of the
  archive; a hard link to anything but an earlier regular file of the archive;
- a device, FIFO or other special file.

The check is on names alone (no ``realpath`` of what is on disk), into a fresh folder, so it holds on the
Pythons whose tarfile "data" filter can be fooled by links and long paths (CVE-2025-4138, -4517, fixed in
3.11.13 / 3.12.11); the extraction itself then runs with that filter too, which also drops set-uid bits
and ownership.
"""

from __future__ import annotations

import posixpath
import tarfile
from pathlib import Path


class ArchiveError(Exception):
    """The archive cannot be unpacked inside its folder, or is not a tar archive; the message says which member."""


def unpack(archive: Path, folder: Path) -> None:
    """Unpack the tar or tar.gz ``archive`` into ``folder``; or raise :class:`ArchiveError`, having written nothing."""
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            check(members)
            folder.mkdir(parents=True, exist_ok=True)
            tar.extractall(folder, members=members, filter="data")
    except tarfile.FilterError as error:  # the check above refuses more; kept as a second line
        raise ArchiveError(f"member {error.tarinfo.name!r} is refused by tarfile's data filter ({error})") from error
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ArchiveError(f"it is not a readable tar archive ({error})") from error


def check(members: list[tarfile.TarInfo]) -> None:
    """Raise :class:`ArchiveError` for the first member that could write outside the folder (see the module's doc)."""
    links = {posixpath.normpath(m.name) for m in members if m.issym() and not _outside(m.name, set())}
    regular: set[str] = set()
    for member in members:
        if why := _outside(member.name, links):
            raise ArchiveError(f"member {member.name!r} {why}")
        name = posixpath.normpath(member.name)
        if member.issym():
            target = posixpath.join(posixpath.dirname(name), member.linkname)
            why = _outside(target, links) or ("points to another link" if posixpath.normpath(target) in links else "")
            if why:
                raise ArchiveError(f"symbolic link {member.name!r} -> {member.linkname!r} {why}")
        elif member.islnk():
            if _outside(member.linkname, links) or posixpath.normpath(member.linkname) not in regular:
                raise ArchiveError(
                    f"hard link {member.name!r} -> {member.linkname!r} does not name an earlier file of the archive"
                )
        elif member.isreg():
            regular.add(name)
        elif not member.isdir():
            raise ArchiveError(f"member {member.name!r} is a device, FIFO or other special file")
        if not member.isdir() and name == ".":
            raise ArchiveError(f"member {member.name!r} would replace the folder itself")


def _outside(path: str, links: set[str]) -> str:
    """Why ``path``, relative to the folder, could lead outside it ("" if it cannot): it is absolute, climbs out
    with '..', or goes on through one of ``links`` (the archive's symbolic links), wherever that one points."""
    if path.startswith("/"):
        return "is absolute"
    parts: list[str] = []
    for part in path.split("/"):
        if "/".join(parts) in links:
            return f"goes through the archive's symbolic link {'/'.join(parts)!r}"
        if part == "..":
            if not parts:
                return "climbs out of the folder with '..'"
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return ""
