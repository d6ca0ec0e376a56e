"""Code syntax, window, replay and throttling as pure functions (docs/requirements.md#window,
#single-use, #strict-codes, #throttling)."""

from __future__ import annotations

import pytest

from otpd.core.errors import ConfigError
from otpd.core.model import Algorithm, OtpParams, Outcome, ThrottleState
from otpd.core.policy import ThrottlePolicy, evaluate_code, is_throttled, is_well_formed
from tests.support.fakes import ref_totp

SEED = b"12345678901234567890"
PERIOD = 30
N = 56666666  # the step of "now" in most tests below
NOW = N * PERIOD + 10  # 10 s into step N (2023-11-14)


def code_at_step(step: int, digits: int = 6, key: bytes = SEED, period: int = PERIOD) -> str:
    return ref_totp(key, step * period, period, digits)


def test_window_codes_are_distinct() -> None:
    """The replay tables below assume no two steps near N share a code."""
    codes = [code_at_step(s) for s in range(N - 4, N + 5)]
    assert len(set(codes)) == len(codes)


# --- is_well_formed (docs/requirements.md#strict-codes)
# -----------------------------------------------------------

MALFORMED = [
    pytest.param("", id="empty"),
    pytest.param("12345", id="5-digits"),
    pytest.param("1234567", id="7-digits"),
    pytest.param(" 287082", id="leading-space"),
    pytest.param("287082 ", id="trailing-space"),
    pytest.param("287 082", id="inner-space"),
    pytest.param("287082\n", id="newline"),
    pytest.param("\t287082", id="tab"),
    pytest.param("+287082", id="plus"),
    pytest.param("-287082", id="minus"),
    pytest.param("287_082", id="underscore"),
    pytest.param("2.8e5", id="float-text"),
    pytest.param("28708.", id="dot"),
    pytest.param("\uff12\uff18\uff17\uff10\uff18\uff12", id="full-width"),
    pytest.param("\u0662\u0668\u0667\u0660\u0668\u0662", id="arabic-indic"),
    pytest.param("\u06f2\u06f8\u06f7\u06f0\u06f8\u06f2", id="extended-arabic-indic"),
    pytest.param("\u0968\u096e\u096d\u0966\u096e\u0968", id="devanagari"),
    pytest.param("\u00b2\u2078\u2077\u2070\u2078\u00b2", id="superscript"),
    pytest.param("287082\x00", id="nul"),
    pytest.param("28708\x00", id="nul-inside-length-6"),
    pytest.param("28708a", id="letter"),
    pytest.param("1" * 10_000, id="10k-digits"),
    pytest.param(None, id="none"),
    pytest.param(287082, id="int"),
    pytest.param(287082.0, id="float"),
    pytest.param(b"287082", id="bytes"),
    pytest.param(["287082"], id="list"),
    pytest.param({"code": "287082"}, id="dict"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
]


@pytest.mark.parametrize("code", MALFORMED)
def test_is_well_formed_rejects(code: object) -> None:
    assert is_well_formed(code, 6) is False


@pytest.mark.parametrize(
    ("code", "digits"),
    [("287082", 6), ("000000", 6), ("0287082", 7), ("94287082", 8), ("1094287082", 10)],
)
def test_is_well_formed_accepts(code: str, digits: int) -> None:
    assert is_well_formed(code, digits) is True
    assert is_well_formed(code, digits - 1) is False
    assert is_well_formed(code, digits + 1) is False


def _variants(code: str) -> list[object]:
    """Spellings of `code` that int() or NFKC would equate with it (HCSEC-2025-17)."""
    full_width = "".join(chr(0xFF10 + int(c)) for c in code)
    arabic = "".join(chr(0x0660 + int(c)) for c in code)
    return [
        " " + code,
        code + " ",
        code + "\n",
        code[:3] + " " + code[3:],
        code[:3] + "_" + code[3:],
        "+" + code[1:],
        "0" + code,
        code + "\x00",
        full_width,
        arabic,
        int(code),
        code.encode(),
        [code],
        {"code": code},
    ]


@pytest.mark.parametrize("skew", [0, 1, 2])
def test_malformed_code_never_accepted_even_when_digits_match(skew: int) -> None:
    params = OtpParams(skew=skew)
    current = code_at_step(N)
    assert evaluate_code(SEED, params, current, NOW, -1) == (Outcome.ACCEPTED, N)
    for variant in _variants(current):
        assert evaluate_code(SEED, params, variant, NOW, -1) == (Outcome.REJECTED, None), variant
        # ... nor reported as a replay of a consumed step
        assert evaluate_code(SEED, params, variant, NOW, N) == (Outcome.REJECTED, None), variant


def test_wrong_code_rejected() -> None:
    window = {code_at_step(s) for s in range(N - 1, N + 2)}
    wrong = next(c for c in (f"{i:06d}" for i in range(1000)) if c not in window)
    assert evaluate_code(SEED, OtpParams(), wrong, NOW, -1) == (Outcome.REJECTED, None)


# --- the window (docs/requirements.md#window)
# -----------------------------------------------------------

# (seconds from the start of the code's step to the server's "now", server step - code step)
OFFSETS = [
    (-3 * PERIOD, -3),
    (-2 * PERIOD - 1, -3),
    (-2 * PERIOD, -2),
    (-PERIOD - 1, -2),
    (-PERIOD, -1),
    (-1, -1),
    (0, 0),
    (PERIOD - 1, 0),
    (PERIOD, 1),
    (2 * PERIOD - 1, 1),
    (2 * PERIOD, 2),
    (3 * PERIOD - 1, 2),
    (3 * PERIOD, 3),
    (4 * PERIOD - 1, 3),
    (4 * PERIOD, 4),
]


@pytest.mark.parametrize("skew", [0, 1, 2])
@pytest.mark.parametrize(("delta", "step_diff"), OFFSETS)
def test_window(skew: int, delta: int, step_diff: int) -> None:
    code = code_at_step(N)
    now = N * PERIOD + delta
    outcome, step = evaluate_code(SEED, OtpParams(skew=skew), code, now, -1)
    if abs(step_diff) <= skew:
        assert (outcome, step) == (Outcome.ACCEPTED, N)
    else:
        assert (outcome, step) == (Outcome.REJECTED, None)


@pytest.mark.parametrize(("skew", "accepted"), [(0, False), (1, True), (2, True)])
def test_code_from_end_of_step_received_in_next_step(skew: int, accepted: bool) -> None:
    """generated at t = 29 s of step N, received 1 s later in step N+1."""
    code = ref_totp(SEED, N * PERIOD + 29)
    outcome, step = evaluate_code(SEED, OtpParams(skew=skew), code, N * PERIOD + 30, -1)
    assert (outcome is Outcome.ACCEPTED) is accepted
    assert step == (N if accepted else None)


@pytest.mark.parametrize("k", [-3, -2, -1, 0, 1, 2, 3])
@pytest.mark.parametrize("skew", [0, 1, 2])
@pytest.mark.parametrize(
    ("period", "digits", "algorithm"),
    [(30, 6, Algorithm.SHA1), (60, 8, Algorithm.SHA256), (1, 7, Algorithm.SHA512)],
)
def test_window_offsets_k_periods(
    k: int, skew: int, period: int, digits: int, algorithm: Algorithm
) -> None:
    """the server clock offset from the generation time by k periods."""
    key = bytes(range(64))
    generated = 1_900_000_007
    code = ref_totp(key, generated, period, digits, algorithm.value)
    params = OtpParams(algorithm=algorithm, digits=digits, period=period, skew=skew)
    outcome, step = evaluate_code(key, params, code, generated + k * period, -1)
    if abs(k) <= skew:
        assert (outcome, step) == (Outcome.ACCEPTED, generated // period)
    else:
        assert outcome is Outcome.REJECTED


def test_window_near_the_epoch_does_not_crash() -> None:
    code = code_at_step(0)
    assert evaluate_code(SEED, OtpParams(skew=2), code, 5, -1) == (Outcome.ACCEPTED, 0)
    assert evaluate_code(SEED, OtpParams(skew=2), "000000", 5, -1)[0] is Outcome.REJECTED


# --- replay (docs/requirements.md#single-use, docs/requirements.md#strict-codes)
# ---------------------------------------------------------


def test_accepting_n_plus_1_retires_n_and_n_minus_1() -> None:
    """hashicorp/vault#2775: with skew 1, accept step N+1, then try N and N-1."""
    params = OtpParams(skew=1)
    outcome, last_step = evaluate_code(SEED, params, code_at_step(N + 1), NOW, -1)
    assert (outcome, last_step) == (Outcome.ACCEPTED, N + 1)
    assert last_step is not None
    for older in (N, N - 1):
        outcome, step = evaluate_code(SEED, params, code_at_step(older), NOW, last_step)
        assert outcome in (Outcome.REPLAYED, Outcome.REJECTED)
        assert step is None
    # both are inside the window, so the policy knows they are replays
    assert evaluate_code(SEED, params, code_at_step(N), NOW, N + 1)[0] is Outcome.REPLAYED
    assert evaluate_code(SEED, params, code_at_step(N - 1), NOW, N + 1)[0] is Outcome.REPLAYED
    # a step later still is new
    later = evaluate_code(SEED, params, code_at_step(N + 1), NOW + PERIOD, N + 1)
    assert later == (Outcome.REPLAYED, None)
    assert evaluate_code(SEED, params, code_at_step(N + 2), NOW + PERIOD, N + 1) == (
        Outcome.ACCEPTED,
        N + 2,
    )


def test_code_of_last_step_is_replayed() -> None:
    assert evaluate_code(SEED, OtpParams(), code_at_step(N), NOW, N) == (Outcome.REPLAYED, None)


@pytest.mark.parametrize("skew", [0, 1, 2])
@pytest.mark.parametrize("last_step", [-1, N - 3, N - 2, N - 1, N, N + 1, N + 2, N + 3])
@pytest.mark.parametrize("code_step", [N - 3, N - 2, N - 1, N, N + 1, N + 2, N + 3])
def test_replay_table(skew: int, last_step: int, code_step: int) -> None:
    outcome, step = evaluate_code(
        SEED, OtpParams(skew=skew), code_at_step(code_step), NOW, last_step
    )
    in_window = abs(code_step - N) <= skew
    if in_window and code_step > last_step:
        assert (outcome, step) == (Outcome.ACCEPTED, code_step)
    elif in_window:
        assert (outcome, step) == (Outcome.REPLAYED, None)
    else:
        assert (outcome, step) == (Outcome.REJECTED, None)


# --- throttling (docs/requirements.md#throttling)
# --------------------------------------------

DELAYS = [
    (0, 0),
    (1, 0),
    (2, 0),
    (3, 0),
    (4, 0),
    (5, 1),
    (6, 2),
    (7, 4),
    (8, 8),
    (9, 16),
    (10, 32),
    (11, 64),
    (12, 128),
    (13, 256),
    (14, 512),
    (15, 900),
    (16, 900),
    (45, 900),
    (46, 900),
    (1000, 900),
    (2**31, 900),
    (2**63, 900),
    (10**30, 900),
]


@pytest.mark.parametrize(("failures", "delay"), DELAYS)
def test_delay_after(failures: int, delay: int) -> None:
    assert ThrottlePolicy().delay_after(failures) == delay


def test_delay_after_with_other_settings() -> None:
    policy = ThrottlePolicy(free_failures=3, base_delay=10, max_delay=86400)
    assert [policy.delay_after(n) for n in range(2, 9)] == [0, 10, 20, 40, 80, 160, 320]
    assert policy.delay_after(10**9) == 86400
    assert ThrottlePolicy(free_failures=100).delay_after(99) == 0
    assert ThrottlePolicy(free_failures=100).delay_after(100) == 1
    assert ThrottlePolicy(base_delay=3600, max_delay=86400).delay_after(2**40) == 86400


def test_after_failure_and_is_throttled() -> None:
    policy = ThrottlePolicy()
    now = 1_700_000_000
    assert policy.after_failure(4, now) == ThrottleState(failures=4, not_before=0)
    state = policy.after_failure(5, now)
    assert state == ThrottleState(failures=5, not_before=now + 1, since=now)
    assert is_throttled(state, now)
    assert not is_throttled(state, now + 1)
    state = policy.after_failure(15, now)
    assert state.not_before == now + 900
    assert is_throttled(state, now + 899)
    assert not is_throttled(state, now + 900)
    assert not is_throttled(ThrottleState(), now)
    assert not is_throttled(ThrottleState(), 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"free_failures": 0},
        {"free_failures": -1},
        {"free_failures": 101},
        {"free_failures": 2**31},
        {"free_failures": 2**63},
        {"base_delay": 0},
        {"base_delay": -1},
        {"base_delay": 3601},
        {"base_delay": 2**31},
        {"base_delay": 2**63},
        {"max_delay": 0},
        {"max_delay": -1},
        {"max_delay": 86401},
        {"max_delay": 2**31},
        {"max_delay": 2**63},
        {"base_delay": 10, "max_delay": 5},
    ],
)
def test_throttle_policy_range_checks(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        ThrottlePolicy(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"free_failures": 5.5},
        {"free_failures": True},
        {"base_delay": 1.5},
        {"base_delay": True},
        {"max_delay": 900.5},
        {"max_delay": float("inf")},
        {"base_delay": "1"},
        {"max_delay": None},
    ],
)
def test_throttle_policy_type_checks(kwargs: dict[str, object]) -> None:
    """ "non-numeric": a wrong type must stop start-up as ConfigError, not pass the range
    check and fail later (a float base_delay passes and then breaks delay_after's shift)."""
    with pytest.raises(ConfigError):
        ThrottlePolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"free_failures": 1},
        {"free_failures": 100},
        {"base_delay": 1, "max_delay": 1},
        {"base_delay": 3600, "max_delay": 3600},
        {"max_delay": 86400},
    ],
)
def test_throttle_policy_edges_accepted(kwargs: dict[str, int]) -> None:
    ThrottlePolicy(**kwargs)


def test_throttle_defaults_follow_notes() -> None:
    """docs/requirements.md#single-use: after 5 failures, 1 s doubling, capped at 15 min."""
    policy = ThrottlePolicy()
    assert (policy.free_failures, policy.base_delay, policy.max_delay) == (5, 1, 900)


@pytest.mark.parametrize(
    "trap",
    [
        " 287082",
        "287082\n",
        "+287082",
        "287_082",
        "\uff12\uff18\uff17\uff10\uff18\uff12",
        "\u0662\u0668\u0667\u0660\u0668\u0662",
        "\u06f2\u06f8\u06f7\u06f0\u06f8\u06f2",
        "\u0968\u096e\u096d\u0966\u096e\u0968",
    ],
)
def test_the_traps_are_real(trap: str) -> None:
    """docs/requirements.md#strict-codes: each of these is 287082 to int(), which is why int() must
    never parse a code."""
    assert int(trap) == 287082
    assert not is_well_formed(trap, 6)
