"""The embedded seal key file `DATA_DIR/seal.key` (docs/requirements.md#encrypted-at-rest "Embedded
default", docs/requirements.md#key-hierarchy).

The file is text so an operator can see what it is:

    otpd-seal-key v1
    <base64 of 32 random bytes>

It is created once, mode 0600, and replaced only by `otpd rekey` (crypto/rekey.py): a key
file that is missing, unreadable, malformed or readable by others stops start-up with a
ConfigError rather than being "repaired", because a new key would make every stored secret
unreadable.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from otpd.core.errors import ConfigError
from otpd.crypto.aead import KEY_BYTES

__all__ = [
    "KEY_FILE_NAME",
    "NEW_KEY_FILE_NAME",
    "create_key_file",
    "fsync_dir",
    "read_key_file",
    "write_key_file",
]

KEY_FILE_NAME = "seal.key"
NEW_KEY_FILE_NAME = "seal.key.new"  # written by `otpd rekey` beside the old one (crypto.rekey)
_MAGIC = "otpd-seal-key v1"
_MAX_SIZE = 4096


def _encode(key: bytes) -> bytes:
    return f"{_MAGIC}\n{base64.b64encode(key).decode()}\n".encode("ascii")


def read_key_file(path: Path) -> bytes:
    """The seal key in `path`, or ConfigError with a one-line reason (never the key)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise ConfigError(f"seal key file {path} is missing") from None
    except OSError as exc:
        raise ConfigError(f"seal key file {path} is unreadable: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"seal key file {path} is not a regular file")
        if info.st_mode & 0o077:
            # Anyone who reads this file can decrypt every secret
            # (docs/requirements.md#encrypted-at-rest): refuse, do not fix.
            raise ConfigError(
                f"seal key file {path} is accessible by group or others; run: chmod 600 {path}"
            )
        raw = os.read(fd, _MAX_SIZE + 1)
    except OSError as exc:
        raise ConfigError(f"seal key file {path} is unreadable: {exc.strerror}") from None
    finally:
        os.close(fd)
    return _decode(raw, path)


def _decode(raw: bytes, path: Path) -> bytes:
    bad = ConfigError(f"seal key file {path} is corrupt (expected an '{_MAGIC}' key file)")
    try:
        lines = raw.decode("ascii").splitlines()
        if len(raw) > _MAX_SIZE or len(lines) != 2 or lines[0] != _MAGIC:
            raise bad
        key = base64.b64decode(lines[1].strip(), validate=True)
    except (UnicodeDecodeError, binascii.Error):
        raise bad from None
    if len(key) != KEY_BYTES:
        raise bad
    return key


def create_key_file(path: Path) -> bytes:
    """Create `path` holding a new random key and return the key; if another process created it
    first, return the key in its file.

    The key is written to a private temporary file (O_EXCL, 0600) and then hard-linked to its
    name: link never replaces an existing file, and a concurrent reader never sees a half-written
    key file, which a plain O_EXCL create of the final name would allow.
    """
    key = os.urandom(KEY_BYTES)
    try:
        write_key_file(path, key)
    except FileExistsError:
        return read_key_file(path)
    return key


def write_key_file(path: Path, key: bytes) -> None:
    """Write `key` to the new file `path` (0600, durable, all or nothing); FileExistsError if
    `path` exists."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        try:
            os.write(fd, _encode(key))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    # The key must survive a power cut once the keyring that needs it is in the database.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
