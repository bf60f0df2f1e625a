"""The sample server as the app's workers use it: a real subprocess on loopback, real files."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyairtable import Api
from requests import HTTPError

from pyairtable_ui.sample.manager import RECORD_NAME, SampleServers, SampleUnavailableError

DEALS = "Deals"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "sample"


@pytest.fixture
def servers(folder: Path) -> Iterator[SampleServers]:
    started = SampleServers(folder)
    yield started
    started.stop()


def crm(servers: SampleServers, token: str) -> tuple[Api, str]:
    api = Api(token, endpoint_url=servers.ensure().url)
    [base] = [base for base in api.bases() if base.name.startswith("Acme Sales CRM")]
    return api, base.id


def first_deal(api: Api, base_id: str) -> dict:
    return api.table(base_id, DEALS).all(sort=["Deal No"], max_records=1)[0]


def test_the_first_worker_starts_the_server_and_another_worker_reuses_it(
    servers: SampleServers, folder: Path
):
    started = servers.ensure()
    assert started.url.startswith("http://127.0.0.1:")
    assert (folder / RECORD_NAME).stat().st_mode & 0o077 == 0  # the key is ours alone

    other_worker = SampleServers(folder)
    assert other_worker.ensure() == started
    assert servers.ensure() == started


def test_each_sample_is_private_to_its_token(servers: SampleServers):
    first, second = servers.create_sample(), servers.create_sample()
    first_api, first_crm = crm(servers, first)
    second_api, second_crm = crm(servers, second)
    assert first_crm != second_crm
    assert first_crm.startswith("appSample") and second_crm.startswith("appSample")
    assert [base.name for base in first_api.bases()] == [
        "Acme Sales CRM (Sample)",
        "Product Roadmap (Sample)",
    ]

    deal = first_deal(first_api, first_crm)
    first_api.table(first_crm, DEALS).update(deal["id"], {"Name": "Renamed by the first user"})

    assert first_deal(second_api, second_crm)["fields"]["Name"] == deal["fields"]["Name"]
    with pytest.raises(HTTPError) as refused:
        first_api.table(second_crm, DEALS).all(max_records=1)
    assert refused.value.response.status_code in (403, 404)
    with pytest.raises(HTTPError) as unknown:
        Api("patUnknownUnknown1." + "0" * 64, endpoint_url=servers.ensure().url).whoami()
    assert unknown.value.response.status_code == 401


def test_a_sample_survives_a_restart_of_the_server(servers: SampleServers, folder: Path):
    token = servers.create_sample()
    api, base_id = crm(servers, token)
    deal = first_deal(api, base_id)
    api.table(base_id, DEALS).update(deal["id"], {"Name": "Kept across restarts"})
    before = servers.ensure()

    servers.stop()
    after_restart = SampleServers(folder)
    try:
        restarted = after_restart.ensure()
        assert restarted.pid != before.pid
        api = Api(token, endpoint_url=restarted.url)
        assert api.table(base_id, DEALS).get(deal["id"])["fields"]["Name"] == "Kept across restarts"
    finally:
        after_restart.stop()


def test_a_dead_server_is_replaced_on_the_next_request(servers: SampleServers, folder: Path):
    token = servers.create_sample()
    first = servers.ensure()
    other_worker = SampleServers(folder)
    assert other_worker.ensure() == first
    servers.stop()  # its worker restarted: the server went with it

    try:
        replacement = other_worker.ensure()
        assert replacement.pid != first.pid
        assert Api(token, endpoint_url=replacement.url).whoami()["id"]
    finally:
        other_worker.stop()


def test_reset_restores_the_seed_and_keeps_token_and_base_ids(servers: SampleServers):
    token = servers.create_sample()
    api, base_id = crm(servers, token)
    deal = first_deal(api, base_id)
    deals = api.table(base_id, DEALS)
    deals.update(deal["id"], {"Name": "Changed"})
    added = deals.create({"Name": "A deal that was not in the seed"})

    servers.reset_sample(token)

    assert crm(servers, token)[1] == base_id
    assert deals.get(deal["id"])["fields"]["Name"] == deal["fields"]["Name"]
    with pytest.raises(HTTPError) as gone:
        deals.get(added["id"])
    assert gone.value.response.status_code == 404


def test_control_endpoints_need_the_key(servers: SampleServers):
    url = servers.ensure().url
    request = urllib.request.Request(
        url + "/_emulator/samples", data=json.dumps({"key": "guess"}).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as no_seed:  # the emulator's raw export is gone
        urllib.request.urlopen(url + "/_emulator/seed", timeout=5)
    assert no_seed.value.code == 403


def test_resetting_an_unknown_sample_says_so(servers: SampleServers):
    with pytest.raises(SampleUnavailableError):
        servers.reset_sample("patUnknownUnknown1." + "0" * 64)
