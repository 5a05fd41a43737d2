"""The sign-in lockout's client address (config.middleware.client_ip) under hostile X-Forwarded-For headers.

Every shape a client can send gives a sign-in that works (never a 500: PostgreSQL's inet type refuses what is not
an address) and a lockout counter the client cannot choose beyond the documented proxy setup: behind
TRUSTED_PROXIES proxies, the entry that many from the end; anything else falls back to the connection's address.
"""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse

from config.middleware import client_ip

PASSWORD = "a long curator passphrase"
PROXY = "10.0.0.2"  # the reverse proxy, as gunicorn sees it (REMOTE_ADDR)

# (X-Forwarded-For as received, the address the lockout counts for it behind one proxy)
SHAPES = [
    ("203.0.113.9", "203.0.113.9"),
    ("not-an-ip", PROXY),
    ("999.1.1.1", PROXY),
    ("1.2.3.4%eth0", PROXY),
    ("", PROXY),
    (" , ", PROXY),
    ("203.0.113.9,", PROXY),  # the last entry is empty
    ("198.51.100.1, 198.51.100.2, 203.0.113.9", "203.0.113.9"),  # the earlier entries are the client's own words
    ("[2001:db8::7]", "2001:db8::7"),
    ("[2001:db8::7]:4711", "2001:db8::7"),
    ("2001:DB8:0:0::7", "2001:db8::7"),
    ("fe80::1%eth0", "fe80::1"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    ("203.0.113.9:4711", "203.0.113.9"),
    ("[not-an-ip]", PROXY),
    ("[2001:db8::7", "2001:db8::7"),
    (", ".join(["198.51.100.1"] * 5000) + ", 203.0.113.9", "203.0.113.9"),  # many entries
    ("9" * 100_000, PROXY),  # huge
    ("1" * 100_000 + ", 203.0.113.9", "203.0.113.9"),
    ("203.0.113.9\x00", PROXY),
]


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # what is tested is the address


@pytest.fixture
def behind_one_proxy(settings):
    settings.BEHIND_PROXY = True
    settings.TRUSTED_PROXIES = 1


def request_from(forwarded_for, remote_addr=PROXY):
    return RequestFactory().post("/", HTTP_X_FORWARDED_FOR=forwarded_for, REMOTE_ADDR=remote_addr)


@pytest.mark.parametrize(("header", "expected"), SHAPES, ids=[repr(shape[0][:40]) for shape in SHAPES])
def test_each_shape_gives_a_valid_address_and_never_one_before_the_proxys_entry(behind_one_proxy, header, expected):
    assert client_ip(request_from(header)) == expected


def test_directly_exposed_the_header_is_ignored(settings):
    settings.BEHIND_PROXY = False
    assert client_ip(request_from("203.0.113.9", remote_addr="198.51.100.4")) == "198.51.100.4"
    assert client_ip(request_from("203.0.113.9", remote_addr="::ffff:198.51.100.4")) == "198.51.100.4"
    assert client_ip(request_from("203.0.113.9", remote_addr="")) is None  # e.g. a Unix socket: no address


def test_behind_two_proxies_the_client_is_the_second_entry_from_the_end(settings):
    settings.BEHIND_PROXY = True
    settings.TRUSTED_PROXIES = 2
    assert client_ip(request_from("198.51.100.1, 203.0.113.9, 10.0.0.1")) == "203.0.113.9"
    assert client_ip(request_from("203.0.113.9, 10.0.0.1")) == "203.0.113.9"
    assert client_ip(request_from("10.0.0.1")) == PROXY  # it did not come through both proxies
    assert client_ip(request_from("not-an-ip, 10.0.0.1")) == PROXY


def sign_in(client, password, forwarded_for, username="curator"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": reverse("admin:index")},
        HTTP_X_FORWARDED_FOR=forwarded_for,
        REMOTE_ADDR=PROXY,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("header", "expected"), SHAPES, ids=[repr(shape[0][:40]) for shape in SHAPES])
def test_a_sign_in_with_any_header_works_and_counts_failures_for_the_right_address(
    client, behind_one_proxy, header, expected
):
    get_user_model().objects.create_user("curator", password=PASSWORD, is_staff=True)
    client.raise_request_exception = False
    assert sign_in(client, "wrong", header).status_code == 200  # the form again, with its error
    assert list(AccessAttempt.objects.values_list("ip_address", "failures_since_start")) == [(expected, 1)]
    response = sign_in(client, PASSWORD, header)
    assert response.status_code == 302 and response.url == reverse("admin:index")
    assert not AccessAttempt.objects.exists()  # a success resets the count


@pytest.mark.django_db
def test_a_forged_entry_neither_locks_out_its_address_nor_escapes_the_lockout(client, behind_one_proxy):
    """An attacker at 203.0.113.66 names someone else's address before the proxy's entry: five failures are
    counted for the attacker's own address, which is locked out; the curator at 203.0.113.9 still signs in."""
    get_user_model().objects.create_user("curator", password=PASSWORD, is_staff=True)
    for i in range(5):
        sign_in(client, "wrong", f"203.0.113.9, 198.51.100.{i}, 203.0.113.66")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.66"}
    assert sign_in(client, PASSWORD, "203.0.113.9, 203.0.113.66").status_code == 429
    assert sign_in(client, PASSWORD, "not-an-ip, 203.0.113.66").status_code == 429
    assert sign_in(client, PASSWORD, "203.0.113.9").status_code == 302
