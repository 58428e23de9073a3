"""The ``Stripe-Signature`` check agrees with the stripe SDK's own signing helper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import stripe
from hypothesis import given
from hypothesis import strategies as st

from compute_pricing.errors import WebhookSignatureError
from compute_pricing.stripe.signature import (
    SignatureHeader,
    parse_signature_header,
    sign,
    verify_signature,
)

NOW = datetime(2026, 3, 2, 9, 30, 15, 123000, tzinfo=UTC)
STAMP = int(NOW.timestamp())
SECRET = "whsec_test_current"  # noqa: S105 - a test signing secret
OLD_SECRET = "whsec_test_previous"  # noqa: S105 - a test signing secret
BODY = b'{"id":"evt_1","type":"invoice.paid","created":1772443815,"data":{"object":{}}}'


def sdk_header(payload: bytes = BODY, secret: str = SECRET, timestamp: int = STAMP) -> str:
    """A header made by the stripe SDK's public test helper."""
    return str(
        stripe.WebhookSignature.generate_signature_header(payload.decode(), secret, timestamp)
    )


def verify(header: str, payload: bytes = BODY, *secrets: str) -> SignatureHeader:
    """Verify at NOW with the default 300 s tolerance."""
    return verify_signature(
        payload,
        header,
        secrets=secrets or (SECRET,),
        tolerance_seconds=300,
        now=NOW,
    )


def refusal(header: str, payload: bytes = BODY, *secrets: str) -> str:
    """The reason a header is refused."""
    with pytest.raises(WebhookSignatureError) as caught:
        verify(header, payload, *secrets)
    return caught.value.reason


def test_an_sdk_signed_header_verifies() -> None:
    """A header from ``stripe.WebhookSignature.generate_signature_header`` verifies."""
    assert SignatureHeader(STAMP, (sign(BODY, SECRET, STAMP),)) == verify(sdk_header())


def test_our_signature_equals_the_sdks() -> None:
    """``sign`` computes exactly the SDK's v1 value."""
    assert f"t={STAMP},v1={sign(BODY, SECRET, STAMP)}" == sdk_header()


def test_the_sdk_verifies_what_we_sign() -> None:
    """The SDK's verifier accepts a header built from ``sign`` (the check goes both ways)."""
    header = f"t={STAMP},v1={sign(BODY, SECRET, STAMP)}"
    assert stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=None)


def test_any_secret_of_a_rotation_verifies() -> None:
    """During a rotation a header signed with either listed secret verifies."""
    for secret in (SECRET, OLD_SECRET):
        assert STAMP == verify(sdk_header(secret=secret), BODY, OLD_SECRET, SECRET).timestamp


def test_one_matching_signature_among_several_verifies() -> None:
    """Stripe lists one v1 per endpoint secret; one match is enough, v0 items are ignored."""
    header = (
        f"t={STAMP},v1={sign(BODY, 'whsec_other', STAMP)},"
        f"v0={'0' * 64},v1={sign(BODY, SECRET, STAMP)}"
    )
    assert 2 == len(verify(header).signatures)


def test_a_tampered_body_is_refused() -> None:
    """One changed byte in the body fails the check."""
    tampered = BODY.replace(b"invoice.paid", b"invoice.pais")
    assert "no signature matches" in refusal(sdk_header(), tampered)


def test_a_wrong_secret_is_refused() -> None:
    """A header signed with a secret that is not configured fails the check."""
    assert "no signature matches" in refusal(sdk_header(BODY, "whsec_attacker"))


def test_a_header_without_v1_is_refused() -> None:
    """Only the v1 scheme counts: a header carrying just v0 is refused."""
    header = f"t={STAMP},v0={sign(BODY, SECRET, STAMP)}"
    assert "no v1 signature in header" == refusal(header)


def test_a_stale_timestamp_is_refused() -> None:
    """Signed 301 s before the clock: refused, even though the signature is right."""
    assert "older than" in refusal(sdk_header(timestamp=STAMP - 301))


def test_a_future_timestamp_is_refused() -> None:
    """Signed 301 s after the clock: refused too."""
    assert "newer than" in refusal(sdk_header(timestamp=STAMP + 301))


def test_the_tolerance_edges_verify() -> None:
    """Just inside the tolerance either way (the clock stands at .123 s) still verifies."""
    for stamp in (STAMP - 299, STAMP + 300):
        assert stamp == verify(sdk_header(timestamp=stamp)).timestamp


def test_the_clock_not_the_wall_decides_freshness() -> None:
    """A header signed at the fake clock's time verifies whatever the wall clock says."""
    past = NOW - timedelta(days=400)
    header = sdk_header(timestamp=int(past.timestamp()))
    parsed = verify_signature(BODY, header, secrets=(SECRET,), tolerance_seconds=300, now=past)
    assert int(past.timestamp()) == parsed.timestamp


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("", "missing Stripe-Signature header"),
        ("v1=abc", "header must carry exactly one t= timestamp"),
        (f"t={STAMP},t={STAMP},v1=abc", "header must carry exactly one t= timestamp"),
        ("t=12.5,v1=abc", "t= is not a Unix timestamp"),
        ("t=-5,v1=abc", "t= is not a Unix timestamp"),
        ("t=" + "9" * 13 + ",v1=abc", "t= is not a Unix timestamp"),
        (f"t={STAMP}", "no v1 signature in header"),
    ],
)
def test_malformed_headers_are_refused_with_a_reason(header: str, reason: str) -> None:
    """Each malformed header shape is refused and says why."""
    assert reason == refusal(header)


def test_no_configured_secret_refuses_everything() -> None:
    """With no secret configured nothing verifies."""
    with pytest.raises(WebhookSignatureError) as caught:
        verify_signature(BODY, sdk_header(), secrets=(), tolerance_seconds=300, now=NOW)
    assert "no webhook signing secret is configured" == caught.value.reason


def test_a_decoded_body_is_refused() -> None:
    """The check needs the raw bytes; a ``str`` body is refused rather than re-encoded."""
    with pytest.raises(WebhookSignatureError):
        verify_signature(
            BODY.decode(),  # type: ignore[arg-type]  # the mistake under test
            sdk_header(),
            secrets=(SECRET,),
            tolerance_seconds=300,
            now=NOW,
        )


def test_parse_keeps_every_v1_in_order() -> None:
    """Spaces around items are tolerated and each v1 is kept in order."""
    assert SignatureHeader(5, ("a", "b")) == parse_signature_header(" t=5 , v1=a,x, v1=b ")


@given(st.text(max_size=300))
def test_arbitrary_headers_raise_only_signature_errors(header: str) -> None:
    """Whatever the header string, the check either verifies or raises WebhookSignatureError."""
    with pytest.raises(WebhookSignatureError):
        verify(header)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["t", "v1", "v0", "", "x", "t "]),
            st.text(alphabet="0123456789abcdef=, \x00é", max_size=70),
        ),
        max_size=6,
    ),
    st.binary(max_size=64),
)
def test_header_shaped_garbage_raises_only_signature_errors(
    items: list[tuple[str, str]], payload: bytes
) -> None:
    """Near-valid ``key=value`` lists over any body are refused with WebhookSignatureError."""
    header = ",".join(f"{key}={value}" for key, value in items)
    with pytest.raises(WebhookSignatureError):
        verify(header, payload)
