"""SSEDecoder: complete events out of a body cut anywhere."""

from __future__ import annotations

import pytest

from apps.providers.clients.sse import SSEDecoder

# An OpenAI-like stream with everything the format allows: comments, other fields, multi-line data,
# CRLF and CR line ends, no space after the colon, a multi-byte character, an event with only an id.
BODY = (
    b": keep-alive\n\n"
    b'data: {"n": 1}\n\n'
    b"event: message\r\nid: 7\r\nretry: 100\r\n"
    b'data: {"text":\r\ndata: "h\xc3\xa9"}\r\n\r\n'
    b"id: 8\n\n"
    b'data:{"n": 3}\r\r'
    b"data: [DONE]\n\n"
)
EVENTS = [b'{"n": 1}', b'{"text":\n"h\xc3\xa9"}', b'{"n": 3}', b"[DONE]"]


def decode(*pieces: bytes) -> list[bytes]:
    decoder = SSEDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return events + decoder.close()


def test_a_whole_body_decodes_to_its_events():
    assert decode(BODY) == EVENTS


@pytest.mark.parametrize("cut", range(1, len(BODY)))
def test_a_body_cut_at_any_byte_decodes_the_same(cut):
    assert decode(BODY[:cut], BODY[cut:]) == EVENTS


def test_a_body_fed_byte_by_byte_decodes_the_same():
    assert decode(*(BODY[i : i + 1] for i in range(len(BODY)))) == EVENTS


def test_events_come_out_as_soon_as_their_blank_line_arrives():
    decoder = SSEDecoder()

    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\ndata: b") == [b"a"]
    assert decoder.feed(b"\n\n") == [b"b"]


def test_a_crlf_split_between_pieces_is_one_line_end():
    decoder = SSEDecoder()

    # "\r" then "\n" is one CRLF: the event must wait for the second line end, which is "\r\n" again.
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r") == [b"a"]
    assert decoder.feed(b"\n") == []


def test_the_last_event_counts_even_without_its_closing_blank_line():
    decoder = SSEDecoder()

    assert decoder.feed(b"data: a\n\ndata: [DONE]") == [b"a"]
    assert decoder.close() == [b"[DONE]"]


def test_comments_and_events_without_data_are_skipped():
    assert decode(b": ping\n\nevent: ping\n\n:\n\n") == []


def test_only_one_space_after_the_colon_is_removed():
    assert decode(b"data:  two spaces\n\n") == [b" two spaces"]


def test_an_empty_data_line_is_an_empty_event():
    assert decode(b"data\n\n") == [b""]
