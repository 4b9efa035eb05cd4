"""JupyterHub for one course on one machine: ``jupyterhub -f deploy/onemachine/jupyterhub_config.py``.

Everything comes from the settings file (``BIZCASES_HUB_SETTINGS``, default
``/etc/bizcases-hub/hub.toml``; start from ``hub.example.toml`` beside this file) through
``course.hub.config.configure``; run ``python -m course.hub provision`` on the same file first.
Add site-specific lines (TLS, another authenticator) below the call.
"""

import os

from course.hub.config import configure
from course.hub.settings import load

c = get_config()  # noqa: F821 (provided by traitlets when JupyterHub loads this file)
configure(c, load(os.environ.get("BIZCASES_HUB_SETTINGS", "/etc/bizcases-hub/hub.toml")))
