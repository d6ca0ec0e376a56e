"""Every TOTP endpoint and query parameter over real HTTP (issue #4, docs/api-strongbox.md)."""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable

import httpx
import pytest
import yaml

from tests.support import server as harness
from tests.support.deployment import Deployment as Env
from tests.support.strongbox import (
    CONFIG,
    SAMPLE_YAML,
    STATE,
    assert_status,
    b32,
    body,
    get,
    message,
    register_b32,
    secret,
)

SAMPLE_URL = (
    "otpauth://totp/Sbox:admin@telco.com?secret=34XVZAVKQ7PRBE3KJQWHYKC3EAT75I2X&issuer=telco.com"
)
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def test_vendor_sample_round_trip_and_url_byte_for_byte(env: Env) -> None:
    sample = yaml.safe_load(SAMPLE_YAML)
    harness.register_secret(base64.b32decode(sample["passcode32"]))
    sb = env.sb()
    yaml_in = {"Content-Type": "application/yaml", **sb.auth}
    created = sb.http.post(CONFIG, content=SAMPLE_YAML, headers=yaml_in)
    assert_status(created, 201)
    assert created.headers["location"] == f"{CONFIG}/admin" and created.content == b""
    config = sb.get(f"{CONFIG}/admin")
    assert_status(config, 200)
    assert config.json() == sample and list(config.json()) == list(sample)
    state = sb.get(f"{STATE}/admin").json()
    assert state["url"] == SAMPLE_URL
    assert TIME.fullmatch(state["creation-time"])
    assert list(state) == [*sample, "url", "creation-time"]
    as_yaml = get(sb, f"{STATE}/admin", headers={"Accept": "application/yaml"})
    assert as_yaml.headers["content-type"] == "application/yaml"
    assert yaml.safe_load(as_yaml.text) == state


@pytest.mark.parametrize(
    ("algorithm", "key_size"),
    [("sha1", 20), ("sha224", 32), ("sha256", 32), ("sha384", 64), ("sha512", 64)],
)
def test_defaults_and_generated_key_size(env: Env, algorithm: str, key_size: int) -> None:
    sb = env.sb()
    name = f"gen-{algorithm}"
    assert_status(
        sb.http.post(CONFIG, json={"name": name, "algorithm": algorithm}, headers=sb.auth), 201
    )
    got = sb.get(f"{CONFIG}/{name}").json()
    generated = register_b32(got.pop("passcode32"))
    assert len(generated) == key_size
    assert got == {
        "name": name,
        "digits": 6,
        "algorithm": algorithm,
        "key-size": key_size,
        "period": "30s",
        "issuer": "unknown",
        "account-name": "unknown",
        "skew": 1,
    }


def test_imported_secret_length_overrides_key_size(env: Env) -> None:
    sb = env.sb()
    assert_status(
        sb.http.post(CONFIG, json=body("imp", secret(15), key_size=64), headers=sb.auth), 201
    )
    assert sb.get(f"{CONFIG}/imp").json()["key-size"] == 15


def test_list_keys_count_fields_validate(env: Env) -> None:
    sb = env.sb()
    for name in ("lst-b", "lst-a", "lst-c"):
        assert_status(
            sb.http.post(CONFIG, json=body(name, issuer="i" + name), headers=sb.auth), 201
        )
    listed = sb.get(CONFIG).json()
    names = [item["name"] for item in listed]
    assert names == sorted(names) and {"lst-a", "lst-b", "lst-c"} <= set(names)
    assert sb.get(CONFIG, params={"keys": "true"}).json() == names
    assert sb.get(STATE, params={"keys": "true"}).json() == names
    assert sb.get(CONFIG, params={"count": "true"}).json() == {"count": len(names)}
    assert sb.get(STATE, params={"count": "true", "validate": "true"}).json() == {
        "count": len(names)
    }
    one = sb.get(f"{CONFIG}/lst-a", params={"fields": "digits;issuer"}).json()
    assert one == {"name": "lst-a", "digits": 6, "issuer": "ilst-a"}
    commas = sb.get(CONFIG, params={"fields": "issuer,nosuch"}).json()
    assert {"name": "lst-a", "issuer": "ilst-a"} in commas and all(len(i) == 2 for i in commas)
    assert sb.get(f"{CONFIG}/lst-a", params={"fields": "nosuch"}).json() == {"name": "lst-a"}
    assert sb.get(f"{CONFIG}/lst-a", params={"validate": "true"}).status_code == 200
    for params in (
        {"fields": ""},
        {"fields": ";"},
        {"keys": "yes"},
        {"count": "1"},
        {"validate": "x"},
    ):
        assert_status(sb.get(CONFIG, params=params), 400)


def test_state_content_and_site(env: Env) -> None:
    sb = env.sb()
    assert_status(sb.http.post(CONFIG, json=body("st"), headers=sb.auth), 201)
    full = sb.get(f"{STATE}/st").json()
    config = sb.get(f"{STATE}/st", params={"content": "config"}).json()
    nonconfig = sb.get(f"{STATE}/st", params={"content": "nonconfig"}).json()
    assert config == sb.get(f"{CONFIG}/st").json()
    assert nonconfig == {"name": "st", "url": full["url"], "creation-time": full["creation-time"]}
    assert sb.get(f"{STATE}/st", params={"content": "all"}).json() == full
    listed = sb.get(STATE, params={"content": "nonconfig", "fields": "url"}).json()
    assert {"name": "st", "url": full["url"]} in listed
    assert sb.get(f"{STATE}/st", params={"site": "local"}).json() == full
    assert sb.get(STATE, params={"site": "local", "keys": "true"}).status_code == 200
    for path in (STATE, f"{STATE}/st"):
        assert_status(sb.get(path, params={"site": "elsewhere"}), 404)
        assert "site" in message(sb.get(path, params={"site": "elsewhere"}))
        assert_status(sb.get(path, params={"content": "bogus"}), 400)


def test_post_validate_and_conflict(env: Env) -> None:
    sb = env.sb()
    dry = sb.http.post(CONFIG, params={"validate": "true"}, json=body("dry"), headers=sb.auth)
    assert_status(dry, 201)
    assert_status(sb.get(f"{CONFIG}/dry"), 404)
    assert_status(sb.http.post(CONFIG, json=body("dup"), headers=sb.auth), 201)
    again = sb.http.post(CONFIG, json=body("dup"), headers=sb.auth)
    assert_status(again, 409)
    assert message(again) == "instance exists"
    dry_dup = sb.http.post(CONFIG, params={"validate": "true"}, json=body("dup"), headers=sb.auth)
    assert_status(dry_dup, 409)
    bad = sb.http.post(
        CONFIG, params={"validate": "true"}, json=body("x", digits=5), headers=sb.auth
    )
    assert_status(bad, 400)


def test_put_creates_then_replaces(env: Env) -> None:
    sb = env.sb()
    raw = secret()
    created = sb.http.put(
        f"{CONFIG}/put1", json={"passcode32": b32(raw), "digits": 8}, headers=sb.auth
    )
    assert_status(created, 201)
    assert created.headers["location"] == f"{CONFIG}/put1"
    replaced = sb.http.put(f"{CONFIG}/put1", json={"name": "put1", "issuer": "x"}, headers=sb.auth)
    assert_status(replaced, 204)
    got = sb.get(f"{CONFIG}/put1").json()
    assert got["digits"] == 6 and got["issuer"] == "x", "a replace resets what it leaves out"
    assert got["passcode32"] == b32(raw), "same key size and no passcode32: the secret stays"
    rotated = sb.http.put(f"{CONFIG}/put1", json={"key-size": 32}, headers=sb.auth)
    assert_status(rotated, 204)
    new_secret = sb.get(f"{CONFIG}/put1").json()["passcode32"]
    assert new_secret != b32(raw)
    register_b32(new_secret)
    mismatch = sb.http.put(f"{CONFIG}/put1", json={"name": "other"}, headers=sb.auth)
    assert_status(mismatch, 400)


def test_put_validate_changes_nothing(env: Env) -> None:
    sb = env.sb()
    dry_new = sb.http.put(
        f"{CONFIG}/pv", params={"validate": "true"}, json=body("pv"), headers=sb.auth
    )
    assert_status(dry_new, 201)
    assert_status(sb.get(f"{CONFIG}/pv"), 404)
    assert_status(sb.http.put(f"{CONFIG}/pv", json=body("pv"), headers=sb.auth), 201)
    before = sb.get(f"{CONFIG}/pv").json()
    dry = sb.http.put(
        f"{CONFIG}/pv", params={"validate": "true"}, json={"digits": 8}, headers=sb.auth
    )
    assert_status(dry, 204)
    assert sb.get(f"{CONFIG}/pv").json() == before


def test_patch_merge_json_and_yaml(env: Env) -> None:
    sb = env.sb()
    assert_status(sb.http.post(CONFIG, json=body("mp", issuer="acme"), headers=sb.auth), 201)
    before = sb.get(f"{CONFIG}/mp").json()
    assert_status(sb.http.patch(f"{CONFIG}/mp", json={"digits": 8}, headers=sb.auth), 204)
    yaml_patch = {"Content-Type": "application/yaml", **sb.auth}
    assert_status(
        sb.http.patch(f"{CONFIG}/mp", content="skew: 2\nperiod: 1m\n", headers=yaml_patch), 204
    )
    after = sb.get(f"{CONFIG}/mp").json()
    assert after == {**before, "digits": 8, "skew": 2, "period": "1m"}
    assert_status(sb.http.patch(f"{CONFIG}/mp", json={"issuer": None}, headers=sb.auth), 204)
    assert sb.get(f"{CONFIG}/mp").json()["issuer"] == "unknown", "null removes: the default"
    dry = sb.http.patch(
        f"{CONFIG}/mp", params={"validate": "true"}, json={"digits": 7}, headers=sb.auth
    )
    assert_status(dry, 204)
    assert sb.get(f"{CONFIG}/mp").json()["digits"] == 8
    for bad in ({"name": "renamed"}, {"digits": "8"}, {"nosuch": 1}, [1]):
        assert_status(sb.http.patch(f"{CONFIG}/mp", json=bad, headers=sb.auth), 400)
    assert_status(sb.http.patch(f"{CONFIG}/missing", json={"digits": 8}, headers=sb.auth), 404)


def test_patch_json_patch(env: Env) -> None:
    sb = env.sb()
    assert_status(sb.http.post(CONFIG, json=body("jp", issuer="acme"), headers=sb.auth), 201)
    json_patch = {"Content-Type": "application/json-patch+json", **sb.auth}
    raw = secret(32)
    ops = [
        {"op": "test", "path": "/digits", "value": 6},
        {"op": "replace", "path": "/digits", "value": 8},
        {"op": "remove", "path": "/issuer"},
        {"op": "replace", "path": "/passcode32", "value": b32(raw)},
    ]
    assert_status(sb.http.patch(f"{CONFIG}/jp", json=ops, headers=json_patch), 204)
    got = sb.get(f"{CONFIG}/jp").json()
    assert (got["digits"], got["issuer"], got["passcode32"], got["key-size"]) == (
        8,
        "unknown",
        b32(raw),
        32,
    )
    failing = [
        {"op": "test", "path": "/digits", "value": 6},
        {"op": "replace", "path": "/skew", "value": 3},
    ]
    for bad in (
        failing,
        {"digits": 8},
        [{"op": "nope", "path": "/x"}],
        [{"op": "add", "path": "/x", "value": 1}],
    ):
        assert_status(sb.http.patch(f"{CONFIG}/jp", json=bad, headers=json_patch), 400)
    assert sb.get(f"{CONFIG}/jp").json() == got


def test_delete(env: Env) -> None:
    sb = env.sb()
    assert_status(sb.http.post(CONFIG, json=body("del"), headers=sb.auth), 201)
    assert_status(
        sb.http.delete(f"{CONFIG}/del", params={"validate": "true"}, headers=sb.auth), 204
    )
    assert_status(sb.get(f"{CONFIG}/del"), 200)
    assert_status(sb.http.delete(f"{CONFIG}/del", headers=sb.auth), 204)
    assert_status(sb.get(f"{CONFIG}/del"), 404)
    assert_status(sb.http.delete(f"{CONFIG}/del", headers=sb.auth), 404)
    assert_status(sb.http.post(f"{STATE}/del/get-code", headers=sb.auth), 404)


def test_etags_and_preconditions(env: Env) -> None:
    sb = env.sb()
    assert_status(sb.http.post(CONFIG, json=body("tag"), headers=sb.auth), 201)
    tag = sb.get(f"{CONFIG}/tag").headers["etag"]
    assert sb.get(f"{STATE}/tag").headers["etag"] == tag
    not_modified = get(sb, f"{CONFIG}/tag", headers={"If-None-Match": f"W/{tag}"})
    assert_status(not_modified, 304)
    assert not_modified.headers["etag"] == tag and not_modified.content == b""
    assert_status(get(sb, f"{CONFIG}/tag", headers={"If-Match": '"stale"'}), 412)
    assert_status(get(sb, f"{CONFIG}/tag", headers={"If-Match": tag}), 200)
    stale = {"If-Match": '"stale"', **sb.auth}
    assert_status(sb.http.put(f"{CONFIG}/tag", json={"digits": 8}, headers=stale), 412)
    assert_status(sb.http.patch(f"{CONFIG}/tag", json={"digits": 8}, headers=stale), 412)
    assert_status(sb.http.delete(f"{CONFIG}/tag", headers=stale), 412)
    assert sb.get(f"{CONFIG}/tag").headers["etag"] == tag, "nothing changed"
    fresh = {"If-Match": tag, **sb.auth}
    assert_status(sb.http.patch(f"{CONFIG}/tag", json={"digits": 8}, headers=fresh), 204)
    assert sb.get(f"{CONFIG}/tag").headers["etag"] != tag
    exists = {"If-None-Match": "*", **sb.auth}
    assert_status(sb.http.put(f"{CONFIG}/tag", json={}, headers=exists), 412)
    assert_status(sb.http.put(f"{CONFIG}/tag-new", json=body("tag-new"), headers=exists), 201)
    any_match = {"If-Match": "*", **sb.auth}
    assert_status(sb.http.put(f"{CONFIG}/tag-none", json=body("tag-none"), headers=any_match), 412)


def test_if_match_is_a_compare_and_set_under_concurrency(env: Env) -> None:
    """Eight writers holding one ETag at once: exactly one wins, the rest get 412 (no lost
    update), for PUT, PATCH and DELETE alike."""
    sb = env.sb()
    assert_status(sb.http.post(CONFIG, json=body("race"), headers=sb.auth), 201)

    def burst(send: Callable[[httpx.Client, dict[str, str], int], httpx.Response]) -> list[int]:
        tag = sb.get(f"{CONFIG}/race").headers["etag"]
        headers = {"If-Match": tag, **sb.auth}
        barrier = threading.Barrier(8)
        statuses: list[int] = []

        def writer(i: int) -> None:
            with httpx.Client(base_url=env.url, timeout=30) as http:
                barrier.wait()
                statuses.append(send(http, headers, i).status_code)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sorted(statuses)

    def put(http: httpx.Client, headers: dict[str, str], i: int) -> httpx.Response:
        return http.put(f"{CONFIG}/race", json={**body("race"), "issuer": f"p{i}"}, headers=headers)

    def patch(http: httpx.Client, headers: dict[str, str], i: int) -> httpx.Response:
        return http.patch(f"{CONFIG}/race", json={"issuer": f"q{i}"}, headers=headers)

    def delete(http: httpx.Client, headers: dict[str, str], i: int) -> httpx.Response:
        return http.delete(f"{CONFIG}/race", headers=headers)

    assert burst(put) == [204] + [412] * 7
    assert burst(patch) == [204] + [412] * 7
    deleted = burst(delete)  # a loser that looks after the winner finds nothing: 404
    assert deleted[0] == 204 and set(deleted[1:]) <= {404, 412}


def test_list_etag(env: Env) -> None:
    sb = env.sb()
    tag = sb.get(CONFIG).headers["etag"]
    assert_status(get(sb, CONFIG, headers={"If-None-Match": tag}), 304)
    assert_status(get(sb, STATE, headers={"If-Match": '"x"'}), 412)
    assert_status(sb.http.post(CONFIG, json=body("ltag"), headers=sb.auth), 201)
    assert sb.get(CONFIG).headers["etag"] != tag
    assert_status(get(sb, CONFIG, headers={"If-None-Match": tag}), 200)


ALLOW = {
    "/v1/login": "POST, OPTIONS",
    "/v1/state/strongbox/token/refresh": "POST, OPTIONS",
    CONFIG: "GET, POST, HEAD, OPTIONS",
    f"{CONFIG}/x": "GET, PUT, PATCH, DELETE, HEAD, OPTIONS",
    STATE: "GET, HEAD, OPTIONS",
    f"{STATE}/x": "GET, HEAD, OPTIONS",
    f"{STATE}/x/get-code": "POST, OPTIONS",
    f"{STATE}/x/get-qr-code": "POST, OPTIONS",
    f"{STATE}/x/verify-code": "POST, OPTIONS",
    "/v1/openapi.json": "GET, HEAD, OPTIONS",
}


def test_options_allow_and_405(env: Env) -> None:
    with env.server.client() as http:
        for path, allow in ALLOW.items():
            options = http.options(path)
            assert_status(options, 204)
            assert options.headers["allow"] == allow
            for method in ("PUT", "TRACE", "CONNECT"):
                if method not in allow:
                    refused = http.request(method, path)
                    assert_status(refused, 405)
                    assert refused.headers["allow"] == allow
        assert_status(http.get("/v1/nothing/here"), 404)
        assert_status(http.get(f"{CONFIG}/a/b"), 404)


def test_head_is_get_without_a_body(env: Env) -> None:
    sb = env.sb()
    assert_status(sb.http.post(CONFIG, json=body("hd"), headers=sb.auth), 201)
    get = sb.get(f"{CONFIG}/hd")
    head = sb.http.head(f"{CONFIG}/hd", headers=sb.auth)
    assert_status(head, 200)
    assert head.content == b"" and head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == get.headers["content-length"]
    assert_status(sb.http.head(f"{CONFIG}/hd"), 401)
    assert_status(sb.http.head(f"{CONFIG}/nosuch", headers=sb.auth), 404)
