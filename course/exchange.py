"""nbgrader's exchange, hardened where it reads what students wrote.

:class:`SafeCollect` is nbgrader's ``collect`` (``nbgrader collect`` and the formgrader's
"Collect" button) with one change: it copies a submission from the exchange by the grader's
file rule (:mod:`course.grading.intake`): regular files only, no symbolic links followed, no
named pipes or devices opened, size-capped. A student can write anything into their own folder
of the exchange's inbound directory, including a link to the gradebook or to another student's
submission; stock ``collect`` follows such links as the instructor (nbgrader copies with
``shutil.copytree``) and a named pipe there hangs it. A submission folder that is itself a link
is refused. ``nbgrader_config.py`` selects it::

    c.ExchangeFactory.collect = "course.exchange.SafeCollect"
"""

from __future__ import annotations

import os
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect


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
