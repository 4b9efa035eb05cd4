"""Real services for the hub tests: a private PostgreSQL cluster and a JupyterHub with its proxy,
both on loopback, with real OS accounts; everything is removed afterwards.

Layout of one run (a fresh ``/tmp/bizcases-hub-*`` folder, 0755 so every account can reach
what it must)::

    home/<account>/      the accounts' homes (useradd --base-dir), 0700 each
    exchange/            nbgrader's exchange
    state/               the hub's state (hub/, root only) and the students' Jupyter config
    pg/, pgsock/         the PostgreSQL cluster (owned by Debian's ``postgres`` account) and
                         its socket (no TCP listener)
    hub.toml             the settings, written the way an admin would
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from course.hub.provision import provision
from course.hub.settings import HubSettings, load
from tests.browser.lab import free_port
from tests.support import ROOT

COURSE_ID = "bizcases"
GRADER = f"grader-{COURSE_ID}"
INSTRUCTOR = "bzs-ada"
STUDENTS = ("bzs-alice", "bzs-bob")
OUTSIDER = "bzs-carol"  # has an account on the hub, is not enrolled in the course
PG_ADMIN = "postgres"
HUB_CONFIG = ROOT / "deploy" / "onemachine" / "jupyterhub_config.py"
PROXY = ROOT / "deploy" / "node_modules" / ".bin" / "configurable-http-proxy"


class ServiceError(RuntimeError):
    pass


def run(*argv, user: str | None = None, check: bool = True, env: dict | None = None,
        cwd: Path | None = None, timeout: float = 600, input: str | None = None) -> subprocess.CompletedProcess:
    """``argv`` (as ``user`` through runuser, with a login-like environment)."""
    if user is not None:
        home = pwd.getpwnam(user).pw_dir
        base_env = {"PATH": f"{ROOT / '.venv' / 'bin'}:/usr/bin:/bin", "HOME": home, "USER": user,
                    "LANG": "C.UTF-8"}
        argv = ("runuser", "-u", user, "--", "env", "-i", *[f"{k}={v}" for k, v in {**base_env, **(env or {})}.items()], *argv)
        env = None
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False, env=env,
                          cwd=cwd, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise ServiceError(f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        raise ServiceError("PostgreSQL is not installed (apt-get install postgresql, as .ci/run does)")
    return versions[-1].parent


@dataclass
class Postgres:
    """A throwaway cluster run by the ``postgres`` account, reachable only through its socket."""

    base: Path
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.bin = _pg_bin()
        self.data = self.base / "pg"
        self.socket = self.base / "pgsock"
        self.log = self.base / "postgres.log"

    def start(self) -> None:
        try:
            pwd.getpwnam(PG_ADMIN)
        except KeyError as exc:
            raise ServiceError("no 'postgres' account: install Debian's postgresql package") from exc
        for folder in (self.data, self.socket):
            folder.mkdir()
            shutil.chown(folder, PG_ADMIN, PG_ADMIN)
        self.data.chmod(0o700)
        self.socket.chmod(0o755)
        run(self.bin / "initdb", "-D", self.data, "--auth-local=peer", "--auth-host=reject",
            "-E", "UTF8", "--locale=C.UTF-8", user=PG_ADMIN)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nlisten_addresses = ''\nunix_socket_directories = '{self.socket}'\nport = {self.port}\n"
                       "fsync = off\nsynchronous_commit = off\n")
        self.log.touch()
        shutil.chown(self.log, PG_ADMIN)
        run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "start", user=PG_ADMIN)

    def start_again(self) -> None:
        """Start the stopped cluster (same data, socket and port)."""
        run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "start", user=PG_ADMIN)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            run(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", user=PG_ADMIN, check=False)

    def url(self, role: str, database: str) -> str:
        return f"postgresql+psycopg://{role}@/{database}?host={self.socket}&port={self.port}"

    def psql(self, sql: str, user: str = PG_ADMIN, database: str = "postgres", check: bool = True):
        return run("psql", "-h", self.socket, "-p", self.port, "-d", database, "-tA", "-v", "ON_ERROR_STOP=1",
                   "-c", sql, user=user, check=check)


def settings_toml(base: Path, pg: Postgres, ports: dict[str, int]) -> str:
    students = ", ".join(f'"{s}"' for s in STUDENTS)
    return f"""# written by tests/hub (the same keys as deploy/onemachine/hub.example.toml)
[course]
id = "{COURSE_ID}"
kit = "{ROOT}"
grader = "{GRADER}"
instructors = ["{INSTRUCTOR}"]
students = [{students}]
late_penalty = "zero"
home_root = "{base / 'home'}"

[hub]
ip = "127.0.0.1"
port = {ports['http']}
hub_port = {ports['hub']}
proxy_api_port = {ports['proxy']}
service_port = {ports['service']}
state_dir = "{base / 'state'}"
env_bin = "{ROOT / '.venv' / 'bin'}"
proxy = "{PROXY}"

[exchange]
root = "{base / 'exchange'}"

[gradebook]
url = "{pg.url(GRADER, COURSE_ID)}"
postgres_admin = "{PG_ADMIN}"

[limits]
memory = "3G"
cpu = 1.0

[environment]
COURSE_VARIANTS = "on"
"""


class Hub:
    """``jupyterhub -f deploy/onemachine/jupyterhub_config.py`` as root, on loopback."""

    def __init__(self, base: Path, settings_path: Path, settings: HubSettings):
        self.base, self.settings_path, self.settings = base, settings_path, settings
        self.url = f"http://127.0.0.1:{settings.port}"
        self.log = base / "jupyterhub.log"
        self.token = secrets.token_hex(32)  # an admin API token for the test's own requests
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "COURSE_"))}
        env.update(BIZCASES_HUB_SETTINGS=str(self.settings_path), BIZCASES_HUB_TEST_TOKEN=self.token,
                   PATH=f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}")
        extra = self.base / "test_extra_config.py"
        extra.write_text(
            "import os\n"
            f"exec(compile(open({str(HUB_CONFIG)!r}).read(), {str(HUB_CONFIG)!r}, 'exec'))\n"
            "# the test's own admin token (never in a real deployment's config)\n"
            f"c.Authenticator.allowed_users.add({OUTSIDER!r})  # an account of another course\n"
            "c.JupyterHub.services.append({'name': 'hub-test', 'api_token': os.environ['BIZCASES_HUB_TEST_TOKEN']})\n"
            "c.JupyterHub.load_roles.append({'name': 'hub-test', 'services': ['hub-test'], 'scopes': ['admin:users', 'admin:servers', 'tokens', 'read:groups', 'list:groups']})\n"
        )
        self._log = self.log.open("w")
        self.process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "jupyterhub"), "-f", str(extra)],
            cwd=self.settings.state_dir, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(f"jupyterhub exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                self.api("GET", "/")
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        raise ServiceError(f"jupyterhub did not answer within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 8000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def api(self, method: str, path: str, body: dict | None = None) -> object:
        request = urllib.request.Request(
            f"{self.url}/hub/api{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if hasattr(self, "_log"):
            self._log.close()


def kill_processes_of(uid: int) -> None:
    """SIGKILL, by pid, every process running as ``uid`` (a test account: its servers, kernels)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    os.kill(int(entry.name), signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass


def remove_accounts(names: list[str], groups: list[str]) -> None:
    """Remove the test's accounts (their processes first) and groups, if present."""
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        kill_processes_of(pwd.getpwnam(name).pw_uid)
        subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)
        subprocess.run(["userdel", name], capture_output=True, check=False)
    for group in groups:
        try:
            grp.getgrnam(group)
        except KeyError:
            continue
        subprocess.run(["groupdel", group], capture_output=True, check=False)


ACCOUNTS = [INSTRUCTOR, *STUDENTS, OUTSIDER, GRADER]
GROUPS = [f"formgrade-{COURSE_ID}", f"nbgrader-{COURSE_ID}"]


@dataclass
class Deployment:
    base: Path
    settings: HubSettings
    pg: Postgres
    hub: Hub
    passwords: dict[str, str]
    hidden: list[tuple[Path, int]]  # checkout folders made private for the run (mode restored)

    @property
    def course(self) -> Path:
        return self.settings.course_root

    def home(self, user: str) -> Path:
        return Path(pwd.getpwnam(user).pw_dir)


def _traversable(path: Path) -> list[tuple[Path, int]]:
    """Let other accounts traverse (x only) the folders above the kit's environment."""
    changed = []
    for folder in [*reversed(path.parents), path]:
        mode = folder.stat().st_mode & 0o7777
        if not mode & 0o001:
            folder.chmod(mode | 0o001)
            changed.append((folder, mode))
    return changed


def deploy() -> Deployment:
    """Provision the machine and start PostgreSQL and the hub (call :func:`teardown` after)."""
    remove_accounts(ACCOUNTS, GROUPS)  # leftovers of an interrupted run
    base = Path(tempfile.mkdtemp(prefix="bizcases-hub-"))
    base.chmod(0o755)
    (base / "home").mkdir(mode=0o755)
    pg = Postgres(base)
    # the kit's environment (and the interpreter it links to, e.g. a pyenv build under /root)
    # must be reachable by every account, as it would be under /opt on a real hub
    restore: list[tuple[Path, int]] = _traversable(ROOT / ".venv")
    restore += _traversable(Path(os.path.realpath(ROOT / ".venv" / "bin" / "python")).parent.parent)
    # the single-user environment is this checkout's .venv (kit installed editable): keep the
    # checkout's solutions away from the students, as a non-editable install would
    for private in ("source", "autograde", "submitted", "feedback", "gradebook.db"):
        path = ROOT / private
        if path.exists():
            restore.append((path, path.stat().st_mode & 0o7777))
            path.chmod(path.stat().st_mode & 0o7770)
    pg.start()
    ports = {name: free_port() for name in ("http", "hub", "proxy", "service")}
    settings_path = base / "hub.toml"
    settings_path.write_text(settings_toml(base, pg, ports))
    settings = load(settings_path)
    passwords = {name: secrets.token_urlsafe(12) for name in (INSTRUCTOR, *STUDENTS, OUTSIDER)}
    log_lines: list[str] = []
    provision(settings, log=log_lines.append,
              passwords=[f"{user}:{password}" for user, password in passwords.items() if user != OUTSIDER])
    # the outsider: an account on the machine (and allowed on the hub below), not in the course
    from course.hub.provision import ensure_account
    ensure_account(OUTSIDER, settings.home_root, [], log_lines.append)
    run("chpasswd", input=f"{OUTSIDER}:{passwords[OUTSIDER]}\n")
    (base / "provision.log").write_text("\n".join(log_lines) + "\n")
    hub = Hub(base, settings_path, settings)
    return Deployment(base, settings, pg, hub, passwords, restore)


def teardown(dep: Deployment, keep: bool = False) -> None:
    try:
        dep.hub.stop()
    finally:
        dep.pg.stop()
        for path, mode in reversed(dep.hidden):
            path.chmod(mode)
        remove_accounts(ACCOUNTS, GROUPS)
        if not keep:
            shutil.rmtree(dep.base, ignore_errors=True)
