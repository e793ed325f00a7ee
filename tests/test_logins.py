"""Logins: every source's credentials checked before any data request, one login at a time, tokens
trusted by the server's clock or until refused."""

from __future__ import annotations

import logging
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from singer_sdk.exceptions import FatalAPIError

from tap_liine.tap import TapLiine
from tests.helpers import all_sources_config, liine_config, logged, run_cli, run_tap, sent

SOURCES = {"conversations": {"conversations_per_location": 5}, "interactly": {"days": 10}}
LOGINS = ("/call_log/authenticate/", "/authenticates")


def _data_requests(url: str) -> list[str]:
    """Requests other than logins and the Interactly key's check, which asks for an empty range."""

    def check(path: str) -> bool:
        query = parse_qs(urlsplit(path).query)
        return "/appointments/statistics" in path and query["start"] == query["end"]

    return [path for path in sent(url) if not path.startswith(LOGINS) and not check(path)]


@pytest.mark.parametrize(
    ("wrong", "said", "args"),
    [
        ({"password": "Wr0ng-Secret!"}, "Liine refused the login of user 'demo' (401: Unable to log in with "
         "provided credentials.). Check the settings `username` and `password`.", ("--test",)),
        ({"conversations_api_key": "Wr0ng-Secret!"}, "The conversations API refused the API key", ()),
        ({"interactly_api_key": "Wr0ng-Secret!"}, "Check the setting `interactly_api_key`.", ()),
    ],
    ids=["liine-test", "conversations", "interactly"],
)  # fmt: skip
def test_refused_credentials_fail_the_run_before_any_data_request(sandbox, tmp_path, wrong, said, args) -> None:
    server = sandbox(scale=50, **SOURCES)

    result = run_cli(tmp_path, all_sources_config(server.url, **wrong), *args)

    assert result.returncode == 1
    errors = logged(result.stderr, "ERROR")  # the tap's sentence only: not the SDK's "An unhandled error" too
    assert len(errors) == 1 and said in errors[0]
    assert logged(result.stderr, "WARNING") == [] and "Warnings (" not in result.stderr
    assert "Wr0ng-Secret!" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "RECORD" not in result.stdout
    assert _data_requests(server.url) == []
    checks = sent(server.url)
    assert len(checks) == len(set(checks)) <= 3  # one per source, up to the refused one


INTERACTLY_CHECK = "/api/integrations/v2/resource-records/5eb7cf5a86d9755df3a6c593/appointments/statistics"
WRONG_URLS = {
    "api_url": "The Liine login at /api/call_log/authenticate/ answered 404 (Not found.): no Liine login answers "
    "there. Check the setting `api_url` (the API's base URL, to which the tap adds /call_log/authenticate/).",
    "conversations_api_url": "The Conversations login at /api/authenticates answered 404 (Not found.): no "
    "Conversations login answers there. Check the setting `conversations_api_url` (the API's base URL, to which "
    "the tap adds /authenticates).",
    "interactly_api_url": f"Interactly GET {INTERACTLY_CHECK} (integration 5eb7cf5a86d9755df3a6c593, checking the "
    "API key) answered 404 Not Found: Not found. Check the setting `interactly_api_url` (the API's base URL, to "
    "which the tap adds /integrations/v2/...).",
}


@pytest.mark.parametrize("setting", list(WRONG_URLS))
def test_a_url_where_no_login_answers_is_named_not_the_credentials(sandbox, tmp_path, setting) -> None:
    server = sandbox(scale=50, **SOURCES)

    result = run_cli(tmp_path, all_sources_config(server.url, **{setting: f"{server.url}/api"}))

    assert result.returncode == 1
    assert logged(result.stderr, "ERROR") == [WRONG_URLS[setting]]
    assert logged(result.stderr, "WARNING") == [] and "Warnings (" not in result.stderr
    assert '"RECORD"' not in result.stdout and len(sent(server.url)) <= 3  # one check per source, at most


LOGIN = "/call_log/authenticate/"
ADVICE = (
    "If the Liine login is not at /call_log/authenticate/, check the setting `api_url` (the API's base URL, to "
    "which the tap adds /call_log/authenticate/)."
)
OTHER_ANSWERS = {
    "405": ({"status": 405}, "The Liine login at /call_log/authenticate/ answered 405 (Forced 405.): no Liine login "
            "answers there. Check the setting `api_url` (the API's base URL, to which the tap adds "
            "/call_log/authenticate/)."),
    "503": ({"status": 503}, "Giving up after 2 tries: Login at {url}/call_log/authenticate/ answered 503: Forced "
            f"503. {ADVICE}"),
    "html-200": ({"status": 200, "body": "<html><body>Sign in</body></html>"}, "Giving up after 2 tries: "
                 "Liine's login answer at {url}/call_log/authenticate/ lacks a readable `token` and `valid_until`. "
                 + ADVICE),
}  # fmt: skip


@pytest.mark.parametrize("answer", list(OTHER_ANSWERS))
def test_a_login_answered_as_no_login_is_names_the_url_setting(sandbox, answer) -> None:
    forced, said = OTHER_ANSWERS[answer]
    server = sandbox(scale=50)
    requests.post(f"{server.url}/_sandbox/force", json={"contains": LOGIN, "times": 9, **forced}, timeout=5)

    with pytest.raises(FatalAPIError) as failed:
        run_tap(liine_config(server.url, max_retries=2))

    assert str(failed.value) == said.format(url=server.url)
    assert sent(server.url) == [LOGIN] * (1 if answer == "405" else 2)


def test_a_login_is_made_by_one_thread_while_the_others_wait_for_its_outcome(sandbox) -> None:
    server = sandbox(scale=50)
    requests.post(f"{server.url}/_sandbox/force",
                  json={"contains": "/call_log/authenticate/", "status": 503, "times": 2}, timeout=5)  # fmt: skip
    tap = TapLiine(config=liine_config(server.url, max_retries=3))
    authenticator = tap.streams["interactions"].authenticator
    start = threading.Barrier(8)
    headers: list[str] = []

    def ask() -> None:
        start.wait()
        headers.append(authenticator.current_header())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(headers) == 8 and len(set(headers)) == 1
    assert sent(server.url) == ["/call_log/authenticate/"] * 3  # two 503s, retried by one thread only


def test_a_login_that_keeps_failing_is_given_up_once_for_every_thread(sandbox, caplog) -> None:
    server = sandbox(scale=50)
    requests.post(f"{server.url}/_sandbox/force",
                  json={"contains": "/call_log/authenticate/", "status": 503, "times": 99}, timeout=5)  # fmt: skip

    with pytest.raises(FatalAPIError, match=r"^Giving up after 3 tries: Login at .* answered 503: Forced 503"):
        run_tap(liine_config(server.url, max_retries=3, max_parallel_requests=4))

    assert sent(server.url) == ["/call_log/authenticate/"] * 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "Login at" in r.getMessage()]
    assert len(warnings) == 2 and "(try 1 of 3)" in warnings[0] and "(try 2 of 3)" in warnings[1]


@pytest.mark.parametrize(
    ("valid_until_shift", "clock_skew", "untrusted"),
    [(-18000, 0, 1), (-7200, -7200, 0)],
    ids=["naive-local-expiry", "server-clock-two-hours-behind"],
)
def test_a_token_expiry_in_our_past_causes_no_login_per_request(
    sandbox, valid_until_shift, clock_skew, untrusted
) -> None:
    # The server accepts each token for an hour. Either its valid_until is written five hours
    # early (a naive New York time read as UTC), already past by the server's own clock: the
    # token is then used until refused; or the server's clock, its Date header included, runs
    # two hours behind ours: the lifetime is reckoned by that clock.
    server = sandbox(scale=400, customers=[101], valid_until_shift=valid_until_shift, faults="expire", every=9)
    server.clock_skew = clock_skew
    config = liine_config(server.url, customer_ids=[101], window_days=30, page_size=50, max_parallel_requests=1)

    run = run_tap(config)

    timeline = server.timeline
    data = [status for _, path, status in timeline if path.startswith("/call_log/interactions")]
    logins = [path for _, path, _ in timeline if path.startswith("/call_log/authenticate")]
    assert len(data) > 20
    # One login, then one more for each token the server revoked (a 401), never one per request.
    assert len(logins) == 1 + data.count(401)
    assert data.count(401) >= 2
    assert len(run.ids("interactions")) == len(set(run.ids("interactions"))) == 400
    assert run.log.count("is not after the server's own time") == untrusted
