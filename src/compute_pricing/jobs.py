"""The cron runner: one job run under the store's lease lock, resumable through a cursor.

:func:`run_job` runs one of :data:`JOBS` against a :class:`~compute_pricing.Billing`:

- it takes the lease ``cron:<job>`` (``Lock.hold``); a copy that finds it taken does nothing
  and says so (``lock: "busy"``), so two copies never work at once while the lease lives;
- it renews the lease after an org once half its TTL has passed since it was taken or last
  renewed, so a run longer than the TTL keeps it; a renewal that fails (the lease expired and
  another copy took it over) stops the run there (``lock: "lost"``, exit code 1), its cursor
  left for the copy that holds the lease now;
- it resumes past the org saved in the job's cursor (``JobCursorStore``) when the previous run
  did not finish, checkpoints the cursor after every org, and clears it at the end, so a killed
  run is finished by the next one without redoing or missing an org;
- every per-org command is idempotent per period (the week key, the lot id, the past-due
  episode), so even a copy that ran after a lease expired would change nothing twice;
- ``dry_run`` decides without writing anything: no lease, no cursor, no journal entry.

The result is a :class:`JobSummary`; its :meth:`~JobSummary.to_dict` is the JSON summary line of
the ``compute-pricing cron`` commands, and a :class:`~compute_pricing.events.CronRunFinished`
event plus one structured log record report the run.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

from compute_pricing.events import CronRunFinished
from compute_pricing.ports import Clock, JobCursor, Lease
from compute_pricing.reconcile import reconcile_all
from compute_pricing.results import SweepSummary
from compute_pricing.sweeps import OnOrg

if TYPE_CHECKING:
    from compute_pricing.billing import Billing

__all__ = ["DEFAULT_LOCK_TTL_SECONDS", "JOBS", "JobSummary", "run_job"]

log = logging.getLogger(__name__)

#: The lease a run holds; a run that lasts longer lets another copy in (still safe, see above).
DEFAULT_LOCK_TTL_SECONDS = 3600

#: The cron jobs, by their command name.
JOBS = ("dunning-sweep", "extras-expiration", "reconcile", "weekly-reset")


@attrs.frozen
class JobSummary:
    """What one run did. ``failed`` maps org to its error; ``extra`` holds job-specific figures.

    ``lock`` is ``"held"`` (this run held the lease), ``"busy"`` (another copy holds it: nothing
    was done), ``"lost"`` (a renewal failed: the run stopped part way) or ``"none"`` (a dry run
    takes no lease). ``resumed_after`` is the cursor this run
    started past, if the previous run was unfinished.
    """

    job: str
    processed: int
    skipped: int
    failed: Mapping[str, str]
    duration_s: float
    dry_run: bool
    lock: str = "held"
    resumed_after: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def errors(self) -> int:
        """How many orgs failed."""
        return len(self.failed)

    @property
    def exit_code(self) -> int:
        """``0`` when every org was handled, ``1`` when some failed (or diverged) or the run
        lost its lease part way."""
        return 1 if self.failed or self.extra.get("divergences") or self.lock == "lost" else 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary: ``job, processed, skipped, errors, duration_s, dry_run`` and more."""
        return {
            "job": self.job,
            "processed": self.processed,
            "skipped": self.skipped,
            "errors": self.errors,
            "duration_s": self.duration_s,
            "dry_run": self.dry_run,
            "lock": self.lock,
            "resumed_after": self.resumed_after,
            "failed": dict(sorted(self.failed.items())),
            **self.extra,
        }


def _sweep(
    billing: Billing, job: str, *, after: str | None, dry_run: bool, on_org: OnOrg
) -> tuple[SweepSummary, dict[str, Any]]:
    if job == "weekly-reset":
        return billing.reset_all_due(after=after, dry_run=dry_run, on_org=on_org), {}
    if job == "extras-expiration":
        return billing.extras.expire_old_entries(after=after, dry_run=dry_run, on_org=on_org), {}
    if job == "dunning-sweep":
        return billing.dunning_sweep(after=after, dry_run=dry_run, on_org=on_org), {}
    if job == "reconcile":
        report = reconcile_all(billing, after=after, on_org=on_org)
        return report.summary, report.extra()
    raise ValueError(f"unknown job {job!r}: expected one of {', '.join(JOBS)}")


def run_job(
    billing: Billing,
    job: str,
    *,
    dry_run: bool = False,
    lock_ttl_seconds: int = DEFAULT_LOCK_TTL_SECONDS,
    on_org: OnOrg | None = None,
) -> JobSummary:
    """Run ``job`` once (see the module docstring); ``on_org(org, outcome)`` follows progress.

    Per-org failures are counted in the summary, never raised; a store that cannot be reached
    raises its :class:`~compute_pricing.errors.BillingError` (the CLI's exit code 2).
    """
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}: expected one of {', '.join(JOBS)}")
    started = time.monotonic()
    if dry_run:
        summary, extra = _sweep(billing, job, after=None, dry_run=True, on_org=on_org or _ignore)
        return _finish(billing, job, summary, extra, started, dry_run=True, lock="none")
    with billing.stores.lock.hold(f"cron:{job}", lock_ttl_seconds) as lease:
        if not lease:
            log.info("cron %s: another copy holds the lease", job, extra={"job": job})
            return _finish(billing, job, SweepSummary(), {}, started, dry_run=False, lock="busy")
        cursors = billing.stores.job_cursors
        cursor = cursors.load(job)
        after = cursor.after if cursor is not None else None
        run_started_at = billing.clock.now()
        keeper = _LeaseKeeper(lease, billing.clock, lock_ttl_seconds)
        seen: Counter[str] = Counter()
        failed: dict[str, str] = {}

        def checkpoint(org: str, outcome: str) -> None:
            cursors.save(JobCursor(job, org, run_started_at, billing.clock.now()))
            seen[outcome] += 1
            if outcome == "error":
                failed[org] = "error (see the log)"
                log.warning("cron %s: org %s failed", job, org, extra={"job": job, "org": org})
            if on_org is not None:
                on_org(org, outcome)
            keeper.keep()

        try:
            summary, extra = _sweep(billing, job, after=after, dry_run=False, on_org=checkpoint)
        except _LeaseLostError:
            log.warning("cron %s: the lease was lost; stopping", job, extra={"job": job})
            partial = SweepSummary(seen["processed"], seen["skipped"], failed)
            return _finish(
                billing, job, partial, {}, started, dry_run=False, lock="lost", resumed_after=after
            )
        cursors.clear(job)
        return _finish(
            billing, job, summary, extra, started, dry_run=False, lock="held", resumed_after=after
        )


class _LeaseLostError(Exception):
    """The run's lease could not be renewed: another copy holds it now."""


class _LeaseKeeper:
    """Renews ``lease`` once half of ``ttl_seconds`` has passed on ``clock``."""

    def __init__(self, lease: Lease, clock: Clock, ttl_seconds: int) -> None:
        self._lease = lease
        self._clock = clock
        self._every = timedelta(seconds=ttl_seconds) / 2
        self._since = self._clock.now()

    def keep(self) -> None:
        """Renew if due; raise :class:`_LeaseLostError` if the lease is no longer this run's."""
        now = self._clock.now()
        if now - self._since < self._every:
            return
        if not self._lease.renew():
            raise _LeaseLostError
        self._since = now


def _ignore(org: str, outcome: str) -> None:
    """An ``on_org`` that does nothing."""


def _finish(
    billing: Billing,
    job: str,
    summary: SweepSummary,
    extra: Mapping[str, Any],
    started: float,
    *,
    dry_run: bool,
    lock: str,
    resumed_after: str | None = None,
) -> JobSummary:
    result = JobSummary(
        job=job,
        processed=summary.processed,
        skipped=summary.skipped,
        failed=dict(summary.errors),
        duration_s=round(time.monotonic() - started, 3),
        dry_run=dry_run,
        lock=lock,
        resumed_after=resumed_after,
        extra=dict(extra),
    )
    log.info(
        "cron %s finished: processed=%d skipped=%d errors=%d",
        job,
        result.processed,
        result.skipped,
        result.errors,
        extra={
            "job": job,
            "processed": result.processed,
            "skipped": result.skipped,
            "errors": result.errors,
            "duration_s": result.duration_s,
            "dry_run": dry_run,
            "lock": lock,
        },
    )
    billing.events.publish(
        [
            CronRunFinished(
                job=job,
                at=billing.clock.now(),
                processed=result.processed,
                skipped=result.skipped,
                errors=result.errors,
                duration_s=result.duration_s,
                dry_run=dry_run,
            )
        ]
    )
    return result
