"""What a key allows narrows the plan: its model allowlist, its region, its images
flag. Planned through the real Gateway.plan_for, on a two-region catalog."""

from __future__ import annotations

import dataclasses

import pytest

from unit.test_policy_engine import TODAY, endpoint
from zdrgate.accounts.keys import Principal
from zdrgate.catalog.model import Catalog, Model
from zdrgate.config import Settings
from zdrgate.errors import NoRoutableEndpoint, PermissionDenied
from zdrgate.policy import Constraints, Reason
from zdrgate.routing import Preferences
from zdrgate.server.app import build_state
from zdrgate.service import Gateway

ANYONE = Principal("k1", is_admin=False)


def gateway(tmp_path: object) -> Gateway:
    us = dataclasses.replace(endpoint(pid="p"), region="us")
    eu = dataclasses.replace(endpoint(pid="q"), region="eu")
    both = Model("a/m", "M", (us, eu))
    drawing = dataclasses.replace(endpoint(pid="p"), output_modalities=("image",))
    painter = Model("a/img", "Img", (drawing,))
    providers = {e.provider.id: e.provider for e in (us, eu)}
    catalog = Catalog(providers, {"a/m": both, "a/img": painter})
    settings = Settings.model_validate(
        {"storage": {"database_url": f"sqlite:///{tmp_path}/e.db", "data_dir": str(tmp_path)}}
    )
    state = build_state(settings, catalog=catalog, environ={}, today=lambda: TODAY)
    state.gateway.catalog = catalog  # as given: no config providers merged in
    return state.gateway


def plan(gw: Gateway, principal: Principal, models: list[str], modality: str = "text") -> set[str]:
    constraints = Constraints(output_modality=modality)
    chosen = gw.plan_for(models, constraints, Preferences(), principal)
    return {a.endpoint.id for a in chosen.approvals}


def test_a_key_without_limits_reaches_every_region(tmp_path: object) -> None:
    assert plan(gateway(tmp_path), ANYONE, ["a/m"]) == {"p/m@us", "q/m@eu"}


def test_a_key_limited_to_a_region_reaches_only_its_endpoints(tmp_path: object) -> None:
    gw = gateway(tmp_path)
    assert plan(gw, dataclasses.replace(ANYONE, region="eu"), ["a/m"]) == {"q/m@eu"}
    with pytest.raises(NoRoutableEndpoint) as caught:
        plan(gw, dataclasses.replace(ANYONE, region="jp"), ["a/m"])
    assert Reason.OUTSIDE_REGION.value in caught.value.message


def test_a_model_outside_the_allowlist_is_a_403_naming_it(tmp_path: object) -> None:
    gw = gateway(tmp_path)
    only = dataclasses.replace(ANYONE, models=frozenset({"a/img"}))
    with pytest.raises(PermissionDenied) as caught:
        plan(gw, only, ["a/m"])
    assert caught.value.code == "model_not_allowed" and "'a/m'" in caught.value.message
    with pytest.raises(PermissionDenied):
        plan(gw, only, ["a/img", "a/m"])  # a fallback counts as much as the model


def test_a_key_without_images_may_not_generate_them(tmp_path: object) -> None:
    gw = gateway(tmp_path)
    no_images = dataclasses.replace(ANYONE, images_allowed=False)
    with pytest.raises(PermissionDenied) as caught:
        plan(gw, no_images, ["a/img"], modality="image")
    assert caught.value.code == "images_not_allowed"
    assert plan(gw, no_images, ["a/m"]) == {"p/m@us", "q/m@eu"}
    assert plan(gw, ANYONE, ["a/img"], modality="image") == {"p/m"}
