"""S3 storage for the usage dataset, with the table and partitions registered in Glue.

Files are written with one ``PutObject`` each, to a fixed key per partition. S3 replaces an
object atomically and reads are strongly consistent, so a reader (Athena, DuckDB, the kit)
gets the old object or the new one, never both and never a part; a failed or interrupted
put leaves the old object. (awswrangler's ``to_json`` is not used for the bytes: it escapes
``/`` as ``\\/``, writes a new uuid-named object per call, and in ``overwrite_partitions``
mode deletes the old objects *before* writing the new ones.)

The Glue table (explicit schema: :data:`usagekit.row.STORED_COLUMNS` and
:data:`usagekit.row.PARTITION_KEYS`) and every written partition are registered
*before* the data is put, so the rows are queryable in Athena when the write returns.

Writers take turns with a lock object, ``_usagekit.lock`` under the prefix (see
:mod:`usagekit.dataset.lock`), put only if absent (``IfNoneMatch='*'``). It names its holder
and a lease (:data:`usagekit.config.settings.LOCK_LEASE`) that the holder renews while it writes; a
lock left by a dead holder is taken over once S3's own clock (the object's Last-Modified
against the response's Date) says the lease ran out. While the lock is held, every put and
delete is conditional on the ETag this writer listed or read (``IfMatch``; ``IfNoneMatch='*'``
for a key it found absent): a holder that lost its lock fails with a :class:`DatasetError`
instead of overwriting another writer's rows.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from usagekit.config.settings import LOCK_LEASE
from usagekit.dataset.lock import (
    Deadline,
    describe_holder,
    held_too_long,
    holder_field,
    holder_record,
)
from usagekit.dataset.schema import LOCK
from usagekit.exceptions import CrawlerTimeoutError, DatasetError
from usagekit.row import LEGACY_PARTITION_KEYS, ORG

_logger = logging.getLogger(__name__)

_DENIED = {"AccessDenied", "AccessDeniedException", "AllAccessDisabled", "403",
           "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
           "UnrecognizedClientException", "InvalidClientTokenId"}
#: Answers to a conditional request whose condition does not hold (any more).
_CONFLICT = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409",
             "404"}
#: Seconds added to a lease when judging it by S3's timestamps (whole seconds).
_CLOCK_STEP = 1.0


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


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
        code = _code(exc)
        if code == "NoSuchBucket":
            raise DatasetError(
                f"cannot {action} {target}: the bucket does not exist (create it, or deploy "
                "the CloudFormation stack, or fix the --dataset location); nothing was changed"
            ) from exc
        if code in _DENIED:
            raise DatasetError(
                f"cannot {action} {target}: access denied ({code}); check the IAM policy of "
                "the AWS credentials in use; stored data is unchanged"
            ) from exc
        message = exc.response.get("Error", {}).get("Message", "")
        raise DatasetError(f"cannot {action} {target}: {code} {message}".strip()) from exc
    except BotoCoreError as exc:
        raise DatasetError(f"cannot {action} {target}: {exc}") from exc


class S3Storage:
    """Objects under ``s3://bucket/prefix/``; optionally a Glue table over them."""

    def __init__(
        self,
        location: str,
        *,
        boto3_session: Any = None,
        database: str | None = None,
        table: str | None = None,
        lease: float = LOCK_LEASE,
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
            from usagekit.config.settings import validate_identifier

            validate_identifier(database or "", "Glue database name")
            validate_identifier(table or "", "Glue table name")
        self._session = _session(boto3_session)
        self._client = self._session.client("s3")
        self._lease_seconds = lease
        self._lock_client: Any = None
        self._glue_client: Any = None
        self._lease: _Lease | None = None
        #: While locked: the ETag of each key listed or read (what puts are conditional on).
        self._etags: dict[str, str] = {}

    def list_files(self) -> list[str]:
        """Every object under the prefix, relative to it."""
        out: list[str] = []
        with _errors("list", self.location):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    rel = item["Key"][len(self.prefix):]
                    out.append(rel)
                    if self._lease is not None:
                        self._etags[rel] = item["ETag"]
        return sorted(out)

    def read(self, rel: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        with _errors("read", self.url(rel)):
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + rel)
            except self._client.exceptions.NoSuchKey:
                self._etags.pop(rel, None)
                return None
            if self._lease is not None:
                self._etags[rel] = response["ETag"]
            return bytes(response["Body"].read())

    def replace(self, rel: str, data: bytes) -> None:
        """Put the object (S3 replaces a key atomically); conditional while locked."""
        with self._fenced("write", rel) as condition:
            response = self._client.put_object(Bucket=self.bucket, Key=self.prefix + rel,
                                               Body=data, **condition)
        if self._lease is not None:
            self._etags[rel] = response["ETag"]

    def delete(self, rel: str) -> None:
        """Delete the object; conditional while locked."""
        with self._fenced("delete", rel) as condition:
            self._client.delete_object(Bucket=self.bucket, Key=self.prefix + rel, **condition)
        self._etags.pop(rel, None)

    def url(self, rel: str) -> str:
        """The object's ``s3://`` URL."""
        return f"s3://{self.bucket}/{self.prefix}{rel}"

    @contextlib.contextmanager
    def lock(self, timeout: float, name: str = LOCK) -> Iterator[None]:
        """Hold the lock ``name`` (an object; default the write lock), waiting ``timeout`` s.

        Raises
        ------
        DatasetError
            When another writer holds it longer (naming that writer), or S3 refuses.
        """
        if self.database is not None:  # seconds in a new process: not while holding the lock
            importlib.import_module("awswrangler")
            self._glue()
        if self._lock_client is None:  # its own: the lock's requests are not the data's
            self._lock_client = self._session.client("s3")
        lease = _Lease(self._lock_client, self.bucket, self.prefix + name, self.location,
                       self._lease_seconds)
        lease.acquire(timeout)
        self._etags, self._lease = {}, lease
        try:
            yield
        finally:
            self._etags, self._lease = {}, None
            lease.release()

    @contextlib.contextmanager
    def _fenced(self, action: str, rel: str) -> Iterator[dict[str, str]]:
        """Yield the request's condition (while locked: the ETag seen); report a lost race."""
        from botocore.exceptions import ClientError

        condition: dict[str, str] = {}
        if self._lease is not None:
            self._lease.renew()
            etag = self._etags.get(rel)
            if etag is not None:
                condition["IfMatch"] = etag
            elif action == "write":
                condition["IfNoneMatch"] = "*"
        with _errors(action, self.url(rel)):
            try:
                yield condition
            except ClientError as exc:
                if not condition or _code(exc) not in _CONFLICT:
                    raise
                raise DatasetError(
                    f"cannot {action} {self.url(rel)}: another writer changed it since this "
                    "write read it (one that takes no lock, or one that took the lock over "
                    f"when this write's lease of {self._lease_seconds:g} s ran out); this "
                    "write left it as that writer stored it. Run the write again"
                ) from exc

    # -- Glue ------------------------------------------------------------------------------

    def prepare(self, fmt: str, partitions: Sequence[Any]) -> None:
        """Make sure the Glue table and ``partitions`` are registered (before the data is put).

        A missing bucket was already reported by the listing that planned the write.
        """
        if self.database is None or self.table is None or not partitions:
            return
        import awswrangler as wr

        from usagekit.row import PARTITION_KEYS, STORED_COLUMNS

        name = f"{self.database}.{self.table}"
        with _errors("register the Glue table", name):
            glue = self._glue()
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
                    columns_types=STORED_COLUMNS, partitions_types=PARTITION_KEYS,
                    description="Genesys Cloud API usage (usagekit dataset)",
                    boto3_session=self._session, **extra,
                )
                _logger.info("created Glue table %s at %s", name, self.location)
            else:
                self._check_table(existing, fmt, list(PARTITION_KEYS))
                if _projected(existing):
                    _logger.debug("%s uses partition projection: no partitions to add", name)
                    self._project_orgs(existing, {p.org for p in partitions})
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
            glue = self._glue()
            table = glue.get_table(DatabaseName=self.database, Name=self.table)["Table"]
            if _projected(table):
                return
            wr.catalog.delete_partitions(table=self.table, database=self.database,
                                         partitions_values=[list(p) for p in partitions],
                                         boto3_session=self._session)

    def drop_legacy_table(self) -> None:
        """Drop the kit's Glue table when it has no ``org`` key (a later write recreates it).

        Only a table the kit created (no partition projection); the stack's projected table
        is updated with the stack (its template has the key).

        Raises
        ------
        DatasetError
            The table is projected and still lacks the key: update the stack first.
        """
        if self.database is None or self.table is None:
            return
        name = f"{self.database}.{self.table}"
        with _errors("check the Glue table", name):
            glue = self._glue()
            try:
                table = glue.get_table(DatabaseName=self.database, Name=self.table)["Table"]
            except glue.exceptions.EntityNotFoundException:
                return
            keys = [k["Name"] for k in table.get("PartitionKeys", [])]
            if keys != list(LEGACY_PARTITION_KEYS):
                return
            if _projected(table):
                raise DatasetError(
                    f"the Glue table {name} is the stack's (partition projection) and has no "
                    "org key yet: update the stack with the current template (its OrgIds "
                    "parameter listing the org), then migrate; nothing was moved")
            glue.delete_table(DatabaseName=self.database, Name=self.table)
            _logger.info("dropped the Glue table %s (no org key); the migration recreates it",
                         name)

    def _project_orgs(self, table: dict[str, Any], orgs: set[str]) -> None:
        """Add the orgs missing from a projected table's ``org`` enum (UpdateTable)."""
        import awswrangler as wr

        key = f"projection.{ORG}.values"
        values = [v for v in str(table.get("Parameters", {}).get(key, "")).split(",") if v]
        missing = sorted(orgs - set(values))
        if missing:
            wr.catalog.upsert_table_parameters({key: ",".join([*values, *missing])},
                                               database=self.database, table=self.table,
                                               boto3_session=self._session)
            _logger.warning("added org(s) %s to the partition projection of %s.%s; add them to "
                            "the stack's OrgIds too, or its next update takes them out",
                            ", ".join(missing), self.database, self.table)

    def _glue(self) -> Any:
        if self._glue_client is None:
            self._glue_client = self._session.client("glue")
        return self._glue_client

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
        if found == list(LEGACY_PARTITION_KEYS):
            problems.append("it has no org partition key (made before organisations: "
                            f"`usagekit migrate --dataset {self.location} --org ID` moves the "
                            "rows and updates the table)")
        if problems:
            raise DatasetError(
                f"the Glue table {name} does not describe this dataset: {'; '.join(problems)}. "
                "Drop it (e.g. one a crawler made), or use another table name"
            )


class _Lease:
    """The lock object: created if absent, renewed by its holder, taken over when it lapsed."""

    def __init__(self, client: Any, bucket: str, key: str, location: str, seconds: float
                 ) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._location, self._seconds = location, seconds
        self._url = f"s3://{bucket}/{key}"
        self._etag = ""
        self._since: str | None = None
        self._renewed = 0.0

    def acquire(self, timeout: float) -> None:
        """Take the lock, waiting up to ``timeout`` s for a live holder."""
        deadline = Deadline(timeout)
        while not self._put(IfNoneMatch="*"):
            current = self._read()  # None: released meanwhile
            holder = current[0] if current else None
            if current is not None:
                etag, age = current[1:]
                lease = holder_field(holder, "lease")
                lease = float(lease) if isinstance(lease, int | float) else LOCK_LEASE
                if age > lease + _CLOCK_STEP and self._put(IfMatch=etag):
                    _logger.warning("took over the write lock of %s from %s: its lease of "
                                    "%g s ran out %.0f s ago", self._location,
                                    describe_holder(holder), lease, age - lease)
                    return
            if not deadline.pause():
                raise held_too_long(self._location, holder, timeout)

    def renew(self) -> None:
        """Extend the lease when a third of it has passed; fail if the lock was taken over."""
        if time.monotonic() - self._renewed < self._seconds / 3:
            return
        if not self._put(IfMatch=self._etag):
            raise DatasetError(
                f"lost the write lock of {self._location}: this write held it longer than its "
                f"lease of {self._seconds:g} s without renewing it and another writer took it "
                "over. Partitions switched so far hold this write's rows, the others their "
                "previous rows; run the write again"
            )

    def release(self) -> None:
        """Delete the lock object if it is still this holder's; a failure only warns.

        The write itself is done (or failed on its own); a lock left behind makes other
        writers wait until its lease runs out.
        """
        from botocore.exceptions import ClientError

        try:
            with _errors("release the lock", self._url):
                try:
                    self._client.delete_object(Bucket=self._bucket, Key=self._key,
                                               IfMatch=self._etag)
                except ClientError as exc:
                    if _code(exc) not in _CONFLICT:
                        raise
                    _logger.warning("the write lock of %s was taken over before it was "
                                    "released", self._location)
        except DatasetError as exc:
            _logger.warning("%s; other writers wait until its lease of %g s runs out", exc,
                            self._seconds)

    def _put(self, **condition: str) -> bool:
        """Put this holder's record if ``condition`` holds; False when it does not."""
        from botocore.exceptions import ClientError

        with _errors("write", self._url):
            try:
                record = holder_record(self._since, self._seconds)
                response = self._client.put_object(Bucket=self._bucket, Key=self._key,
                                                   Body=record, **condition)
            except ClientError as exc:
                if _code(exc) in _CONFLICT:
                    return False
                raise
        self._etag, self._renewed = response["ETag"], time.monotonic()
        self._since = self._since or str(holder_field(record, "since"))
        return True

    def _read(self) -> tuple[bytes, str, float] | None:
        """The holder record, its ETag and its age by S3's clock; None when it is gone."""
        with _errors("read the lock", self._url):
            try:
                response = self._client.get_object(Bucket=self._bucket, Key=self._key)
            except self._client.exceptions.NoSuchKey:
                return None
            date = response["ResponseMetadata"]["HTTPHeaders"].get("date")
            now = parsedate_to_datetime(date) if date else datetime.now(UTC)
            age = (now - response["LastModified"]).total_seconds()
            return bytes(response["Body"].read()), response["ETag"], age


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
