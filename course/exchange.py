"""nbgrader's exchange, hardened where it reads what students wrote.

:class:`SafeCollect` is nbgrader's ``collect`` (``nbgrader collect`` and the formgrader's
"Collect" button) with one change: it copies a submission from the exchange by the grader's
file rule (:mod:`course.grading.intake`): regular files only, no symbolic links followed, no
named pipes or devices opened, size-capped. A student can write anything into their own folder
of the exchange's inbound directory, including a link to the gradebook or to another student's
submission; stock ``collect`` follows such links as the instructor (nbgrader copies with
``shutil.copytree``) and a named pipe there hangs it. A submission folder that is itself a link
is refused.

:class:`CheckedRelease` is nbgrader's ``release_assignment`` that refuses to release an
assignment whose release folder lacks a notebook the gradebook knows (stock nbgrader would
release the rest and say "Released"). ``nbgrader_config.py`` selects both::

    c.ExchangeFactory.collect = "course.exchange.SafeCollect"
    c.ExchangeFactory.release_assignment = "course.exchange.CheckedRelease"
"""

from __future__ import annotations

import os
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.release_assignment import ExchangeReleaseAssignment


class SafeCollect(ExchangeCollect):
    def do_copy(self, src, dest, log=None):
        from course.grading.intake import copy_tree

        source = Path(src)
        if source.is_symlink() or not source.is_dir():
            self.log.error("Refusing to collect %s: not a plain folder (a symbolic link?)", src)
            return
        os.makedirs(dest, exist_ok=True)
        copied, problems = copy_tree(source, Path(dest), list(self.coursedir.ignore))
        for problem in problems:
            self.log.warning("%s: %s", src, problem)
        self.log.info("Collected %d file(s) from %s", len(copied), src)


class CheckedRelease(ExchangeReleaseAssignment):
    def init_src(self):
        super().init_src()
        from nbgrader.api import Gradebook, MissingEntry

        try:
            with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
                names = [nb.name for nb in gb.find_assignment(self.coursedir.assignment_id).notebooks]
        except MissingEntry:
            return  # not in the gradebook yet: nothing to compare with (nbgrader's own checks apply)
        missing = [name for name in names if not os.path.isfile(os.path.join(self.src_path, f"{name}.ipynb"))]
        if missing:
            self.fail(f"Refusing to release {self.coursedir.assignment_id}: {self.src_path} lacks "
                      f"{', '.join(n + '.ipynb' for n in missing)} (run `course build {self.coursedir.assignment_id}`).")
