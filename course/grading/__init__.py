"""Grading a whole class: safely (sandboxed), fast (parallel) and with stock nbgrader's scores.

This package is the grader's own, trusted side (the *host*); the code that runs inside the
sandbox lives in :mod:`course.sandboxed` and imports nothing from here. For each submission
(:mod:`.pipeline`, a list of steps):

1. :mod:`.intake` applies the rules for every byte read from a submission folder, and the
   sandboxed runner parses the notebook (the grader reads back only its cells, bounded);
2. :mod:`.restore` puts back the instructor's structure and order from the gradebook
   (:mod:`.specs`), and :mod:`.plan` decides what runs where;
3. :mod:`.process` runs the student's notebook in a fresh bubblewrap sandbox (:mod:`.sandbox`,
   :mod:`.cgroups`), by a runner forked from a pre-imported one (:mod:`.forkserver`), and
   exports the values the tests read, as data only;
4. the evaluator runs the locked and test cells, hidden tests included, on those values in a
   separate sandboxed process that never runs student code;
5. :mod:`.recording` writes scores with nbgrader's own ``SaveAutoGrades`` and late-penalty
   preprocessors, from the main thread only.

:mod:`.batch` does this for a whole class in a pool of workers (:mod:`.pool`); results are
plain data (:mod:`.outcomes`).
"""
