"""Run by the privacyIDEA venv's Python (never imported by the suite): enrol a TOTP token in
a real privacyIDEA 3.14 and authenticate with a code, through privacyIDEA's own library.

    python pi_helper.py enrol SERIAL HEXKEY
    python pi_helper.py auth SERIAL CODE        -> prints {"ok": bool, "counter": int}
"""

from __future__ import annotations

import json
import os
import sys

from privacyidea.app import create_app  # type: ignore[import-not-found]


def main() -> None:
    command, serial, value = sys.argv[1:4]
    app = create_app("production", config_file=os.environ["PRIVACYIDEA_CONFIGFILE"], silent=True)
    with app.app_context():
        from privacyidea.lib.token import check_serial_pass, get_one_token, init_token

        if command == "enrol":
            init_token(
                {
                    "type": "totp",
                    "serial": serial,
                    "otpkey": value,
                    "otplen": 6,
                    "timeStep": 30,
                    "hashlib": "sha1",
                }
            )
            print(json.dumps({"ok": True}))
        else:
            ok, _ = check_serial_pass(serial, value)
            counter = get_one_token(serial=serial).token.count
            print(json.dumps({"ok": bool(ok), "counter": counter}))


if __name__ == "__main__":
    main()
