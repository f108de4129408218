"""The benchmark cases; each module has ``NAME``, ``TITLE`` and ``run(ctx) -> CaseResult``."""
