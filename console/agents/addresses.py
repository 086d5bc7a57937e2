"""An agent's address written one way: E.164 numbers as ``+`` and digits, SIP URIs lower-cased without parameters.

The directory stores addresses in this form and a leg's ``from``/``to`` is read the same way, so
``sip:Alice@Agents.CallCenter.example;transport=tls`` and ``sip:alice@agents.callcenter.example``
are one address, as are ``+1 (312) 555-0123`` and ``+13125550123``.
"""

from __future__ import annotations

import re

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# Separators people write inside a phone number; nothing else may sit between its digits.
_NUMBER_DRESSING = re.compile(r"[\s().\-]")
_SIP = re.compile(r"sips?:(?P<user>[^@\s;?<>]+)@(?P<host>[a-z0-9](?:[a-z0-9.\-]*[a-z0-9])?|\[[0-9a-f:.]+\])"
                  r"(?P<port>:[0-9]{1,5})?")
# Where a list of addresses in one field (a CSV cell, a form box) is split. A ";" also starts a SIP
# URI's parameters, so a piece that reads as one (`transport=tls`) stays with the URI before it.
SEPARATORS = re.compile(r"[|,\n]")
_SIP_PARAMETER = re.compile(r"[A-Za-z0-9\-_.!~*'%]+=[A-Za-z0-9\-_.!~*'%\[\]:]*")


class AddressError(ValueError):
    """Text that is neither an E.164 number nor a SIP URI; the message says which rule it broke."""


def normalise(text: str | None) -> str:
    """The one way the directory writes this address; AddressError when it is not one."""
    raw = (text or "").strip()
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1].strip()
    if not raw:
        raise AddressError("an address is empty: give an E.164 number (+13125550123) or a SIP URI (sip:name@domain)")
    lowered = raw.lower()
    if lowered.startswith(("sip:", "sips:")):
        bare = re.split(r"[;?]", lowered, maxsplit=1)[0]
        found = _SIP.fullmatch(bare)
        if found is None:
            raise AddressError(f"“{raw}” is not a SIP URI: write it as sip:name@domain")
        return f"sip:{found['user']}@{found['host']}{found['port'] or ''}"
    number = _NUMBER_DRESSING.sub("", lowered.removeprefix("tel:"))
    if E164.fullmatch(number):
        return number
    if number.lstrip("+").isdigit():
        raise AddressError(f"“{raw}” is not an E.164 number: write + then the country code and number, "
                           "at most 15 digits (+13125550123)")
    raise AddressError(f"“{raw}” is neither an E.164 number (+13125550123) nor a SIP URI (sip:name@domain)")


def of_leg(value) -> str | None:
    """A leg's ``from`` or ``to`` as the directory writes addresses, or None when it is not an address."""
    if not isinstance(value, str):
        return None
    try:
        return normalise(value)
    except AddressError:
        return None


def split(text: str | None) -> list[str]:
    """The addresses in one field, separated by ``;`` or ``|`` (or commas and new lines), blanks dropped.

    ``sip:bob@pbx.example;transport=udp;+13125550102`` is two addresses: the URI keeps its parameter.
    """
    found: list[str] = []
    for part in SEPARATORS.split(text or ""):
        for piece in part.split(";"):
            piece = piece.strip()
            if found and _SIP_PARAMETER.fullmatch(piece) and found[-1].lower().startswith(("sip:", "sips:")):
                found[-1] += ";" + piece
            elif piece:
                found.append(piece)
    return found
