"""Per-user memory and CPU limits for JupyterHub's local-process spawner, without systemd.

The Littlest JupyterHub enforces ``mem_limit`` / ``cpu_limit`` with systemd (SystemdSpawner).
Where systemd is not running (containers, CI, many university VMs) JupyterHub's
``LocalProcessSpawner`` only passes the numbers on as ``MEM_LIMIT`` / ``CPU_LIMIT`` and
enforces nothing. :class:`LimitedSpawner` puts each user's server (and so every kernel it
starts) into its own cgroup before dropping to the user's uid: ``memory`` caps the user's total
(kernel, server, anything they fork; swap included where the kernel accounts it) and ``cpu`` a
CFS quota of ``cpu_limit`` cores. A student whose kernel exceeds the memory cap has that kernel
killed by the OOM killer; Jupyter reports "kernel died" and the student restarts it. The
hub and the other students are untouched.

cgroup v2 (``memory.max``, ``cpu.max``) or the v1 ``memory`` and ``cpu`` hierarchies; new
groups go below the hub's own, so the machine's or container's limits still apply. When
neither is writable the spawn fails with a clear message (``require_limits``, default on), so
a class never runs unlimited by accident; set ``c.LimitedSpawner.require_limits = False`` to
run anyway with a warning.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Bool, Unicode

from course.grading.cgroups import own_groups

CGROUP_ROOT = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000


class LimitsUnavailable(RuntimeError):
    pass


class UserCgroups:
    """One cgroup (v2) or one pair of cgroups (v1 memory + cpu) per user, under ``tag``."""

    def __init__(self, tag: str = "jupyterhub-users", root: Path = CGROUP_ROOT) -> None:
        self.root, self.tag = root, tag

    def _bases(self) -> tuple[int, list[Path]]:
        own = own_groups()
        if (self.root / "cgroup.controllers").is_file() and "" in own:
            base = self.root / own[""] / self.tag
            return 2, [base]
        if all((self.root / c).is_dir() and c in own for c in ("memory", "cpu")):
            return 1, [self.root / c / own[c] / self.tag for c in ("memory", "cpu")]
        return 0, []

    def create(self, user: str, memory: int, cpu: float) -> list[Path]:
        """Fresh groups for ``user`` with the limits set; their ``cgroup.procs`` to join."""
        version, bases = self._bases()
        if not version:
            raise LimitsUnavailable("no cgroup v2 or v1 memory/cpu hierarchy under /sys/fs/cgroup")
        made: list[Path] = []
        try:
            for base in bases:
                base.mkdir(exist_ok=True)
                if version == 2:
                    (base / "cgroup.subtree_control").write_text("+memory +cpu")
                group = base / user
                group.mkdir(exist_ok=True)
                made.append(group)
            quota = max(1000, int(cpu * CFS_PERIOD_US))
            if version == 2:
                group = made[0]
                (group / "memory.max").write_text(str(memory))
                if (group / "memory.swap.max").exists():
                    (group / "memory.swap.max").write_text("0")
                (group / "cpu.max").write_text(f"{quota} {CFS_PERIOD_US}")
            else:
                mem_group, cpu_group = made
                (mem_group / "memory.limit_in_bytes").write_text(str(memory))
                swap = mem_group / "memory.memsw.limit_in_bytes"
                if swap.exists():
                    swap.write_text(str(memory))
                (cpu_group / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
                (cpu_group / "cpu.cfs_quota_us").write_text(str(quota))
        except OSError as exc:
            self.remove(made)
            raise LimitsUnavailable(f"cannot create the cgroups for {user}: {exc}") from exc
        return [g / "cgroup.procs" for g in made]

    def groups(self, user: str) -> list[Path]:
        return [base / user for base in self._bases()[1] if (base / user).is_dir()]

    def memory_usage(self, user: str) -> int | None:
        """Bytes the user's processes use now (for sizing; ``None`` without a group)."""
        for group in self.groups(user):
            for name in ("memory.current", "memory.usage_in_bytes"):
                if (group / name).is_file():
                    return int((group / name).read_text())
        return None

    @staticmethod
    def remove(groups: list[Path], wait: float = 5.0) -> None:
        deadline = time.monotonic() + wait
        for group in groups:
            while group.is_dir():
                try:
                    group.rmdir()
                except OSError:  # still busy: processes exiting
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.1)


class LimitedSpawner(LocalProcessSpawner):
    """``LocalProcessSpawner`` whose ``mem_limit`` and ``cpu_limit`` are enforced."""

    require_limits = Bool(True, config=True, help="Refuse to spawn when the limits cannot be enforced.")
    cgroup_tag = Unicode("jupyterhub-users", config=True, help="Parent cgroup of the users' groups.")

    def _cgroups(self) -> UserCgroups:
        return UserCgroups(self.cgroup_tag)

    async def start(self):
        self._procs_files: list[Path] = []
        if self.mem_limit or self.cpu_limit:
            try:
                self._procs_files = self._cgroups().create(
                    self.user.name, int(self.mem_limit or 0) or 2**62, float(self.cpu_limit or 0) or 1024.0
                )
            except LimitsUnavailable as exc:
                if self.require_limits:
                    raise RuntimeError(
                        f"cannot enforce the memory/CPU limits for {self.user.name}: {exc}. Run the hub "
                        "as root on a machine with writable cgroups, use SystemdSpawner, or set "
                        "c.LimitedSpawner.require_limits = False to run without limits."
                    ) from exc
                self.log.warning("running %s without memory/CPU limits: %s", self.user.name, exc)
        return await super().start()

    def make_preexec_fn(self, name):
        drop_privileges = super().make_preexec_fn(name)
        procs_files = [str(p) for p in getattr(self, "_procs_files", [])]

        def preexec() -> None:
            # runs in the child before exec, still as root: join the groups, then become the user
            pid = str(os.getpid())
            for path in procs_files:
                with open(path, "w") as handle:
                    handle.write(pid)
            drop_privileges()

        return preexec

    async def stop(self, now=False):
        await super().stop(now=now)
        self._cgroups().remove(self._cgroups().groups(self.user.name))
