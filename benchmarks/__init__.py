"""Speed of the project measured against the operating system's own tools.

``python -m benchmarks run`` (see docs/performance.md).  Modules: ``_tree`` (the generated
data and its restores), ``_measure`` (timing child processes, alternating sides), ``_rows``
and ``_upload`` (what each row runs), ``_s3`` (SeaweedFS on loopback), ``_tools`` (the
baseline tools), ``_machine`` (machine facts), ``_report`` (results and the table),
``_models`` (the JSON document), ``_run`` (one whole run).
"""
