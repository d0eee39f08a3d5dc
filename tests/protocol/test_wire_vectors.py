"""Golden vectors: each sample encodes to exactly its frozen octets and decodes back."""
import pytest

from nf.wire import decode, encode
from tests.protocol.vectors import SAMPLES, load_golden

GOLDEN = load_golden()


def test_every_sample_has_a_golden_vector():
    assert set(GOLDEN) == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_encode_gives_the_golden_octets(name):
    message, src, dst = SAMPLES[name]
    assert encode(message, src, dst).hex() == GOLDEN[name].hex()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_decode_of_the_golden_octets_gives_the_sample(name):
    message, src, dst = SAMPLES[name]
    assert decode(GOLDEN[name], src, dst) == message


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_golden_octets_are_a_whole_number_of_8_octet_units(name):
    octets = GOLDEN[name]
    assert len(octets) % 8 == 0
    assert octets[1] == len(octets) // 8 - 1  # Header Len (RFC 6275 §6.1.1)
    assert octets[0] == 59  # Payload Proto IPPROTO_NONE
