"""nbgrader's submit, with each submission readable only by its author and the course's graders.

Stock ``nbgrader submit`` leaves a submission world-readable (files 0644, its folder 0777) and
relies on the folder's name (``student+assignment+timestamp+random``) staying unknown, since
``inbound/`` cannot be listed (nbgrader #978, #1862; jeflem/ananke #27). Here the course's
``inbound/`` is set-group-id and owned by the graders' OS group (``formgrade-<course>``, see
:mod:`course.hub.provision`); once nbgrader's copy is complete this submit rebuilds the
submission so every file belongs to that group (:func:`regroup`) and takes "other" access away
(folders 0750, files 0640). Graders collect through the group; another student gets
"Permission denied" even with the exact path.

Enabled in the students' nbgrader config: ``c.ExchangeFactory.submit =
"course.hub.exchange.PrivateSubmit"`` (written by ``python -m course.hub provision``).
"""

from __future__ import annotations

import os
import shutil
import stat

from nbgrader.exchange.default.submit import ExchangeSubmit

DIR_MODE = 0o750  # author rwx, graders r-x
FILE_MODE = 0o640


def regroup(path: str) -> None:
    """Rebuild a submission inside its set-group-id parent, so every entry has the graders' group.

    ``shutil.copytree`` ends by copying the student's folder mode onto the submission, which
    drops its set-group-id bit; nbgrader then writes ``timestamp.txt`` and
    ``submission_secret.txt``, which get the student's own group, and a student cannot
    ``chgrp`` to a group they are not in. Entries created afresh under ``inbound/`` (set-group-id)
    take its group, so the tree is copied once more, contents only, then swapped in.
    """
    staging = f"{path}.private"

    def copy(src: str, dst: str) -> None:
        os.mkdir(dst)
        for entry in os.scandir(src):
            target = os.path.join(dst, entry.name)
            if entry.is_symlink():
                continue
            if entry.is_dir():
                copy(entry.path, target)
            else:
                shutil.copyfile(entry.path, target)

    copy(path, staging)
    shutil.rmtree(path)
    os.rename(staging, path)


def make_private(path: str) -> None:
    """Remove "other" access from a submission tree (folders 0750, files 0640)."""
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
        regroup(dest)
        make_private(dest)
        self.log.info("Submission readable only by you and the course's graders: %s", dest)
