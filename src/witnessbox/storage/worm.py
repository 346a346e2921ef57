"""The WORM conformance check: does the configured store really refuse to erase what it locked?

`witnessbox storage check` (and `serve` with storage_check_at_start) writes a small probe object
under COMPLIANCE with a short retention and then tries, as the application's own credentials can,
every way of getting rid of it or weakening its lock. Each attempt must be refused by the server
itself; a store that lets one through is no WORM store, whatever its settings say. A second probe
under a legal hold (and no retention) checks that the hold alone stops a deletion.

Probes live under <prefix>/worm-check/; each run first removes the probes whose locks have ended.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from witnessbox.storage.base import BlobStore
from witnessbox.storage.s3 import PROBES, S3BlobStore, error_code

PROBE_RETENTION = timedelta(minutes=5)  # longer than a run, short enough not to pile up


@dataclass(frozen=True)
class Check:
    """One attempt and whether the store behaved as a WORM store must."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Probe:
    """A probe object: its key, the version written, and its bytes."""

    key: str
    version: str
    data: bytes


def check_store(store: BlobStore) -> list[Check]:
    """Run the conformance checks against a store; a store that does not claim WORM fails at once."""
    if not store.worm or not isinstance(store, S3BlobStore):
        return [Check("WORM store", False, "not a WORM store: it can delete or change what it holds")]
    return WormCheck(store).run()


class WormCheck:
    """The checks against one S3 bucket, each a refusal the server must give."""

    def __init__(self, store: S3BlobStore) -> None:
        self.store, self.client, self.bucket = store, store.client, store.bucket

    def run(self) -> list[Check]:
        """Every check, in order; stops early only when no probe could be written."""
        self._remove_expired_probes()
        checks = [self._bucket_locking()]
        try:
            probe = self._write_probe()
        except (ClientError, BotoCoreError) as error:
            return [*checks, Check("write a probe under COMPLIANCE", False, f"refused: {_why(error)}")]
        checks.append(Check("write a probe under COMPLIANCE", True, f"{probe.key} locked"))
        checks.extend(
            check(probe)
            for check in (
                self._delete_version,
                self._bypass_governance,
                self._shorten_retention,
                self._downgrade_mode,
                self._overwrite,
                self._plain_delete,
            )
        )
        checks.append(self._legal_hold())
        return checks

    # -- probes ------------------------------------------------------------------------------------

    def _probe_key(self) -> str:
        return self.store.aside_key(PROBES, secrets.token_hex(8))

    def _write_probe(self, **lock: Any) -> Probe:
        key, data = self._probe_key(), secrets.token_bytes(64)
        if not lock:
            lock = {
                "ObjectLockMode": "COMPLIANCE",
                "ObjectLockRetainUntilDate": self.store.now() + PROBE_RETENTION,
            }
        answer = self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **lock)
        return Probe(key, str(answer.get("VersionId") or ""), data)

    def _remove_expired_probes(self) -> None:
        """Delete the probe versions earlier runs left whose locks have ended (refusals ignored)."""
        prefix = self.store.aside_key(PROBES, "")
        try:
            paginator = self.client.get_paginator("list_object_versions")
            pages = paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    self._try_delete(str(entry["Key"]), str(entry["VersionId"]))
        except (ClientError, BotoCoreError):
            return

    def _try_delete(self, key: str, version: str) -> None:
        self._try(lambda: self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version))

    def _try(self, call: Callable[[], object]) -> bool:
        """Make a call whose refusal is fine; whether it was refused (or failed)."""
        try:
            call()
        except (ClientError, BotoCoreError):
            return True
        return False

    # -- the checks --------------------------------------------------------------------------------

    def _bucket_locking(self) -> Check:
        name = "bucket has Object Lock enabled"
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as error:
            return Check(name, False, f"no Object Lock configuration ({_why(error)})")
        enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
        return Check(name, enabled, "enabled" if enabled else "Object Lock is not enabled on the bucket")

    def _refused(self, name: str, call: Callable[[], object]) -> Check:
        """PASS when the server refuses the call (a 4xx answer; a 5xx or no answer proves nothing)."""
        try:
            call()
        except ClientError as error:
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if 400 <= status < 500:
                return Check(name, True, f"refused ({error_code(error)})")
            return Check(name, False, f"the server failed rather than refused ({_why(error)})")
        except BotoCoreError as error:
            return Check(name, False, f"no answer from the server ({error})")
        return Check(name, False, "the server allowed it")

    def _delete_version(self, probe: Probe) -> Check:
        return self._refused(
            "delete the locked version",
            lambda: self.client.delete_object(Bucket=self.bucket, Key=probe.key, VersionId=probe.version),
        )

    def _bypass_governance(self, probe: Probe) -> Check:
        return self._refused(
            "delete the locked version bypassing governance",
            lambda: self.client.delete_object(
                Bucket=self.bucket, Key=probe.key, VersionId=probe.version, BypassGovernanceRetention=True
            ),
        )

    def _shorten_retention(self, probe: Probe) -> Check:
        return self._refused(
            "shorten the retention",
            lambda: self.client.put_object_retention(
                Bucket=self.bucket, Key=probe.key, VersionId=probe.version,
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": self.store.now() + timedelta(seconds=1)},
            ),
        )

    def _downgrade_mode(self, probe: Probe) -> Check:
        return self._refused(
            "downgrade COMPLIANCE to GOVERNANCE",
            lambda: self.client.put_object_retention(
                Bucket=self.bucket, Key=probe.key, VersionId=probe.version, BypassGovernanceRetention=True,
                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": self.store.now() + PROBE_RETENTION},
            ),
        )

    def _overwrite(self, probe: Probe) -> Check:
        """An overwrite is refused, or adds a version while the locked one reads back unchanged."""
        name = "overwrite leaves the locked bytes intact"
        refused = self._try(
            lambda: self.client.put_object(Bucket=self.bucket, Key=probe.key, Body=b"overwritten")
        )
        detail = "refused" if refused else "a new version; the locked one is unchanged"
        return self._intact(name, probe, detail)

    def _plain_delete(self, probe: Probe) -> Check:
        """A delete without a version only adds a delete marker; the locked version stays."""
        self._try(lambda: self.client.delete_object(Bucket=self.bucket, Key=probe.key))
        return self._intact("delete without a version leaves the locked bytes intact", probe, "kept")

    def _intact(self, name: str, probe: Probe, detail: str) -> Check:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=probe.key, VersionId=probe.version)
            got = answer["Body"].read()
        except (ClientError, BotoCoreError) as error:
            return Check(name, False, f"the locked version is gone ({_why(error)})")
        if got != probe.data:
            return Check(name, False, "the locked version reads back changed")
        return Check(name, True, detail)

    def _legal_hold(self) -> Check:
        name = "a legal hold alone stops a deletion"
        try:
            probe = self._write_probe(ObjectLockLegalHoldStatus="ON")
        except (ClientError, BotoCoreError) as error:
            return Check(name, False, f"could not write a probe under a legal hold ({_why(error)})")
        check = self._refused(
            name,
            lambda: self.client.delete_object(
                Bucket=self.bucket, Key=probe.key, VersionId=probe.version, BypassGovernanceRetention=True
            ),
        )
        self._try(lambda: self.client.put_object_legal_hold(
            Bucket=self.bucket, Key=probe.key, VersionId=probe.version, LegalHold={"Status": "OFF"}
        ))
        return check


def _why(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{error_code(error)}: {error.response.get('Error', {}).get('Message', '')}".strip(": ")
    return str(error)
