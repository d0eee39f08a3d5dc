"""Login with RFC 7317 crypt-hash passwords and configured SSH public keys."""
from __future__ import annotations

import base64
from pathlib import Path

import paramiko
import pytest
from ncclient import manager
from ncclient.transport.errors import AuthenticationError

from mgmt.netconf.credentials import CredentialError, check_crypt_hash, public_key, verify_password
from mgmt.netconf_service import netconf_credentials
from nf.settings import NetconfUser
from tests.netconf.conftest import ServerFactory

# Made by a second implementation: `openssl passwd -1|-5|-6 -salt abcdefgh admin`
OPENSSL_HASHES = {
    "md5": "$1$abcdefgh$l/LAqC8oJERu7Cmx6trtY/",
    "sha-256": "$5$abcdefgh$eKmO8qqatxyseBbtE4o3nrolLfuFP7p82NOMAwOerUC",
    "sha-512": "$6$abcdefgh$Jofd.FZRLVyYwt/zWLWzi7cPbdUfgEgHrcdJLmkXy8uHwCGSf90RMkKTVTj0nhlkfJpZY94qtrpFrWz1mwRvH1",
}


@pytest.mark.parametrize("stored", OPENSSL_HASHES.values(), ids=OPENSSL_HASHES.keys())
def test_hashed_password_matches_only_its_password(stored):
    assert verify_password(stored, "admin")
    assert not verify_password(stored, "admin ")
    assert not verify_password(stored, "")


def test_clear_text_password():
    assert verify_password("$0$admin", "admin")
    assert not verify_password("$0$admin", "Admin")


@pytest.mark.parametrize("stored", ["admin", "$2b$10$abcdefghijklmnopqrstuv", "$6$", "", "$9$x$y"])
def test_unusable_hashes_never_match_and_are_rejected_up_front(stored):
    assert not verify_password(stored, "admin")
    with pytest.raises(CredentialError):
        check_crypt_hash(stored)


def test_password_with_nul_byte_is_refused_not_crashing():
    assert not verify_password(OPENSSL_HASHES["sha-512"], "ad\x00min")


def test_public_key_from_configured_algorithm_and_blob():
    key = paramiko.ECDSAKey.generate()
    assert public_key("ecdsa-sha2-nistp256", key.asbytes()) == key


@pytest.mark.parametrize("algorithm, blob", [
    ("ssh-rsa", paramiko.ECDSAKey.generate().asbytes()),  # blob of another type
    ("ssh-unknown", b"\x00\x00\x00\x01x"),
    ("ecdsa-sha2-nistp256", b"garbage"),
])
def test_bad_authorized_keys_get_a_typed_error(algorithm, blob):
    with pytest.raises(CredentialError):
        public_key(algorithm, blob)


def test_credentials_skip_bad_entries_and_keep_good_ones(caplog):
    good_key = paramiko.ECDSAKey.generate()
    users = [
        NetconfUser("alice", OPENSSL_HASHES["sha-512"], (("ecdsa-sha2-nistp256", good_key.asbytes()),)),
        NetconfUser("bob", "$2b$unsupported", (("ssh-rsa", b"junk"),)),
    ]
    passwords, keys = netconf_credentials(users)
    assert passwords == {"alice": OPENSSL_HASHES["sha-512"]}
    assert keys == {"alice": [good_key]}
    assert "bob" in caplog.text


def _connect(server, **kwargs) -> manager.Manager:
    return manager.connect(host="::1", port=server.port, hostkey_verify=False, allow_agent=False,
                           look_for_keys=False, timeout=10, **kwargs)


def test_ssh_login_with_sha512_hash(servers: ServerFactory):
    server = servers.start(password_hashes={"ops": OPENSSL_HASHES["sha-512"]})
    with _connect(server, username="ops", password="admin") as mgr:
        assert mgr.connected
    with pytest.raises(AuthenticationError):
        _connect(server, username="ops", password="wrong")


def test_ssh_login_with_configured_public_key(servers: ServerFactory, tmp_path: Path):
    key = paramiko.ECDSAKey.generate()
    key_file = tmp_path / "id_ecdsa"
    key.write_private_key_file(str(key_file))
    blob = base64.b64decode(base64.b64encode(key.asbytes()))  # as the YANG binary leaf carries it
    _, keys = netconf_credentials([NetconfUser("robot", None, (("ecdsa-sha2-nistp256", blob),))])
    server = servers.start(authorized_keys=keys)
    with _connect(server, username="robot", key_filename=str(key_file)) as mgr:
        assert mgr.connected
    other = tmp_path / "other"
    paramiko.ECDSAKey.generate().write_private_key_file(str(other))
    with pytest.raises(AuthenticationError):
        _connect(server, username="robot", key_filename=str(other))
