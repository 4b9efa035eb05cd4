"""The grading service as a JupyterHub-managed service on the one-machine hub.

JupyterHub starts ``course serve`` as the course's grader account in the course folder (the
account that owns the gradebook and may read the exchange's inbound through the graders'
group), restarts it with the hub, and stops it with SIGTERM (the service finishes its pass and
its queue stays in the ledger). Add it below ``configure(c, settings)`` in
``deploy/onemachine/jupyterhub_config.py``::

    from course.service.hub import managed_service
    c.JupyterHub.services.append(managed_service(settings))

>>> from course.hub.settings import parse
>>> s = parse({"course": {"id": "bizcases", "kit": "/srv/kit", "students": ["alice"]}})
>>> entry = managed_service(s)
>>> entry["name"], entry["user"], entry["command"][-3:]
('grading-bizcases', 'grader-bizcases', ['serve', '--root', '/home/grader-bizcases/bizcases'])
"""

from __future__ import annotations

from course.hub.config import spawner_environment
from course.hub.settings import HubSettings


def managed_service(s: HubSettings, scheduler: str | None = None, jobs: int | None = None) -> dict:
    """The ``c.JupyterHub.services`` entry of the grading service (no URL: it serves no pages)."""
    command = [str(s.env_bin / "course"), "serve", "--root", str(s.course_root)]
    if scheduler:
        command[2:2] = ["--scheduler", scheduler]
    if jobs:
        command[2:2] = ["--jobs", str(jobs)]
    return {
        "name": f"grading-{s.course_id}",
        "command": command,
        "user": s.grader,
        "cwd": str(s.course_root),
        "environment": {"PATH": spawner_environment(s)["PATH"], "HOME": str(s.grader_home), "USER": s.grader,
                        **s.environment},
    }
