"""The standard benchmarks lem runs: one module each, registered with
:func:`lem.bench.base.register_benchmark` and listed in the ``lem.plugins`` entry points."""
