"""The stored schema: formats and file names (columns, their types and the date spelling:
``usagekit.row``)."""

from __future__ import annotations

from usagekit.config.settings import DATASET_FORMATS

FORMATS: tuple[str, ...] = DATASET_FORMATS
SUFFIXES: dict[str, str] = {"ndjson": ".json", "parquet": ".parquet"}
MANIFEST = "_usagekit.manifest"
#: The write lock beside the data (a file locally, an object on S3); see ``dataset.lock``.
LOCK = "_usagekit.lock"
FILE_STEM = "usage"
