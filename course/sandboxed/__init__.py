"""The code that runs inside the sandbox, and the messages it exchanges with the grader.

Two kinds of sandboxed process exist per worker (see ``docs/architecture.md``):

- :mod:`.runner` (phase 1): reads one submitted notebook, sends back its cells as plain data
  (:class:`~.protocol.Intake`), then runs the cells it is given, in a fresh sandbox per
  notebook, and reports each cell's outputs and, before each trusted cell, the *values* of the
  names that cell reads (:mod:`.values`: data only, never pickle);
- :mod:`.evaluate` (phase 2): a fork server that never runs student code; it runs the locked and
  test cells (hidden tests included) on those values and returns their outputs.

Nothing in this package imports the host side (``course.grading``): the direction of trust is
visible in the imports. Every message is a frame (:mod:`.frames`) whose header is one of the
typed dictionaries of :mod:`.protocol`.
"""
