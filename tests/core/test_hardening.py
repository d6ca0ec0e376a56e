"""Issue #9, verification hardening: equal work on every rejecting path, the guess budget,
period changes that keep consumed time consumed, clock jumps, seal during a verification, and
format characters in labels (docs/security.md)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from fractions import Fraction

import pytest

from otpd.bootstrap import Services, compose_services
from otpd.core import policy
from otpd.core.errors import InvalidInput, Sealed
from otpd.core.model import CredentialSpec, OtpParams, Outcome, Principal, Scope, SecretBytes
from otpd.core.model import ThrottleState as TS
from otpd.core.policy import LOCKED_FOREVER, ThrottlePolicy
from otpd.settings import load_settings
from otpd.store.memory import MemoryStore
from tests.support.fakes import FakeClock, FakeSealer, code, enrol, principal, stored, wrong

WRITES = ("advance", "record_failure", "record_refusal", "record_unknown_attempt")


class CountingStore(MemoryStore):
    """MemoryStore that counts the calls of each verification write."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = dict.fromkeys(WRITES, 0)

    def advance(self, credential_id: int, new_step: int, *, now: int | None = None) -> bool:
        self.calls["advance"] += 1
        return super().advance(credential_id, new_step, now=now)

    def record_failure(
        self, credential_id: int, now: int, next_state: Callable[[int], TS]
    ) -> TS | None:
        self.calls["record_failure"] += 1
        return super().record_failure(credential_id, now, next_state)

    def record_refusal(self, credential_id: int) -> None:
        self.calls["record_refusal"] += 1
        super().record_refusal(credential_id)

    def record_unknown_attempt(self, tenant_id: str) -> None:
        self.calls["record_unknown_attempt"] += 1
        super().record_unknown_attempt(tenant_id)

    def writes(self) -> int:
        return sum(self.calls.values())


def _service(
    clock: FakeClock, sealer: FakeSealer, store: MemoryStore | None = None, **budget: object
) -> tuple[Services, Principal, MemoryStore]:
    store = store if store is not None else MemoryStore()
    throttle = ThrottlePolicy(**budget)  # type: ignore[arg-type]
    services = compose_services(store, sealer, clock, throttle=throttle, label_prefix="Sbox")
    return services, principal(services, "acme"), store


# --- A: every rejecting path does the same work ------------------------------------------


@pytest.fixture
def hmacs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the HMACs core.policy.evaluate_code computes."""
    counted = [0]
    real = policy.hotp_codes

    def counting(*args: object, **kwargs: object) -> Iterator[tuple[int, str]]:
        for item in real(*args, **kwargs):  # type: ignore[arg-type]
            counted[0] += 1
            yield item

    monkeypatch.setattr(policy, "hotp_codes", counting)
    return counted


def test_every_rejecting_path_costs_an_unseal_the_window_and_one_write(
    clock: FakeClock, sealer: FakeSealer, hmacs: list[int]
) -> None:
    """A throttled known name used to return before any work: eight wrong codes and a timed
    request told known names from unknown ones. Now unknown, wrong, replayed, throttled and
    locked answers all cost one unseal, the window's HMACs and one write."""
    store = CountingStore()
    services, admin, _ = _service(clock, sealer, store, free_failures=5, guess_limit=8)
    enrol(services, admin)
    enrol(services, admin, name="carol")
    used = code(clock)
    assert services.credentials.verify(admin, "carol", used).outcome is Outcome.ACCEPTED

    def cost(name: str, attempt: str, expected: Outcome) -> tuple[int, int, int]:
        opened, macs, writes = sealer.opened, hmacs[0], store.writes()
        assert services.credentials.verify(admin, name, attempt).outcome is expected
        return sealer.opened - opened, hmacs[0] - macs, store.writes() - writes

    costs = {
        "unknown": cost("nobody", wrong(clock), Outcome.UNKNOWN),
        "wrong": cost("bob", wrong(clock), Outcome.REJECTED),
        "replayed": cost("carol", used, Outcome.REPLAYED),
    }
    for _ in range(4):
        services.credentials.verify(admin, "bob", wrong(clock))
    assert stored(store, "acme").throttle.not_before > clock.seconds  # five failures
    costs["throttled"] = cost("bob", code(clock), Outcome.THROTTLED)
    clock.advance(3600)
    for _ in range(3):
        services.credentials.verify(admin, "bob", wrong(clock))
        clock.advance(3600)
    assert stored(store, "acme").throttle.not_before == LOCKED_FOREVER  # eight failures
    costs["locked"] = cost("bob", code(clock), Outcome.THROTTLED)
    assert set(costs.values()) == {(1, 3, 1)}, costs


def test_refusals_are_counted_without_touching_the_throttle(
    clock: FakeClock, sealer: FakeSealer
) -> None:
    services, admin, store = _service(clock, sealer)
    enrol(services, admin)
    for _ in range(5):
        services.credentials.verify(admin, "bob", wrong(clock))
    state = stored(store, "acme").throttle
    for _ in range(7):
        assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.THROTTLED
    assert stored(store, "acme").throttle == state
    assert stored(store, "acme").refused == 7


# --- C: the guess budget -----------------------------------------------------------------


def _spend(services: Services, who: Principal, clock: FakeClock, n: int) -> None:
    """n wrong codes, each after any backoff has passed."""
    for _ in range(n):
        assert services.credentials.verify(who, "bob", wrong(clock)).outcome is Outcome.REJECTED
        clock.advance(1000)


def test_budget_locks_until_an_administrator_resets(clock: FakeClock, sealer: FakeSealer) -> None:
    services, admin, store = _service(clock, sealer, guess_limit=3)
    enrol(services, admin)
    used = code(clock)
    assert services.credentials.verify(admin, "bob", used).outcome is Outcome.ACCEPTED
    clock.advance(30)
    _spend(services, admin, clock, 3)
    assert stored(store, "acme").throttle == TS(failures=3, not_before=LOCKED_FOREVER, since=0)
    clock.advance(10 * 365 * 86400)
    for attempt in (code(clock), wrong(clock), code(clock, steps=1)):
        assert services.credentials.verify(admin, "bob", attempt).outcome is Outcome.THROTTLED
    assert stored(store, "acme").throttle.failures == 3  # refusals are not failures
    last_step = stored(store, "acme").last_step
    services.credentials.reset_credential("acme", "bob")
    assert stored(store, "acme").throttle == TS()
    assert stored(store, "acme").last_step == last_step  # a reset never re-admits a used code
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED


def test_reset_keeps_the_replay_state(clock: FakeClock, sealer: FakeSealer) -> None:
    services, admin, _ = _service(clock, sealer, guess_limit=2)
    enrol(services, admin)
    used = code(clock)
    assert services.credentials.verify(admin, "bob", used).outcome is Outcome.ACCEPTED
    _spend(services, admin, clock, 2)
    clock.advance(-2000)  # back in the step of `used`: only the replay rule refuses it now
    services.credentials.reset_credential("acme", "bob")
    assert services.credentials.verify(admin, "bob", used).outcome is Outcome.REPLAYED


def test_a_success_resets_the_count(clock: FakeClock, sealer: FakeSealer) -> None:
    services, admin, store = _service(clock, sealer, guess_limit=3)
    enrol(services, admin)
    _spend(services, admin, clock, 2)
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED
    clock.advance(30)
    _spend(services, admin, clock, 2)
    assert stored(store, "acme").throttle.not_before < LOCKED_FOREVER
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED


def test_lock_timeout_with_a_controllable_clock(clock: FakeClock, sealer: FakeSealer) -> None:
    services, admin, store = _service(clock, sealer, guess_limit=3, lock_timeout=3600)
    enrol(services, admin)
    _spend(services, admin, clock, 2)
    assert services.credentials.verify(admin, "bob", wrong(clock)).outcome is Outcome.REJECTED
    locked_at = clock.seconds
    clock.set(locked_at + 3599)
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.THROTTLED
    clock.set(locked_at + 3600)
    # The count stays past the timeout: one more failure locks again at once.
    assert services.credentials.verify(admin, "bob", wrong(clock)).outcome is Outcome.REJECTED
    assert stored(store, "acme").throttle.not_before == clock.seconds + 3600
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.THROTTLED
    clock.advance(3600)
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED
    assert stored(store, "acme").throttle == TS()


@pytest.mark.parametrize(
    ("p", "digits", "skew", "limit"),
    [
        ("0.0003", 6, 1, 100),  # the defaults' bound: 100 * 3 / 10**6
        ("0.0003", 8, 1, 10_000),
        ("0.0003", 6, 0, 300),
        ("0.0003", 8, 2, 6_000),
        ("0.000001", 6, 1, 1),  # never below one guess
        ("0.001", 10, 10, 476_190),
    ],
)
def test_probability_derives_the_limit(p: str, digits: int, skew: int, limit: int) -> None:
    settings = load_settings({"guess_probability": p}, environ={})
    budget = ThrottlePolicy(guess_probability=settings.guess_probability)
    assert budget.limit_for(OtpParams(digits=digits, skew=skew)) == limit


def test_probability_setting_locks_an_8_digit_credential_later(
    clock: FakeClock, sealer: FakeSealer
) -> None:
    services, admin, store = _service(
        clock, sealer, guess_probability=Fraction(3, 10**6), free_failures=100
    )
    enrol(services, admin, params=OtpParams(digits=6))  # limit 1
    enrol(services, admin, name="eight", params=OtpParams(digits=8))  # limit 100
    assert services.credentials.verify(admin, "bob", wrong(clock)).outcome is Outcome.REJECTED
    assert stored(store, "acme").throttle.not_before == LOCKED_FOREVER
    assert services.credentials.verify(admin, "eight", "00000000").outcome is Outcome.REJECTED
    assert stored(store, "acme", "eight").throttle == TS(failures=1)


@pytest.mark.parametrize(
    "bad",
    [
        {"guess_limit": 0},
        {"guess_probability": Fraction(0)},
        {"guess_probability": Fraction(1)},
        {"lock_timeout": 0},
    ],
)
def test_silly_budget_values_stop_start_up(bad: dict[str, object]) -> None:
    with pytest.raises(Exception, match="guess"):
        ThrottlePolicy(**bad)  # type: ignore[arg-type]


# --- B: a period change keeps consumed time consumed --------------------------------------


def test_period_round_trip_does_not_readmit_a_used_code(
    clock: FakeClock, sealer: FakeSealer
) -> None:
    services, admin, store = _service(clock, sealer)
    enrol(services, admin)
    used = code(clock)
    assert services.credentials.verify(admin, "bob", used).outcome is Outcome.ACCEPTED
    for _ in range(3):
        services.credentials.verify(admin, "bob", wrong(clock))
    for period in (60, 30, 7, 30):
        services.credentials.replace_credential(
            admin, CredentialSpec(name="bob", params=OtpParams(period=period))
        )
        assert stored(store, "acme").throttle.failures == 3  # failures survive too
    assert services.credentials.verify(admin, "bob", used).outcome is Outcome.REPLAYED
    # Passing through 60 s consumed the whole 60 s step holding `used` (the price of never
    # re-admitting consumed time); a code after it is accepted.
    clock.advance(90)
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED


def test_period_change_keeps_a_lock(clock: FakeClock, sealer: FakeSealer) -> None:
    services, admin, store = _service(clock, sealer, guess_limit=2)
    enrol(services, admin)
    _spend(services, admin, clock, 2)
    services.credentials.replace_credential(
        admin, CredentialSpec(name="bob", params=OtpParams(period=60))
    )
    params = OtpParams(period=60)
    assert (
        services.credentials.verify(admin, "bob", code(clock, params=params)).outcome
        is Outcome.THROTTLED
    )
    # Only a new secret starts afresh.
    services.credentials.replace_credential(
        admin, CredentialSpec(name="bob"), SecretBytes(b"n" * 20)
    )
    assert stored(store, "acme").throttle == TS()
    assert stored(store, "acme").last_step == -1


@pytest.mark.parametrize("old", [1, 7, 30, 60, 3600])
@pytest.mark.parametrize("new", [1, 13, 30, 60, 86400])
def test_rescaled_step_covers_exactly_the_consumed_time(old: int, new: int) -> None:
    for last in (0, 1, 5, 56_666_666 // old):
        end = (last + 1) * old - 1  # the last second of the consumed step
        rescaled = policy.rescale_step(last, old, new)
        assert rescaled == end // new  # the new step holding that second is consumed ...
        assert (rescaled + 1) * new > end  # ... and the next one starts after it
    assert policy.rescale_step(-1, old, new) == -1


# --- clock jumps: -------------------------------------------------------


def test_window_follows_the_server_clock(clock: FakeClock, sealer: FakeSealer) -> None:
    services, admin, _ = _service(clock, sealer)
    enrol(services, admin)
    before = code(clock)
    clock.advance(3600)
    assert services.credentials.verify(admin, "bob", before).outcome is Outcome.REJECTED
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED
    clock.advance(-7200)  # and back past the start: the window follows again
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.REPLAYED


def test_backward_jump_never_readmits_a_consumed_step(clock: FakeClock, sealer: FakeSealer) -> None:
    services, admin, store = _service(clock, sealer)
    enrol(services, admin)
    earlier = [code(clock, steps=-k) for k in range(0, 20)]
    clock.advance(600)  # forward jump, a code used there ...
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED
    last = stored(store, "acme").last_step
    clock.advance(-600)  # ... then back: nothing before it is accepted again
    for attempt in earlier:
        assert services.credentials.verify(admin, "bob", attempt).outcome is not Outcome.ACCEPTED
        clock.advance(1)
    assert stored(store, "acme").last_step == last


def test_backward_jump_does_not_extend_a_backoff(clock: FakeClock, sealer: FakeSealer) -> None:
    """Regression: not_before is absolute, so a clock put back an hour used to make a 16 s
    backoff last an hour and 16 s."""
    services, admin, store = _service(clock, sealer)
    enrol(services, admin)
    for _ in range(9):
        services.credentials.verify(admin, "bob", wrong(clock))
        clock.set(max(clock.seconds, stored(store, "acme").throttle.not_before))
    services.credentials.verify(admin, "bob", wrong(clock))
    assert stored(store, "acme").throttle.not_before == clock.seconds + 32
    clock.advance(-3600)
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED


def test_backward_jump_never_lifts_a_lock(clock: FakeClock, sealer: FakeSealer) -> None:
    services, admin, _ = _service(clock, sealer, guess_limit=2, lock_timeout=600)
    enrol(services, admin)
    _spend(services, admin, clock, 2)
    clock.advance(-5000)
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.THROTTLED


def test_forward_jump_ends_a_backoff_as_real_time_would(
    clock: FakeClock, sealer: FakeSealer
) -> None:
    services, admin, _ = _service(clock, sealer)
    enrol(services, admin)
    for _ in range(5):
        services.credentials.verify(admin, "bob", wrong(clock))
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.THROTTLED
    clock.advance(3600)
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED


# --- D: seal during a verification ---------------------------------------------------------


class GatedStore(MemoryStore):
    """record_failure waits for `release`, so a test can seal while a write is under way."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished_at: list[str] = []

    def record_failure(
        self, credential_id: int, now: int, next_state: Callable[[int], TS]
    ) -> TS | None:
        self.entered.set()
        assert self.release.wait(10)
        state = super().record_failure(credential_id, now, next_state)
        self.finished_at.append("write")
        return state


def test_seal_waits_for_a_verification_under_way(clock: FakeClock, sealer: FakeSealer) -> None:
    store = GatedStore()
    services, admin, _ = _service(clock, sealer, store)
    enrol(services, admin)
    _, key = services.access.create_client("system", "operator", [Scope.SEAL])
    operator = services.access.authenticate(key)
    outcomes: list[Outcome] = []
    verifier = threading.Thread(
        target=lambda: outcomes.append(
            services.credentials.verify(admin, "bob", wrong(clock)).outcome
        )
    )
    verifier.start()
    assert store.entered.wait(10)
    sealing = threading.Thread(
        target=lambda: (services.sealing.seal(operator), store.finished_at.append("sealed"))
    )
    sealing.start()
    sealing.join(0.3)
    assert sealing.is_alive(), "seal() returned while a verification was still to write"
    store.release.set()
    verifier.join(10)
    sealing.join(10)
    assert store.finished_at == ["write", "sealed"]
    assert outcomes == [Outcome.REJECTED]
    with pytest.raises(Sealed):
        services.credentials.verify(admin, "bob", code(clock))


class SiblingSealer(FakeSealer):
    """Another worker of the node seals right after this one unsealed a credential."""

    def open_secret(self, blob: bytes, *, tenant: str, credential_id: int) -> SecretBytes:
        secret = super().open_secret(blob, tenant=tenant, credential_id=credential_id)
        if tenant != "-":
            self.sealed = True
        return secret


@pytest.mark.parametrize("right", [True, False])
def test_a_seal_between_unseal_and_write_fails_without_a_write(
    clock: FakeClock, right: bool
) -> None:
    sealer = SiblingSealer()
    services, admin, store = _service(clock, sealer)
    enrol(services, admin)
    sealer.sealed = False
    before = stored(store, "acme")
    with pytest.raises(Sealed):
        services.credentials.verify(admin, "bob", code(clock) if right else wrong(clock))
    assert stored(store, "acme") == before


# --- E: format characters in labels and names ---------------------------------------------

SPOOFS = [
    "Bank\u202eknaB",  # RIGHT-TO-LEFT OVERRIDE
    "Ba\u200bnk",  # ZERO WIDTH SPACE
    "Bank\u2066x\u2069",  # LEFT-TO-RIGHT ISOLATE ... POP DIRECTIONAL ISOLATE
    "\ufeffBank",  # BOM / ZERO WIDTH NO-BREAK SPACE
    "Ba\u200dnk",  # ZERO WIDTH JOINER
    "Bank\u2028x",  # LINE SEPARATOR
    "Bank\u0085x",  # NEXT LINE (C1)
    "Bank\u061cx",  # ARABIC LETTER MARK
]


@pytest.mark.parametrize("text", SPOOFS)
@pytest.mark.parametrize("label", ["issuer", "account_name"])
def test_format_characters_in_labels_are_invalid(text: str, label: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        CredentialSpec(name="bob", **{label: text})
    assert caught.value.field == label.replace("_", "-")
    assert text not in str(caught.value)


@pytest.mark.parametrize("text", ["bob\u200b", "b\u202eob", "bob\n", "\ufeffbob"])
def test_format_characters_in_names_are_invalid(text: str) -> None:
    with pytest.raises(InvalidInput):
        CredentialSpec(name=text)


def test_ordinary_unicode_labels_still_work() -> None:
    for text in ("Bänk AB", "銀行", "Banka Śląska", "בנק", "بنك"):
        assert CredentialSpec(name="bob", issuer=text, account_name=text).issuer == text
