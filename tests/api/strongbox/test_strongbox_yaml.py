"""Hostile YAML bodies (docs/security.md): anchors, aliases, merge keys, tags, complex and
repeated keys, depth and size. Each is a clean 400 in the errors format, before or after
login, and none of them slows the server down for anyone else.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.support.deployment import Deployment as Env
from tests.support.strongbox import CONFIG

YAML = {"Content-Type": "application/yaml"}


def nested_lists(levels: int = 9, width: int = 9) -> str:
    """a: &a [x, ...]; b: &b [*a, ...]; ...: `width ** levels` elements once expanded."""
    text = "a: &a [" + ", ".join(["x"] * width) + "]\n"
    for level in range(1, levels):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        text += f"{name}: &{name} [" + ", ".join([f"*{previous}"] * width) + "]\n"
    return text


# The reported bomb: the last list as a mapping KEY, in a mapping inside a list (built after
# the lists are filled), so a duplicate-key check that reprs the key walks 9**9 elements.
KEY_BOMB = nested_lists() + "z:\n- ? *i\n  : x\n"
VALUE_BOMB = nested_lists() + "z: *i\n"

BAD_YAML: list[tuple[str, str]] = [
    ("key bomb", KEY_BOMB),
    ("value bomb", VALUE_BOMB),
    ("alias as value", "name: &n a\nissuer: *n\n"),
    ("alias as key", "k: &k name\n*k : x\n"),
    ("anchor only", "name: &n yaml-anchor\n"),
    ("anchor on a mapping", "&m {name: yaml-anchor-map}\n"),
    ("merge key", "<<: {name: yaml-merge}\n"),
    ("merge of an alias", "base: &b {digits: 6}\nx:\n  <<: *b\n"),
    ("sequence as key", "? [a, b]\n: x\n"),
    ("mapping as key", "? {a: 1}\n: x\n"),
    ("flow mapping as key", "{[a]: 1}\n"),
    ("python object", "!!python/object/apply:os.system ['true']\n"),
    ("python name", "name: !!python/name:os.system\n"),
    ("python tuple", "name: !!python/tuple [a, b]\n"),
    ("local tag", "name: !secret x\n"),
    ("map tag on a scalar", "name: !!map x\n"),
    ("bad binary", "name: !!binary 'a'\n"),
    ("duplicate key", "name: y-dup\nname: y-dup2\n"),
    ("duplicate nested", "name: y-nest\nissuer: {a: 1, a: 2}\n"),
    ("duplicate in a list item", "- {code: '1', code: '2'}\n"),
    ("duplicate by value", "1: a\n01: b\n"),
    ("duplicate quoted and plain", "name: y-q\n'name': y-q2\n"),
    ("deep sequence", "[" * 40 + "]" * 40),
    ("deep block mapping", "".join(f"{' ' * i}k{i}:\n" for i in range(40)) + " " * 40 + "x\n"),
    ("huge flow sequence", "[" + "1, " * 20_000 + "1]"),
    ("huge flow mapping", "{" + "".join(f"k{i}: {i}, " for i in range(5_000)) + "k0: 0}"),
    ("timestamp out of range", "name: 2001-13-45\n"),
    ("integer too long", "digits: " + "1" * 5_000 + "\n"),
    ("integer key too long", "1" * 5_000 + ": x\n"),
    ("two documents", "name: y-doc1\n---\nname: y-doc2\n"),
    ("tab indentation", "name:\n\t- x\n"),
    ("unclosed", "name: [a, b\n"),
]


def assert_errors_400(response: httpx.Response) -> None:
    assert response.status_code == 400, (response.status_code, response.text[:200])
    errors = response.json()["errors"]
    assert errors[0]["error-info"] == {} and errors[0]["error-message"]


@pytest.mark.parametrize(("label", "text"), BAD_YAML, ids=[case[0] for case in BAD_YAML])
def test_hostile_yaml_is_400_everywhere(env: Env, label: str, text: str) -> None:
    sb = env.sb()
    raw = text.encode()
    assert len(raw) < 65536, "within the body cap: the parser itself must refuse it"
    assert_errors_400(sb.http.post(CONFIG, content=raw, headers={**YAML, **sb.auth}))
    assert_errors_400(sb.http.post("/v1/login", content=raw, headers=YAML))
    assert_errors_400(sb.http.post("/v1/login", content=raw))  # no type: JSON, then YAML
    names = set(sb.get(CONFIG, params={"keys": "true"}).json())
    assert not {name for name in names if name.startswith("y")}


def test_key_bomb_needs_no_key_and_is_refused(env: Env) -> None:
    """The reported finding: 433 bytes to /v1/login took 27 s of CPU and 2 GB."""
    assert 380 < len(KEY_BOMB) < 440
    with httpx.Client(base_url=env.url, timeout=5) as http:
        assert_errors_400(http.post("/v1/login", content=KEY_BOMB, headers=YAML))


def test_refresh_checks_the_token_before_the_body(env: Env) -> None:
    """Any `Bearer x` used to get the body parsed; now it is 401 and the body is not read."""
    with httpx.Client(base_url=env.url, timeout=5) as http:
        for bomb in (KEY_BOMB, "{{{{"):
            response = http.post(
                "/v1/state/strongbox/token/refresh",
                content=bomb,
                headers={**YAML, "Authorization": "Bearer x"},
            )
            assert response.status_code == 401
    sb = env.sb()
    refreshed = sb.http.post(
        "/v1/state/strongbox/token/refresh", content=KEY_BOMB, headers={**YAML, **sb.auth}
    )
    assert_errors_400(refreshed)  # with a valid token the body rules still apply


def test_healthz_answers_while_bombs_arrive(env: Env) -> None:
    """Bombs sent in a loop from two clients; /healthz keeps answering meanwhile."""
    stop = threading.Event()
    statuses: list[int] = []

    def bomb_loop(text: str) -> None:
        with httpx.Client(base_url=env.url, timeout=30) as http:
            while not stop.is_set():
                statuses.append(http.post("/v1/login", content=text, headers=YAML).status_code)

    senders = [threading.Thread(target=bomb_loop, args=(t,)) for t in (KEY_BOMB, VALUE_BOMB)]
    for sender in senders:
        sender.start()
    try:
        with httpx.Client(base_url=env.url, timeout=2) as health:
            deadline = time.monotonic() + 2
            checks = 0
            while time.monotonic() < deadline:
                assert health.get("/healthz").status_code == 200
                checks += 1
    finally:
        stop.set()
        for sender in senders:
            sender.join()
    assert checks >= 5
    assert statuses and set(statuses) == {400}
