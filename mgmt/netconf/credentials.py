"""NETCONF login credentials from the configuration: RFC 7317 crypt-hash passwords and SSH
public keys.

A password is stored as ``iana-crypt-hash:crypt-hash``: ``$0$<clear text>`` (lab only),
``$1$`` (MD5), ``$5$`` (SHA-256) or ``$6$`` (SHA-512) crypt(3) hashes. An authorized key is
its algorithm name and the binary key blob (the base64 part of an OpenSSH public key line).
"""
from __future__ import annotations

import hmac
import re
import warnings
from typing import Mapping, Optional, Sequence

import paramiko

with warnings.catch_warnings():
    # crypt is deprecated (removed in Python 3.13) but is the only stdlib implementation
    # of the $1$/$5$/$6$ hashes RFC 7317 requires; it stays until the runtime moves on.
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

CLEAR_TEXT = "$0$"
HASHED = ("$1$", "$5$", "$6$")  # the iana-crypt-hash features the model enables


class CredentialError(ValueError):
    """A configured password or key the server cannot use; ``str()`` says which and why."""


def check_crypt_hash(stored: str) -> None:
    """Raise CredentialError unless ``stored`` is a crypt-hash this server can verify."""
    if stored.startswith(CLEAR_TEXT):
        return
    if not stored.startswith(HASHED) or stored.count("$") < 3:
        raise CredentialError(f"unsupported crypt-hash {stored[:3]!r}: use $0$, $1$, $5$ or $6$")


def verify_password(stored: str, password: str) -> bool:
    """True when ``password`` matches the crypt-hash ``stored``; compared in constant time."""
    if stored.startswith(CLEAR_TEXT):
        return hmac.compare_digest(stored[len(CLEAR_TEXT):].encode(), password.encode())
    if not stored.startswith(HASHED):
        return False
    try:
        computed = crypt.crypt(password, stored)
    except (OSError, ValueError):  # a malformed salt, or a NUL in the password
        return False
    return computed is not None and hmac.compare_digest(computed.encode(), stored.encode())


def public_key(algorithm: str, key_data: bytes) -> paramiko.PKey:
    """The paramiko key for a configured ``authorized-key`` (algorithm + key blob)."""
    try:
        # the key class checks that the blob holds a key of the named type
        return paramiko.PKey.from_type_string(algorithm, key_data)
    except paramiko.pkey.UnknownKeyType:
        raise CredentialError(f"authorized key type {algorithm!r} is not supported") from None
    except (paramiko.SSHException, ValueError, TypeError, IndexError) as exc:
        raise CredentialError(f"authorized key of type {algorithm!r} cannot be read: {exc}") from None


# characters outside the XML 1.0 Char production (§2.2)
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_representable(username: str) -> bool:
    """RFC 6242 §3: a user name that XML cannot carry gets no NETCONF session."""
    return bool(username) and _NOT_XML_CHAR.search(username) is None


class Credentials:
    """The users who may log in: clear-text passwords (tests), RFC 7317 crypt-hashes and SSH
    public keys. Every check is in constant time for the secret compared."""

    def __init__(self, users: Mapping[str, str],
                 authorized_keys: Optional[Mapping[str, Sequence[paramiko.PKey]]] = None,
                 password_hashes: Optional[Mapping[str, str]] = None) -> None:
        self._passwords = dict(users)  # user -> clear-text password
        self._hashes = dict(password_hashes or {})  # user -> RFC 7317 crypt-hash
        self._keys = {u: list(k) for u, k in (authorized_keys or {}).items()}

    def password_ok(self, username: str, password: str) -> bool:
        if not xml_representable(username):
            return False
        expected = self._passwords.get(username)
        if expected is not None and hmac.compare_digest(expected.encode(), password.encode()):
            return True
        stored = self._hashes.get(username)
        return stored is not None and verify_password(stored, password)

    def key_ok(self, username: str, key: paramiko.PKey) -> bool:
        return xml_representable(username) and any(key == known for known in self._keys.get(username, []))
