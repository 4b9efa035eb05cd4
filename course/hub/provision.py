"""The machine side of a course hub: accounts, groups, the grader's course, the exchange, the
gradebook database and the students' Jupyter config. Idempotent: run it again after editing the
roster. Run as root (``python -m course.hub provision hub.toml``).

Who can read what (the isolation tests in ``tests/hub`` check each line with real accounts):

==============================================  ======================  ======================
path                                            owner:group, mode       who gets in
==============================================  ======================  ======================
``/home/<user>`` (every account)                user, 0700              the user only
``<grader home>/<course>/`` (source/, gradebook) grader, 0700 (home)    the grader account
``<exchange>/`` root                            root, 1777              anyone (nbgrader's check)
``<exchange>/<course>/``                        grader:nbgrader-*, 2750 grader, enrolled students
``<exchange>/<course>/inbound/``                grader:formgrade-*, 3733 write, no list, sticky
a submission (``PrivateSubmit``)                student:formgrade-*,    its author, the graders
                                                0750 / files 0640
``<exchange>/<course>/feedback/``               grader, 0711 (nbgrader) by secret name only
``<state>/hub/`` (hub database, cookie secret)  root, 0700              the hub
``<state>/jupyter/`` (students' config)         root, 0755              read by everyone
==============================================  ======================  ======================

The PostgreSQL gradebook (``gradebook.url``) is reached over the local socket with peer
authentication: only the OS account with the role's name (the grader) gets in.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from course.hub.settings import HubSettings
from course.layout import Course

HUB_BLOCK_START = "# --- hub: written by `python -m course.hub provision`; edit hub.toml instead ---"
HUB_BLOCK_END = "# --- end of hub block ---"

#: JupyterLab plugins a student does not need (the instructor's tools run in the formgrader).
STUDENT_DISABLED_LAB = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                        "@jupyter/nbgrader:course-list"]
STUDENT_DISABLED_SERVER = ["nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"]

#: The formgrader service's pages may be framed by JupyterLab of the same origin only.
FORMGRADER_CSP = "frame-ancestors 'self'"


class ProvisionError(RuntimeError):
    pass


def _run(*argv: str, input: str | None = None) -> str:
    proc = subprocess.run(argv, input=input, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ProvisionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def ensure_group(name: str, log) -> None:
    if not _group_exists(name):
        _run("groupadd", name)
        log(f"created group {name}")


def ensure_account(name: str, home_root: Path, groups: list[str], log) -> None:
    """A login account with a private home, member of ``groups`` (kept, never removed)."""
    if not _user_exists(name):
        _run("useradd", "--create-home", "--base-dir", str(home_root), "--shell", "/bin/bash", name)
        log(f"created account {name}")
    for group in groups:
        if name not in grp.getgrnam(group).gr_mem:
            _run("usermod", "--append", "--groups", group, name)
            log(f"added {name} to group {group}")
    os.chmod(pwd.getpwnam(name).pw_dir, 0o700)


def drop_from_group(group: str, keep: set[str], log) -> None:
    """Accounts taken off the roster lose the course group (and with it the exchange)."""
    for name in grp.getgrnam(group).gr_mem:
        if name not in keep:
            _run("gpasswd", "--delete", name, group)
            log(f"removed {name} from group {group}")


def set_passwords(lines: list[str], log) -> None:
    """``user:password`` lines through ``chpasswd`` (the admin's roster, never stored here)."""
    pairs = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    for pair in pairs:
        if ":" not in pair or not _user_exists(pair.split(":", 1)[0]):
            raise ProvisionError(f"passwords: {pair.split(':', 1)[0]!r} is not an account on this machine")
    _run("chpasswd", input="\n".join(pairs) + "\n")
    log(f"set {len(pairs)} password(s)")


def hub_block(s: HubSettings) -> str:
    """The lines appended to the grader's ``nbgrader_config.py``."""
    return "\n".join([
        HUB_BLOCK_START,
        f"c.CourseDirectory.course_id = {s.course_id!r}",
        f"c.CourseDirectory.root = {str(s.course_root)!r}",
        f"c.CourseDirectory.db_url = {s.gradebook_url!r}",
        f"c.Exchange.root = {str(s.exchange_root)!r}",
        "c.Authenticator.plugin_class = 'nbgrader.auth.JupyterHubAuthPlugin'",
        f"c.LateSubmissionPlugin.penalty_method = {s.late_penalty!r}",
        HUB_BLOCK_END,
        "",
    ])


def write_hub_block(config: Path, s: HubSettings) -> None:
    text = config.read_text(encoding="utf-8") if config.is_file() else "c = get_config()  # noqa: F821\n"
    if HUB_BLOCK_START in text:
        text = text[: text.index(HUB_BLOCK_START)].rstrip("\n") + "\n"
    config.write_text(text.rstrip("\n") + "\n\n" + hub_block(s), encoding="utf-8")


def student_nbgrader_config(s: HubSettings) -> str:
    return "\n".join([
        '"""nbgrader for the students (and instructors) of this hub: written by provisioning."""',
        "c = get_config()  # noqa: F821",
        f"c.Exchange.root = {str(s.exchange_root)!r}",
        "c.Authenticator.plugin_class = 'nbgrader.auth.JupyterHubAuthPlugin'",
        "c.ExchangeFactory.submit = 'course.hub.exchange.PrivateSubmit'",
        "",
    ])


def provision_course(s: HubSettings, log) -> None:
    """The grader's copy of the course (only created once: it then holds the class's work)."""
    ensure_account(s.grader, s.home_root, [s.formgrade_group], log)
    if not (s.course_root / "nbgrader_config.py").is_file():
        if not (s.kit / "source").is_dir():
            raise ProvisionError(f"course.kit = {s.kit}: no source/ there (point it at this kit's checkout)")
        Course.load(s.kit).copy_to(s.course_root)
        log(f"copied the course from {s.kit} to {s.course_root}")
    write_hub_block(s.course_root / "nbgrader_config.py", s)
    uid, gid = pwd.getpwnam(s.grader).pw_uid, pwd.getpwnam(s.grader).pw_gid
    for folder, dirs, files in os.walk(s.course_root):
        for name in [*dirs, *files, ""]:
            os.lchown(os.path.join(folder, name) if name else folder, uid, gid)


def provision_exchange(s: HubSettings, log) -> None:
    root = s.exchange_root
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, 0, 0)
    os.chmod(root, 0o1777)
    grader = pwd.getpwnam(s.grader).pw_uid
    course = root / s.course_id
    course.mkdir(exist_ok=True)
    os.chown(course, grader, grp.getgrnam(s.student_group).gr_gid)
    os.chmod(course, 0o2750)
    inbound = course / "inbound"
    inbound.mkdir(exist_ok=True)
    os.chown(inbound, grader, grp.getgrnam(s.formgrade_group).gr_gid)
    # students write but cannot list; sticky: nobody renames or removes another's submission
    os.chmod(inbound, 0o3733)
    log(f"exchange {course}: enrolled students only; inbound private per submission")


def provision_user_config(s: HubSettings, log) -> None:
    for folder, mode in ((s.state_dir, 0o755), (s.hub_dir, 0o700), (s.user_config_dir, 0o755)):
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, mode)
    cfg = s.user_config_dir
    (cfg / "nbgrader_config.py").write_text(student_nbgrader_config(s), encoding="utf-8")
    (cfg / "labconfig").mkdir(exist_ok=True)
    (cfg / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in STUDENT_DISABLED_LAB}}, indent=1))
    (cfg / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {name: False for name in STUDENT_DISABLED_SERVER}}}, indent=1))
    service = s.service_config_dir
    service.mkdir(exist_ok=True)
    # jupyterhub-singleuser forbids framing ("frame-ancestors 'none'") unless told otherwise;
    # JupyterLab shows the formgrader in a frame of the same origin
    (service / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"tornado_settings": {"headers": {"Content-Security-Policy": FORMGRADER_CSP}}}}, indent=1))
    for folder in (cfg, service):
        os.chmod(folder, 0o755)
        for path in folder.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    log(f"students' Jupyter config in {cfg}, the formgrader's in {service}")


def provision_database(s: HubSettings, log) -> None:
    """Role and database for a ``postgresql`` gradebook URL (peer authentication: the role is
    the grader's account name), created through ``psql`` as the cluster's OS owner."""
    if not s.db_url.startswith("postgresql"):
        return
    from sqlalchemy.engine import make_url

    url = make_url(s.db_url)
    role, database = url.username or s.grader, url.database or s.course_id
    host = url.query.get("host", "/var/run/postgresql")
    host = host[0] if isinstance(host, tuple) else host
    port = str(url.port or url.query.get("port", "5432"))
    psql = ["runuser", "-u", s.postgres_admin, "--", "psql", "-h", host, "-p", port, "-d", "postgres",
            "-v", "ON_ERROR_STOP=1", "-tA"]
    if not _run(*psql, "-c", f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'").strip():
        _run(*psql, "-c", f'CREATE ROLE "{role}" LOGIN')
        log(f"created PostgreSQL role {role}")
    if not _run(*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{database}'").strip():
        _run(*psql, "-c", f'CREATE DATABASE "{database}" OWNER "{role}"')
        log(f"created PostgreSQL database {database}")
    # nobody else may connect to it (PUBLIC has CONNECT by default)
    _run(*psql, "-c", f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')


def check_environment(s: HubSettings, log) -> None:
    """Every account must be able to run the kit's environment (it is their kernel)."""
    probe = s.students[0] if s.students else s.grader
    python = s.env_bin / "python"
    try:
        _run("runuser", "-u", probe, "--", str(python), "-c", "import course, nbgrader, jupyterhub")
    except ProvisionError as exc:
        raise ProvisionError(
            f"{probe} cannot run the single-user environment {s.env_bin}: {exc}. Install the kit "
            "where every account can read it (e.g. /opt/bizcases/venv), see docs/deploy.md."
        ) from exc
    if not os.access(s.proxy_command(), os.X_OK):
        raise ProvisionError(f"no configurable-http-proxy at {s.proxy_command()} (npm ci --prefix deploy)")
    log(f"{probe} can run {python}")


def provision(s: HubSettings, log=print, passwords: list[str] | None = None) -> None:
    if os.geteuid() != 0:
        raise ProvisionError("run provisioning as root (it creates accounts and groups)")
    if shutil.which("useradd") is None:
        raise ProvisionError("useradd not found (Debian's passwd package)")
    for group in (s.formgrade_group, s.student_group):
        ensure_group(group, log)
    for name in s.instructors:
        ensure_account(name, s.home_root, [s.formgrade_group], log)
    for name in s.students:
        ensure_account(name, s.home_root, [s.student_group], log)
    drop_from_group(s.student_group, set(s.students), log)
    drop_from_group(s.formgrade_group, {*s.instructors, s.grader}, log)
    provision_course(s, log)
    provision_exchange(s, log)
    provision_user_config(s, log)
    provision_database(s, log)
    if passwords:
        set_passwords(passwords, log)
    check_environment(s, log)
