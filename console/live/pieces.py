"""What one tick draws: the pieces of a page, the catalogue that draws them, and frames built from them.

A piece is one atom of a page (a conference row, a participant card, a tile) as drawn this tick.
The hub asks its catalogue which atoms changed keys touch and draws each once (`draw_changes`),
then builds each page's out-of-band fragments (`fragment_for`) and groups them into the few
WebSocket messages the browser can parse (`messages`). The render process draws with the same
`draw_changes`, so both processes answer alike.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from markupsafe import escape

from console.live.frames import Frame
from console.live.ui import oob

log = logging.getLogger("console.hub")

_ROOT_TAG = re.compile(r"^\s*<([A-Za-z][A-Za-z0-9-]*)")
# The browser parses each message in one context chosen by its first element: a <tr> after a
# <div> is dropped, so table parts travel in messages of their own kind.
_PARSE_GROUP = {"tr": "rows", "tbody": "table-bodies", "thead": "table-bodies", "tfoot": "table-bodies",
                "td": "cells", "th": "cells", "caption": "table-bodies", "colgroup": "table-bodies"}


@dataclass(frozen=True)
class Window:
    """A "newest N" list as a reload would draw it now: its item ids in page order, and the drawings
    of items that may have entered it since the last tick (the rest are already on the pages)."""

    prefix: str
    container: str
    wrapper: str
    ids: tuple[str, ...]
    entering: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Piece:
    """One atom as rendered this tick: its element id, its HTML (None once it is gone) and its list.

    `limit` marks an item of a list that shows only the newest `limit`: its piece redraws or removes
    the item but never adds it; the list's `window` piece decides who is in, so a push keeps the
    list what a reload shows and a huge call center cannot flood a dashboard.
    """

    dom_id: str
    html: str | None
    container: str | None = None
    placement: str = "beforeend"
    wrapper: str = "div"
    order: tuple = ()
    limit: int | None = None
    window: Window | None = None

    # The three fragments a page can need, built once per tick however many pages get them.
    @cached_property
    def replacement(self) -> str:
        return str(oob(self.html)) if self.html is not None else ""

    @cached_property
    def addition(self) -> str:
        target = f"{self.placement}:#{self.container}"
        return f'<{self.wrapper} hx-swap-oob="{escape(target)}">{self.html}</{self.wrapper}>'

    @cached_property
    def deletion(self) -> str:
        return f'<div id="{escape(self.dom_id)}" hx-swap-oob="delete" data-gone="1"></div>'

    def forget_fragments(self) -> None:
        """Drop the fragments built this tick: a catalogue may keep the piece, and it needs only the HTML."""
        for name in _FRAGMENTS:
            self.__dict__.pop(name, None)


_FRAGMENTS = ("replacement", "addition", "deletion")


class Catalogue(Protocol):
    """What the hub needs to know about the pages: which atoms keys touch, and how to render them."""

    def accepts(self, watch: str) -> bool: ...

    def atoms(self, keys: set[str]) -> Iterable[Hashable]: ...

    def topics(self, atom: Hashable) -> set[str]: ...

    def render(self, atom: Hashable) -> Piece: ...

    def snapshot(self, watch: str) -> tuple[list[str], set[str]]: ...


def messages(fragments: Iterable[str]) -> Frame:
    """Group OOB fragments into as few WebSocket messages as the browser's HTML parser allows.

    Order is kept within a group; fragments in different groups target different elements. The
    frame encodes itself for the wire once, however many pages it is sent to (ws_frames).
    """
    groups: dict[str, list[str]] = {}
    for fragment in fragments:
        if not fragment:
            continue
        root = _ROOT_TAG.match(fragment)
        group = _PARSE_GROUP.get(root.group(1).lower(), "flow") if root else "flow"
        groups.setdefault(group, []).append(fragment)
    return Frame("".join(parts) for parts in groups.values())


def fragment_for(piece: Piece, shown: set[str]) -> str:
    """The OOB fragment that brings one browser's copy of `piece` up to date, given what it shows."""
    present = piece.html is not None
    if piece.window is not None:
        return window_fragment(piece.window, shown)
    if piece.container is None:
        return piece.replacement
    if present and piece.dom_id in shown:
        return piece.replacement
    if present:
        if piece.limit is not None:
            return ""
        shown.add(piece.dom_id)
        return piece.addition
    if piece.dom_id in shown:
        shown.discard(piece.dom_id)
        return piece.deletion
    return ""


def window_fragment(window: Window, shown: set[str]) -> str:
    """Bring one page's copy of a "newest N" list to `window`: drop who left, insert who entered in place.

    Every part is wrapped in the list's own element so the whole fragment parses in one context. An
    item that entered but whose drawing did not come this tick stays out until a later tick draws it.
    """
    wanted = set(window.ids)
    wrap = window.wrapper
    parts = []
    for held in sorted(held for held in shown if held.startswith(window.prefix) and held not in wanted):
        shown.discard(held)
        parts.append(f'<{wrap} hx-swap-oob="delete:#{escape(held)}"></{wrap}>')
    drawings = dict(window.entering)
    previous = None
    for item in window.ids:
        if item not in shown:
            html = drawings.get(item)
            if html is None:
                continue
            target = f"afterend:#{previous}" if previous else f"afterbegin:#{window.container}"
            parts.append(f'<{wrap} hx-swap-oob="{escape(target)}">{html}</{wrap}>')
            shown.add(item)
        previous = item
    return "".join(parts)


def draw_changes(catalogue: Catalogue, keys: set[str], watched: set[str]) -> list[tuple[Hashable, Piece, set[str]]]:
    """Render each atom the keys touch that a watched page shows, once: (atom, piece, topics)."""
    drawn = []
    for atom in catalogue.atoms(keys):
        topics = catalogue.topics(atom)
        if not topics & watched:
            continue
        try:
            piece = catalogue.render(atom)
        except Exception:  # one broken atom must not hold back every other change
            log.exception("rendering %r failed", atom)
            continue
        drawn.append((atom, piece, topics))
    return drawn
