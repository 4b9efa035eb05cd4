"""The JupyterHub configuration of a one-machine course hub, derived from :class:`HubSettings`.

What it sets, following nbgrader's "Using nbgrader with JupyterHub" (one class, several
graders):

- **Accounts**: PAM against the machine's accounts (``PAMAuthenticator``), only the roster may
  log in; the instructors are hub admins for this course's servers only (role below).
- **Groups**: ``formgrade-<course>`` (instructors and the grader account: may open the
  formgrader service) and ``nbgrader-<course>`` (students: nbgrader's JupyterHub auth plugin
  shows them the course). Groups are loaded from the settings at every start
  (``load_groups``), so the roster file is the truth.
- **Formgrader**: a hub service named after the course, ``jupyterhub-singleuser`` run as the
  grader account in the course folder; only ``formgrade-<course>`` may access it.
- **Spawner**: :class:`course.hub.spawner.LimitedSpawner` with ``mem_limit`` / ``cpu_limit``
  enforced, the kit's environment first on ``PATH``, and the students' shared Jupyter config
  (exchange, auth plugin, private submissions, no formgrader) on ``JUPYTER_CONFIG_PATH``.
- **Server tokens** may read the user's own groups (nbgrader asks the hub which courses a user
  belongs to), nothing more.
"""

from __future__ import annotations

import os

from course.hub.settings import HubSettings

#: Scopes of a single-user server's own token: the defaults plus reading the user's groups.
SERVER_SCOPES = ["users:activity!user", "access:servers!server", "read:users:name!user", "read:users:groups!user"]


def spawner_environment(s: HubSettings) -> dict[str, str]:
    env = {
        "PATH": os.pathsep.join([str(s.env_bin), "/usr/local/bin", "/usr/bin", "/bin"]),
        "JUPYTER_CONFIG_PATH": str(s.user_config_dir),
    }
    env.update(s.environment)
    return env


def roles(s: HubSettings) -> list[dict]:
    return [
        {"name": "server", "scopes": SERVER_SCOPES},
        {
            "name": f"formgrade-{s.course_id}",
            "groups": [s.formgrade_group],
            "scopes": [f"access:services!service={s.service_name}", f"read:services!service={s.service_name}"],
        },
        {
            # the formgrader may add/remove students of its course (nbgrader's Manage Students)
            "name": f"service-{s.service_name}",
            "services": [s.service_name],
            "scopes": ["list:users", "read:users:name", "read:users:groups", "list:groups",
                       f"read:groups!group={s.student_group}", f"groups!group={s.student_group}"],
        },
    ]


def service(s: HubSettings) -> dict:
    return {
        "name": s.service_name,
        "url": f"http://127.0.0.1:{s.service_port}",
        "command": [str(s.env_bin / "jupyterhub-singleuser"), f"--port={s.service_port}", "--ip=127.0.0.1",
                    f"--ServerApp.root_dir={s.course_root}"],
        "user": s.grader,
        "cwd": str(s.course_root),  # nbgrader reads the course's nbgrader_config.py from here
        # not the students' config (it disables the formgrader): the course's own
        # nbgrader_config.py carries the exchange and gradebook settings, and the service's
        # config lets JupyterLab show the formgrader in its frame
        "environment": {"PATH": spawner_environment(s)["PATH"], "HOME": str(s.grader_home),
                        "USER": s.grader, "JUPYTERHUB_DEFAULT_URL": "/lab",
                        "JUPYTER_CONFIG_PATH": str(s.service_config_dir), **s.environment},
        "oauth_no_confirm": True,
    }


def configure(c, s: HubSettings) -> None:
    """Fill the traitlets config ``c`` (``get_config()`` in ``jupyterhub_config.py``)."""
    from course.hub.spawner import LimitedSpawner

    c.JupyterHub.ip = s.ip
    c.JupyterHub.port = s.port
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = s.hub_port
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
    c.ConfigurableHTTPProxy.command = [str(s.proxy_command())]
    c.JupyterHub.db_url = f"sqlite:///{s.hub_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(s.hub_dir / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(s.hub_dir / "jupyterhub.pid")

    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.open_sessions = False  # no systemd-logind sessions for notebook servers
    c.Authenticator.allowed_users = set(s.users)
    c.Authenticator.allow_existing_users = False  # the roster is the truth, also after removals
    c.Authenticator.admin_users = set()  # instructors get course roles, not hub-wide admin
    c.JupyterHub.load_groups = {
        # the grader account is a hub user too: the formgrader (running as it) asks the hub
        # which courses its user grades (nbgrader's JupyterHubAuthPlugin); it cannot log in
        s.formgrade_group: {"users": sorted({*s.instructors, s.grader})},
        s.student_group: {"users": sorted(s.students)},
    }
    c.JupyterHub.load_roles = roles(s)
    c.JupyterHub.services = [service(s)]

    c.JupyterHub.spawner_class = LimitedSpawner
    c.Spawner.cmd = [str(s.env_bin / "jupyterhub-singleuser")]
    c.Spawner.default_url = "/lab"
    c.Spawner.mem_limit = s.memory_limit
    c.Spawner.cpu_limit = s.cpu
    c.Spawner.environment = spawner_environment(s)
    c.Spawner.start_timeout = 120  # first start of a server imports JupyterLab and nbgrader
    c.Spawner.http_timeout = 120
    c.LimitedSpawner.require_limits = s.require_limits
