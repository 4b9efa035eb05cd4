"""Grading a whole class: safely (sandboxed), fast (parallel) and with stock nbgrader's scores.

For each submitted notebook:

1. :mod:`.plan` restores the instructor's structure from the gradebook (locked and test cells,
   deleted ones added back, metadata rebuilt) and decides what runs where.
2. :mod:`.runner` runs the student's notebook in a fresh bubblewrap sandbox (:mod:`.sandbox`),
   with IPython's ``InteractiveShell`` in a plain Python process (:mod:`.shell`): no kernel, no
   network, only the student's own working copy writable. Before each locked or test cell it
   exports the values of the names that cell reads, as data only (:mod:`.values`).
3. :mod:`.evaluate` runs the locked cells and the test cells, hidden tests included, in a
   separate sandboxed process that never runs student code, on those values. A test scores by
   nbgrader's own rule (:func:`nbgrader.utils.determine_grade`).

:mod:`.batch` does this for every student in parallel (:mod:`.process` starts and watches the
sandboxes) and alone writes the gradebook; :mod:`.feedback`, :mod:`.export` and :mod:`.demo`
build on the result.
"""
