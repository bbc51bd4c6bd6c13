"""Tokens at rest: cryptography's MultiFernet over the workspace's keys (FARM_SECRET_KEYS or a 0600 key file).

The first key encrypts; every key decrypts, so a new key can be put in front and the old
ones kept until ``farm accounts rotate-key`` has re-encrypted every token. Plaintext exists
only inside :class:`~farm.platforms.Secret` objects, which never print their value.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from farm.errors import InputError
from farm.platforms import Secret

KEYS_ENV = "FARM_SECRET_KEYS"
KEY_FILE = "secret.key"  # in the workspace's .farm folder


def key_file(state_dir: Path) -> Path:
    return Path(state_dir) / KEY_FILE


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by its owner only (0600 from creation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_key_file(state_dir: Path) -> bool:
    """Create the workspace's key file (mode 0600) with one new key unless it exists; True if made."""
    path = key_file(state_dir)
    if path.exists():
        return False
    _write_private(path, Fernet.generate_key().decode("ascii") + "\n")
    return True


class Keyring:
    """The workspace's encryption keys, newest first.

    Args:
        keys: Fernet keys (urlsafe base64 of 32 bytes), the first one encrypts.
        source: where they came from, for messages (never the keys themselves).
    """

    def __init__(self, keys: list[bytes], *, source: str) -> None:
        if not keys:
            raise InputError(f"{source}: no encryption key (run `farm init`, or set {KEYS_ENV})")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except (ValueError, TypeError):
            raise InputError(f"{source}: not a list of Fernet keys (each is 44 characters of urlsafe base64)") from None
        self._keys = list(keys)
        self.source = source

    def __repr__(self) -> str:
        return f"Keyring({len(self._keys)} keys from {self.source}, primary {self.key_id})"

    @property
    def key_id(self) -> str:
        """A short fingerprint of the encrypting key (stored beside each ciphertext)."""
        return hashlib.sha256(self._keys[0]).hexdigest()[:12]

    @property
    def size(self) -> int:
        return len(self._keys)

    def encrypt(self, secret: Secret) -> bytes:
        return self._fernet.encrypt(secret.reveal().encode("utf-8"))

    def decrypt(self, blob: bytes, *, what: str) -> Secret:
        try:
            return Secret(self._fernet.decrypt(bytes(blob)).decode("utf-8"))
        except InvalidToken:
            raise InputError(f"{what}: the token cannot be decrypted with the keys from {self.source} "
                             "(was the key replaced? add the old key back, or reconnect the account)") from None

    def rotate(self, blob: bytes, *, what: str) -> bytes:
        """The same plaintext encrypted under the primary key."""
        try:
            return self._fernet.rotate(bytes(blob))
        except InvalidToken:
            raise InputError(f"{what}: the token cannot be decrypted with the keys from {self.source}") from None


def _parse(text: str) -> list[bytes]:
    return [part.encode("ascii") for part in text.replace(",", " ").split() if part and not part.startswith("#")]


def load_keyring(state_dir: Path, *, environ: Mapping[str, str] | None = None) -> Keyring:
    """The keys from ``FARM_SECRET_KEYS`` (comma- or space-separated, newest first), else the key file."""
    env = os.environ if environ is None else environ
    raw = env.get(KEYS_ENV, "").strip()
    if raw:
        return Keyring(_parse(raw), source=KEYS_ENV)
    path = key_file(state_dir)
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise InputError(f"{path}: no key file (run `farm init` to make one, or set {KEYS_ENV})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read the key file ({getattr(err, 'strerror', None) or err})") from None
    if mode & 0o077:
        raise InputError(f"{path}: the key file is readable by others (mode {mode:o}); run `chmod 600 {path}`")
    return Keyring(_parse(text), source=str(path))


def add_primary_key(state_dir: Path, keyring: Keyring) -> Keyring:
    """Put a new key in front of the key file's keys (the old ones stay until rotation ends)."""
    new = Fernet.generate_key()
    keys = [new, *keyring._keys]
    _write_private(key_file(state_dir), "\n".join(k.decode("ascii") for k in keys) + "\n")
    return Keyring(keys, source=keyring.source)


def keep_primary_only(state_dir: Path, keyring: Keyring) -> Keyring:
    """Drop every key but the primary from the key file (after every token was re-encrypted)."""
    keys = keyring._keys[:1]
    _write_private(key_file(state_dir), keys[0].decode("ascii") + "\n")
    return Keyring(keys, source=keyring.source)
