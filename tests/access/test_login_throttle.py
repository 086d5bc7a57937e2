"""Login throttling: growing waits then a lockout, per account and per client address, answered 429 unchecked."""

from __future__ import annotations

import re
import threading

import pytest

from console import create_app
from console.access import throttle as throttle_module
from console.access.throttle import address_key, how_long
from console.access.users import add_user
from console.config import ConfigError
from console.state import login_failures
from console.state.login_failures import ACCOUNT, ADDRESS
from console.state.store import Store
from console.web.views import auth as auth_views
from tests.signing_in import csrf_client

PASSWORD = "correct horse battery"
WRONG = "not the password"
LIMITS = {
    "CONSOLE_LOGIN_FREE_FAILURES": 2,
    "CONSOLE_LOGIN_LOCKOUT_FAILURES": 5,
    "CONSOLE_LOGIN_ADDRESS_FREE_FAILURES": 6,
    "CONSOLE_LOGIN_ADDRESS_LOCKOUT_FAILURES": 9,
    "CONSOLE_LOGIN_FIRST_DELAY_SECONDS": 2,
    "CONSOLE_LOGIN_LOCKOUT_SECONDS": 600,
    "CONSOLE_LOGIN_FAILURE_WINDOW_SECONDS": 3600,
}
PROXY = "10.0.0.5"


class Clock:
    """A clock the tests move by hand, so no test waits for real time."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_app(tmp_path, **settings):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "throttle-tests",
                      "TELNYX_BASE_URL": "http://127.0.0.1:9/v2", **LIMITS, **settings})
    store = app.extensions["console.store"]
    for name in ("sam", "ada"):
        add_user(store, name, "supervisor", PASSWORD)
    app.clock = app.extensions[throttle_module.EXTENSION].clock = Clock()
    return app


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    yield app
    app.extensions["console.hub"].stop()


@pytest.fixture
def checks(monkeypatch):
    """The names whose password the login view really checked."""
    checked = []
    real = auth_views.verify_password

    def counting(store, name, password):
        checked.append(name)
        return real(store, name, password)

    monkeypatch.setattr(auth_views, "verify_password", counting)
    return checked


def from_address(app, address: str = "192.0.2.10", **environ):
    return csrf_client(app, REMOTE_ADDR=address, **environ)


def try_password(client, name: str, password: str = WRONG):
    return client.post("/login", data={"name": name, "password": password})


def alert(answer) -> str:
    found = re.search(r'id="login-error" role="alert">(.*?)</p>', answer.get_data(as_text=True), re.DOTALL)
    assert found, "the login page shows no error"
    return " ".join(found.group(1).split())


def retry_after(answer) -> int | None:
    value = answer.headers.get("Retry-After")
    return None if value is None else int(value)


def test_failures_past_the_free_ones_wait_longer_each_time_then_lock_the_account(app):
    client = from_address(app)
    seen = []
    for _ in range(6):
        app.clock.advance(seen[-1][1] or 0 if seen else 0)
        answer = try_password(client, "sam")
        seen.append((answer.status_code, retry_after(answer)))
    assert seen == [(401, None), (401, None), (401, 2), (401, 4), (401, 600), (401, 600)]
    locked = try_password(client, "sam")
    assert (locked.status_code, retry_after(locked)) == (429, 600)
    assert "Too many failed sign-ins for this account, so it is locked for now. Try again in 10 minutes." in alert(locked)


def test_a_try_during_a_wait_is_answered_429_at_once_without_checking_the_password(app, checks):
    client = from_address(app)
    for _ in range(3):
        try_password(client, "sam")
    assert checks == ["sam"] * 3
    app.clock.advance(1)
    refused = try_password(client, "sam", PASSWORD)
    assert (refused.status_code, retry_after(refused)) == (429, 1)
    assert alert(refused).startswith("Too many failed sign-ins for this account. Try again in 1 second.")
    assert "did not check this password" in alert(refused)
    assert checks == ["sam"] * 3, "a try during a wait must cost no password check"
    app.clock.advance(1)
    assert try_password(client, "sam", PASSWORD).status_code == 303


def test_the_wrong_password_that_starts_a_wait_says_so_in_words(app):
    client = from_address(app)
    try_password(client, "sam")
    assert alert(try_password(client, "sam")) == "That name and password do not match an enabled user."
    assert alert(try_password(client, "sam")) == ("That name and password do not match an enabled user. "
                                                  "Too many failed sign-ins for this account. Try again in 2 seconds.")


def test_a_right_password_forgets_the_accounts_failures_and_its_own_try(app):
    client = from_address(app)
    for _ in range(2):
        try_password(client, "sam")
    assert try_password(client, "sam", PASSWORD).status_code == 303
    kept = {(count.kind, count.key): count.failures for count in login_failures.counters(app.extensions["console.store"])}
    assert kept == {(ADDRESS, "192.0.2.10"): 2}, "the account is forgotten; the address keeps only the failures"
    client = from_address(app)  # signing in started a new session, with a new CSRF token
    for _ in range(2):
        answer = try_password(client, "sam")
        assert (answer.status_code, retry_after(answer)) == (401, None)


def test_an_accounts_name_is_counted_trimmed_and_case_folded(app):
    client = from_address(app)
    try_password(client, "Sam")
    try_password(client, "  sam ")
    answer = try_password(client, "SAM")
    assert retry_after(answer) == 2
    assert try_password(from_address(app, "198.51.100.7"), "sam", PASSWORD).status_code == 429


def test_a_locked_account_stays_locked_from_every_address_while_others_sign_in(app):
    for _ in range(5):
        try_password(from_address(app), "sam")
        app.clock.advance(5)
    elsewhere = try_password(from_address(app, "198.51.100.7"), "sam", PASSWORD)
    assert elsewhere.status_code == 429
    assert try_password(from_address(app, "198.51.100.7"), "ada", PASSWORD).status_code == 303


def test_a_lockout_ends_after_its_time_and_the_next_failure_locks_again(app):
    client = from_address(app)
    for _ in range(5):
        try_password(client, "sam")
        app.clock.advance(5)
    app.clock.advance(600 - 5)
    again = try_password(client, "sam")
    assert (again.status_code, retry_after(again)) == (401, 600)
    app.clock.advance(600)
    assert try_password(client, "sam", PASSWORD).status_code == 303


def test_failures_are_forgotten_after_a_quiet_window(app):
    client = from_address(app)
    for _ in range(2):
        try_password(client, "sam")
    app.clock.advance(3601)
    answer = try_password(client, "sam")
    assert (answer.status_code, retry_after(answer)) == (401, None)


def test_one_address_trying_many_names_is_slowed_then_locked_while_other_addresses_are_not(app):
    client = from_address(app, "203.0.113.9")
    answers = []
    for number in range(9):
        app.clock.advance(answers[-1] or 0 if answers else 0)
        answers.append(retry_after(try_password(client, f"guess{number}")))
    assert answers == [None] * 6 + [2, 4, 600]
    refused = try_password(client, "ada", PASSWORD)
    assert (refused.status_code, retry_after(refused)) == (429, 600)
    assert alert(refused).startswith("Too many failed sign-ins from your network address, so sign-ins from it are "
                                     "locked for now. Try again in 10 minutes.")
    assert try_password(from_address(app, "203.0.113.10"), "ada", PASSWORD).status_code == 303


def test_behind_a_trusted_proxy_each_forwarded_client_counts_and_a_forged_header_does_not(tmp_path):
    app = make_app(tmp_path, CONSOLE_TRUSTED_PROXIES=PROXY)
    try:
        for client in ("198.51.100.1", "198.51.100.2"):
            try_password(from_address(app, PROXY, HTTP_X_FORWARDED_FOR=client), f"from-{client}")
        for forged in ("198.51.100.3", "198.51.100.4"):
            try_password(from_address(app, "192.0.2.66", HTTP_X_FORWARDED_FOR=forged), f"from-{forged}")
        addresses = {count.key: count.failures for count in login_failures.counters(app.extensions["console.store"])
                     if count.kind == ADDRESS}
        assert addresses == {"198.51.100.1": 1, "198.51.100.2": 1, "192.0.2.66": 2}
    finally:
        app.extensions["console.hub"].stop()


def test_an_ipv6_client_counts_by_its_64_and_a_mapped_ipv4_as_ipv4():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key(None) == "unknown"


def test_throttled_tries_and_each_lockout_are_audited(app):
    client = from_address(app)
    for _ in range(3):
        try_password(client, "sam")
    try_password(client, "sam", PASSWORD)
    app.clock.advance(2)
    try_password(client, "sam")
    app.clock.advance(4)
    try_password(client, "sam")
    store = app.extensions["console.store"]
    throttled = [entry for entry in store.audit_entries(action="auth.login") if entry["status"] == 429]
    assert len(throttled) == 1
    assert throttled[0]["user_name"] == "sam" and throttled[0]["result"] == "refused"
    assert throttled[0]["error"].startswith("Throttled, password not checked: Too many failed sign-ins")
    [lockout] = store.audit_entries(action=throttle_module.LOCKOUT_ACTION)
    assert (lockout["user_name"], lockout["target_user"], lockout["result"]) == ("sam", "sam", "locked")
    assert lockout["parameters"] == {"locked": ACCOUNT, "failures": 5, "seconds": 600}
    assert lockout["error"] == "5 failed sign-ins for the account: locked for 10 minutes."
    assert lockout["client_address"] == "192.0.2.10"


def test_single_sign_on_by_trusted_header_is_unaffected_by_a_locked_account(tmp_path):
    app = make_app(tmp_path, CONSOLE_TRUSTED_HEADER_AUTH=True, CONSOLE_TRUSTED_PROXIES=PROXY)
    try:
        for _ in range(5):
            try_password(from_address(app), "sam")
            app.clock.advance(5)
        assert try_password(from_address(app), "sam", PASSWORD).status_code == 429
        page = from_address(app, PROXY, HTTP_X_FORWARDED_USER="sam").get("/")
        assert page.status_code == 200 and "sam" in page.text
    finally:
        app.extensions["console.hub"].stop()


def test_parallel_guesses_cannot_slip_past_the_count(app, checks):
    clients = [from_address(app) for _ in range(12)]
    start = threading.Barrier(len(clients))
    statuses = []

    def guess(client):
        start.wait(timeout=10)
        statuses.append(try_password(client, "sam").status_code)

    threads = [threading.Thread(target=guess, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [401] * 3 + [429] * 9
    assert len(checks) == 3, "only the free failures and the one that starts the wait reach the password"


@pytest.mark.parametrize(("free", "lockout"), [(5, 5), (6, 3)])
def test_a_lockout_before_the_free_failures_run_out_is_refused_at_start(tmp_path, free, lockout):
    with pytest.raises(ConfigError, match="lockout must come after its free failures"):
        create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "TELNYX_BASE_URL": "http://127.0.0.1:9/v2",
                    "CONSOLE_LOGIN_FREE_FAILURES": free, "CONSOLE_LOGIN_LOCKOUT_FAILURES": lockout})


@pytest.mark.parametrize(("seconds", "words"), [
    (0.2, "1 second"), (2, "2 seconds"), (89, "89 seconds"), (89.5, "2 minutes"), (91, "2 minutes"), (600, "10 minutes"),
    (3600, "60 minutes"), (7200, "2 hours"), (7201, "3 hours"),
])
def test_a_wait_is_put_in_words_rounded_up(seconds, words):
    assert how_long(seconds) == words


def test_quiet_counters_are_pruned_but_a_lockout_in_force_is_kept():
    store = Store(":memory:")
    store.migrate()

    def wait_after(kind, failures):
        return 100.0 if failures >= 2 else 0.0

    login_failures.count_attempt(store, [(ACCOUNT, "quiet")], 0.0, window=50, wait_after=wait_after)
    for _ in range(2):
        login_failures.count_attempt(store, [(ACCOUNT, "locked")], 10.0, window=50, wait_after=wait_after)
    login_failures.count_attempt(store, [(ACCOUNT, "new")], 70.0, window=50, wait_after=wait_after)
    assert [count.key for count in login_failures.counters(store)] == ["locked", "new"]
    assert login_failures.blocked(store, [(ACCOUNT, "locked"), (ACCOUNT, "new")], 70.0).key == "locked"
    login_failures.count_attempt(store, [(ACCOUNT, "later")], 115.0, window=50, wait_after=wait_after)
    assert [count.key for count in login_failures.counters(store)] == ["later", "new"]
    store.close()
