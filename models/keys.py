"""Lianka's two keys, held outside the database.

``LIANKA_DATA_KEY`` seals personal data at rest (reporters' names and phones, the link between an
anonymous case and its reporter's chat, TOTP secrets): AES-256-GCM from pyca/cryptography, each
value stored as ``v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`` and bound to where it is
kept (its table, column and row), so a value copied to another row does not open.

``LIANKA_AUDIT_KEY`` keys the audit chain (each event's link is an HMAC-SHA256) and the keyed
hashes: receipt codes (a pepper), the blind index that finds a reporter by phone, the digests of
what was reported. Sub-keys for each use are derived with HKDF, so one use never leaks another.

Both are 32 random bytes written in base64url (``lianka keys generate``). The process holds one
``Keyring``, installed at start-up from the environment; without one, sealing, hashing and
recording events raise ``KeysNotLoaded`` — never a silent plain-text fallback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
SEALED_PREFIX = "v1"


class KeyProblem(Exception):
    """A key that is missing, malformed or not the one the data was written with."""


class KeysNotLoaded(KeyProblem):
    """Something needed a key before the process installed its keyring."""


class SealBroken(KeyProblem):
    """A sealed value that does not open: another key, another place, or tampered with."""


def generate_key() -> str:
    """A fresh key: 32 bytes from the OS's CSPRNG, base64url without padding (43 characters)."""
    return key_text(os.urandom(KEY_BYTES))


def key_text(key: bytes) -> str:
    """A key as ``parse_key`` reads it: base64url without padding."""
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii")


def parse_key(text: str, name: str) -> bytes:
    """The 32 bytes a key's text stands for, or KeyProblem naming the variable."""
    value = text.strip()
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise KeyProblem(
            f"{name} 格式不正确：应为 lianka keys generate 生成的43个字符 "
            f"({name} must be 32 bytes in base64url, as printed by `lianka keys generate`)"
        )
    return raw


def _derive(key: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"lianka/{purpose}".encode()
    ).derive(key)


def key_id(key: bytes) -> str:
    """A short public name of a key (8 hex digits), stored beside what it sealed or signed."""
    return hmac.new(_derive(key, "key-id"), b"lianka", hashlib.sha256).hexdigest()[:8]


@dataclass(frozen=True)
class Keyring:
    """The data key (and older data keys still able to open what they sealed) and the audit key."""

    data_key: bytes
    audit_key: bytes
    old_data_keys: tuple[bytes, ...] = ()
    _data_by_id: dict[str, AESGCM] = field(init=False, repr=False, compare=False)
    _audit_subkeys: dict[str, bytes] = field(init=False, repr=False, compare=False)
    _audit_macs: dict[str, hmac.HMAC] = field(init=False, repr=False, compare=False)
    _data_key_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ciphers = {key_id(k): AESGCM(k) for k in (*self.old_data_keys, self.data_key)}
        object.__setattr__(self, "_data_by_id", ciphers)
        object.__setattr__(self, "_audit_subkeys", {})
        object.__setattr__(self, "_audit_macs", {})
        # named once: sealing a value named it again (an HKDF derivation) each time
        object.__setattr__(self, "_data_key_id", key_id(self.data_key))

    def __repr__(self) -> str:
        return f"Keyring(data={self.data_key_id}, audit={self.audit_key_id})"

    @property
    def data_key_id(self) -> str:
        return self._data_key_id

    @property
    def audit_key_id(self) -> str:
        return key_id(self.audit_key)

    @property
    def data_key_ids(self) -> frozenset[str]:
        """Every data key this keyring can open values with: the current and the old ones."""
        return frozenset(self._data_by_id)

    # --- sealing personal data -------------------------------------------------------------

    def seal(self, plaintext: str, *, context: str) -> str:
        """``plaintext`` encrypted and authenticated under the current data key, bound to
        ``context`` (e.g. ``"reporter_contacts.phone:42"``)."""
        kid = self.data_key_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._data_by_id[kid].encrypt(nonce, plaintext.encode("utf-8"), _aad(kid, context))
        body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{SEALED_PREFIX}:{kid}:{body}"

    def open(self, sealed: str, *, context: str) -> str:
        """The plaintext of a value ``seal`` made with any key of this keyring, or SealBroken."""
        kid, body = _split(sealed)
        cipher = self._data_by_id.get(kid)
        if cipher is None:
            raise SealBroken(
                f"数据由密钥 {kid} 加密，但未提供该密钥 (sealed with key {kid}, which is not loaded: "
                "set it in LIANKA_OLD_DATA_KEYS)"
            )
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(kid, context))
        except InvalidTag:
            raise SealBroken(f"sealed value does not open for {context.split(':')[0]}") from None
        return plain.decode("utf-8")

    def needs_reseal(self, sealed: str) -> bool:
        """True when ``sealed`` was made with an older data key (``lianka keys rotate``)."""
        return _split(sealed)[0] != self.data_key_id

    # --- keyed hashes ---------------------------------------------------------------------

    def _subkey(self, purpose: str) -> bytes:
        subkey = self._audit_subkeys.get(purpose)
        if subkey is None:
            subkey = _derive(self.audit_key, purpose)
            self._audit_subkeys[purpose] = subkey
        return subkey

    def mac(self, purpose: str, message: bytes) -> str:
        """HMAC-SHA256 of ``message`` under the audit key's sub-key for ``purpose`` (hex): the
        stdlib's HMAC keyed once per purpose (its key's pads hashed), copied for each message
        (about half the work of ``hmac.digest``, which keys it again each call)."""
        keyed = self._audit_macs.get(purpose)
        if keyed is None:
            keyed = hmac.new(self._subkey(purpose), digestmod=hashlib.sha256)
            self._audit_macs[purpose] = keyed
        each = keyed.copy()
        each.update(message)
        return each.hexdigest()

    def keyed_hash(self, purpose: str, value: str) -> str:
        """A keyed hash of a text: receipt codes (``"receipt"``), the phone blind index
        (``"phone"``), digests of what was reported (``"digest"``). Without the audit key it
        cannot be computed, so a copy of the database gives nothing to guess against."""
        return self.mac(purpose, value.encode("utf-8"))


def _aad(kid: str, context: str) -> bytes:
    return f"{SEALED_PREFIX}|{kid}|{context}".encode()


def _split(sealed: str) -> tuple[str, str]:
    parts = sealed.split(":", 2)
    if len(parts) != 3 or parts[0] != SEALED_PREFIX:
        raise SealBroken("not a sealed value")
    return parts[1], parts[2]


def is_sealed(value: str | None) -> bool:
    return value is not None and value.startswith(f"{SEALED_PREFIX}:") and value.count(":") >= 2


_current: Keyring | None = None
_why_not: str | None = None


def install(keyring: Keyring) -> None:
    """Make ``keyring`` the process's keys (at start-up, from the environment)."""
    global _current, _why_not
    _current, _why_not = keyring, None


def uninstall(why: str | None = None) -> None:
    """No keys in this process; ``why`` is what ``current()`` will say (a key missing or bad)."""
    global _current, _why_not
    _current, _why_not = None, why


def current() -> Keyring:
    """The process's keys, or KeysNotLoaded: nothing is written unsealed or unkeyed."""
    if _current is None:
        raise KeysNotLoaded(
            _why_not
            or "密钥未载入：请设置 LIANKA_DATA_KEY 和 LIANKA_AUDIT_KEY（lianka init 或 lianka "
            "keys generate 生成） (keys not loaded: set LIANKA_DATA_KEY and LIANKA_AUDIT_KEY)"
        )
    return _current


def loaded() -> bool:
    return _current is not None
