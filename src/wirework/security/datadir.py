"""The data directory (SQLite database and its -wal/-shm files, key files, uploads) is readable
by the user Wirework runs as and nobody else: the directory is 0700, the files in it 0600.

Two parts make that hold for every file, not a list of known ones: `private_umask()` (every
command that creates data calls it first, so files SQLite, the vault, backups and uploads
create start 0600, and directories 0700), and `secure_data_dir()` at start, which makes the
directory and tightens one left looser by an older version, saying what it changed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600

# The database files Wirework writes at the top of the data dir. Only these are tightened in
# place: the data dir might be set to a directory that holds other things, whose modes are not
# ours. The key files are the vault's to check (a loose one is refused in production).
OWN_FILES = ("wirework.db", "wirework.db-wal", "wirework.db-shm", "wirework.db-journal")


def private_umask() -> None:
    """New files of this process are 0600 and new directories 0700 (and those of its children)."""
    os.umask(PRIVATE_UMASK)


def _loose(path: Path, mode: int) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & ~mode != 0


def secure_data_dir(data_dir: Path) -> list[str]:
    """Make `data_dir` 0700 (creating it), and tighten Wirework's own files in it to 0600.
    Returns a sentence for each thing that was looser, for the caller to warn with."""
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    changed: list[str] = []
    if _loose(data_dir, DIR_MODE):
        changed.append(f"{data_dir} was mode {stat.S_IMODE(data_dir.stat().st_mode):o}, now 700")
        data_dir.chmod(DIR_MODE)
    for name in OWN_FILES:
        path = data_dir / name
        if path.is_file() and not path.is_symlink() and _loose(path, FILE_MODE):
            changed.append(f"{path} was mode {stat.S_IMODE(path.stat().st_mode):o}, now 600")
            path.chmod(FILE_MODE)
    return changed
