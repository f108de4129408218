"""S3 storage for the usage dataset, with the table and partitions registered in Glue.

Files are written with one ``PutObject`` each, to a fixed key per partition. S3 replaces an
object atomically and reads are strongly consistent, so a reader (Athena, DuckDB, the kit)
gets the old object or the new one, never both and never a part; a failed or interrupted
put leaves the old object. (awswrangler's ``to_json`` is not used for the bytes: it escapes
``/`` as ``\\/``, writes a new uuid-named object per call, and in ``overwrite_partitions``
mode deletes the old objects *before* writing the new ones.)

The Glue table (explicit schema: :data:`usagekit.dataset.TABLE_COLUMNS` and
:data:`usagekit.dataset.PARTITION_KEYS`) and every written partition are registered
*before* the data is put, so the rows are queryable in Athena when the write returns.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from usagekit.exceptions import CrawlerTimeoutError, DatasetError

_logger = logging.getLogger(__name__)

_DENIED = {"AccessDenied", "AccessDeniedException", "AllAccessDisabled", "403",
           "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
           "UnrecognizedClientException", "InvalidClientTokenId"}


def _session(boto3_session: Any) -> Any:
    import boto3

    return boto3_session or boto3.DEFAULT_SESSION or boto3.Session()


@contextlib.contextmanager
def _errors(action: str, target: str) -> Iterator[None]:
    """Turn AWS client errors into :class:`DatasetError` naming what failed."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "NoSuchBucket":
            raise DatasetError(
                f"cannot {action} {target}: the bucket does not exist (create it, or deploy "
                "the CloudFormation stack, or fix the --dataset location); nothing was changed"
            ) from None
        if code in _DENIED:
            raise DatasetError(
                f"cannot {action} {target}: access denied ({code}); check the IAM policy of "
                "the AWS credentials in use; stored data is unchanged"
            ) from None
        message = exc.response.get("Error", {}).get("Message", "")
        raise DatasetError(f"cannot {action} {target}: {code} {message}".strip()) from None
    except BotoCoreError as exc:
        raise DatasetError(f"cannot {action} {target}: {exc}") from None


class S3Storage:
    """Objects under ``s3://bucket/prefix/``; optionally a Glue table over them."""

    def __init__(
        self,
        location: str,
        *,
        boto3_session: Any = None,
        database: str | None = None,
        table: str | None = None,
    ) -> None:
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if not bucket:
            raise DatasetError(f"invalid S3 location {location!r}: expected s3://bucket/prefix/")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.location = f"s3://{bucket}/{self.prefix}"
        self.database = database
        self.table = table
        if database is not None or table is not None:
            from usagekit.config import validate_identifier

            validate_identifier(database or "", "Glue database name")
            validate_identifier(table or "", "Glue table name")
        self._session = _session(boto3_session)
        self._client = self._session.client("s3")

    def list_files(self) -> list[str]:
        """Every object under the prefix, relative to it."""
        out: list[str] = []
        with _errors("list", self.location):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                out.extend(item["Key"][len(self.prefix):] for item in page.get("Contents", []))
        return sorted(out)

    def read(self, rel: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        with _errors("read", self.url(rel)):
            try:
                return self._client.get_object(Bucket=self.bucket, Key=self.prefix + rel)[
                    "Body"
                ].read()
            except self._client.exceptions.NoSuchKey:
                return None

    def replace(self, rel: str, data: bytes) -> None:
        """Put the object (S3 replaces a key atomically)."""
        with _errors("write", self.url(rel)):
            self._client.put_object(Bucket=self.bucket, Key=self.prefix + rel, Body=data)

    def delete(self, rel: str) -> None:
        """Delete the object."""
        with _errors("delete", self.url(rel)):
            self._client.delete_object(Bucket=self.bucket, Key=self.prefix + rel)

    def url(self, rel: str) -> str:
        """The object's ``s3://`` URL."""
        return f"s3://{self.bucket}/{self.prefix}{rel}"

    # -- Glue ------------------------------------------------------------------------------

    def prepare(self, fmt: str, partitions: Sequence[Any]) -> None:
        """Make sure the Glue table and ``partitions`` are registered (before the data is put).

        A missing bucket was already reported by the listing that planned the write.
        """
        if self.database is None or self.table is None or not partitions:
            return
        import awswrangler as wr

        from usagekit.dataset.schema import PARTITION_KEYS, TABLE_COLUMNS

        name = f"{self.database}.{self.table}"
        with _errors("register the Glue table", name):
            glue = self._session.client("glue")
            try:
                existing = glue.get_table(DatabaseName=self.database, Name=self.table)["Table"]
            except glue.exceptions.EntityNotFoundException:
                existing = None
            if existing is None:
                wr.catalog.create_database(self.database, exist_ok=True,
                                           boto3_session=self._session)
                create = (wr.catalog.create_json_table if fmt == "ndjson"
                          else wr.catalog.create_parquet_table)
                extra = {"compression": "zstd"} if fmt == "parquet" else {}
                create(
                    database=self.database, table=self.table, path=self.location,
                    columns_types=TABLE_COLUMNS, partitions_types=PARTITION_KEYS,
                    description="Genesys Cloud API usage (usagekit dataset)",
                    boto3_session=self._session, **extra,
                )
                _logger.info("created Glue table %s at %s", name, self.location)
            else:
                self._check_table(existing, fmt, list(PARTITION_KEYS))
                if _projected(existing):
                    _logger.debug("%s uses partition projection: no partitions to add", name)
                    return
            values = {f"{self.location}{p.path}/": list(p) for p in partitions}
            if fmt == "ndjson":
                wr.catalog.add_json_partitions(self.database, self.table, values,
                                               boto3_session=self._session)
            else:
                wr.catalog.add_parquet_partitions(self.database, self.table, values,
                                                  compression="zstd",
                                                  boto3_session=self._session)

    def forget(self, partitions: Sequence[Any]) -> None:
        """Remove emptied partitions from the Glue table."""
        if self.database is None or self.table is None or not partitions:
            return
        import awswrangler as wr

        with _errors("unregister partitions of", f"{self.database}.{self.table}"):
            glue = self._session.client("glue")
            table = glue.get_table(DatabaseName=self.database, Name=self.table)["Table"]
            if _projected(table):
                return
            wr.catalog.delete_partitions(table=self.table, database=self.database,
                                         partitions_values=[list(p) for p in partitions],
                                         boto3_session=self._session)

    def _check_table(self, table: dict[str, Any], fmt: str, keys: list[str]) -> None:
        name = f"{self.database}.{self.table}"
        found = [k["Name"] for k in table.get("PartitionKeys", [])]
        storage = table.get("StorageDescriptor", {})
        location = storage.get("Location", "").rstrip("/") + "/"
        is_parquet = "parquet" in storage.get("InputFormat", "").lower()
        problems = []
        if found != keys:
            problems.append(f"partition keys {found}, expected {keys}")
        if location != self.location:
            problems.append(f"location {location}, expected {self.location}")
        if is_parquet != (fmt == "parquet"):
            problems.append(f"format {'parquet' if is_parquet else 'json'}, expected {fmt}")
        if problems:
            raise DatasetError(
                f"the Glue table {name} does not describe this dataset: {'; '.join(problems)}. "
                "Drop it (e.g. one a crawler made), or use another table name"
            )


def _projected(table: dict[str, Any]) -> bool:
    """True when a Glue table computes its partitions (partition projection, as the stack's)."""
    return str(table.get("Parameters", {}).get("projection.enabled", "")).lower() == "true"


def run_crawler(
    name: str, *, timeout: float = 900.0, poll: float = 5.0, boto3_session: Any = None
) -> dict[str, Any]:
    """Start a Glue crawler (the blueprint's) and wait until it is ``READY`` again.

    Not needed for data written by usagekit (its partitions are registered on write).

    Parameters
    ----------
    name : str
        The crawler's name, e.g. ``UsageApiCrawler``.
    timeout : float
        Seconds to wait at most.
    poll : float
        Seconds between status checks.
    boto3_session : boto3.Session, optional
        Default: the standard AWS environment.

    Returns
    -------
    dict
        The crawler's ``LastCrawl`` record (``Status``, ``ErrorMessage``...).

    Raises
    ------
    CrawlerTimeoutError
        When the crawler is not ``READY`` before ``timeout``.
    DatasetError
        When the crawler does not exist, access is denied, or its crawl failed.
    """
    glue = _session(boto3_session).client("glue")
    deadline = time.monotonic() + timeout
    with _errors("start the crawler", name):
        try:
            glue.start_crawler(Name=name)
        except glue.exceptions.EntityNotFoundException:
            raise DatasetError(f"no Glue crawler named {name!r}") from None
        except glue.exceptions.CrawlerRunningException:
            _logger.info("crawler %s is already running; waiting for it", name)
    state = ""
    while True:
        with _errors("poll the crawler", name):
            crawler = glue.get_crawler(Name=name)["Crawler"]
        state = crawler.get("State", "")
        if state == "READY":
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CrawlerTimeoutError(
                f"Glue crawler {name!r} is still {state} after {timeout:g} s; "
                "call run_crawler again (with a larger timeout) to keep waiting"
            )
        time.sleep(min(poll, remaining))
    last = crawler.get("LastCrawl", {})
    if last.get("Status") in ("FAILED", "CANCELLED"):
        raise DatasetError(
            f"Glue crawler {name!r} ended {last['Status']}: {last.get('ErrorMessage', '')}"
        )
    return last
