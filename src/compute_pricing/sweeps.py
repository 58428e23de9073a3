"""How a cron sweep walks the due orgs: in org order, batch by batch, each org on its own.

The weekly reset, the lot expiry and the dunning sweep (``Billing.reset_all_due``,
``billing.extras.expire_old_entries``, ``Billing.dunning_sweep``) share :class:`Sweeper`:

- :meth:`Sweeper.run` asks the store's due-org query for :data:`BATCH` orgs at a time past a
  cursor (``after``) and hands each to the sweep's per-org function; a ``BillingError`` of one
  org is counted against it and the sweep goes on; ``on_org(org, outcome)`` follows each org
  (the cron runner's checkpoint);
- with ``sweep_batch_size`` above 1 and a store that writes batches, a batch's snapshots come
  in one query and its commands are committed with two bulk writes
  (:meth:`~compute_pricing.accounts.AccountService.execute_batch`); an org the batch cannot
  take goes through the single commit loop;
- :meth:`Sweeper.apply` runs one org's command and says whether it changed the org now (a
  replay did not), or only decides it on a dry run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from compute_pricing import commands as cmd
from compute_pricing.accounts import SINGLY, AccountService
from compute_pricing.decide import decide
from compute_pricing.errors import BillingError
from compute_pricing.journal import Snapshot
from compute_pricing.ports import BulkAccountStore
from compute_pricing.results import SweepSummary
from compute_pricing.state import Account

__all__ = ["BATCH", "BulkPlan", "OnOrg", "Sweeper"]

#: Orgs a sweep asks its query for at a time (one at a time through the commit loop).
BATCH = 500
#: A batched sweep's plan: the bulk store's snapshot query by name, and the command for a
#: snapshot's state (``None``: skip the org; :data:`~compute_pricing.accounts.SINGLY`: handle it
#: through the per-org function).
BulkPlan = tuple[str, Callable[[Account], object]]
OnOrg = Callable[[str, str], None]
"""A sweep's per-org callback: ``(org, outcome)`` once the org is handled."""


class Sweeper:
    """Runs sweeps over the orgs a store query finds due, through ``accounts``."""

    def __init__(self, accounts: AccountService) -> None:
        self._accounts = accounts

    def apply(self, org: str, command: cmd.Command, *, dry_run: bool) -> bool:
        """Whether ``command`` changed ``org`` now (not a replay); only decides if ``dry_run``."""
        if dry_run:
            state, _ = self._accounts.load(org)
            decision = decide(
                state, command, self._accounts.context(state, self._accounts.clock.now())
            )
            return decision.write and bool(decision.outcome.get("applied"))
        done = self._accounts.execute(org, command)
        return bool(done.outcome.get("applied")) and not done.replayed

    def run(
        self,
        query: Callable[..., list[str]],
        at: datetime,
        per_org: Callable[[str], bool],
        *,
        after: str | None = None,
        on_org: OnOrg | None = None,
        bulk: BulkPlan | None = None,
    ) -> SweepSummary:
        """Run ``per_org`` over ``query``'s orgs in batches, isolating each org's failure.

        Starts past ``after`` when given; ``on_org(org, outcome)`` (``"processed"``,
        ``"skipped"`` or ``"error"``) runs after each org, which is where a cron runner
        checkpoints its resumable cursor.

        With ``sweep_batch_size`` above 1, a store that writes batches and a ``bulk`` plan (the
        store's snapshot query and the command for a snapshot: ``None`` skips that org,
        :data:`SINGLY` hands it to ``per_org``) the sweep goes through :meth:`_batched`.
        """
        store = self._accounts.store
        size = self._accounts.config.sweep_batch_size
        if bulk is not None and size > 1 and isinstance(store, BulkAccountStore):
            fetch = getattr(store, bulk[0])
            return self._batched(
                store, fetch, bulk[1], at, per_org, size=size, after=after, on_org=on_org
            )
        tally = _Tally(on_org)
        while True:
            batch = query(at, after=after, limit=BATCH)
            for org in batch:
                tally.handle(org, per_org)
            if len(batch) < BATCH:
                return tally.summary()
            after = batch[-1]

    def _batched(
        self,
        store: BulkAccountStore,
        fetch: Callable[..., list[tuple[str, Snapshot | None]]],
        plan: Callable[[Account], object],
        at: datetime,
        per_org: Callable[[str], bool],
        *,
        size: int,
        after: str | None,
        on_org: OnOrg | None,
    ) -> SweepSummary:
        """The sweep by batches of ``size`` orgs: one read, two bulk writes per batch.

        Each batch's snapshots come in one query; every org ``plan`` gives a command is decided
        on its snapshot and committed by :meth:`AccountService.execute_batch`; one it skips
        (``None``) is counted skipped, as ``per_org`` would on the same snapshot; an org it
        cannot commit there (``SINGLY``, a snapshot that does not decode, a refusal or no-write
        answer, a taken seq or key) runs ``per_org`` singly through the commit loop, so its
        catch-up, replay and error isolation are the single path's. ``on_org`` is told each
        org's outcome in org order once the batch is written: a run killed mid-batch leaves
        its cursor before orgs already written, and the next run finds those done (replays).
        """
        tally = _Tally(on_org)
        while True:
            batch = fetch(at, after=after, limit=size)
            items: list[tuple[Snapshot, cmd.Command]] = []
            where: dict[str, int] = {}
            passed: set[str] = set()
            for org, snapshot in batch:
                command = plan(snapshot.state) if snapshot is not None else SINGLY
                if command is None:
                    passed.add(org)
                elif snapshot is not None and isinstance(command, cmd.Command):
                    where[org] = len(items)
                    items.append((snapshot, command))
            done = self._accounts.execute_batch(store, items) if len(items) > 1 else []
            for org, _ in batch:
                index = where.get(org)
                result = done[index] if done and index is not None else None
                if org in passed:
                    tally.count(org, changed=False)
                elif result is not None:
                    tally.count(org, changed=bool(result.outcome.get("applied")))
                else:
                    tally.handle(org, per_org)
            if len(batch) < size:
                return tally.summary()
            after = batch[-1][0]


class _Tally:
    """A sweep's running count; ``on_org`` is told each org's outcome as it is handled."""

    def __init__(self, on_org: OnOrg | None) -> None:
        self._on_org = on_org
        self._processed = self._skipped = 0
        self._errors: dict[str, str] = {}

    def handle(self, org: str, per_org: Callable[[str], bool]) -> None:
        """Run ``per_org(org)`` and count it; a ``BillingError`` counts against that org only."""
        try:
            changed = per_org(org)
        except BillingError as exc:
            self._errors[org] = f"{exc.code}: {exc.message}"
            self._told(org, "error")
        else:
            self.count(org, changed=changed)

    def count(self, org: str, *, changed: bool) -> None:
        """Count ``org`` as processed (it changed now) or skipped."""
        if changed:
            self._processed += 1
        else:
            self._skipped += 1
        self._told(org, "processed" if changed else "skipped")

    def _told(self, org: str, outcome: str) -> None:
        if self._on_org is not None:
            self._on_org(org, outcome)

    def summary(self) -> SweepSummary:
        """What the sweep did so far."""
        return SweepSummary(self._processed, self._skipped, dict(self._errors))
