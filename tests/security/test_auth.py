"""Accounts under attack: username lookalikes, lockout of the owner, sign-up enumeration."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.services import auth
from models import LoginFailure, User, utcnow
from tests.app.test_auth import PASSWORD

API = "/api/v1"
ATTACKER_IP = "198.51.100.7"
OWNER_IP = "203.0.113.20"


def from_ip(client: TestClient, ip: str) -> TestClient:
    """An anonymous client of the same app calling from address `ip`."""
    return TestClient(client.app, client=(ip, 50000), raise_server_exceptions=False)


def new_account(client: TestClient, username: str, role: str = "admin") -> int:
    """An account made by the admin; returns its id."""
    r = client.post(f"{API}/users", json={"username": username, "password": PASSWORD, "role": role})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def api_login(c: TestClient, username: str, password: str = PASSWORD):
    return c.post(f"{API}/auth/login", json={"username": username, "password": password})


def console_login(c: TestClient, username: str, password: str = PASSWORD):
    return c.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )


def api_signup(c: TestClient, username: str, display_name: str = ""):
    body = {"username": username, "password": PASSWORD, "display_name": display_name}
    return c.post(f"{API}/auth/signup", json=body)


def add_failures(factory: sessionmaker[Session], username: str, count: int) -> None:
    """`count` failed logins for `username` just now, each from its own address (a botnet)."""
    now = utcnow()
    with factory() as s:
        s.add_all(
            LoginFailure(username=username, ip=f"10.{i // 250}.{i % 250}.9", at=now)
            for i in range(count)
        )
        s.commit()


def age_failures(factory: sessionmaker[Session], seconds: float) -> None:
    with factory() as s:
        for row in s.scalars(select(LoginFailure)).all():
            row.at -= timedelta(seconds=seconds)
        s.commit()


def account_ceiling(client: TestClient) -> int:
    return client.app.state.settings.login_max_failures * auth.ACCOUNT_FAILURE_FACTOR


# --- One account, one name: every spelling of a username is counted as that username ---------


@pytest.mark.parametrize(
    "variant",
    [
        "\u212aate.admin",  # KELVIN SIGN, lower-cased to "k" by Python but not by SQLite
        "ＫＡＴＥ.ＡＤＭＩＮ",  # fullwidth letters
        "kate\uff0eadmin",  # fullwidth full stop
        "  Kate.Admin\u3000",  # padded, with an ideographic space
        "KATE.ADMIN",
    ],
)
def test_every_spelling_of_a_username_shares_its_failure_count(
    client: TestClient, session_factory: sessionmaker[Session], variant: str
) -> None:
    new_account(client, "kate.admin")
    attacker = from_ip(client, ATTACKER_IP)
    # The spelling names the one account: its right password signs in...
    ok = api_login(attacker, variant)
    assert ok.status_code == 200, ok.text
    assert ok.json()["user"]["username"] == "kate.admin"
    # ...and its failures count against that account, whatever the spelling.
    for _ in range(5):
        assert api_login(attacker, variant, "wrong password").status_code == 401
    assert api_login(attacker, "kate.admin").status_code == 429
    with session_factory() as s:
        assert set(s.scalars(select(LoginFailure.username)).all()) == {"kate.admin"}


def test_accounts_stored_before_the_username_rule_still_sign_in(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as s:
        for name in ("Legacy.Mixed", "Ｌegacy.Wide", " padded.user "):
            s.add(User(username=name, password_hash=auth.hash_password(PASSWORD), role="sme"))
        s.commit()
    anon = from_ip(client, OWNER_IP)
    for typed in ("legacy.mixed", "LEGACY.MIXED", "Legacy.Mixed", "legacy.wide", "padded.user"):
        r = api_login(anon, typed)
        assert r.status_code == 200, (typed, r.text)
    # Nobody takes over an old account's name by spelling it the new way.
    assert api_signup(anon, "legacy.wide").status_code == 409
    r = client.post(
        f"{API}/users", json={"username": "LEGACY.MIXED", "password": PASSWORD, "role": "sme"}
    )
    assert r.status_code == 409


# --- Lookalike usernames ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "\u0430dmin.cn",  # Cyrillic a
        "\u03b1dmin.cn",  # Greek alpha
        "\u0251dmin.cn",  # Latin alpha
        "ad\u200bmin.cn",  # zero-width space
        "admin\u202e.cn",  # right-to-left override
        "paypa\u04cf.cn",  # Cyrillic palochka
        "王五公司",  # Chinese goes into display_name
        "-admin",  # must start with a letter or digit
    ],
)
def test_lookalike_usernames_are_refused(client: TestClient, name: str) -> None:
    anon = from_ip(client, ATTACKER_IP)
    r = api_signup(anon, name)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["field"] == "username"
    r = client.post(f"{API}/users", json={"username": name, "password": PASSWORD, "role": "sme"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "username"
    page = anon.post(
        "/signup", data={"username": name, "password": PASSWORD, "password2": PASSWORD}
    )
    assert page.status_code == 422 and "只能使用" in page.text


@pytest.mark.parametrize(
    "name",
    [
        "acme.org",  # taken
        "ACME.ORG",
        "ａｃｍｅ.ｏｒｇ",  # fullwidth: folded to the taken name
        "acme-org",
        "acmeorg",
        "acme.0rg",
        "acme_org",
        "admin",  # reserved: no such account exists here
        "adm1n",
        "Admln",
        "root",
        "organlzer",
    ],
)
def test_names_like_a_taken_or_reserved_one_are_refused_alike(
    client: TestClient, name: str
) -> None:
    new_account(client, "acme.org", role="organizer")
    anon = from_ip(client, ATTACKER_IP)
    r = api_signup(anon, name)
    assert r.status_code == 409, r.text
    # Taken, reserved or lookalike: one answer, which does not say an account exists.
    assert r.json()["message_zh"] == "该用户名无法注册，请换一个用户名"
    assert "taken" not in r.json()["message"]


def test_admins_cannot_create_lookalikes_either(client: TestClient) -> None:
    new_account(client, "li.ming", role="organizer")
    for name in ("LI.MING", "liming", "1i.ming", "li-rning"):
        r = client.post(
            f"{API}/users", json={"username": name, "password": PASSWORD, "role": "sme"}
        )
        assert r.status_code == 409, (name, r.text)


def test_chinese_display_names_stay_free(client: TestClient) -> None:
    r = api_signup(from_ip(client, OWNER_IP), "hengrui.sme", display_name="青岛恒瑞精密 王经理")
    assert r.status_code == 201, r.text
    assert r.json()["user"]["display_name"] == "青岛恒瑞精密 王经理"
    assert r.json()["user"]["username"] == "hengrui.sme"


# --- Lockout: an attacker who does not know the password cannot keep the owner out -------------


def test_guesses_from_one_address_do_not_lock_the_owner_out(client: TestClient) -> None:
    new_account(client, "root.admin")
    attacker, owner = from_ip(client, ATTACKER_IP), from_ip(client, OWNER_IP)
    for _ in range(5):
        assert api_login(attacker, "root.admin", "guess").status_code == 401
    # Guessing from that address stays bounded, even with the right password...
    refused = api_login(attacker, "root.admin")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    # ...while the owner elsewhere signs in, by the API and on the console.
    assert api_login(owner, "root.admin").status_code == 200
    assert console_login(owner, "root.admin").status_code == 303
    # An attacker moving to new usernames is bounded per address as well.
    client.app.state.settings.login_max_failures_per_ip = per_ip = 9
    for i in range(per_ip - 5):
        assert api_login(attacker, f"someone{i}", "guess").status_code == 401
    assert api_login(attacker, "nobody.else", "guess").status_code == 429


def test_rotating_inside_an_ipv6_network_gains_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_account(client, "v6.admin")
    for i in range(5):
        hop = from_ip(client, f"2001:db8:7:7::{i + 1:x}")
        assert api_login(hop, "v6.admin", "guess").status_code == 401
    assert api_login(from_ip(client, "2001:db8:7:7:ffff::1"), "v6.admin").status_code == 429
    # Another network is someone else.
    assert api_login(from_ip(client, "2001:db8:7:8::1"), "v6.admin").status_code == 200
    monkeypatch.setattr(auth, "SIGNUP_MAX_ATTEMPTS_PER_IP", 2)
    for i in range(2):
        hop = from_ip(client, f"2001:db8:9:9::{i + 1:x}")
        assert api_signup(hop, f"v6.firm{i}").status_code == 201
    assert api_signup(from_ip(client, "2001:db8:9:9::99"), "v6.firm9").status_code == 429


def test_a_distributed_guessing_run_is_bounded_and_a_known_device_gets_in(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    new_account(client, "root.admin")
    owner = from_ip(client, OWNER_IP)
    assert console_login(owner, "root.admin").status_code == 303
    device = owner.cookies.get(auth.DEVICE_COOKIE)
    assert device
    # Below the account's ceiling, guesses from many addresses do not block a new device.
    add_failures(session_factory, "root.admin", account_ceiling(client) - 1)
    assert api_login(from_ip(client, "192.0.2.98"), "root.admin").status_code == 200
    add_failures(session_factory, "root.admin", 1)

    # At the ceiling, an unknown device waits, told why; guessing is bounded.
    stranger = from_ip(client, "192.0.2.99")
    r = api_login(stranger, "root.admin")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "设备" in r.json()["message_zh"]
    # The owner's known device still gets in: by the console and the API, from any address.
    assert console_login(owner, "root.admin").status_code == 303
    assert api_login(owner, "root.admin").status_code == 200
    moved = from_ip(client, "192.0.2.77")
    moved.cookies.set(auth.DEVICE_COOKIE, owner.cookies.get(auth.DEVICE_COOKIE))
    assert api_login(moved, "root.admin").status_code == 200

    # A stolen device cookie does not buy unbounded guesses.
    thief = from_ip(client, "192.0.2.50")
    thief.cookies.set(auth.DEVICE_COOKIE, device)
    for _ in range(5):
        assert api_login(thief, "root.admin", "guess").status_code == 401
    assert api_login(thief, "root.admin").status_code == 429
    # A forged or foreign cookie is no known device.
    user_id, issued, _mac = device.split(".")
    for forged in (f"{user_id}.{issued}.AAAAAAAAAAAAAAAAAAAAAAAA", "1.2", "x" * 300, device + "x"):
        faker = from_ip(client, "192.0.2.51")
        faker.cookies.set(auth.DEVICE_COOKIE, forged)
        assert api_login(faker, "root.admin").status_code == 429
    new_account(client, "other.admin")
    other = from_ip(client, "192.0.2.52")
    assert console_login(other, "other.admin").status_code == 303
    assert api_login(other, "root.admin").status_code == 429


def test_an_admin_password_reset_lifts_the_lock_and_retires_old_devices(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    user_id = new_account(client, "ops.admin")
    owner = from_ip(client, OWNER_IP)
    assert console_login(owner, "ops.admin").status_code == 303
    add_failures(session_factory, "ops.admin", account_ceiling(client))
    assert api_login(from_ip(client, "192.0.2.10"), "ops.admin").status_code == 429
    new_password = PASSWORD + " renewed"
    r = client.patch(f"{API}/users/{user_id}", json={"password": new_password})
    assert r.status_code == 200, r.text
    assert api_login(from_ip(client, "192.0.2.11"), "ops.admin", new_password).status_code == 200
    # The device cookie was signed with the old password: it no longer bypasses the ceiling.
    add_failures(session_factory, "ops.admin", account_ceiling(client))
    assert api_login(owner, "ops.admin", new_password).status_code == 429


def test_the_right_password_works_again_after_the_window(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    new_account(client, "late.admin")
    attacker = from_ip(client, ATTACKER_IP)
    for _ in range(5):
        assert api_login(attacker, "late.admin", "guess").status_code == 401
    assert api_login(attacker, "late.admin").status_code == 429
    age_failures(session_factory, client.app.state.settings.login_window_seconds + 1)
    assert api_login(attacker, "late.admin").status_code == 200


# --- Sign-up enumeration -----------------------------------------------------------------------


def test_sign_up_attempts_per_address_are_bounded(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "SIGNUP_MAX_ATTEMPTS_PER_IP", 4)
    new_account(client, "taken.org", role="organizer")
    prober = from_ip(client, ATTACKER_IP)
    # Refused and accepted attempts both count: 4 per address in the window.
    assert api_signup(prober, "taken.org").status_code == 409
    assert api_signup(prober, "free.one").status_code == 201
    assert api_signup(prober, "admin").status_code == 409
    page = prober.post(
        "/signup", data={"username": "taken.org", "password": PASSWORD, "password2": PASSWORD}
    )
    assert page.status_code == 409 and "无法注册" in page.text
    limited = api_signup(prober, "free.two")
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["retry-after"]) > 0
    assert limited.json()["error"] == "too_many_requests"
    assert "注册" in limited.json()["message_zh"]
    # The same 429 shape as a limited login.
    for _ in range(5):
        api_login(prober, "taken.org", "guess")
    login_limited = api_login(prober, "taken.org")
    assert login_limited.status_code == 429
    assert set(limited.json()) == set(login_limited.json())
    page = prober.post(
        "/signup", data={"username": "free.three", "password": PASSWORD, "password2": PASSWORD}
    )
    assert page.status_code == 429 and "注册" in page.text
    # Other addresses still sign up.
    assert api_signup(from_ip(client, OWNER_IP), "free.two").status_code == 201


def test_sign_up_attempts_at_a_name_do_not_lock_its_owner_out(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "ACCOUNT_FAILURE_FACTOR", 1)
    new_account(client, "ceo.admin")
    for i in range(client.app.state.settings.login_max_failures):
        assert api_signup(from_ip(client, f"192.0.2.{i + 1}"), "ceo.admin").status_code == 409
    assert api_login(from_ip(client, OWNER_IP), "ceo.admin").status_code == 200


def test_sign_up_format_errors_are_not_counted(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "SIGNUP_MAX_ATTEMPTS_PER_IP", 2)
    prober = from_ip(client, ATTACKER_IP)
    for _ in range(3):
        assert api_signup(prober, "\u0430dmin").status_code == 422
    assert api_signup(prober, "real.firm").status_code == 201
