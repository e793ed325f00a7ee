"""Logins: every source's credentials checked before any data request, one login at a time, tokens
trusted by the server's clock or until refused."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from singer_sdk.exceptions import FatalAPIError

from tap_liine.tap import TapLiine
from tests.helpers import all_sources_config, liine_config, run_cli, run_tap, sent

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
    assert said in result.stderr
    assert "Wr0ng-Secret!" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "RECORD" not in result.stdout
    assert _data_requests(server.url) == []
    checks = sent(server.url)
    assert len(checks) == len(set(checks)) <= 3  # one per source, up to the refused one


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
    warnings = [r.getMessage() for r in caplog.records if "Login at" in r.getMessage()]
    assert len(warnings) == 2 and "(try 1 of 3)" in warnings[0] and "(try 2 of 3)" in warnings[1]


def test_a_token_whose_expiry_reads_as_past_is_used_until_the_api_refuses_it(sandbox) -> None:
    # valid_until written five hours early (a naive New York time read as UTC): by the
    # server's clock the token has already expired, though the server accepts it for an hour.
    server = sandbox(scale=400, customers=[101], valid_until_shift=-18000, faults="expire", every=9)
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
    assert run.log.count("is not after the server's own time") == 1
