"""The course on a multi-user JupyterHub on one machine (``deploy/onemachine``).

- :mod:`course.hub.settings`: the one settings file an admin edits (``hub.toml``), validated;
- :mod:`course.hub.provision`: the OS side (accounts, groups, the grader's course, the exchange,
  the gradebook database, the students' nbgrader config), idempotent;
- :mod:`course.hub.config`: the JupyterHub configuration derived from the settings;
- :mod:`course.hub.spawner`: per-user memory and CPU limits without systemd (cgroups);
- :mod:`course.hub.exchange`: nbgrader's submit with submissions private to their author and
  the course's graders.

``python -m course.hub provision hub.toml`` prepares the machine; ``jupyterhub -f
deploy/onemachine/jupyterhub_config.py`` runs the hub. See ``docs/deploy.md``.
"""
