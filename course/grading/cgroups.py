"""Extra hardening where the host allows it: one cgroup per sandbox capping processes and memory.

``setrlimit`` caps each process; a cgroup caps the whole sandbox (a fork bomb, or many children
each under the per-process limit). Used when the grader runs as root on a writable cgroup
file system (v1 ``pids``/``memory`` hierarchies, or v2 with those controllers); otherwise the
sandbox runs without it, and the wall-time limits still end everything inside it.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
MAX_PIDS = 256


def own_groups() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and ``""`` for the v2 hierarchy (from
    /proc/self/cgroup): new groups go below these, so the limits of a container still apply."""
    own: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            own[name] = path.lstrip("/")
    return own


class Cgroups:
    def __init__(self, root: Path = CGROUP_ROOT) -> None:
        self.root = root
        self.tag = f"course-grade-{os.getpid()}"
        self.parents: list[Path] = []
        self.version = 0
        self._counter = itertools.count()
        try:
            self._setup()
        except OSError:
            self.cleanup()
            self.parents, self.version = [], 0

    @classmethod
    def available(cls) -> bool:
        probe = cls()
        try:
            return probe.enabled
        finally:
            probe.cleanup()

    @property
    def enabled(self) -> bool:
        return bool(self.parents)

    def _setup(self) -> None:
        # new groups go *below* the grader's own ones, so container limits still apply to them
        if os.geteuid() != 0 or not self.root.is_dir():
            return
        own = own_groups()
        controllers = self.root / "cgroup.controllers"
        if controllers.is_file() and "" in own:
            base = self.root / own[""]
            wanted = {"pids", "memory"}
            if not wanted <= set((base / "cgroup.subtree_control").read_text().split()):
                return  # (v2 forbids enabling them below a group that holds processes)
            parent = base / self.tag
            parent.mkdir()
            self.parents = [parent]
            (parent / "cgroup.subtree_control").write_text("+pids +memory")
            self.version = 2
        elif (self.root / "pids").is_dir() and (self.root / "memory").is_dir() and {"pids", "memory"} <= set(own):
            for name in ("pids", "memory"):
                parent = self.root / name / own[name] / self.tag
                parent.mkdir()
                self.parents.append(parent)
            self.version = 1

    def create(self, memory: int) -> list[Path]:
        """Fresh cgroup(s) for one sandbox; join them by writing a pid to ``cgroup.procs``."""
        if not self.enabled:
            return []
        name = f"job{next(self._counter)}"
        made: list[Path] = []
        try:
            for parent in self.parents:
                group = parent / name
                group.mkdir()
                made.append(group)
                if self.version == 2:
                    (group / "pids.max").write_text(str(MAX_PIDS))
                    (group / "memory.max").write_text(str(memory))
                    if (group / "memory.swap.max").exists():
                        (group / "memory.swap.max").write_text("0")
                elif "/pids/" in f"{parent}/":
                    (group / "pids.max").write_text(str(MAX_PIDS))
                else:
                    (group / "memory.limit_in_bytes").write_text(str(memory))
        except OSError:
            self.remove(made)
            return []
        return made

    def launcher(self, groups: list[Path], argv: list[str]) -> list[str]:
        """``argv`` started from a shell that first moves itself into ``groups``."""
        if not groups:
            return argv
        script = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1/cgroup.procs" || exit 97; shift; n=$((n-1)); done; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", str(len(groups)), *map(str, groups), *argv]

    @staticmethod
    def remove(groups: list[Path]) -> None:
        for group in groups:
            try:
                group.rmdir()
            except OSError:
                pass

    def cleanup(self) -> None:
        for parent in self.parents:
            for child in sorted(parent.glob("job*")):
                self.remove([child])
            try:
                parent.rmdir()
            except OSError:
                shutil.rmtree(parent, ignore_errors=True)
        self.parents = []
