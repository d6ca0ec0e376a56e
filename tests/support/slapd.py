"""A throw-away OpenLDAP server (Debian slapd) for the password+otp tests: its own config and
mdb database in a temporary directory, on a free loopback port, run as the test's own child
process (the system slapd instance, if any, is neither used nor touched)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

SUFFIX = "dc=example,dc=org"
USERS = {"alice": "alice-directory-pw", "bob": "bob-directory-pw", "carol": "carol-dir-pw"}

_CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {root}/slapd.pid
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "cn=admin,{suffix}"
rootpw not-used-by-tests
directory {root}/db
"""


def _ldif() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example",
        f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people",
    ]
    for uid, password in USERS.items():
        entries.append(
            f"dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
            f"cn: {uid}\nsn: {uid}\nuserPassword: {password}"
        )
    return "\n\n".join(entries) + "\n"


class Slapd:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / "slapd.log"

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def start(self) -> Slapd:
        slapd = shutil.which("slapd") or "/usr/sbin/slapd"
        (self.root / "db").mkdir(parents=True)
        config = self.root / "slapd.conf"
        config.write_text(_CONFIG.format(root=self.root, suffix=SUFFIX))
        (self.root / "data.ldif").write_text(_ldif())
        subprocess.run(
            ["/usr/sbin/slapadd", "-f", str(config), "-l", str(self.root / "data.ldif")],
            check=True,
            capture_output=True,
        )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        log = self.log_path.open("wb")
        # -d 256: stats logging (connections, BINDs) to stderr, and stay in the foreground.
        self.proc = subprocess.Popen(
            [slapd, "-f", str(config), "-h", self.url + "/", "-d", "256"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("slapd did not start:\n" + self.log_path.read_text()[-2000:])

    def binds(self, uid: str) -> int:
        """How many BIND requests for that user the directory has received."""
        return self.log_path.read_text().count(f'BIND dn="uid={uid},ou=people,{SUFFIX}"')

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
