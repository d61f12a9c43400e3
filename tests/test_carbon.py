"""The codecarbon wrapper: offline, complete reports, honest about failures and about estimates."""

from __future__ import annotations

import math
import socket

import pytest
from codecarbon import OfflineEmissionsTracker
from codecarbon.core import hardware_cache

from audioprune_lite import carbon


def busy(seconds: float = 0.3) -> int:
    """Keep one CPU core busy for about ``seconds``."""
    import time

    end, count = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        count += 1
    return count


@pytest.fixture
def no_network(monkeypatch):
    """Make every attempt to open a connection fail, and record it."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_report_is_complete_and_made_offline(no_network):
    hardware_cache.clear_cache()  # hardware detection, too, runs with the network blocked
    with carbon.track("busy loop") as report:
        busy()
    assert no_network == []
    assert report.ok and report.problem is None
    assert report.duration_s >= 0.25
    assert report.energy_kwh > 0
    assert report.energy_kwh == pytest.approx(
        report.cpu_energy_kwh + report.ram_energy_kwh + report.gpu_energy_kwh, rel=1e-6)
    assert report.carbon_intensity_g_per_kwh == pytest.approx(
        carbon.carbon_intensities().loc["GBR", "g_per_kwh"])
    assert report.emissions_kg == pytest.approx(
        report.energy_kwh * report.carbon_intensity_g_per_kwh / 1000, rel=1e-6)
    assert report.tracking_mode == "machine"
    sources = (report.cpu_power_source, report.ram_power_source, report.gpu_power_source)
    assert all(s.startswith(("measured", "estimated", "none", "not tracked")) for s in sources)
    assert report.power_measured == any(s.startswith("measured") for s in sources)
    assert report.as_series()["name"] == "busy loop"


def test_country_and_mode_are_applied():
    with carbon.track("france", country_iso_code="fra", tracking_mode="process") as report:
        busy(0.1)
    assert report.country_iso_code == "FRA" and report.tracking_mode == "process"
    assert report.carbon_intensity_g_per_kwh == pytest.approx(
        carbon.carbon_intensities().loc["FRA", "g_per_kwh"])
    assert "process" in report.cpu_power_source or report.cpu_power_source.startswith("measured")


def test_codecarbon_returning_nothing_is_reported(monkeypatch):
    stop = OfflineEmissionsTracker.stop

    def stop_and_return_nothing(self):
        stop(self)  # stops the tracker's threads; returns nothing, as codecarbon does after an error

    monkeypatch.setattr(OfflineEmissionsTracker, "stop", stop_and_return_nothing)
    with (pytest.warns(RuntimeWarning, match="codecarbon returned no measurement"),
          carbon.track("swallowed error") as report):
        busy(0.05)
    assert not report.ok and "codecarbon" in report.problem
    assert math.isnan(report.energy_kwh) and math.isnan(report.emissions_kg)
    assert report.duration_s > 0  # timed independently of codecarbon


def test_report_is_filled_when_the_block_raises():
    with pytest.raises(KeyError), carbon.track("failing block") as report:
        raise KeyError("boom")
    assert report.ok and report.duration_s >= 0


def test_files_are_written_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with carbon.track("no files"):
        busy(0.05)
    assert list(tmp_path.iterdir()) == []
    with carbon.track("to a file", output_dir=tmp_path / "out"):
        busy(0.05)
    assert (tmp_path / "out" / "emissions.csv").read_text().count("to a file") == 1


def test_bad_arguments_fail_before_running():
    with (pytest.raises(ValueError, match="no carbon intensity for country code 'XYZ'"),
          carbon.track("x", country_iso_code="XYZ")):
        pytest.fail("the block must not run")
    with pytest.raises(ValueError, match="tracking_mode"), carbon.track("x", tracking_mode="cluster"):
        pytest.fail("the block must not run")


def test_power_sources_tell_measured_from_estimated():
    def device(kind, **attributes):
        return type(kind, (), attributes)()

    measured = carbon._power_sources([device("CPU", _mode="intel_rapl", _tdp=65),
                                      device("RAM", _force_ram_power=None), device("GPU")])
    assert measured["cpu_power_source"] == "measured: RAPL energy counters"
    assert measured["gpu_power_source"].startswith("measured")
    assert measured["ram_power_source"].startswith("estimated: constant")
    assert measured["power_measured"] is True
    estimated = carbon._power_sources([device("CPU", _mode="constant", _tdp=85, _is_generic_tdp=True),
                                       device("RAM", _force_ram_power=3.0)])
    assert estimated["cpu_power_source"].startswith("estimated: constant, half a TDP of 85 W")
    assert estimated["ram_power_source"] == "constant given by the user: 3 W"
    assert estimated["gpu_power_source"].startswith("none")
    assert estimated["power_measured"] is False


def test_equivalents_use_the_cited_factors():
    assert carbon.equivalents(0.4)["car_miles"] == pytest.approx(1.0)
    assert carbon.equivalents(0.4)["car_km"] == pytest.approx(1.609344)
    seed_kg = carbon.SEED_RUN["car_miles"] * carbon.CAR_G_CO2_PER_MILE / 1000  # 5.2 kg
    seed = carbon.equivalents(seed_kg)
    assert seed["seed_run_share"] == pytest.approx(1.0)
    assert seed["seed_gpu_seconds"] == pytest.approx(48 * 3600)
    assert carbon.equivalents(0.0)["car_km"] == 0
    with pytest.raises(ValueError):
        carbon.equivalents(-1.0)
    with pytest.raises(ValueError):
        carbon.equivalents(float("nan"))
