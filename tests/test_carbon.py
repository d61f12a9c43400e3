"""The codecarbon wrapper: offline, complete reports, honest about failures and about estimates."""

from __future__ import annotations

import inspect
import math
import socket

import pandas as pd
import pytest
from codecarbon import OfflineEmissionsTracker
from codecarbon.core import cpu as codecarbon_cpu
from codecarbon.core import hardware_cache
from codecarbon.external.hardware import CPU, GPU, MODE_CPU_LOAD
from codecarbon.external.ram import RAM
from codecarbon.input import DataSource

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
    assert report.cpu_power_source.startswith(("measured", "estimated"))
    assert report.ram_power_source.startswith(("measured", "estimated", "constant given"))
    assert report.gpu_power_source.startswith(("measured", "none"))
    assert report.power_measured == any(s.startswith("measured") for s in sources)
    assert report.cpu_tdp_w > 0
    if report.cpu_power_source.startswith("estimated"):  # the TDP the source names
        assert f"a TDP of {report.cpu_tdp_w:g} W" in report.cpu_power_source
    if "CPU load x a TDP" in report.cpu_power_source:  # the estimate never exceeds the TDP
        assert 0 < report.cpu_power_w <= report.cpu_tdp_w * 1.001
    assert report.as_series()["name"] == "busy loop"


def test_intensities_come_with_the_generation_mix():
    table = carbon.carbon_intensities()
    assert {"country", "g_per_kwh", "year", "fossil_share", "low_carbon_share"} <= set(table.columns)
    assert table["g_per_kwh"].between(0, 2000).all()
    shares = table[["fossil_share", "low_carbon_share"]].dropna()
    assert shares.stack().between(0, 1).all()
    assert (shares.sum(axis=1) - 1).abs().max() < 0.02  # the two shares cover the generation
    assert table.loc["FRA", "low_carbon_share"] > 0.8 > table.loc["POL", "low_carbon_share"]


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
    origin = carbon._tdp_origin()
    load = CPU.from_utils(".", MODE_CPU_LOAD, model="Some CPU", tdp=40, tracking_mode="process")
    estimated = carbon._power_sources([load, RAM()], "process")
    assert estimated["cpu_power_source"] == (
        f"estimated: this process's CPU load x a TDP of 40 W ({origin})")
    assert estimated["ram_power_source"].startswith("estimated: constant")
    assert estimated["gpu_power_source"].startswith("none")
    assert estimated["power_measured"] is False
    forced = carbon._power_sources([CPU.from_utils(".", "constant", model="Some CPU", tdp=85),
                                    RAM(force_ram_power=3)], "machine")
    assert forced["cpu_power_source"] == f"estimated: constant, half a TDP of 85 W ({origin})"
    assert forced["ram_power_source"] == "constant given by the user: 3 W"
    load._mode = "intel_rapl"  # as codecarbon sets it where RAPL is readable (checked below)
    measured = carbon._power_sources([load, RAM(), object.__new__(GPU)], "machine")
    assert measured["cpu_power_source"] == "measured: RAPL energy counters"
    assert measured["gpu_power_source"].startswith("measured")
    assert measured["power_measured"] is True


def test_the_private_codecarbon_attributes_that_carbon_reads():
    """codecarbon has no public API for how it obtains power, so carbon.py reads the private
    attributes checked here (listed in its comment above ``_cpu_source``). An upgrade that
    renames or repurposes one must fail here, not turn the reports' power sources "unknown"."""
    tracker = carbon._offline_tracker("probe", "GBR", 100.0, None, "process")
    tracker.start()
    busy(0.05)
    tracker.stop()
    devices = {type(device).__name__: device for device in tracker._hardware}  # the devices set up
    assert devices["CPU"]._mode in {MODE_CPU_LOAD, "constant", *carbon._COUNTER_MODES}
    assert isinstance(devices["CPU"]._tdp, (int, float)) and devices["CPU"]._tdp > 0  # watts
    assert carbon._cpu_tdp(tracker._hardware) == devices["CPU"]._tdp
    assert devices["RAM"]._force_ram_power is None  # watts a user forced; None: estimated
    for mode in carbon._COUNTER_MODES:  # the mode names of hardware counters, as CPU compares them
        assert f'"{mode}"' in inspect.getsource(CPU.__init__)
    registry = DataSource().get_cpu_power_data()  # codecarbon's table of CPU models and their TDP
    found = hardware_cache.get_cached_tdp(codecarbon_cpu)
    name, tdp = registry["Name"].iloc[0], float(registry["TDP"].iloc[0])
    assert found._get_cpu_power_from_registry(name) == tdp
    assert found._get_cpu_power_from_registry("No Such CPU 9000") is None


def test_mean_power_is_total_energy_over_total_time():
    runs = pd.DataFrame({"energy_kwh": [1e-3, 3e-3], "wall_time_s": [36.0, 108.0]})
    assert carbon.mean_power_w(runs) == pytest.approx(100.0)  # 14.4 kJ in 144 s
    with pytest.raises(ValueError, match="no duration"):
        carbon.mean_power_w(runs.iloc[:0])


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
