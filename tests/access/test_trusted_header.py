"""Single sign-on through a reverse proxy: its user header counts only when enabled and only from it."""

from __future__ import annotations

import pytest

from console import create_app
from console.access.users import add_user, set_disabled
from console.config import ConfigError
from tests.signing_in import csrf_client

PROXY = "10.0.0.5"
SSO = {
    "CONSOLE_TRUSTED_HEADER_AUTH": True,
    "CONSOLE_TRUSTED_PROXIES": "10.0.0.0/29, 2001:db8::/64",
    "CONSOLE_GROUP_ROLES": "ops-admins=admin,ops-sup=supervisor",
}


def make_app(tmp_path, **settings):
    return create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "sso-tests",
                       "TELNYX_BASE_URL": "http://127.0.0.1:9/v2", **settings})


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path, **SSO)
    yield app
    app.extensions["console.hub"].stop()


def via(app, address: str, user: str | None = None, groups: str | None = None):
    """A client whose requests come from `address` carrying the proxy's headers."""
    environ = {"REMOTE_ADDR": address}
    if user is not None:
        environ["HTTP_X_FORWARDED_USER"] = user
    if groups is not None:
        environ["HTTP_X_FORWARDED_GROUPS"] = groups
    return csrf_client(app, **environ)


@pytest.mark.parametrize(("groups", "role"), [
    ("ops-sup", "supervisor"),
    ("staff, ops-sup,ops-admins", "admin"),
    ("staff", "viewer"),
    (None, "viewer"),
])
def test_the_header_from_a_trusted_proxy_signs_you_in_with_the_mapped_role(app, groups, role):
    page = via(app, PROXY, "grace", groups).get("/")
    assert page.status_code == 200
    assert f'data-role="{role}"' in page.text and "grace" in page.text


def test_an_ipv6_proxy_in_the_list_is_trusted(app):
    assert via(app, "2001:db8::7", "grace", "ops-sup").get("/").status_code == 200


def test_a_stored_user_keeps_their_role_when_no_group_maps(app):
    add_user(app.extensions["console.store"], "grace", "supervisor", "a long password", phone="+13125550123")
    page = via(app, PROXY, "grace", "staff").get("/").text
    assert 'data-role="supervisor"' in page


def test_without_the_header_you_are_not_signed_in(app):
    assert via(app, PROXY).get("/").status_code == 302
    assert via(app, PROXY, "").get("/").status_code == 302


@pytest.mark.parametrize("address", ["10.0.0.9", "192.168.1.20", "127.0.0.1", "2001:db9::1"])
def test_the_header_from_anywhere_else_is_ignored(app, address):
    answer = via(app, address, "grace", "ops-admins").get("/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_the_header_is_ignored_unless_single_sign_on_is_enabled(tmp_path):
    app = make_app(tmp_path, CONSOLE_TRUSTED_PROXIES=SSO["CONSOLE_TRUSTED_PROXIES"])
    try:
        assert via(app, PROXY, "grace", "ops-admins").get("/").status_code == 302
    finally:
        app.extensions["console.hub"].stop()


def test_a_disabled_user_is_not_let_in_by_the_header(app):
    store = app.extensions["console.store"]
    add_user(store, "grace", "admin", "a long password")
    set_disabled(store, "grace")
    assert via(app, PROXY, "grace", "ops-admins").get("/").status_code == 302


def test_the_mapped_role_is_what_the_server_enforces(app):
    viewer = via(app, PROXY, "grace", "staff")
    supervisor = via(app, PROXY, "hal", "ops-sup")
    assert viewer.post("/conferences/c1/dtmf", data={"digits": ""}).status_code == 403
    assert supervisor.post("/conferences/c1/dtmf", data={"digits": ""}).status_code == 422
    assert supervisor.post("/queues", data={"queue_name": "vip"}).status_code == 403


def test_single_sign_on_users_have_no_sign_out_button(app):
    page = via(app, PROXY, "grace", "ops-sup").get("/").text
    assert "Sign out" not in page


@pytest.mark.parametrize(("settings", "says"), [
    ({"CONSOLE_TRUSTED_HEADER_AUTH": True}, "CONSOLE_TRUSTED_PROXIES is empty"),
    ({"CONSOLE_GROUP_ROLES": "ops=superuser"}, "CONSOLE_GROUP_ROLES"),
    ({"CONSOLE_TRUSTED_PROXIES": "10.0.0.0/33"}, "CONSOLE_TRUSTED_PROXIES"),
    ({"CONSOLE_TRUSTED_USER_HEADER": "X User"}, "CONSOLE_TRUSTED_USER_HEADER"),
])
def test_unsafe_or_unreadable_single_sign_on_settings_stop_the_console(tmp_path, settings, says):
    with pytest.raises(ConfigError, match=says):
        make_app(tmp_path, **settings)
