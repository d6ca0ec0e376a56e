"""Services over MemoryStore with a fake clock and sealer
(docs/requirements.md#secret-strength, docs/requirements.md#single-use,
docs/requirements.md#throttling, docs/requirements.md#sealed,
docs/requirements.md#tenancy, #least-privilege)."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otpd.bootstrap import Services, compose_services
from otpd.core.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    NotFound,
    Sealed,
    Unauthenticated,
)
from otpd.core.model import (
    Algorithm,
    CredentialRecord,
    CredentialSpec,
    OtpParams,
    Outcome,
    Principal,
    Scope,
    SecretBytes,
    ThrottleState,
)
from otpd.core.policy import ThrottlePolicy
from otpd.store.memory import MemoryStore
from tests.support.fakes import (
    ALL_SCOPES,
    SEED,
    FakeClock,
    FakeSealer,
    code,
    enrol,
    principal,
    ref_totp,
    stored,
    wrong,
)

OTHER_SEED = b"abcdefghijklmnopqrst"


def snapshot(store: MemoryStore) -> list[list[CredentialRecord]]:
    return [store.list_credentials(t.id) for t in store.list_tenants()]


# --- create (docs/requirements.md#secret-strength)
# -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "size"),
    [
        (Algorithm.SHA1, 20),
        (Algorithm.SHA224, 32),
        (Algorithm.SHA256, 32),
        (Algorithm.SHA384, 64),
        (Algorithm.SHA512, 64),
    ],
)
def test_generated_secret_length_per_algorithm(
    services: Services, admin: Principal, algorithm: Algorithm, size: int
) -> None:
    spec = CredentialSpec(name="bob", params=OtpParams(algorithm=algorithm))
    record, secret = services.credentials.create_credential(admin, spec)
    assert len(secret) == size
    assert record.key_size == size
    assert services.credentials.reveal_secret(admin, "bob") == secret
    assert secret.reveal() not in record.sealed_secret


def test_key_size_sets_generated_length(services: Services, admin: Principal) -> None:
    spec = CredentialSpec(name="bob", params=OtpParams(algorithm=Algorithm.SHA512), key_size=40)
    record, secret = services.credentials.create_credential(admin, spec)
    assert (len(secret), record.key_size) == (40, 40)


def test_imported_secret_length_overrides_key_size(
    services: Services, admin: Principal, clock: FakeClock
) -> None:
    imported = bytes(range(1, 20))  # 19 bytes
    spec = CredentialSpec(name="bob", params=OtpParams(algorithm=Algorithm.SHA512), key_size=64)
    record, secret = services.credentials.create_credential(admin, spec, SecretBytes(imported))
    assert record.key_size == 19
    assert secret.reveal() == imported
    assert services.credentials.reveal_secret(admin, "bob").reveal() == imported
    assert services.credentials.current_code(admin, "bob") == ref_totp(
        imported, clock.seconds, algorithm="sha512"
    )


@pytest.mark.parametrize("length", [0, 1, 5, 9, 1025])
def test_imported_secret_of_bad_length_is_invalid(
    services: Services, admin: Principal, store: MemoryStore, length: int
) -> None:
    with pytest.raises(InvalidInput) as info:
        enrol(services, admin, secret=b"k" * length)
    assert info.value.field == "secret"  # core words; Strongbox says passcode32
    assert store.count_credentials("acme") == 0


def test_ten_byte_secret_is_enough(services: Services, admin: Principal) -> None:
    assert enrol(services, admin, secret=b"0123456789").key_size == 10


def test_duplicate_name(services: Services, admin: Principal, store: MemoryStore) -> None:
    first = enrol(services, admin)
    with pytest.raises(AlreadyExists):
        enrol(services, admin, secret=OTHER_SEED)
    with pytest.raises(AlreadyExists):
        services.credentials.create_credential(admin, CredentialSpec(name="bob"))
    assert stored(store, "acme") == first
    assert services.credentials.reveal_secret(admin, "bob").reveal() == SEED
    other = principal(services, "globex")
    assert enrol(services, other).tenant == "globex"  # names are per tenant


def test_generated_secrets_are_distinct(services: Services, admin: Principal) -> None:
    secrets = {
        services.credentials.create_credential(admin, CredentialSpec(name=f"u{i}"))[1].reveal()
        for i in range(200)
    }
    assert len(secrets) == 200


def test_system_tenant_holds_no_credentials(services: Services) -> None:
    sealer_client = Principal(tenant="system", client="ops", scopes=frozenset(Scope))
    with pytest.raises(Forbidden):
        services.credentials.create_credential(sealer_client, CredentialSpec(name="bob"))


def test_default_key_uri_uses_the_sbox_prefix(services: Services, admin: Principal) -> None:
    services.credentials.create_credential(
        admin,
        CredentialSpec(name="bob", issuer="telco.com", account_name="admin@telco.com"),
        SecretBytes(SEED),
    )
    assert services.credentials.key_uri(admin, "bob") == (
        "otpauth://totp/Sbox:admin@telco.com"
        "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=telco.com"
    )


# --- verify, replay, window (docs/requirements.md#single-use)
# -----------------------------------------


def test_verify_accepts_the_current_code_once(
    services: Services, admin: Principal, clock: FakeClock, store: MemoryStore
) -> None:
    enrol(services, admin)
    current = code(clock)
    result = services.credentials.verify(admin, "bob", current)
    assert result.outcome is Outcome.ACCEPTED
    assert result.accepted
    assert result.matched_step == clock.seconds // 30
    assert stored(store, "acme").last_step == clock.seconds // 30
    again = services.credentials.verify(admin, "bob", current)
    assert again.outcome is Outcome.REPLAYED
    assert not again.accepted
    assert again.matched_step is None
    clock.advance(30)  # the code is still inside the window one step later
    assert services.credentials.verify(admin, "bob", current).outcome is Outcome.REPLAYED
    assert stored(store, "acme").last_step == (clock.seconds - 30) // 30
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED


def test_verify_by_id(services: Services, admin: Principal, clock: FakeClock) -> None:
    record = enrol(services, admin)
    assert (
        services.credentials.verify_by_id(admin, record.id, code(clock)).outcome is Outcome.ACCEPTED
    )
    assert (
        services.credentials.verify_by_id(admin, record.id, code(clock)).outcome is Outcome.REPLAYED
    )
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.REPLAYED


def test_later_step_retires_earlier_ones(
    services: Services, admin: Principal, clock: FakeClock
) -> None:
    """accept step n+1, then n and n-1 (both inside the window) are refused."""
    enrol(services, admin)
    assert (
        services.credentials.verify(admin, "bob", code(clock, steps=1)).outcome is Outcome.ACCEPTED
    )
    for older in (0, -1):
        result = services.credentials.verify(admin, "bob", code(clock, steps=older))
        assert result.outcome in (Outcome.REPLAYED, Outcome.REJECTED)


@pytest.mark.parametrize(
    ("skew", "steps", "accepted"),
    [
        (1, -2, False),
        (1, -1, True),
        (1, 0, True),
        (1, 1, True),
        (1, 2, False),
        (0, -1, False),
        (0, 0, True),
        (0, 1, False),
        (2, -3, False),
        (2, -2, True),
        (2, 2, True),
        (2, 3, False),
    ],
)
def test_skew_window(
    services: Services,
    admin: Principal,
    clock: FakeClock,
    skew: int,
    steps: int,
    accepted: bool,
) -> None:
    enrol(services, admin, params=OtpParams(skew=skew))
    result = services.credentials.verify(admin, "bob", code(clock, steps=steps))
    assert (result.outcome is Outcome.ACCEPTED) is accepted
    if accepted:
        assert result.matched_step == clock.seconds // 30 + steps


def test_other_parameters(services: Services, admin: Principal, clock: FakeClock) -> None:
    params = OtpParams(algorithm=Algorithm.SHA384, digits=10, period=45)
    enrol(services, admin, secret=bytes(range(48)), params=params)
    expected = code(clock, bytes(range(48)), params=params)
    assert len(expected) == 10
    assert services.credentials.current_code(admin, "bob") == expected
    assert services.credentials.verify(admin, "bob", expected).matched_step == clock.seconds // 45


@pytest.mark.parametrize("variant", [" {}", "{} ", "{}\n", "+{}", "0{}", "{}\x00"])
def test_malformed_variant_of_the_right_code_is_rejected(
    services: Services, admin: Principal, clock: FakeClock, variant: str
) -> None:
    enrol(services, admin)
    current = code(clock)
    assert (
        services.credentials.verify(admin, "bob", variant.format(current)).outcome
        is Outcome.REJECTED
    )
    assert services.credentials.verify(admin, "bob", int(current)).outcome is Outcome.REJECTED
    assert services.credentials.verify(admin, "bob", current).outcome is Outcome.ACCEPTED


# --- throttling (docs/requirements.md#throttling)
# -------------------------------------------------


def _fail(services: Services, who: Principal, clock: FakeClock, times: int) -> None:
    for _ in range(times):
        assert services.credentials.verify(who, "bob", wrong(clock)).outcome is Outcome.REJECTED


def test_throttled_after_five_failures(
    services: Services,
    admin: Principal,
    clock: FakeClock,
    store: MemoryStore,
    sealer: FakeSealer,
) -> None:
    enrol(services, admin)
    _fail(services, admin, clock, 4)
    assert stored(store, "acme").throttle == ThrottleState(failures=4, not_before=0)
    _fail(services, admin, clock, 1)
    state = stored(store, "acme").throttle
    assert state == ThrottleState(failures=5, not_before=clock.seconds + 1, since=clock.seconds)
    # Within the delay the right code gets the same answer as a wrong one, is not counted,
    # and changes no throttle or replay state (docs/requirements.md#throttling,
    # docs/requirements.md); each refusal is counted.
    for attempt in (code(clock), wrong(clock), code(clock), "junk"):
        assert services.credentials.verify(admin, "bob", attempt).outcome is Outcome.THROTTLED
    assert stored(store, "acme").throttle == state
    assert stored(store, "acme").last_step == -1
    assert stored(store, "acme").refused == 4
    clock.advance(1)
    result = services.credentials.verify(admin, "bob", code(clock))
    assert result.outcome is Outcome.ACCEPTED
    assert stored(store, "acme").throttle == ThrottleState()
    # The budget is whole again: four more failures go unthrottled.
    clock.advance(30)
    _fail(services, admin, clock, 4)
    assert stored(store, "acme").throttle.not_before == 0


def test_delays_double_and_cap_at_15_minutes(
    services: Services, admin: Principal, clock: FakeClock, store: MemoryStore
) -> None:
    enrol(services, admin)
    _fail(services, admin, clock, 4)
    delays = []
    for _ in range(14):
        assert services.credentials.verify(admin, "bob", wrong(clock)).outcome is Outcome.REJECTED
        state = stored(store, "acme").throttle
        delay = state.not_before - clock.seconds
        delays.append(delay)
        clock.advance(delay - 1)  # a flood in the last second neither counts nor extends
        for _ in range(3):
            assert (
                services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.THROTTLED
            )
        assert stored(store, "acme").throttle == state
        clock.advance(1)
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900]
    assert stored(store, "acme").throttle.failures == 18
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED
    assert stored(store, "acme").throttle == ThrottleState()


def test_throttle_is_per_credential(
    services: Services, admin: Principal, clock: FakeClock, store: MemoryStore
) -> None:
    enrol(services, admin)
    enrol(services, admin, name="carol")
    _fail(services, admin, clock, 5)
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.THROTTLED
    assert services.credentials.verify(admin, "carol", code(clock)).outcome is Outcome.ACCEPTED
    assert stored(store, "acme", "carol").throttle == ThrottleState()


def test_custom_throttle_policy(store: MemoryStore, sealer: FakeSealer, clock: FakeClock) -> None:
    services = compose_services(
        store,
        sealer,
        clock,
        throttle=ThrottlePolicy(free_failures=2, base_delay=60),
        label_prefix="Sbox",
    )
    admin = principal(services, "acme")
    enrol(services, admin)
    _fail(services, admin, clock, 2)
    assert stored(store, "acme").throttle.not_before == clock.seconds + 60


# --- unknown credentials (docs/requirements.md#throttling)
# ------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["nosuch", "", " ", "*", "%", "%20", "BOB", " bob", "bob ", "bob\t"]
)
def test_unknown_name_is_unknown_and_counts_nothing(
    services: Services, admin: Principal, clock: FakeClock, store: MemoryStore, name: str
) -> None:
    enrol(services, admin)
    enrol(services, principal(services, "globex"))
    before = snapshot(store)
    for _ in range(10):
        result = services.credentials.verify(admin, name, code(clock))
        assert result.outcome is Outcome.UNKNOWN and not result.accepted
        assert result.matched_step is None
    assert snapshot(store) == before


@pytest.mark.parametrize("credential_id", [0, -1, 2, 999, 2**63])
def test_unknown_id_is_unknown_and_counts_nothing(
    services: Services,
    admin: Principal,
    clock: FakeClock,
    store: MemoryStore,
    credential_id: int,
) -> None:
    enrol(services, admin)  # id 1
    before = snapshot(store)
    assert (
        services.credentials.verify_by_id(admin, credential_id, code(clock)).outcome
        is Outcome.UNKNOWN
    )
    assert snapshot(store) == before


# --- tenants (docs/requirements.md#tenancy)
# --------------------------------------------------------


def test_same_name_in_two_tenants_is_two_credentials(
    services: Services, clock: FakeClock, store: MemoryStore
) -> None:
    a, b = principal(services, "tenant-a"), principal(services, "tenant-b")
    enrol(services, a, secret=SEED)
    enrol(services, b, secret=OTHER_SEED)
    assert services.credentials.reveal_secret(a, "bob").reveal() == SEED
    assert services.credentials.reveal_secret(b, "bob").reveal() == OTHER_SEED
    assert services.credentials.verify(b, "bob", code(clock, SEED)).outcome is Outcome.REJECTED
    assert (
        services.credentials.verify(a, "bob", code(clock, OTHER_SEED)).outcome is Outcome.REJECTED
    )
    _fail(services, a, clock, 4)  # with the one above: five, so A is throttled
    assert services.credentials.verify(a, "bob", code(clock, SEED)).outcome is Outcome.THROTTLED
    assert stored(store, "tenant-b").throttle.failures == 1  # only its own failure above
    assert (
        services.credentials.verify(b, "bob", code(clock, OTHER_SEED)).outcome is Outcome.ACCEPTED
    )
    assert stored(store, "tenant-a").throttle.failures == 5


def test_replay_state_is_per_tenant(services: Services, clock: FakeClock) -> None:
    a, b = principal(services, "tenant-a"), principal(services, "tenant-b")
    enrol(services, a, secret=SEED)
    enrol(services, b, secret=SEED)  # the same secret enrolled twice
    current = code(clock)
    assert services.credentials.verify(a, "bob", current).outcome is Outcome.ACCEPTED
    assert services.credentials.verify(b, "bob", current).outcome is Outcome.ACCEPTED
    assert services.credentials.verify(a, "bob", current).outcome is Outcome.REPLAYED
    assert services.credentials.verify(b, "bob", current).outcome is Outcome.REPLAYED


def test_another_tenants_credential_is_not_found(
    services: Services, clock: FakeClock, store: MemoryStore
) -> None:
    a, b = principal(services, "tenant-a"), principal(services, "tenant-b")
    record = enrol(services, a, name="alice")
    before = snapshot(store)
    assert services.credentials.verify_by_id(b, record.id, code(clock)).outcome is Outcome.UNKNOWN
    assert services.credentials.verify(b, "alice", code(clock)).outcome is Outcome.UNKNOWN
    assert snapshot(store) == before
    with pytest.raises(NotFound):
        services.credentials.get_credential_by_id(b, record.id)
    for call in (
        services.credentials.get_credential,
        services.credentials.current_code,
        services.credentials.reveal_secret,
        services.credentials.key_uri,
        services.credentials.delete_credential,
    ):
        with pytest.raises(NotFound):
            call(b, "alice")
    with pytest.raises(NotFound):
        services.credentials.replace_credential(b, CredentialSpec(name="alice"))
    assert services.credentials.list_credentials(b) == []
    assert snapshot(store) == before
    assert services.credentials.verify(a, "alice", code(clock)).outcome is Outcome.ACCEPTED


# --- scopes (docs/requirements.md#least-privilege)
# -------------------------------------------------------------------

Op = Callable[[Services, Principal, int, FakeClock], object]

OPERATIONS: dict[str, tuple[Scope, Op]] = {
    "create": (
        Scope.WRITE,
        lambda s, p, i, c: s.credentials.create_credential(p, CredentialSpec(name="new")),
    ),
    "replace": (
        Scope.WRITE,
        lambda s, p, i, c: s.credentials.replace_credential(p, CredentialSpec(name="bob")),
    ),
    "delete": (Scope.WRITE, lambda s, p, i, c: s.credentials.delete_credential(p, "bob")),
    "get": (Scope.READ, lambda s, p, i, c: s.credentials.get_credential(p, "bob")),
    "get-by-id": (Scope.READ, lambda s, p, i, c: s.credentials.get_credential_by_id(p, i)),
    "list": (Scope.READ, lambda s, p, i, c: s.credentials.list_credentials(p)),
    "get-code": (Scope.CODE, lambda s, p, i, c: s.credentials.current_code(p, "bob")),
    "reveal": (Scope.REVEAL, lambda s, p, i, c: s.credentials.reveal_secret(p, "bob")),
    "key-uri": (Scope.REVEAL, lambda s, p, i, c: s.credentials.key_uri(p, "bob")),
    "verify": (Scope.VERIFY, lambda s, p, i, c: s.credentials.verify(p, "bob", code(c))),
    "verify-by-id": (Scope.VERIFY, lambda s, p, i, c: s.credentials.verify_by_id(p, i, code(c))),
    "seal": (Scope.SEAL, lambda s, p, i, c: s.sealing.seal(p)),
}

ROLES = {
    "verify-only": frozenset({Scope.VERIFY}),
    "read-only": frozenset({Scope.READ}),
    "write-only": frozenset({Scope.WRITE}),
    "code-only": frozenset({Scope.CODE}),
    "reveal-only": frozenset({Scope.REVEAL}),
    "manager": frozenset({Scope.READ, Scope.WRITE}),
    "all-but-seal": ALL_SCOPES,
}


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_scope_matrix(
    services: Services,
    admin: Principal,
    clock: FakeClock,
    store: MemoryStore,
    sealer: FakeSealer,
    role: str,
    operation: str,
) -> None:
    record = enrol(services, admin)
    _, key = services.access.create_client("acme", "caller", ROLES[role])
    caller = services.access.authenticate(key)
    scope, op = OPERATIONS[operation]
    before = snapshot(store)
    if scope in caller.scopes:
        op(services, caller, record.id, clock)
    else:
        with pytest.raises(Forbidden):
            op(services, caller, record.id, clock)
        assert snapshot(store) == before
        assert not sealer.sealed
        # Forbidden comes before any lookup: an unknown name says nothing either.
        with pytest.raises(Forbidden):
            op(services, caller, 12345, clock)


def test_only_a_system_client_can_seal(services: Services, sealer: FakeSealer) -> None:
    _, key = services.access.create_client("system", "operator", [Scope.SEAL])
    operator = services.access.authenticate(key)
    assert operator.scopes == frozenset({Scope.SEAL})
    with pytest.raises(Forbidden):
        services.credentials.verify(operator, "bob", "123456")
    assert services.sealing.seal(operator).sealed
    assert sealer.sealed
    assert services.sealing.seal_status().sealed


# --- sealed (docs/requirements.md#sealed)
# -------------------------------------------------------------------


def test_sealed_raises_and_changes_nothing(
    services: Services,
    admin: Principal,
    clock: FakeClock,
    store: MemoryStore,
    sealer: FakeSealer,
) -> None:
    record = enrol(services, admin)
    used = code(clock, steps=-1)
    assert services.credentials.verify(admin, "bob", used).outcome is Outcome.ACCEPTED
    _fail(services, admin, clock, 2)
    current = code(clock)
    before = snapshot(store)
    sealer.seal()
    opened = sealer.opened
    calls: list[Callable[[], object]] = [
        lambda: services.credentials.verify(admin, "bob", current),
        lambda: services.credentials.verify(admin, "bob", wrong(clock)),
        lambda: services.credentials.verify(admin, "bob", used),
        lambda: services.credentials.verify(admin, "nosuch", current),
        lambda: services.credentials.verify_by_id(admin, record.id, current),
        lambda: services.credentials.create_credential(admin, CredentialSpec(name="new")),
        lambda: services.credentials.create_credential(
            admin, CredentialSpec(name="new"), SecretBytes(SEED)
        ),
        lambda: services.credentials.replace_credential(admin, CredentialSpec(name="bob")),
        lambda: services.credentials.delete_credential(admin, "bob"),
        lambda: services.credentials.get_credential(admin, "bob"),
        lambda: services.credentials.get_credential_by_id(admin, record.id),
        lambda: services.credentials.list_credentials(admin),
        lambda: services.credentials.current_code(admin, "bob"),
        lambda: services.credentials.reveal_secret(admin, "bob"),
        lambda: services.credentials.key_uri(admin, "bob"),
    ]
    for call in calls:
        for _ in range(3):
            with pytest.raises(Sealed):
                call()
    assert snapshot(store) == before
    assert sealer.opened == opened
    assert stored(store, "acme").throttle.failures == 2
    assert services.sealing.submit_unseal_share(FakeSealer.SHARE).sealed is False
    assert snapshot(store) == before
    assert services.credentials.verify(admin, "bob", current).outcome is Outcome.ACCEPTED
    assert services.credentials.verify(admin, "bob", current).outcome is Outcome.REPLAYED


# --- API clients (docs/requirements.md#model; docs/requirements.md#least-privilege)
# -------------------------------------------------


def test_create_client_key_and_authentication(services: Services, store: MemoryStore) -> None:
    client, key = services.access.create_client("acme", "radius", [Scope.VERIFY, Scope.READ])
    assert re.fullmatch(r"[A-Za-z0-9]{40}", key)
    assert client.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in repr(store.list_clients("acme"))
    assert key not in repr(vars(store))
    assert key not in repr(client)
    who = services.access.authenticate(key)
    assert who == Principal(
        tenant="acme", client="radius", scopes=frozenset({Scope.VERIFY, Scope.READ})
    )
    assert store.get_tenant("acme") is not None  # created on the way


def test_wrong_keys_are_unauthenticated(services: Services) -> None:
    _, key = services.access.create_client("acme", "radius", [Scope.VERIFY])
    flipped = key[:-1] + ("A" if key[-1] != "A" else "B")
    swapped_case = key.swapcase()
    bad: list[object] = [
        flipped,
        key[:-1],
        key + "A",
        key + "\n",
        " " + key[1:],
        "",
        "A" * 40,
        key * 10,
        None,
        key.encode(),
        12345,
    ]
    if swapped_case != key:
        bad.append(swapped_case)
    for attempt in bad:
        with pytest.raises(Unauthenticated):
            services.access.authenticate(attempt)  # type: ignore[arg-type]


def test_client_keys_are_distinct(services: Services) -> None:
    keys = {services.access.create_client("acme", f"c{i}", [Scope.READ])[1] for i in range(100)}
    assert len(keys) == 100


def test_client_name_taken(services: Services) -> None:
    services.access.create_client("acme", "radius", [Scope.VERIFY])
    with pytest.raises(AlreadyExists):
        services.access.create_client("acme", "radius", [Scope.READ])
    services.access.create_client("globex", "radius", [Scope.VERIFY])  # other tenant: fine


@pytest.mark.parametrize(
    ("tenant", "name", "scopes"),
    [
        ("acme", "ops", [Scope.SEAL]),
        ("acme", "ops", [Scope.SEAL, Scope.READ]),
        ("system", "ops", [Scope.READ]),
        ("system", "ops", [Scope.SEAL, Scope.VERIFY]),
        ("acme", "ops", []),
        ("Acme", "ops", [Scope.READ]),
        ("-acme", "ops", [Scope.READ]),
        ("acme", "Ops", [Scope.READ]),
        ("acme", "o p", [Scope.READ]),
        ("acme", "", [Scope.READ]),
    ],
)
def test_create_client_refusals(
    services: Services, store: MemoryStore, tenant: str, name: str, scopes: list[Scope]
) -> None:
    with pytest.raises(InvalidInput):
        services.access.create_client(tenant, name, scopes)
    assert store.list_tenants() == []


# --- replace keeps consumed codes consumed (docs/requirements.md#single-use)
# -----------------------------------------


def test_replace_without_new_secret_keeps_replay_state(
    services: Services, admin: Principal, clock: FakeClock
) -> None:
    enrol(services, admin)
    current = code(clock)
    assert services.credentials.verify(admin, "bob", current).outcome is Outcome.ACCEPTED
    services.credentials.replace_credential(admin, CredentialSpec(name="bob", issuer="renamed"))
    assert services.credentials.verify(admin, "bob", current).outcome is Outcome.REPLAYED


def test_replace_with_the_same_secret_keeps_replay_state(
    services: Services, admin: Principal, clock: FakeClock
) -> None:
    """Re-importing the secret it already has (a Strongbox PUT repeating passcode32) must not
    re-admit a consumed code. The sealer draws a fresh nonce per call, like AES-GCM, so the
    ciphertexts differ although the secrets are equal."""
    enrol(services, admin)
    current = code(clock)
    assert services.credentials.verify(admin, "bob", current).outcome is Outcome.ACCEPTED
    services.credentials.replace_credential(admin, CredentialSpec(name="bob"), SecretBytes(SEED))
    assert services.credentials.verify(admin, "bob", current).outcome is Outcome.REPLAYED


def test_replace_with_a_new_secret_resets_state(
    services: Services, admin: Principal, clock: FakeClock, store: MemoryStore
) -> None:
    enrol(services, admin)
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED
    _fail(services, admin, clock, 5)
    services.credentials.replace_credential(
        admin, CredentialSpec(name="bob"), SecretBytes(OTHER_SEED)
    )
    assert stored(store, "acme").throttle == ThrottleState()
    assert (
        services.credentials.verify(admin, "bob", code(clock, OTHER_SEED)).outcome
        is Outcome.ACCEPTED
    )


# --- concurrency (docs/requirements.md#single-use)
# --------------------------------------------------------------


def _burst(services: Services, who: Principal, name: str, attempt: str, n: int) -> list[Outcome]:
    barrier = threading.Barrier(n)
    outcomes: list[Outcome] = []

    def run() -> None:
        barrier.wait()
        outcomes.append(services.credentials.verify(who, name, attempt).outcome)

    workers = [threading.Thread(target=run) for _ in range(n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes


def test_one_code_accepted_once_under_concurrency(
    services: Services, admin: Principal, clock: FakeClock
) -> None:
    """in miniature: threads released together submit one valid code."""
    for n in range(20):
        enrol(services, admin, name=f"user{n}")
        outcomes = _burst(services, admin, f"user{n}", code(clock), 16)
        assert len(outcomes) == 16
        assert outcomes.count(Outcome.ACCEPTED) == 1


# --- property: a step is accepted at most once, and last_step never goes back ------------

CHOICES = ["cur", "prev", "next", "prev2", "next2", "wrong", "malformed", "same-again"]


@settings(max_examples=500, deadline=None)
@given(
    free_failures=st.sampled_from([5, 100]),
    skew=st.integers(0, 2),
    operations=st.lists(
        st.tuples(st.integers(-45, 95), st.sampled_from(CHOICES)), min_size=1, max_size=40
    ),
)
def test_a_step_is_accepted_at_most_once(
    free_failures: int, skew: int, operations: list[tuple[int, str]]
) -> None:
    store, clock = MemoryStore(), FakeClock()
    services = compose_services(
        store,
        FakeSealer(),
        clock,
        throttle=ThrottlePolicy(free_failures=free_failures),
        label_prefix="Sbox",
    )
    admin = principal(services, "acme")
    enrol(services, admin, params=OtpParams(skew=skew))
    accepted: set[int] = set()
    last_step = -1
    previous = "000000"
    for offset, choice in operations:
        clock.advance(offset)
        steps = {"cur": 0, "prev": -1, "next": 1, "prev2": -2, "next2": 2}
        if choice in steps:
            attempt = code(clock, steps=steps[choice])
        elif choice == "wrong":
            attempt = wrong(clock)
        elif choice == "malformed":
            attempt = " " + code(clock)
        else:
            attempt = previous
        previous = attempt
        result = services.credentials.verify(admin, "bob", attempt)
        record = stored(store, "acme")
        if result.outcome is Outcome.ACCEPTED:
            assert result.matched_step is not None
            assert result.matched_step not in accepted
            assert result.matched_step > last_step
            assert abs(result.matched_step - clock.seconds // 30) <= skew
            accepted.add(result.matched_step)
            assert record.throttle == ThrottleState()
        assert record.last_step >= last_step
        last_step = record.last_step
        assert last_step == max(accepted, default=-1)


def test_replace_keeps_contact_details_the_spec_does_not_carry(
    services: Services, admin: Principal
) -> None:
    """A Strongbox PUT (no email/phone fields) must not drop what Token2's createuser stored."""
    enrolled = services.enrolment.enrol_user(admin, email="ann@example.com", phone="+41791234567")
    name = enrolled.record.name
    services.credentials.replace_credential(
        admin, CredentialSpec(name=name, issuer="x", account_name="ann")
    )
    after = services.credentials.get_credential(admin, name)
    assert (after.email, after.phone) == ("ann@example.com", "+41791234567")
    assert (after.issuer, after.account_name) == ("x", "ann")


def test_conditional_writes_refuse_a_stale_version(services: Services, admin: Principal) -> None:
    from otpd.core.errors import PreconditionFailed

    spec = CredentialSpec(name="alice")
    record, _ = services.credentials.create_credential(admin, spec)
    newer = services.credentials.replace_credential(admin, CredentialSpec(name="alice", issuer="x"))
    assert newer.version == record.version + 1
    with pytest.raises(PreconditionFailed):
        services.credentials.replace_credential(admin, spec, expect_version=record.version)
    with pytest.raises(PreconditionFailed):
        services.credentials.delete_credential(admin, "alice", expect_version=record.version)
    services.credentials.delete_credential(admin, "alice", expect_version=newer.version)
    # RFC 9110 §13.1.1: a condition on a credential that is gone is false too (412) ...
    with pytest.raises(PreconditionFailed):
        services.credentials.delete_credential(admin, "alice", expect_version=newer.version)
    with pytest.raises(NotFound):  # ... while a plain delete of it is 404
        services.credentials.delete_credential(admin, "alice")
