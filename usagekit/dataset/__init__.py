"""The usage dataset: Hive-partitioned NDJSON or Parquet on local disk or S3.

``dataset`` holds :class:`Dataset` and :func:`open_dataset`; ``schema`` the columns, partition
keys and file names; ``layout`` the partition planning; ``formats`` the two file formats;
``spool`` a write's rows a month at a time;
``local`` and ``s3`` one storage backend each; ``lock`` how concurrent writers take turns;
``importer`` brings the blueprint's exports (a folder or bucket of NDJSON, gc's result
documents: ``documents``) in.
"""

from __future__ import annotations

from usagekit.lazy import lazy_exports

#: What users call, by the module that defines it, loaded on first use (PEP 562).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "dataset": ("Dataset", "open_dataset", "run_crawler"),
    "importer": ("import_usage",),
})
