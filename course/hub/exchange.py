"""nbgrader's submit, with each submission readable only by its author and the course's graders.

Stock ``nbgrader submit`` leaves a submission world-readable (files 0644, its folder 0777) and
relies on the folder's name (``student+assignment+timestamp+random``) staying unknown, since
``inbound/`` cannot be listed (nbgrader #978, #1862; jeflem/ananke #27). Here the course's
``inbound/`` is set-group-id and owned by the graders' OS group (``formgrade-<course>``, see
:mod:`course.hub.provision`), so every file of a submission belongs to that group from the
moment it is written; once the copy is complete this submit takes "other" access away
(folders 0750, files 0640). Graders collect through the group; another student gets
"Permission denied" even with the exact path.

Enabled in the students' nbgrader config: ``c.ExchangeFactory.submit =
"course.hub.exchange.PrivateSubmit"`` (written by ``python -m course.hub provision``).
"""

from __future__ import annotations

import os
import stat

from nbgrader.exchange.default.submit import ExchangeSubmit

DIR_MODE = 0o2750  # author rwx, graders r-x (and new entries keep the graders' group)
FILE_MODE = 0o640


def make_private(path: str) -> None:
    """Remove "other" access from a submission tree (folders 0750 + setgid, files 0640)."""
    for folder, _, files in os.walk(path):
        for name in files:
            target = os.path.join(folder, name)
            if not os.path.islink(target):
                os.chmod(target, FILE_MODE)
        os.chmod(folder, DIR_MODE)


class PrivateSubmit(ExchangeSubmit):
    def copy_files(self) -> None:
        super().copy_files()
        dest = os.path.join(self.inbound_path, self.assignment_filename)
        inbound_gid = os.stat(self.inbound_path).st_gid
        if os.stat(dest).st_gid != inbound_gid or not os.stat(self.inbound_path).st_mode & stat.S_ISGID:
            # without the graders' group the instructor could not collect a private submission
            self.log.warning("%s is not set-group-id to the graders' group: leaving the submission "
                             "as stock nbgrader does (readable by anyone who knows its name)", self.inbound_path)
            return
        make_private(dest)
        self.log.info("Submission readable only by you and the course's graders: %s", dest)
