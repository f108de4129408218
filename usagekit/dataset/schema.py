"""The stored schema: formats and file names (columns, their types and the date spelling:
``usagekit.row``)."""

from __future__ import annotations

import re

from usagekit.config.settings import DATASET_FORMATS
from usagekit.row import LEGACY_PARTITION_KEYS, PARTITION_KEYS

FORMATS: tuple[str, ...] = DATASET_FORMATS
SUFFIXES: dict[str, str] = {"ndjson": ".json", "parquet": ".parquet"}
MANIFEST = "_usagekit.manifest"
#: The write lock beside the data (a file locally, an object on S3); see ``dataset.lock``.
LOCK = "_usagekit.lock"
FILE_STEM = "usage"
#: Each organisation's folder holds its :class:`~usagekit.row.Org` as JSON.
ORG_FILE = "_org.json"
#: The layout the manifest records (version 2: with organisations; 1: without).
LAYOUT = "/".join(PARTITION_KEYS)
LAYOUT_VERSION = 2
#: The partition folders as a glob, relative to the root: ``org=*/granularity=*/…``.
PARTITION_GLOB = "/".join(f"{key}=*" for key in PARTITION_KEYS)
#: A data file's path relative to the root (group 1: the suffix's format word).
DATA_FILE = re.compile("/".join(f"{key}=[^/]+" for key in PARTITION_KEYS)
                       + r"/[^/]+\.(json|parquet)")
#: The partition folders of a dataset stored before organisations, as a glob.
LEGACY_GLOB = "/".join(f"{key}=*" for key in LEGACY_PARTITION_KEYS)
#: A data file of a dataset stored before organisations (``granularity=…/grouping=…/…``).
LEGACY_DATA_FILE = re.compile("/".join(f"{key}=[^/]+" for key in LEGACY_PARTITION_KEYS)
                              + r"/[^/]+\.(json|parquet)")
