"""The stored schema: formats and file names (columns and their types: ``usagekit.row``)."""

from __future__ import annotations

from usagekit.config.settings import DATASET_FORMATS

FORMATS: tuple[str, ...] = DATASET_FORMATS
SUFFIXES: dict[str, str] = {"ndjson": ".json", "parquet": ".parquet"}
MANIFEST = "_usagekit.manifest"
#: The write lock beside the data (a file locally, an object on S3); see ``dataset.lock``.
LOCK = "_usagekit.lock"
FILE_STEM = "usage"

DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: Dates already spelled as ``DATE_FORMAT`` writes them (stored as they are).
DATE_PATTERN = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
