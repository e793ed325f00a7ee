"""Bad input and failures, through the real `tap-liine` command: clear, early, no secrets."""

from __future__ import annotations

import pytest
import requests

from tap_liine.sandbox.conversations import ConversationsApi
from tests.helpers import liine_config, run_cli

BAD_SETTINGS = [
    ({"customer_ids": ["abc"]}, "customer_ids"),
    ({"customer_ids": [101, 0]}, "customer_ids"),
    ({"customer_ids": []}, "customer_ids"),
    ({"start_date": "last tuesday"}, "start_date"),
    ({"start_date": None}, "start_date"),
    ({"interaction_types": ["call", "fax"]}, "interaction_types"),
    ({"password": None}, "password"),
    ({"username": ""}, "username"),
    ({"page_size": 5000}, "page_size"),
    ({"lookback_days": -1}, "lookback_days"),
    ({"include_spam": "yes"}, "include_spam"),
    ({"interaction_filters": {"customer_id": 5}}, "interaction_filters"),
    ({"max_retries": 0}, "max_retries"),
    ({"api_url": "not a url"}, "api_url"),
    ({"batch_config": {"batch_size": 0}}, "`batch_config.batch_size` must be 1 or more"),
]


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr[-2000:]


@pytest.mark.parametrize(("change", "setting"), BAD_SETTINGS, ids=[s.strip("`").split("`")[0] for _, s in BAD_SETTINGS])
def test_bad_setting_is_named_before_any_request(sandbox, tmp_path, change, setting) -> None:
    server = sandbox(scale=50)
    config = {k: v for k, v in {**liine_config(server.url), **change}.items() if v is not None}

    result = run_cli(tmp_path, config)

    assert result.returncode == 1
    assert setting in result.stderr
    assert result.stdout == ""
    _no_traceback(result.stderr)
    assert requests.get(f"{server.url}/_sandbox/requests", timeout=5).json() == []
    assert "demo-password" not in result.stderr


def test_no_source_configured_is_an_error(tmp_path) -> None:
    result = run_cli(tmp_path, {"start_date": "2025-01-01T00:00:00Z"})
    assert result.returncode == 1
    assert "No source is configured" in result.stderr
    _no_traceback(result.stderr)


def test_wrong_password_fails_once_with_a_clear_message(sandbox, tmp_path) -> None:
    server = sandbox(scale=50)
    config = liine_config(server.url, password="Wr0ng-Secret!")

    result = run_cli(tmp_path, config)

    assert result.returncode == 1
    assert "refused the login of user 'demo'" in result.stderr
    assert "`username` and `password`" in result.stderr
    assert "Wr0ng-Secret!" not in result.stderr + result.stdout
    _no_traceback(result.stderr)
    logins = [p for m, p in requests.get(f"{server.url}/_sandbox/requests", timeout=5).json() if "authenticate" in p]
    assert len(logins) == 1  # no retry loop on refused credentials


def test_exhausted_retries_name_endpoint_and_status(sandbox, tmp_path) -> None:
    server = sandbox(scale=50, faults="503", every=1)
    result = run_cli(tmp_path, liine_config(server.url, max_retries=3))

    assert result.returncode == 1
    assert "Giving up after 3 tries" in result.stderr
    assert "/call_log/authenticate/" in result.stderr or "/call_log/interactions/" in result.stderr
    assert "503" in result.stderr
    _no_traceback(result.stderr)


def test_other_4xx_fails_at_once_with_the_apis_words(sandbox, tmp_path) -> None:
    server = sandbox(scale=50)
    result = run_cli(tmp_path, liine_config(server.url, interaction_filters={"duration_min": "long"}))

    assert result.returncode == 1
    assert "400" in result.stderr
    assert "duration_min must be a number, got 'long'" in result.stderr
    _no_traceback(result.stderr)
    sent = [p for m, p in requests.get(f"{server.url}/_sandbox/requests", timeout=5).json() if "interactions" in p]
    # No retry: at most the first request of each of the 4 parallel windows, each once.
    assert 1 <= len(sent) <= 4
    assert len(set(sent)) == len(sent)


def test_secrets_never_appear_in_output_or_logs(sandbox, tmp_path) -> None:
    # Faults on (truncated login answers included), tokens expiring and revoked, two sources.
    conversations = ConversationsApi(api_key="ck-Very-Secret-Key", token_lifetime=0.3, conversations_per_location=60)
    server = sandbox(scale=3000, faults="all", every=5, token_lifetime=0.3, latency_ms=20, extra_apis=[conversations])
    server.apis[0].password = "S3cret-Pa55word"
    config = liine_config(
        server.url,
        password="S3cret-Pa55word",
        conversations_api_url=server.url,
        conversations_api_key="ck-Very-Secret-Key",
        conversations_subdomain="bright-smiles",
        conversations_location_ids=["3001", "3002"],
        max_retries=15,  # a try needs a login and a page to get through the fault schedule
    )

    result = run_cli(tmp_path, config)

    assert result.returncode == 0, result.stderr[-3000:]
    issued = [token for api in server.apis for token in api.tokens]
    assert len(issued) > 2
    everything = result.stdout + result.stderr
    assert "S3cret-Pa55word" not in everything
    assert "ck-Very-Secret-Key" not in everything
    for token in issued:
        assert token not in everything
        assert token[:40] not in everything
