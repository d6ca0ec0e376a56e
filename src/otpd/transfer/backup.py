"""`otpd backup` and `otpd restore` for the SQLite store (docs/operations.md, Backups).

The backup is the database file only: secrets stay sealed in it, and the seal key (the key
file, or the Shamir shares) is never part of it. A restore moves replay state back in time,
so it raises every credential's last step to the current step plus its window: no code
accepted before the backup was taken (or after it, by the old server) is accepted again.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

from otpd.bootstrap import SQLITE_FILE
from otpd.core.errors import ConfigError
from otpd.core.ports import CredentialStore
from otpd.crypto import open_seal
from otpd.crypto.keyfile import KEY_FILE_NAME
from otpd.store.sqlite import SqliteStore

__all__ = ["backup", "restore"]


def backup(store: CredentialStore, target: Path) -> None:
    """Copy the live database to `target` (which must not exist), readable by the owner only."""
    if not isinstance(store, SqliteStore):
        raise ConfigError("otpd backup copies SQLite; back up PostgreSQL with pg_dump")
    if target.exists():
        raise ConfigError(f"{target} exists; otpd backup does not overwrite")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        store.backup_to(partial)
        _fsync(partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def restore(source: Path, data_dir: Path, now: int) -> int:
    """Restore `source` into the data directory `data_dir`, which may hold only the seal key
    file (embedded mode) or nothing (Shamir mode). Returns how many credentials it holds."""
    _check_target(data_dir)
    _check_backup(source)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = data_dir / SQLITE_FILE
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src:
            dest = sqlite3.connect(target)
            try:
                src.backup(dest)
            finally:
                dest.close()
        _fsync(target)
        store = SqliteStore(target)
        try:
            _check_seal(store, data_dir)
            return store.raise_replay_floor(now)
        finally:
            store.close()
    except BaseException:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        raise


def _check_target(data_dir: Path) -> None:
    if data_dir.exists():
        if not data_dir.is_dir():
            raise ConfigError(f"{data_dir} is not a directory")
        extra = sorted(p.name for p in data_dir.iterdir() if p.name != KEY_FILE_NAME)
        if extra:
            raise ConfigError(
                f"{data_dir} must be new or hold only {KEY_FILE_NAME}; it holds {extra[0]}"
            )


def _check_backup(source: Path) -> None:
    if not source.is_file():
        raise ConfigError(f"no backup file at {source}")
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as conn:
            if conn.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
                raise ConfigError(f"{source} is damaged (SQLite integrity check failed)")
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError:
        raise ConfigError(f"{source} is not an otpd backup (not an SQLite database)") from None
    if not {"credential", "schema_version", "meta"} <= names:
        raise ConfigError(f"{source} is not an otpd backup")


def _check_seal(store: SqliteStore, data_dir: Path) -> None:
    """Embedded mode needs the key file that opens the backup's keyring; Shamir mode needs
    none (the shares unseal the restored server as they did the old one)."""
    config = json.loads(store.get_meta("seal_config") or '{"mode": "embedded"}')
    key_file = data_dir / KEY_FILE_NAME
    if config.get("mode") == "shamir":
        if key_file.exists():
            raise ConfigError(f"the backup is in Shamir mode: remove {key_file}")
        return
    if not key_file.exists():
        raise ConfigError(f"copy the old server's {KEY_FILE_NAME} into {data_dir} first")
    open_seal(data_dir, store)  # ConfigError when the key file does not open the keyring


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
