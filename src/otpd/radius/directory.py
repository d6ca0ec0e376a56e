"""The first factor of password+otp and challenge modes: an LDAP simple bind (RFC 4513 §5.2)
as the user, against the directory configured on the NAS.

ldap3 (pure Python, so no C toolchain or OpenLDAP headers on the server or in CI). The bind
runs in the RADIUS worker thread, never on the event loop; it is bounded by timeouts.
"""

from __future__ import annotations

import logging

from ldap3 import Connection, Server
from ldap3.core.exceptions import LDAPException
from ldap3.utils.dn import escape_rdn

from otpd.core.nas import NasClient

__all__ = ["bind", "bind_dn"]

log = logging.getLogger("otpd.radius")
TIMEOUT_SECONDS = 5


def bind_dn(template: str, user: str) -> str:
    """The user's DN: `{user}` in the template, escaped (RFC 4514 §2.4) so a User-Name cannot
    change the DN's structure. A UPN template such as `{user}@corp.example` works too."""
    return template.replace("{user}", escape_rdn(user))


def bind(nas: NasClient, user: str, password: str) -> bool:
    """True only if the directory accepts the user's password. An empty password is refused
    here: many directories treat a bind without a password as an anonymous success
    (RFC 4513 §5.1.2, unauthenticated bind)."""
    if not nas.ldap_url or not nas.ldap_bind_dn or not password or not user:
        return False
    try:
        server = Server(nas.ldap_url, connect_timeout=TIMEOUT_SECONDS)
        connection = Connection(
            server,
            user=bind_dn(nas.ldap_bind_dn, user),
            password=password,
            receive_timeout=TIMEOUT_SECONDS,
            raise_exceptions=False,
        )
    except (LDAPException, ValueError) as error:
        log.warning(
            "LDAP settings of tenant=%s nas=%s: %s", nas.tenant, nas.name, type(error).__name__
        )
        return False
    try:
        return bool(connection.bind())
    except (LDAPException, OSError) as error:  # unreachable directory: refuse
        log.warning(
            "LDAP bind for tenant=%s nas=%s failed: %s", nas.tenant, nas.name, type(error).__name__
        )
        return False
    finally:
        connection.unbind()
