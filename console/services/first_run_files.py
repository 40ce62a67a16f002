"""Writing the first run's files all or nothing, and the TOML line editor that sets [historian] and [chain]
in a config while keeping the rest of it (comments, order, the operator's other keys) as it was."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from pathlib import Path

# ---- writing all or nothing -----------------------------------------------------------------------------


class FileTransaction:
    """Files placed and folders made by the first run's Finish, removed again (a replaced file restored)
    when a later step fails."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Path, bytes | None]] = []

    def folders(self, folder: Path) -> None:
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        for p in reversed(missing):
            p.mkdir()
            self.steps.append(("dir", p, None))

    def place(self, path: Path, text: str, *, replace: bool = False, mode: int = 0o644) -> None:
        """Write ``text`` to a temporary file beside ``path`` and move it into place in one step: without
        ``replace`` only if nothing exists there (a hard link fails on an existing name), with it keeping
        the old content to restore."""
        self.folders(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, mode)
            if replace and path.exists():
                old = path.read_bytes()
                os.replace(tmp, path)
                self.steps.append(("restore", path, old))
                return
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise FileExistsError(errno.EEXIST, "it appeared while the wizard ran", str(path)) from None
            except OSError:  # a file system without hard links: an exclusive create is as safe, if not as atomic
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
                self.steps.append(("file", path, None))
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(text)
                return
            self.steps.append(("file", path, None))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def database(self, url: str) -> None:
        """A new SQLite file (and its folder) counts as written: removed again if the admin is not created."""
        if not url.startswith("sqlite:///"):
            return
        path = Path(url.removeprefix("sqlite:///"))
        if path.exists():
            return
        self.folders(path.parent)
        for suffix in ("", "-wal", "-shm", "-journal"):
            self.steps.append(("file", path.with_name(path.name + suffix), None))

    def roll_back(self) -> None:
        for kind, path, old in reversed(self.steps):
            with contextlib.suppress(OSError):
                if kind == "dir":
                    path.rmdir()
                elif kind == "restore" and old is not None:
                    path.write_bytes(old)
                else:
                    path.unlink(missing_ok=True)


# ---- the TOML line editor -------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*(?P<name>[^\]]+?)\s*\]\]?\s*(#.*)?$")


def set_table_keys(text: str, table: str, values: dict[str, str]) -> str:
    """``text`` with ``[table]``'s ``values`` (TOML literals) set: lines of those keys in the table replaced,
    the rest of the table (and its comments) kept; the table appended when the file has none."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if (m := _HEADER.match(line)) and line.lstrip()[:2] != "[["
                  and m["name"] == table), None)
    new = [f"{key} = {value}" for key, value in values.items()]
    if start is None:
        return text.rstrip("\n") + f"\n\n[{table}]\n" + "\n".join(new) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    keys = re.compile(r"^\s*(" + "|".join(re.escape(k) for k in values) + r")\s*=")
    body = [line for line in lines[start + 1:end] if not keys.match(line)]
    return "\n".join([*lines[:start + 1], *new, *body, *lines[end:]]) + "\n"


def toml_str(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value)
