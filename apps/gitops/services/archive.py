"""Definition files as a tar.gz, for the API (a CI job uploads or downloads one file with curl)."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Mapping
from pathlib import PurePosixPath

from apps.core.errors import ApplicationError

MAX_FILES = 5000  # entries of any type
MAX_BYTES = 20 * 1024 * 1024  # unpacked: a tenant's definitions are text, far below this
MAX_ARCHIVE_BYTES = 5 * 1024 * 1024


def files_to_tar_gz(files: Mapping[str, str]) -> bytes:
    """Stable bytes: sorted members, no timestamps or owners, so the same files give the same archive."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            data = files[path].encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def _member_path(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise ApplicationError(f"{name}: paths in the archive are relative and stay inside it", field="archive")
    return path.as_posix()  # without a leading "./" (tar -C dir .)


def files_from_tar_gz(data: bytes) -> dict[str, str]:
    """The text files of a tar.gz (relative path → text), rooted at the folder that holds tenant.yaml."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ApplicationError("The archive is too large for a tenant's definitions.", field="archive")
    files, unpacked = {}, 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            # Member by member: a crafted archive of countless entries stops at the limit, not at memory's end.
            for count, member in enumerate(tar, start=1):
                unpacked += member.size
                if count > MAX_FILES or unpacked > MAX_BYTES:
                    raise ApplicationError("The archive is too large for a tenant's definitions.", field="archive")
                if not member.isfile():
                    continue
                extracted = tar.extractfile(member)
                try:
                    files[_member_path(member.name)] = extracted.read().decode("utf-8") if extracted else ""
                except UnicodeDecodeError:
                    raise ApplicationError(f"{member.name}: not UTF-8 text", field="archive") from None
    except (tarfile.TarError, OSError, EOFError):
        raise ApplicationError("Not a readable tar.gz archive.", field="archive") from None
    # Archives often hold one top folder: the definitions start where tenant.yaml is.
    tenant_files = [path for path in files if path == "tenant.yaml" or path.endswith("/tenant.yaml")]
    roots = sorted((path.removesuffix("tenant.yaml") for path in tenant_files), key=len)
    root = roots[0] if roots else ""
    return {path.removeprefix(root): text for path, text in files.items() if path.startswith(root)}
