"""The stored schema: formats and file names, columns and partition keys with their Glue types."""

from __future__ import annotations

import pyarrow as pa

from usagekit.config.settings import DATASET_FORMATS
from usagekit.frame import (
    COUNTS,
    DIMENSIONS,
)

FORMATS: tuple[str, ...] = DATASET_FORMATS
SUFFIXES: dict[str, str] = {"ndjson": ".json", "parquet": ".parquet"}
MANIFEST = "_usagekit.manifest"
#: The write lock beside the data (a file locally, an object on S3); see ``dataset.lock``.
LOCK = "_usagekit.lock"
FILE_STEM = "usage"

#: Storage schema: column -> Glue/Hive type, in file order (Glue lower-cases the names;
#: Athena's JSON SerDe and Parquet reader match them case-insensitively). ``platform`` is
#: only in rows grouped by Platform (NULL elsewhere).
TABLE_COLUMNS: dict[str, str] = {
    **dict.fromkeys(DIMENSIONS, "string"),
    **dict.fromkeys(COUNTS, "bigint"),
    "date": "string",
    "platform": "string",
}
#: Partition keys -> Glue/Hive type, outermost first.
PARTITION_KEYS: dict[str, str] = {"granularity": "string", "grouping": "string", "period": "string"}

ARROW_TYPES = {"string": pa.string(), "bigint": pa.int64()}
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: Dates already spelled as ``DATE_FORMAT`` writes them (stored as they are).
DATE_PATTERN = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
