"""`otpd tenant create/update/show` with the PhenixID settings, and `otpd serve`'s TLS options,
as subprocesses (docs/api-phenixid.md; issue #6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trustme

from tests.support.server import run_cli


def _cli(data_dir: Path, *args: str) -> tuple[int, dict[str, object] | None, str]:
    result = run_cli(*args, "--data-dir", str(data_dir))
    shown = json.loads(result.stdout) if result.returncode == 0 else None
    return result.returncode, shown, result.stderr


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("otpd: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_create_show_update(data_dir: Path) -> None:
    code, shown, _ = _cli(data_dir, "tenant", "create", "ot")
    assert code == 0 and shown == {
        "tenant": "ot",
        "phenixid-auth": "basic",
        "allowed-operations": ["otp_token_auth"],
        "client-cert-subjects": [],
        "issuer": None,
    }
    code, shown, err = _cli(
        data_dir, "tenant", "update", "ot", "--phenixid-auth", "client-cert",
        "--client-cert-subject", r"CN=J\C3\A9r\C3\B4me,O=Acme AB,C=SE",
        "--client-cert-subject", "cn=gateway,o=Acme AB",
    )  # fmt: skip
    assert code == 0 and shown is not None
    assert shown["phenixid-auth"] == "client-cert"
    assert shown["client-cert-subjects"] == ["CN=Jérôme,O=Acme AB,C=SE", "CN=gateway,O=Acme AB"]
    assert err == ""
    code, shown, _ = _cli(data_dir, "tenant", "show", "ot")
    assert shown is not None and shown["client-cert-subjects"] == [
        "CN=Jérôme,O=Acme AB,C=SE",
        "CN=gateway,O=Acme AB",
    ]
    assert shown["allowed-operations"] == ["otp_token_auth"]  # untouched by the update
    # a given list replaces the old one; --clear-client-cert-subjects empties it (and warns)
    code, shown, err = _cli(data_dir, "tenant", "update", "ot", "--clear-client-cert-subjects")
    assert code == 0 and shown is not None and shown["client-cert-subjects"] == []
    assert err.startswith("otpd: warning: no client certificate subject may call ot")
    code, shown, _ = _cli(data_dir, "tenant", "update", "ot", "--allowed-operation", "")
    assert shown is not None and shown["allowed-operations"] == []
    code, shown, _ = _cli(
        data_dir, "tenant", "update", "ot", "--allowed-operation", "otp_token_auth,otp_token_auth"
    )
    assert shown is not None and shown["allowed-operations"] == ["otp_token_auth"]


def test_create_with_everything_and_mode_none_warns(data_dir: Path) -> None:
    code, shown, err = _cli(
        data_dir, "tenant", "create", "open", "--phenixid-auth", "none",
        "--allowed-operation", "otp_token_auth",
    )  # fmt: skip
    assert code == 0 and shown is not None and shown["phenixid-auth"] == "none"
    assert err.strip() == "otpd: warning: PhenixID callers of open are not authenticated"


@pytest.mark.parametrize(
    "options",
    [
        ["--allowed-operation", "sendSMS"],
        ["--allowed-operation", "otp_token_auth,OTP_TOKEN_AUTH"],
        ["--client-cert-subject", "client-a"],
        ["--client-cert-subject", "/C=SE/O=Acme AB/CN=client-a"],
        ["--client-cert-subject", ""],
    ],
)
def test_bad_settings_are_one_line_errors_and_write_nothing(
    data_dir: Path, options: list[str]
) -> None:
    code, _, err = _cli(data_dir, "tenant", "create", "bad", *options)
    assert code == 1
    line = _one_error_line(err)
    assert "allowed-operation" in line or "client-cert-subject" in line
    code, _, err = _cli(data_dir, "tenant", "show", "bad")
    assert code == 1 and "no such tenant" in err


def test_bad_mode_is_a_usage_error(data_dir: Path) -> None:
    code, _, err = _cli(data_dir, "tenant", "create", "x", "--phenixid-auth", "cert")
    assert code == 2 and _one_error_line(err)


# --- serve's TLS settings -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--tls-cert", "/nonexistent/cert.pem"], {}, "cannot load TLS certificate/key"),
        (["--tls-key", "/nonexistent/key.pem"], {}, "need --tls-cert"),
        (["--tls-client-ca", "/nonexistent/ca.pem"], {}, "need --tls-cert"),
        ([], {"OTPD_TRUSTED_PROXIES": "10.0.0.1,nonsense"}, "trusted_proxies"),
        ([], {"OTPD_CLIENT_CERT_HEADER": "X Bad Header"}, "client_cert_header"),
    ],
)
def test_serve_refuses_bad_tls_settings_with_one_line(
    data_dir: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    result = run_cli("serve", "--data-dir", str(data_dir), "--port", "0", *args, env=env)
    assert result.returncode == 1
    assert expected in _one_error_line(result.stderr)


def test_serve_refuses_a_key_that_does_not_match(data_dir: Path, tmp_path: Path) -> None:
    ca = trustme.CA()
    first, second = ca.issue_cert("127.0.0.1"), ca.issue_cert("127.0.0.1")
    first.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    second.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    result = run_cli(
        "serve", "--data-dir", str(data_dir), "--port", "0",
        "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem"),
        "--tls-client-ca", str(tmp_path / "ca.pem"),
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot load TLS certificate/key" in _one_error_line(result.stderr)
