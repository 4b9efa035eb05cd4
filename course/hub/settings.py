"""The hub's settings: one TOML file the admin edits (``deploy/onemachine/hub.example.toml``).

Everything else (the JupyterHub configuration, the accounts, the exchange, the nbgrader config
of the grader and of the students) is derived from it, so the hub and the machine never disagree.

>>> s = parse({"course": {"id": "bizcases", "kit": "/srv/kit", "instructors": ["ada"],
...            "students": ["alice", "bob"]}})
>>> s.grader, s.formgrade_group, s.student_group
('grader-bizcases', 'formgrade-bizcases', 'nbgrader-bizcases')
>>> str(s.course_root)
'/home/grader-bizcases/bizcases'
>>> s.memory_limit
2147483648
>>> parse({"course": {"id": "bad id", "kit": "/srv/kit"}})
Traceback (most recent call last):
...
course.hub.settings.SettingsError: course.id 'bad id': use letters, digits, '_' (it names groups and folders)
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from course import tomlfile

_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")  # a portable Unix account name
_COURSE = re.compile(r"^[A-Za-z0-9_]{1,40}$")  # no '-': nbgrader splits group names on the first '-'
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


class SettingsError(ValueError):
    """The settings file is missing, unreadable or inconsistent (the message says where)."""


def parse_size(text: str) -> int:
    """``"2G"`` → bytes (powers of 1024).

    >>> parse_size("512M"), parse_size("1.5G")
    (536870912, 1610612736)
    """
    match = _SIZE.match(str(text))
    if not match:
        raise SettingsError(f"limits.memory {text!r}: write a size like 2G or 512M")
    number, unit = float(match.group(1)), match.group(2).upper()
    return int(number * 1024 ** " KMGT".index(unit or " "))


@dataclass(frozen=True)
class HubSettings:
    course_id: str
    kit: Path  # a checkout of this kit: the course (config, source/, release/) is copied from it
    grader: str
    instructors: tuple[str, ...]
    students: tuple[str, ...]
    home_root: Path = Path("/home")
    ip: str = "0.0.0.0"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    service_port: int = 9999
    state_dir: Path = Path("/srv/bizcases-hub")
    env_bin: Path = field(default_factory=lambda: Path(sys.executable).parent)
    proxy: Path | None = None
    exchange_root: Path = Path("/srv/nbgrader/exchange")
    db_url: str = ""  # empty: SQLite in the grader's course folder
    postgres_admin: str = "postgres"  # OS account that owns the PostgreSQL cluster (provisioning)
    memory: str = "2G"
    cpu: float = 1.0
    require_limits: bool = True
    late_penalty: str = "zero"  # nbgrader's LateSubmissionPlugin.penalty_method: "none" or "zero"
    environment: dict[str, str] = field(default_factory=dict)

    # --- derived names -------------------------------------------------------------------
    @property
    def formgrade_group(self) -> str:
        return f"formgrade-{self.course_id}"

    @property
    def student_group(self) -> str:
        return f"nbgrader-{self.course_id}"

    @property
    def service_name(self) -> str:
        return self.course_id

    @property
    def grader_home(self) -> Path:
        return self.home_root / self.grader

    @property
    def course_root(self) -> Path:
        return self.grader_home / self.course_id

    @property
    def hub_dir(self) -> Path:
        """The hub's own state (its database, cookie secret): root only."""
        return self.state_dir / "hub"

    @property
    def user_config_dir(self) -> Path:
        """Jupyter config shared by every single-user server and the formgrader service."""
        return self.state_dir / "jupyter"

    @property
    def service_config_dir(self) -> Path:
        """Jupyter config of the formgrader service (the grader's server)."""
        return self.state_dir / "formgrader"

    @property
    def gradebook_url(self) -> str:
        return self.db_url or f"sqlite:///{self.course_root / 'gradebook.db'}"

    @property
    def memory_limit(self) -> int:
        return parse_size(self.memory)

    @property
    def users(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.instructors, *self.students)))

    def proxy_command(self) -> Path:
        if self.proxy is not None:
            return self.proxy
        return self.kit / "deploy" / "node_modules" / ".bin" / "configurable-http-proxy"


def _names(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"{where}: a list of account names, e.g. [\"alice\", \"bob\"]")
    for name in value:
        if not _NAME.match(name):
            raise SettingsError(f"{where}: {name!r} is not a valid account name (lower case letters, digits, '_', '-')")
    return tuple(value)


def parse(data: dict) -> HubSettings:
    """Validate the parsed TOML (tables ``course``, ``hub``, ``exchange``, ``gradebook``,
    ``limits``, ``environment``)."""
    course = data.get("course")
    if not isinstance(course, dict):
        raise SettingsError("missing [course] table (id, kit, instructors, students)")
    course_id = str(course.get("id", ""))
    if not _COURSE.match(course_id):
        raise SettingsError(f"course.id {course_id!r}: use letters, digits, '_' (it names groups and folders)")
    if "kit" not in course:
        raise SettingsError("course.kit: the folder of this kit's checkout (its source/, release/ are the course)")
    grader = str(course.get("grader", f"grader-{course_id}"))
    _names([grader], "course.grader")
    instructors = _names(course.get("instructors", []), "course.instructors")
    students = _names(course.get("students", []), "course.students")
    both = set(instructors) & set(students)
    if both:
        raise SettingsError(f"both instructor and student: {sorted(both)}")
    if grader in instructors or grader in students:
        raise SettingsError(f"course.grader {grader!r} must not be a person's account")

    hub, exchange, gradebook = data.get("hub", {}), data.get("exchange", {}), data.get("gradebook", {})
    limits, env = data.get("limits", {}), data.get("environment", {})
    if not all(isinstance(v, str) for v in env.values()):
        raise SettingsError("[environment]: values must be strings")
    kwargs: dict = dict(
        course_id=course_id,
        kit=Path(course["kit"]),
        grader=grader,
        instructors=instructors,
        students=students,
        environment=dict(env),
    )
    optional = {
        "home_root": (course, "home_root", Path),
        "late_penalty": (course, "late_penalty", str),
        "ip": (hub, "ip", str),
        "port": (hub, "port", int),
        "hub_port": (hub, "hub_port", int),
        "proxy_api_port": (hub, "proxy_api_port", int),
        "service_port": (hub, "service_port", int),
        "state_dir": (hub, "state_dir", Path),
        "env_bin": (hub, "env_bin", Path),
        "proxy": (hub, "proxy", Path),
        "exchange_root": (exchange, "root", Path),
        "db_url": (gradebook, "url", str),
        "postgres_admin": (gradebook, "postgres_admin", str),
        "memory": (limits, "memory", str),
        "cpu": (limits, "cpu", float),
        "require_limits": (limits, "required", bool),
    }
    for key, (table, name, kind) in optional.items():
        if name in table:
            try:
                kwargs[key] = kind(table[name])
            except (TypeError, ValueError) as exc:
                raise SettingsError(f"{name} = {table[name]!r}: {exc}") from exc
    settings = HubSettings(**kwargs)
    settings.memory_limit  # noqa: B018 (validates the size)
    if not 0 < settings.cpu <= 256:
        raise SettingsError(f"limits.cpu = {settings.cpu}: a number of cores, e.g. 1 or 0.5")
    if settings.late_penalty not in {"none", "zero"}:
        raise SettingsError(f"course.late_penalty = {settings.late_penalty!r}: nbgrader's \"none\" or \"zero\"")
    if settings.db_url and not settings.db_url.startswith(("postgresql", "sqlite:///")):
        raise SettingsError(f"gradebook.url {settings.db_url!r}: a postgresql+psycopg:// or sqlite:/// URL")
    return settings


def load(path: str | Path) -> HubSettings:
    path = Path(path)
    data = tomlfile.read(path, f"no hub settings at {path} (copy deploy/onemachine/hub.example.toml)", SettingsError)
    try:
        return parse(data)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from exc
