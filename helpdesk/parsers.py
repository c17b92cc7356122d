"""The API's one parser: JSON whose shape is checked before any serializer (or the idempotency hash)
walks it."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No request the API understands nests more than three levels; 32 leaves room for any honest one.
# A deeper body made the decoder (or a serializer after it) raise RecursionError, a server error.
MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"The JSON body is nested more than {MAX_DEPTH} levels deep.") from None
        check_shape(data)
        return data


def check_shape(data):
    """ParseError for a body nested deeper than MAX_DEPTH, or holding a NUL character (PostgreSQL
    refuses NUL in text and in JSON alike, so it could never be stored). One pass, no recursion."""
    pending = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise ParseError("The JSON body contains a NUL character (\\u0000); remove it.")
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth >= MAX_DEPTH:
            raise ParseError(f"The JSON body is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(value, dict):
            pending.extend((key, depth + 1) for key in value)  # keys: only the NUL check applies
            pending.extend((item, depth + 1) for item in value.values())
        else:
            pending.extend((item, depth + 1) for item in value)
