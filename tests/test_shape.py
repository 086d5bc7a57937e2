"""Guards the package's shape, so the rooms stay rooms.

No import circles, no import up the declared order of rooms, no tool imported by the product, no
import hidden in a function (outside a short allow-list, each with its reason), no module over 400
lines; then the same checks run on a small synthetic package, clean and broken, to test the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.import_graph import (
    Shape,
    circles,
    imports_in_functions,
    long_modules,
    order_breaches,
    read_package,
    unused_allowances,
)

CONSOLE = Path(__file__).resolve().parent.parent / "console"

SHAPE = Shape(
    package="console",
    rooms=("config", "telnyx", "state", "ingest", "cluster", "access", "queues", "agents", "supervision", "live", "web"),
    tools=frozenset({"bench", "simulator"}),
    tool_starters=frozenset({"console.cli"}),
)

# (module, function or "*", imported module or package) -> why that import may sit in a function.
ALLOWED_IN_FUNCTIONS = {
    ("console.cli", "*", "console"):
        "CLI commands load only what they run (`user list` starts neither Flask nor the simulator)",
    ("console", "create_app", "console.web.app"):
        "importing one room (the simulator importing telnyx) must not load Flask and every blueprint",
    ("console.bench.server", "main.factory", "console.web.app"):
        "gunicorn's worker builds the app after the fork, so the arbiter stays small, as under serve",
    ("console.cluster.mode", "*", "redis"):
        "redis-py is an optional extra, loaded only when CONSOLE_REDIS_URL is set: the embedded mode never imports it",
}

MAX_LINES = 400


@pytest.fixture(scope="module")
def console_imports():
    """Every import written in console/."""
    return read_package(CONSOLE, "console")


def _listed(messages: list[str]) -> str:
    return "\n" + "\n".join(messages)


def test_no_import_circles(console_imports):
    found = circles(console_imports)
    assert not found, _listed(found)


def test_imports_follow_the_declared_order_of_rooms(console_imports):
    found = order_breaches(console_imports, SHAPE)
    assert not found, _listed(found)


def test_no_import_inside_a_function_outside_the_allow_list(console_imports):
    found = imports_in_functions(console_imports, ALLOWED_IN_FUNCTIONS)
    assert not found, _listed(found)


def test_every_allowance_is_still_needed(console_imports):
    found = unused_allowances(console_imports, ALLOWED_IN_FUNCTIONS)
    assert not found, "remove from ALLOWED_IN_FUNCTIONS:" + _listed(found)


def test_no_module_over_400_lines():
    found = long_modules(CONSOLE, MAX_LINES)
    assert not found, _listed(found)


# The test of the test: a small synthetic package, clean and then broken on purpose.

SHOP = Shape(
    package="shop",
    rooms=("config", "store", "web"),
    tools=frozenset({"bench"}),
    tool_starters=frozenset({"shop.cli"}),
)
SHOP_ALLOWED = {("shop.cli", "main", "shop.bench"): "a command loading only what it runs"}

CLEAN_SHOP = {
    "shop/__init__.py": '"""A synthetic package: three rooms, one tool."""\n',
    "shop/config.py": '"""Settings."""\nimport os\n\nHOME = os.sep\n',
    "shop/store/__init__.py": '"""The store room."""\n',
    "shop/store/ledger.py": '"""Ledger."""\nfrom ..config import HOME\n\nEntry = HOME\n',
    "shop/store/tally.py": '"""Tally."""\nfrom .ledger import Entry\nimport shop.config\n',
    "shop/web/__init__.py": '"""The web room."""\n',
    "shop/web/labels.py": '"""Labels."""\nTITLE = "shop"\n',
    "shop/web/pages.py": '"""Pages."""\nfrom shop.store import ledger, tally\n\n\ndef page():\n    return ledger.Entry\n',
    "shop/bench/__init__.py": '"""The tool."""\n',
    "shop/bench/clock.py": '"""Clock."""\nimport time\n',
    "shop/bench/load.py": '"""Load."""\nfrom shop.web.pages import page\nfrom shop.bench import clock\n',
    "shop/cli.py": '"""Commands."""\n\n\ndef main():\n    from shop.bench.load import page\n\n    return page()\n',
}

BROKEN_SHOP = {
    **CLEAN_SHOP,
    # line 3 closes a circle with tally.py:2; line 4 reaches up from store to web.
    "shop/store/ledger.py": ('"""Ledger."""\nfrom ..config import HOME\nfrom . import tally\n'
                             'from ..web.labels import TITLE\n\nEntry = HOME\n'),
    # line 3 brings the tool into the product; line 7 imports inside a function.
    "shop/web/pages.py": ('"""Pages."""\nfrom shop.store import ledger, tally\nfrom shop.bench import clock\n\n\n'
                          'def page():\n    import json\n\n    return json.dumps(ledger.Entry)\n'),
    "shop/web/long.py": '"""Long."""\n' + "X = 1\n" * MAX_LINES,
}


def _write(tmp_path: Path, files: dict[str, str]) -> Path:
    """Write a synthetic package under tmp_path and return its folder."""
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path / "shop"


def test_a_clean_package_passes_every_check(tmp_path):
    root = _write(tmp_path, CLEAN_SHOP)
    found = read_package(root, "shop")
    assert circles(found) == []
    assert order_breaches(found, SHOP) == []
    assert imports_in_functions(found, SHOP_ALLOWED) == []
    assert unused_allowances(found, SHOP_ALLOWED) == []
    assert long_modules(root, MAX_LINES) == []


def test_a_circle_is_named_with_each_import_that_closes_it(tmp_path):
    root = _write(tmp_path, BROKEN_SHOP)
    [message] = circles(read_package(root, "shop"))
    assert "shop.store.ledger -> shop.store.tally -> shop.store.ledger" in message
    assert "shop/store/ledger.py:3: shop.store.ledger has `from . import tally` (= shop.store.tally)" in message
    assert "shop/store/tally.py:2: shop.store.tally has `from .ledger import Entry`" in message


def test_an_upward_import_and_a_tool_in_the_product_are_named(tmp_path):
    root = _write(tmp_path, BROKEN_SHOP)
    found = order_breaches(read_package(root, "shop"), SHOP)
    assert found == [
        ("shop/store/ledger.py:4: shop.store.ledger has `from ..web.labels import TITLE` (= shop.web.labels): "
         "room store reaches up to room web"),
        "shop/web/pages.py:3: shop.web.pages has `from shop.bench import clock`: the product imports the tool bench",
    ]


def test_an_import_inside_a_function_is_named_unless_allowed(tmp_path):
    root = _write(tmp_path, BROKEN_SHOP)
    found = read_package(root, "shop")
    assert imports_in_functions(found, SHOP_ALLOWED) == [
        "shop/web/pages.py:7: shop.web.pages has `import json` inside page(): an import inside a function",
    ]
    assert imports_in_functions(found, {}) == [
        "shop/cli.py:5: shop.cli has `from shop.bench.load import page` inside main(): an import inside a function",
        "shop/web/pages.py:7: shop.web.pages has `import json` inside page(): an import inside a function",
    ]


def test_an_allowance_nothing_uses_is_named(tmp_path):
    root = _write(tmp_path, CLEAN_SHOP)
    stale = {**SHOP_ALLOWED, ("shop.web.pages", "page", "json"): "was lazy once"}
    assert unused_allowances(read_package(root, "shop"), stale) == [
        "('shop.web.pages', 'page', 'json') (was lazy once)",
    ]


def test_a_long_module_is_named(tmp_path):
    root = _write(tmp_path, BROKEN_SHOP)
    assert long_modules(root, MAX_LINES) == ["shop/web/long.py has 401 lines (limit 400)"]


def test_a_module_outside_the_declared_rooms_is_named(tmp_path):
    root = _write(tmp_path, {**CLEAN_SHOP, "shop/misc/odds.py": '"""Odds."""\n'})
    assert order_breaches(read_package(root, "shop"), SHOP) == ["shop/misc/odds.py: shop.misc.odds is in no declared room"]


def test_a_room_importing_the_top_reaches_up(tmp_path):
    root = _write(tmp_path, {**CLEAN_SHOP, "shop/web/labels.py": '"""Labels."""\nfrom shop import cli\n'})
    assert order_breaches(read_package(root, "shop"), SHOP) == [
        "shop/web/labels.py:2: shop.web.labels has `from shop import cli`: room web reaches up to room top",
    ]


def test_every_way_of_writing_an_import_reaches_the_same_module(tmp_path):
    writings = {
        "shop/store/tally.py": (
            '"""Tally."""\n'
            "import shop.store.ledger\n"
            "from shop.store import ledger\n"
            "from shop.store.ledger import Entry\n"
            "from .ledger import Entry\n"
            "from . import ledger\n"
            "from ..store import ledger\n"
            "from .. import config\n"
            "from ..config import HOME\n"
            "from shop.store import missing_name\n"
            "import os.path\n"
        ),
    }
    found = read_package(_write(tmp_path, {**CLEAN_SHOP, **writings}), "shop")
    targets = [(imp.line, imp.target) for imp in found.imports if imp.importer == "shop.store.tally"]
    assert targets == [
        (2, "shop.store.ledger"), (3, "shop.store.ledger"), (4, "shop.store.ledger"), (5, "shop.store.ledger"),
        (6, "shop.store.ledger"), (7, "shop.store.ledger"), (8, "shop.config"), (9, "shop.config"),
        (10, "shop.store"), (11, None),
    ]


def test_an_import_under_type_checking_still_closes_a_circle(tmp_path):
    tally = '"""Tally."""\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from .ledger import Entry\n'
    ledger = '"""Ledger."""\nfrom .tally import TYPE_CHECKING\n'
    root = _write(tmp_path, {**CLEAN_SHOP, "shop/store/tally.py": tally, "shop/store/ledger.py": ledger})
    [message] = circles(read_package(root, "shop"))
    assert "shop/store/tally.py:5: shop.store.tally has `from .ledger import Entry` (= shop.store.ledger) under TYPE_CHECKING" in message
