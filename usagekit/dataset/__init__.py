"""The usage dataset: Hive-partitioned NDJSON or Parquet on local disk or S3.

``dataset`` holds :class:`Dataset` and :func:`open_dataset`; ``schema`` the columns, partition
keys and file names; ``layout`` the partition planning; ``formats`` the two file formats;
``spool`` a write's rows a month at a time;
``local`` and ``s3`` one storage backend each; ``lock`` how concurrent writers take turns;
``importer`` brings the blueprint's exports (a folder or bucket of NDJSON, gc's result
documents: ``documents``) in.
"""

from __future__ import annotations

from usagekit.dataset.dataset import Dataset, WriteSummary, open_dataset, run_crawler
from usagekit.dataset.importer import Conflict, ImportSummary, import_usage
from usagekit.dataset.layout import Partition, bucket_start, covering_interval
from usagekit.dataset.schema import FORMATS, MANIFEST
from usagekit.dataset.storage import Storage

__all__ = ["FORMATS", "MANIFEST", "Conflict", "Dataset",
           "ImportSummary", "Partition", "Storage", "WriteSummary", "bucket_start",
           "covering_interval", "import_usage", "open_dataset", "run_crawler"]
