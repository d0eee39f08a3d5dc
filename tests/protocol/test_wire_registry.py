"""The codec's registration step: every message and option class is found by its number,
and each message's fixed part names every field of the class (so decoding builds it by
keyword and no field is left to a position)."""
import dataclasses

from nf import wire
from nf.wire.messages import MESSAGE_CLASSES
from nf.wire.options import OPTION_CLASSES, PARSERS


def test_every_message_class_is_registered_by_its_mh_type():
    registered = {cls for by_subtype in MESSAGE_CLASSES.values() for cls in by_subtype.values()}
    assert registered == {wire.ProxyBindingUpdate, wire.ProxyBindingAck, wire.BindingError, wire.Heartbeat,
                          wire.BindingRevocationIndication, wire.BindingRevocationAck, wire.UpdateNotification,
                          wire.UpdateNotificationAck}
    assert set(MESSAGE_CLASSES) == {5, 6, 7, 13, 16, 19, 20}


def test_each_fixed_part_names_every_field_but_the_options():
    for by_subtype in MESSAGE_CLASSES.values():
        for cls in by_subtype.values():
            fields = {f.name for f in dataclasses.fields(cls)} - {"options"}
            assert sorted(cls.FIXED.names()) == sorted(fields), cls.__name__


def test_every_option_type_has_one_decoding_class():
    assert set(OPTION_CLASSES) == {8, 9, 10, 22, 23, 24, 25, 26, 27, 28, 65, 66, 67, 68, 69, 70}
    assert all(OPTION_CLASSES[t].TYPE == t for t in OPTION_CLASSES)
    assert set(PARSERS) == set(OPTION_CLASSES)


def test_a_second_class_for_a_registered_number_is_refused():
    import pytest

    with pytest.raises(TypeError, match="already HomeNetworkPrefixOption"):
        @dataclasses.dataclass(frozen=True)
        class Imposter(wire.options.MobilityOption):
            TYPE = 22
            prefix: object = None
