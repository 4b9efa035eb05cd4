"""Reading a TOML file the kit depends on (hub settings, translation catalogues), with an error
that names the file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def read(path: Path, missing: str, error: type[Exception]) -> dict[str, Any]:
    """The file's top-level table; ``error(missing)`` when there is no file, ``error`` with the
    parser's message when it is not valid TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(missing) from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc})") from exc
