"""The inputs Dataset: sizes, hand-checked geometry and channel, determinism, units."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from conftest import PAPER_YAML
from msrc_model.inputs import radio
from msrc_model.inputs import build_inputs
from msrc_model.config.loader import load_scenario


def test_sizes_of_the_paper_setup(paper_inputs):
    assert dict(paper_inputs.sizes) | {"pair": 0, "edge": 0, "ev": 0} == {
        "site": 19, "band": 4, "class": 4, "user": 1000, "time": 1441, "pair": 0, "edge": 0, "ev": 0, "site_rank": 19,
    }
    assert list(paper_inputs.band.values) == ["L800", "L1800", "L2600", "N3700"]


def test_class_shares_within_sampling_error(paper_inputs):
    n = paper_inputs.sizes["user"]
    counts = np.bincount(paper_inputs.user_class.values, minlength=4)
    for share, count in zip(paper_inputs.class_share.values, counts):
        assert abs(count / n - share) <= 4 * math.sqrt(share * (1 - share) / n)


def test_every_variable_has_units_and_long_name(paper_inputs):
    for name, variable in paper_inputs.data_vars.items():
        assert "units" in variable.attrs and "long_name" in variable.attrs, name
    assert paper_inputs.time.attrs["units"] == "s"


def test_hex_distances_and_radii(paper_inputs):
    ds = paper_inputs
    from_centre = ds.edge_distance_m.where(ds.edge_helper == 0, drop=True).values
    rounded, counts = np.unique(np.round(from_centre, 2), return_counts=True)
    assert list(rounded) == [500.0, 866.03, 1000.0]
    assert list(counts) == [6, 6, 6]
    nominal = 500 / math.sqrt(3)  # hex circumradius, 288.675 m
    np.testing.assert_allclose(ds.radius_normal_m, nominal)
    np.testing.assert_allclose(ds.radius_assisted_m, 0.5 * nominal)
    np.testing.assert_allclose(ds.radius_helping_m, 1000.0)  # L800 reaches farther than R_coop


def test_kappa_for_two_site_pairs(paper_inputs):
    ds = paper_inputs
    centre_arcs = ds.edge_helper == 0
    # helper disk 1000 m, assisted disk 288.675 m, 500 m apart: 500 + 288.7 < 1000, fully inside
    at_500 = ds.kappa.where(centre_arcs & (abs(ds.edge_distance_m - 500) < 1e-6), drop=True)
    np.testing.assert_allclose(at_500, 1.0)
    # 1000 m apart: lens area 122864.1 m^2 over pi * 288.675^2 = 261799.4 m^2
    at_1000 = ds.kappa.where(centre_arcs & (abs(ds.edge_distance_m - 1000) < 1e-6), drop=True)
    np.testing.assert_allclose(at_1000, 0.469306, atol=1e-6)
    assert bool((ds.kappa_ok == (ds.kappa >= 0.3)).all())


def test_edges_are_directed_arcs_with_reverse(paper_inputs):
    ds = paper_inputs
    reverse = ds.edge_reverse.values
    np.testing.assert_array_equal(ds.edge_helper.values[reverse], ds.edge_assisted.values)
    np.testing.assert_array_equal(ds.edge_assisted.values[reverse], ds.edge_helper.values)
    assert bool((ds.edge_distance_m <= 1000 + 1e-6).all())


def test_pairs_are_feasible_and_consistent(paper_inputs):
    ds = paper_inputs
    site = ds.pair_site.values
    user = ds.pair_user.values
    assert len(set(zip(user, site))) == ds.sizes["pair"]
    assert bool((ds.pair_distance_m.values <= ds.radius_helping_m.values[site]).all())
    assert bool((ds.sinr_db.max("band") >= ds.sinr_min_db).all())
    assert bool((ds.sinr_db >= ds.sinr_all_active_db - 1e-9).all())
    below = ds.sinr_db < ds.sinr_min_db
    assert bool((ds.spectral_efficiency.where(below) == 0).sum() == below.sum())
    np.testing.assert_allclose(
        ds.spectral_efficiency.where(~below), np.log2(1 + 10 ** (ds.sinr_db.where(~below) / 10))
    )
    assert bool(ds.user_covered.all())


def test_pair_path_loss_is_tr38901_plus_shadowing(paper_inputs):
    ds = paper_inputs
    for b, f_mhz in enumerate(ds.frequency_mhz.values):
        expected = radio.uma_path_loss_db(
            ds.pair_distance_m.values, f_mhz / 1e3, 25.0, 1.5, ds.pair_los.values
        ) + ds.pair_shadow_db.values
        np.testing.assert_allclose(ds.path_loss_db.values[:, b], expected, atol=2e-3)


def test_sinr_counts_weaker_sites_as_interference(tmp_path):
    """Three sites on a line, one user, NLOS without shadowing: SINR by hand."""
    path = tmp_path / "line.yaml"
    path.write_text(
        f"extends: {PAPER_YAML}\n"
        "network:\n  layout: table\n  sites:\n"
        "    - {name: A, x_m: 0, y_m: 0}\n    - {name: B, x_m: 200, y_m: 0}\n    - {name: C, x_m: -400, y_m: 0}\n"
        "traffic: {users: 1, hotspot_share: 0, area_side_m: 1}\n"
        "radio: {line_of_sight: nlos, shadowing: false}\n"
        "cooperation: {nominal_radius_m: 300}\n",
        encoding="utf-8",
    )
    ds = build_inputs(load_scenario(path).scenario)
    user = np.array([ds.user_x_m.item(), ds.user_y_m.item()])
    sites = np.stack([ds.site_x_m.values, ds.site_y_m.values], axis=1)
    distance = np.linalg.norm(sites - user, axis=1)  # about 66.7, 266.7, 333.3 m
    checked = 0
    for b in range(ds.sizes["band"]):
        eirp = ds.eirp_dbm.values[b]
        rx = 10 ** ((eirp - radio.uma_path_loss_nlos_db(distance, ds.frequency_mhz.values[b] / 1e3, 25, 1.5)) / 10)
        noise = 10 ** (ds.noise_dbm.values[b] / 10)
        strongest_first = np.argsort(-rx)
        for rank, s in enumerate(strongest_first):
            weaker = rx[strongest_first[rank + 1:]].sum()
            pair = np.flatnonzero(ds.pair_site.values == s)
            if len(pair) == 0:
                continue  # not decodable on any band
            expected_db = 10 * np.log10(rx[s] / (noise + weaker))
            assert ds.sinr_db.values[pair[0], b] == pytest.approx(expected_db, abs=1e-3)
            all_active_db = 10 * np.log10(rx[s] / (noise + rx.sum() - rx[s]))
            assert ds.sinr_all_active_db.values[pair[0], b] == pytest.approx(all_active_db, abs=1e-3)
            checked += 1
    assert checked >= 2 * ds.sizes["band"]


def test_ev_fleet(paper_inputs):
    ds = paper_inputs
    assert 20 <= ds.sizes["ev"] <= 110  # Poisson with mean 3 x 19 = 57
    assert bool(((ds.ev_capacity_kwh >= 20) & (ds.ev_capacity_kwh <= 120)).all())
    assert bool(((ds.ev_soc_initial >= 0.5) & (ds.ev_soc_initial <= 0.8)).all())
    assert bool(((ds.ev_arrival_s >= 0) & (ds.ev_arrival_s <= 6 * 3600)).all())
    present = (ds.ev_arrival_s <= ds.time) & (ds.time < ds.ev_departure_s)
    assert bool((present == ds.ev_present).all())


def test_evs_switched_off(paper_scenario):
    ds = build_inputs(paper_scenario.model_copy(update={"ev": paper_scenario.ev.model_copy(update={"enabled": False})}))
    assert ds.sizes["ev"] == 0
    assert ds.ev_present.shape == (0, ds.sizes["time"])


def test_same_seed_same_dataset_other_seed_other_draws(paper_scenario, paper_inputs):
    xr.testing.assert_identical(build_inputs(paper_scenario, trial=0), paper_inputs)
    other = build_inputs(paper_scenario.model_copy(update={"seed": paper_scenario.seed + 1}), trial=0)
    assert not np.array_equal(other.user_x_m.values, paper_inputs.user_x_m.values)
    assert not np.array_equal(other.demand_mbps.values, paper_inputs.demand_mbps.values)
    assert other.sizes["ev"] != paper_inputs.sizes["ev"] or not np.array_equal(
        other.ev_arrival_s.values, paper_inputs.ev_arrival_s.values
    )


def test_trials_are_independent_and_rebuildable(paper_scenario):
    third = build_inputs(paper_scenario, trial=3)
    build_inputs(paper_scenario, trial=7)  # building another trial in between changes nothing
    xr.testing.assert_identical(build_inputs(paper_scenario, trial=3), third)
    first = build_inputs(paper_scenario, trial=1)
    assert not np.array_equal(first.user_x_m.values, third.user_x_m.values)


def test_load_scales_demand(paper_scenario, paper_inputs):
    heavy = build_inputs(paper_scenario.model_copy(update={"traffic": paper_scenario.traffic.model_copy(update={"load": 1.8})}))
    np.testing.assert_allclose(heavy.demand_mbps, 1.8 * paper_inputs.demand_mbps)
    np.testing.assert_allclose(heavy.user_x_m, paper_inputs.user_x_m)


def test_demand_and_sla(paper_inputs):
    ds = paper_inputs
    classes = list(ds["class"].values)
    voice = ds.user_class == classes.index("voice")
    np.testing.assert_allclose(ds.demand_mbps.where(voice, drop=True), 0.064)
    np.testing.assert_allclose(ds.min_rate_mbps.where(voice, drop=True), 0.064)
    essential = ds.user_class == classes.index("essential")
    np.testing.assert_allclose(
        ds.min_rate_mbps.where(essential, drop=True), 0.5 * ds.demand_mbps.where(essential, drop=True)
    )
    best_effort = ds.user_class == classes.index("best_effort")
    assert bool((ds.min_rate_mbps.where(best_effort, drop=True) == 0).all())
    # LogNormal(1.5, 0.7): median exp(1.5) = 4.48 Mbit/s
    assert 3.8 < float(np.median(ds.demand_mbps.where(best_effort, drop=True))) < 5.3
