"""The on-submit grading service (``course serve``) and its progress (``course status``).

- :mod:`.serve`: the loop: take, promote, dispatch, collect, record, deliver;
- :mod:`.inbox`: new submissions in nbgrader's exchange, taken by the grader's file rule;
- :mod:`.ledger`: the durable queue and processed-ledger (SQLite, next to the course);
- :mod:`.store`: the service's copy of each attempt and its saved result;
- :mod:`.policy`: the instructor's policy per assignment (``[tool.course.service]``);
- :mod:`.engine`: local worker threads or a Dask cluster, running
  :func:`course.grading.dask_pool.grade_files` (``course grade``'s pipeline);
- :mod:`.pages`: what the student is shown, in nbgrader's feedback exchange;
- :mod:`.status`: ``course status``;
- :mod:`.hub`: the service as a JupyterHub-managed service.
"""
