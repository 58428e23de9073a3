"""Hypothesis strategies for property tests of compute_pricing and of code built on it.

Every strategy here draws values the library accepts, unless its name says ``invalid``: ids
match the patterns :mod:`compute_pricing.validation` and :mod:`compute_pricing.rules` check,
costs are non-negative finite ``Decimal`` dollars (zero included), datetimes are aware, and
settings validate. Generated configs survive a TOML round trip (text is UTF-8 encodable,
offsets are whole minutes), so they can also feed file-based tests.

Importing this module needs ``hypothesis``; the library itself never imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal

from hypothesis import strategies as st
from pydantic import SecretStr

from compute_pricing.config import (
    AlertSettings,
    BillingConfig,
    ComputeSettings,
    PackSettings,
    PlanSettings,
    StripeSettings,
)
from compute_pricing.money import MAX_COST
from compute_pricing.timekeeping import to_utc_ms

__all__ = [
    "aware_datetimes",
    "billing_configs",
    "cost_categories",
    "cost_mappings",
    "dollar_costs",
    "invalid_cost_mappings",
    "invalid_costs",
    "org_ids",
    "pack_settings",
    "plan_settings",
    "run_ids",
    "step_keys",
    "utc_instants",
    "utc_offsets",
]

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
#: Alphabets of ``validation._ORG``, ``attribution._RUN_ID``, ``attribution._STEP``, ``config._ID``.
_ORG_CHARS = _ALNUM + "_.:-"
_RUN_CHARS = _ALNUM + ":_.-"
_STEP_CHARS = _ALNUM + ":_-"
_ID_CHARS = _ALNUM + "_.-"
_COUNTER_PART = st.builds(
    "{}{}".format,
    st.sampled_from(_LOWER),
    st.text(alphabet=_LOWER + "0123456789_-", max_size=12),
)
#: Text any TOML writer can encode (no surrogates).
_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=24)
_MAX_OFFSET_MINUTES = 23 * 60 + 59
_KNOWN_CATEGORIES = ("default", "scrap", "autofix", "llm", "gpu", "base")


def org_ids(*, max_size: int = 24) -> st.SearchStrategy[str]:
    """Organization ids ``require_org`` accepts: ``[A-Za-z0-9_.:-]{1,max_size}``."""
    return st.text(alphabet=_ORG_CHARS, min_size=1, max_size=min(max_size, 128))


def run_ids(*, max_size: int = 32) -> st.SearchStrategy[str]:
    """Run ids ``validate_run_id`` accepts: ``[A-Za-z0-9:_.-]{1,max_size}``."""
    return st.text(alphabet=_RUN_CHARS, min_size=1, max_size=min(max_size, 128))


def step_keys(*, max_size: int = 64) -> st.SearchStrategy[str]:
    """Step keys ``validate_step`` accepts (``initial`` often): ``[A-Za-z0-9:_-]{1,64}``."""
    size = min(max_size, 64)
    return st.just("initial") | st.text(alphabet=_STEP_CHARS, min_size=1, max_size=size)


def cost_categories() -> st.SearchStrategy[str]:
    """Cost category names: the usual ones, or any short non-empty lowercase name."""
    return st.sampled_from(_KNOWN_CATEGORIES) | st.text(
        alphabet=_LOWER + "_", min_size=1, max_size=12
    )


def dollar_costs(
    *, max_dollars: Decimal | int = 100, places: int = 6
) -> st.SearchStrategy[Decimal]:
    """Valid costs: finite ``Decimal`` dollars in ``[0, max_dollars]``, zero drawn often.

    ``max_dollars`` must stay below :data:`~compute_pricing.money.MAX_COST`.
    """
    return st.just(Decimal(0)) | st.decimals(
        min_value=0,
        max_value=Decimal(max_dollars),
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )


def cost_mappings(
    *,
    categories: st.SearchStrategy[str] | None = None,
    max_dollars: Decimal | int = 100,
    max_size: int = 4,
) -> st.SearchStrategy[dict[str, Decimal]]:
    """Valid ``{category: Decimal dollars}`` step costs, the empty mapping included."""
    return st.dictionaries(
        categories if categories is not None else cost_categories(),
        dollar_costs(max_dollars=max_dollars),
        max_size=max_size,
    )


def invalid_costs() -> st.SearchStrategy[object]:
    """Costs ``parse_cost`` refuses: negative, NaN, infinite, huge, str, bool, None, nested."""
    negative_floats = st.floats(
        max_value=0.0, exclude_max=True, allow_nan=False, allow_infinity=False
    )
    special = [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity")]
    return st.one_of(
        st.decimals(max_value=Decimal("-0.000001"), allow_nan=False, allow_infinity=False),
        st.integers(max_value=-1),
        negative_floats,
        st.sampled_from([*special, float("nan"), float("inf"), float("-inf")]),
        st.decimals(min_value=MAX_COST, allow_nan=False, allow_infinity=False),
        st.integers(min_value=int(MAX_COST)),
        st.text(max_size=8),
        st.binary(max_size=8),
        st.booleans(),
        st.none(),
        st.lists(dollar_costs(), max_size=2),
        st.dictionaries(cost_categories(), dollar_costs(), max_size=2),
    )


def invalid_cost_mappings() -> st.SearchStrategy[dict[str, object]]:
    """Cost mappings holding at least one invalid value (next to valid ones)."""
    return st.builds(
        lambda valid, category, bad: {**valid, category: bad},
        cost_mappings(max_size=2),
        cost_categories(),
        invalid_costs(),
    )


def utc_offsets(*, whole_minutes: bool = True) -> st.SearchStrategy[tzinfo]:
    """Fixed UTC offsets strictly inside ±24 h (seconds too unless ``whole_minutes``)."""
    if whole_minutes:
        deltas = st.integers(-_MAX_OFFSET_MINUTES, _MAX_OFFSET_MINUTES).map(
            lambda minutes: timedelta(minutes=minutes)
        )
    else:
        limit = timedelta(hours=24) - timedelta(microseconds=1)
        deltas = st.timedeltas(min_value=-limit, max_value=limit)
    return st.just(UTC) | deltas.map(timezone)


def aware_datetimes(
    *,
    min_value: datetime = datetime(1971, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value: datetime = datetime(2199, 12, 31),  # noqa: DTZ001 - hypothesis bounds are naive
    whole_minutes: bool = True,
) -> st.SearchStrategy[datetime]:
    """Aware datetimes with a fixed offset (naive wall-clock bounds, far from year 1 and 9999)."""
    return st.datetimes(
        min_value=min_value,
        max_value=max_value,
        timezones=utc_offsets(whole_minutes=whole_minutes),
    )


def utc_instants(
    *,
    min_value: datetime = datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value: datetime = datetime(2100, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
) -> st.SearchStrategy[datetime]:
    """Instants as the library stores them: aware UTC, truncated to the millisecond."""
    return st.datetimes(min_value=min_value, max_value=max_value, timezones=st.just(UTC)).map(
        to_utc_ms
    )


def _ids(max_size: int = 16) -> st.SearchStrategy[str]:
    return st.text(alphabet=_ID_CHARS, min_size=1, max_size=max_size)


def _stripe_prices() -> st.SearchStrategy[str | None]:
    return st.none() | st.text(alphabet=_ALNUM + "_", min_size=1, max_size=16).map(
        "price_{}".format
    )


def _ratios() -> st.SearchStrategy[dict[str, float]]:
    ratio = st.floats(min_value=0, max_value=1_000, allow_nan=False, allow_infinity=False)
    return st.dictionaries(cost_categories(), ratio, max_size=3)


def _limits() -> st.SearchStrategy[dict[str, float]]:
    counter = st.builds("{}.{}".format, _COUNTER_PART, _COUNTER_PART)
    limit = st.integers(0, 10**6).map(float) | st.just(float("inf"))
    return st.dictionaries(counter, limit, max_size=3)


def plan_settings(
    *, plan_id: st.SearchStrategy[str] | None = None, version: st.SearchStrategy[int] | None = None
) -> st.SearchStrategy[PlanSettings]:
    """Valid :class:`PlanSettings`: quotas, ratios, legacy limits, grants, effective window."""
    when = st.none() | aware_datetimes()
    return st.builds(
        PlanSettings,
        plan_id=plan_id if plan_id is not None else _ids(),
        version=version if version is not None else st.integers(1, 5),
        compute_quota=st.integers(0, 10**7),
        stripe_price_monthly=_stripe_prices(),
        stripe_price_annual=_stripe_prices(),
        ratios=_ratios(),
        limits=_limits(),
        signup_grant=st.integers(0, 10**5),
        effective_from=when,
        effective_until=when,
        active=st.booleans(),
    )


def pack_settings(
    *, pack_id: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[PackSettings]:
    """Valid :class:`PackSettings`: units for cents, with or without an expiry."""
    return st.builds(
        PackSettings,
        pack_id=pack_id if pack_id is not None else _ids(),
        units=st.integers(1, 10**7),
        price_cents=st.integers(1, 10**6),
        stripe_price=_stripe_prices(),
        expiry_days=st.none() | st.integers(1, 3_650),
    )


def _host_names() -> st.SearchStrategy[str]:
    label = st.text(alphabet=_LOWER + "0123456789", min_size=1, max_size=12)
    return st.lists(label, min_size=1, max_size=3).map(".".join)


def _webhook_secrets() -> st.SearchStrategy[SecretStr | tuple[SecretStr, ...] | None]:
    secret = st.text(alphabet=_ALNUM, min_size=1, max_size=24).map(
        lambda text: SecretStr(f"whsec_{text}")
    )
    return st.none() | secret | st.lists(secret, min_size=1, max_size=3).map(tuple)


def _own_prices(plan: PlanSettings) -> PlanSettings:
    """Give a plan's prices its own names: one price never bills two different things."""
    monthly, annual = plan.stripe_price_monthly, plan.stripe_price_annual
    return plan.model_copy(
        update={
            "stripe_price_monthly": monthly and f"price_plan_{plan.plan_id}_m_{monthly}",
            "stripe_price_annual": annual and f"price_plan_{plan.plan_id}_a_{annual}",
        }
    )


def _plan_identity(plan: PlanSettings) -> tuple[str, int]:
    return plan.plan_id, plan.version


@st.composite
def _billing_configs(draw: st.DrawFn) -> BillingConfig:
    plans = draw(
        st.lists(
            plan_settings(), min_size=1, max_size=4, unique_by=lambda p: (p.plan_id, p.version)
        )
    )
    plans = [_own_prices(plan) for plan in plans]
    packs = draw(st.lists(pack_settings(), max_size=3, unique_by=lambda p: p.pack_id))
    packs = [
        pack.model_copy(update={"stripe_price": f"price_pack_{pack.pack_id}_{pack.stripe_price}"})
        if pack.stripe_price
        else pack
        for pack in packs
    ]
    grace_days = draw(st.integers(0, 30))
    values: Mapping[str, object] = {
        "compute_mode": draw(st.booleans()),
        "compute": ComputeSettings(
            run_base_units=draw(st.integers(0, 100)),
            dollars_to_compute=draw(st.integers(1, 10**6)),
            max_compute_per_run=draw(st.integers(1, 10**7)),
        ),
        "plans": tuple(plans),
        "packs": tuple(packs),
        "alerts": AlertSettings(
            threshold_percents=tuple(draw(st.lists(st.integers(1, 1000), max_size=4)))
        ),
        "default_plan": draw(st.sampled_from([plan.plan_id for plan in plans])),
        "preserve_usage": draw(st.booleans()),
        "grace_days": grace_days,
        "dunning_days": draw(st.integers(grace_days + 1, grace_days + 60)),
        "processed_event_ttl_days": draw(st.integers(1, 365)),
        "webhook_max_attempts": draw(st.integers(1, 20)),
        "reservation_ttl_seconds": draw(st.integers(1, 10**6)),
        "max_commit_attempts": draw(st.integers(1, 100)),
        "stripe": StripeSettings(
            automatic_tax=draw(st.booleans()), webhook_secret=draw(_webhook_secrets())
        ),
        "upgrade_url": draw(st.none() | _TEXT),
        "allowed_redirect_hosts": tuple(draw(st.lists(_host_names(), max_size=3))),
        "allow_http_redirects": draw(st.booleans()),
        "exempt_orgs": tuple(draw(st.lists(org_ids(), max_size=3))),
    }
    return BillingConfig.from_dict(values)


def billing_configs() -> st.SearchStrategy[BillingConfig]:
    """Valid :class:`BillingConfig` values: several plans and packs, every knob varied."""
    return _billing_configs()
