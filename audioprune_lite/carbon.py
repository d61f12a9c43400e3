"""Energy and CO2 of a block of code, estimated offline with codecarbon; and what the numbers compare to.

Chapter 6 measures training, pruning and fine-tuning with :func:`track`, a context manager
around codecarbon's ``OfflineEmissionsTracker``. Offline means that the grid's carbon
intensity comes from a table bundled with codecarbon (:func:`carbon_intensities`) instead
of a web service: nothing here opens a network connection.

How codecarbon gets power matters more than any other detail. With hardware energy counters
(Intel/AMD RAPL for the CPU package, NVIDIA's NVML for a GPU) it *measures*. Without them,
as on most virtual machines, it *estimates*: CPU
power from the CPU load and a thermal design power (TDP) taken from its table of CPU models
(or a default of a few watts per thread when the model is not in it), RAM power as a
constant from the amount of memory installed. Energy is then little more than duration
times a constant, and the report says so in its power-source fields.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

__all__ = [
    "CAR_G_CO2_PER_MILE",
    "KM_PER_MILE",
    "SEED_RUN",
    "CarbonReport",
    "carbon_intensities",
    "equivalents",
    "mean_power_w",
    "track",
]

CAR_G_CO2_PER_MILE = 400.0
"""Tailpipe CO2 of a typical passenger vehicle, grams per mile: "about 400 grams", US EPA,
*Tailpipe Greenhouse Gas Emissions from a Typical Passenger Vehicle*, EPA-420-F-23-014
(June 2023): 8,887 g CO2 per gallon of gasoline at the on-road fleet's average fuel economy
of about 22 miles per gallon. Tailpipe CO2 only (no fuel production, no other gases), for
the US fleet on the road; European cars emit less per mile."""

KM_PER_MILE = 1.609344

SEED_RUN = {"gpu": "NVIDIA RTX 2080 Ti", "hours": 48.0, "gpu_power_w": 250.0,
            "energy_kwh": 12.0, "car_miles": 13.0}
"""The framing of the article this book grew from: training on an RTX 2080 Ti for 48 hours
uses about 12 kWh (48 h x 250 W, about the card's rated board power) and emits about as
much CO2 as an average car driven 13 miles. The method is that of the Machine Learning CO2 Impact
calculator (Lacoste et al., *Quantifying the Carbon Emissions of Machine Learning*, 2019,
arXiv:1910.09700): energy = hardware power x hours, emissions = energy x the grid's
carbon intensity. 13 miles at :data:`CAR_G_CO2_PER_MILE` is 5.2 kg CO2, which implies a
grid of about 430 g CO2/kWh."""

_COUNTER_MODES = {"intel_rapl": "RAPL energy counters", "windows_emi": "Windows energy meter (RAPL)",
                  "intel_power_gadget": "Intel Power Gadget"}


@dataclass
class CarbonReport:
    """What :func:`track` measured for one block of code; filled when the block exits.

    :func:`track` yields it; Chapter 6 reads every field, Chapter 5 the power sources.

    Attributes
    ----------
    name : str
        The label given to :func:`track`.
    country_iso_code : str
        The country whose grid intensity was applied.
    carbon_intensity_g_per_kwh : float
        g CO2eq per kWh used to turn energy into emissions (codecarbon's table).
    duration_s : float
        Wall-clock seconds of the block.
    energy_kwh, cpu_energy_kwh, ram_energy_kwh, gpu_energy_kwh : float
        Energy in kWh, total and its CPU, RAM and GPU parts.
    cpu_power_w, ram_power_w, gpu_power_w : float
        Mean power codecarbon assigned to each part, in watts.
    cpu_tdp_w : float
        The thermal design power (W) codecarbon holds for the CPU: from its table of CPU
        models, or a default per CPU thread for a model it does not know. Where the CPU's
        power is estimated, it is the largest CPU power the estimate can reach; NaN when
        codecarbon set up no CPU device.
    emissions_kg : float
        kg CO2eq: ``energy_kwh x carbon_intensity_g_per_kwh / 1000``.
    tracking_mode : str
        codecarbon's ``tracking_mode``: ``"machine"`` (the whole computer, other programs
        included) or ``"process"`` (this Python process and its children).
    cpu_power_source, ram_power_source, gpu_power_source : str
        How codecarbon obtained each part's power: measured by a hardware counter (RAPL,
        NVML, ...) or estimated (CPU load x TDP, a constant).
    power_measured : bool
        True if any part's power was read from a hardware counter; False when every part
        was estimated, in which case energy is essentially duration x a constant.
    cpu_model : str
        The CPU codecarbon detected.
    problem : str or None
        None when codecarbon returned a result; otherwise what went wrong (the numbers
        other than ``duration_s`` are then NaN).
    """

    name: str
    country_iso_code: str
    carbon_intensity_g_per_kwh: float
    duration_s: float = math.nan
    energy_kwh: float = math.nan
    cpu_energy_kwh: float = math.nan
    ram_energy_kwh: float = math.nan
    gpu_energy_kwh: float = math.nan
    cpu_power_w: float = math.nan
    ram_power_w: float = math.nan
    gpu_power_w: float = math.nan
    cpu_tdp_w: float = math.nan
    emissions_kg: float = math.nan
    tracking_mode: str = ""
    cpu_power_source: str = "unknown"
    ram_power_source: str = "unknown"
    gpu_power_source: str = "unknown"
    power_measured: bool = False
    cpu_model: str = ""
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether codecarbon returned a result."""
        return self.problem is None

    def as_series(self) -> pd.Series:
        """The report as a labelled column, for display. Used by: Chapter 6."""
        return pd.Series(asdict(self), name=self.name)


def carbon_intensities() -> pd.DataFrame:
    """Carbon intensity of electricity per country, from the table bundled with codecarbon.

    codecarbon ships annual national figures (its columns are those of Our World in Data's
    energy data set; the year is given per country) and converts a country's generation mix
    into g CO2eq/kWh when no intensity is given directly. This function asks codecarbon's
    own conversion (``Emissions.get_country_emissions`` for 1 kWh, as its offline tracker
    does), so its numbers are the ones :func:`track` applies. A yearly national average:
    the intensity at a given hour can be far from it.

    Used by: :func:`track` and Chapter 6 (the country widget).

    Returns
    -------
    pandas.DataFrame
        Indexed by three-letter ISO country code; columns ``country``, ``g_per_kwh``,
        ``year``, and ``fossil_share`` and ``low_carbon_share``: the shares of the country's
        electricity generated from fossil fuels and from low-carbon sources (nuclear and
        renewables) in codecarbon's table (NaN where it gives no generation); sorted by
        country name.
    """
    from codecarbon.core.emissions import Emissions
    from codecarbon.core.units import Energy
    from codecarbon.external.geography import GeoMetadata
    from codecarbon.input import DataSource

    data = DataSource()
    emissions, one_kwh = Emissions(data), Energy.from_energy(kWh=1)
    def share(entry: dict, column: str) -> float:
        total = entry.get("total_TWh") or 0.0
        return entry.get(column, math.nan) / total if total > 0 else math.nan

    rows = {code: {"country": entry["country_name"],
                   "g_per_kwh": 1000 * emissions.get_country_emissions(one_kwh, GeoMetadata(code)),
                   "year": entry.get("year"),
                   "fossil_share": share(entry, "fossil_TWh"),
                   "low_carbon_share": share(entry, "low_carbon_TWh")}
            for code, entry in data.get_global_energy_mix_data().items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("iso_code").sort_values("country")


def _intensity(country_iso_code: str) -> float:
    """g CO2eq/kWh for a country, or a ValueError naming a few valid codes."""
    table = carbon_intensities()
    code = str(country_iso_code).upper()
    if code not in table.index:
        raise ValueError(f"codecarbon has no carbon intensity for country code {country_iso_code!r}; "
                         "use a three-letter ISO code such as 'GBR', 'FRA', 'DEU' or 'USA' "
                         "(carbon_intensities() lists them all)")
    return float(table.loc[code, "g_per_kwh"])


# How codecarbon obtains power has no public API (codecarbon 3.3). The functions below
# read these private attributes, and tests/test_carbon.py checks each of them on real
# codecarbon objects, so that an upgrade that renames or repurposes one fails there:
# the tracker's ``_hardware`` (the device objects it set up), a CPU device's ``_mode`` and
# ``_tdp``, a RAM device's ``_force_ram_power``, and ``TDP._get_cpu_power_from_registry``
# (is a CPU model in codecarbon's table?). Where one is missing, a report says "unknown".

def _cpu_source(device, tracking_mode: str) -> str:
    """How codecarbon obtains the CPU's power, from its CPU device object."""
    mode, tdp = getattr(device, "_mode", None), getattr(device, "_tdp", None)
    if mode in _COUNTER_MODES:
        return f"measured: {_COUNTER_MODES[mode]}"
    watts = f"{tdp:g} W" if isinstance(tdp, (int, float)) else "unknown watts"
    if mode == "cpu_load":
        whose = "this process's" if tracking_mode == "process" else "the machine's"
        return f"estimated: {whose} CPU load x a TDP of {watts} ({_tdp_origin()})"
    if mode == "constant":
        return f"estimated: constant, half a TDP of {watts} ({_tdp_origin()})"
    return f"unknown (codecarbon CPU mode {mode!r})"


@lru_cache
def _tdp_origin() -> str:
    """Where codecarbon's TDP for this CPU comes from: its table, a per-thread default, or neither."""
    from codecarbon.core import cpu
    from codecarbon.core.hardware_cache import get_cached_tdp

    found = get_cached_tdp(cpu)  # the model codecarbon detected, and the TDP it found for it
    if found.tdp is None:
        return "codecarbon's generic value, the CPU being unknown"
    if found._get_cpu_power_from_registry(found.model):
        return f"from codecarbon's table of CPU models, for {found.model!r}"
    return (f"{found.model!r} is not in codecarbon's table of CPU models: "
            "a default power per CPU thread")


def _power_sources(hardware, tracking_mode: str) -> dict:
    """How codecarbon obtains the power of each part, from the hardware objects it set up."""
    sources = {"cpu_power_source": "not tracked", "ram_power_source": "not tracked",
               "gpu_power_source": "none: no GPU found"}
    for device in hardware:
        kind = type(device).__name__
        if kind == "CPU":
            sources["cpu_power_source"] = _cpu_source(device, tracking_mode)
        elif kind == "RAM":
            forced = getattr(device, "_force_ram_power", None)
            sources["ram_power_source"] = (
                f"constant given by the user: {forced:g} W" if forced is not None else
                "estimated: constant from the memory size (about 5 W per estimated memory module)")
        elif kind == "GPU":
            sources["gpu_power_source"] = "measured: the GPU's energy counter (NVML or AMD SMI)"
        elif kind in ("AppleSiliconChip", "Raspberry"):
            part = getattr(device, "chip_part", "CPU").lower()
            tool = "powermetrics" if kind == "AppleSiliconChip" else "the board's power monitor"
            sources[f"{part}_power_source"] = f"measured: {tool}"
    sources["power_measured"] = any(s.startswith("measured") for s in sources.values())
    return sources


def _offline_tracker(name: str, country_iso_code: str, intensity: float, output_dir, tracking_mode: str):
    """An OfflineEmissionsTracker that writes only where asked and never reaches the network."""
    from codecarbon import OfflineEmissionsTracker
    from codecarbon.output_methods.base_output import OutputMethod

    logging.getLogger("codecarbon").setLevel(logging.ERROR)  # before codecarbon's own init messages
    if output_dir is not None:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
    return OfflineEmissionsTracker(
        project_name=name,
        country_iso_code=country_iso_code,
        # the intensity is passed explicitly so that no online source (Electricity Maps) is consulted
        force_carbon_intensity_g_co2e_kwh=intensity,
        output_methods=[OutputMethod.CSV] if output_dir is not None else [],
        output_dir=str(output_dir) if output_dir is not None else ".",
        emissions_endpoint=False,  # False, not None: None would let a config file set an endpoint
        tracking_mode=tracking_mode,
        log_level="error",
        allow_multiple_runs=True,  # no lock file: several notebooks may run at once
    )


@contextmanager
def track(name: str, *, country_iso_code: str = "GBR", output_dir=None, tracking_mode: str = "machine"):
    """Measure the energy and CO2 of the code in a ``with`` block with codecarbon, offline.

    The report is yielded at once and filled when the block exits (also when it raises).
    codecarbon logs and swallows its own errors and can return nothing: the report then
    has ``ok == False``, a ``problem`` saying so, NaN numbers (except the duration, timed
    here), and a ``RuntimeWarning`` is issued. No network connection is opened: the grid
    intensity comes from :func:`carbon_intensities` and no online output is enabled.

    The first call in a process takes a second or two (codecarbon detects the hardware
    once); later calls add milliseconds.

    Used by: Chapter 6 (training, pruning) and :func:`audioprune_lite.fewer_examples.run_fewer_examples`
    (Chapter 5's fine-tuning runs).

    Parameters
    ----------
    name : str
        A label for the measurement (codecarbon's project name).
    country_iso_code : str
        Three-letter ISO code of the grid whose average carbon intensity applies.
    output_dir : str or Path, optional
        When given, codecarbon also appends a row to ``emissions.csv`` in this folder
        (created if missing); by default nothing is written.
    tracking_mode : {"machine", "process"}
        codecarbon's mode: the whole machine, or this process (and its children) only.

    Yields
    ------
    CarbonReport

    Raises
    ------
    ValueError
        For a country code codecarbon has no intensity for, or an unknown tracking mode,
        before anything runs.

    Examples
    --------
    >>> with track("sum") as report:
    ...     total = sum(range(10**6))
    >>> report.duration_s > 0
    True
    """
    if tracking_mode not in ("machine", "process"):
        raise ValueError(f"tracking_mode must be 'machine' or 'process', got {tracking_mode!r}")
    intensity = _intensity(country_iso_code)
    report = CarbonReport(name=name, country_iso_code=country_iso_code.upper(),
                          carbon_intensity_g_per_kwh=intensity, tracking_mode=tracking_mode)
    tracker = _offline_tracker(name, country_iso_code.upper(), intensity, output_dir, tracking_mode)
    tracker.start()
    start = time.perf_counter()
    try:
        yield report
    finally:
        report.duration_s = time.perf_counter() - start
        emissions = tracker.stop()
        _fill(report, tracker, emissions)


def _fill(report: CarbonReport, tracker, emissions) -> None:
    """Copy codecarbon's result into ``report``, or record that there is none."""
    data = getattr(tracker, "final_emissions_data", None)
    if emissions is None or data is None:
        report.problem = ("codecarbon returned no measurement (it logs and swallows its own "
                          "errors; run with logging level 'error' visible to see them)")
        warnings.warn(f"carbon.track({report.name!r}): {report.problem}", RuntimeWarning, stacklevel=4)
        return
    report.duration_s = data.duration
    report.energy_kwh = data.energy_consumed
    report.cpu_energy_kwh, report.ram_energy_kwh, report.gpu_energy_kwh = (
        data.cpu_energy, data.ram_energy, data.gpu_energy)
    report.cpu_power_w, report.ram_power_w, report.gpu_power_w = (
        data.cpu_power, data.ram_power, data.gpu_power)
    report.emissions_kg = emissions
    report.tracking_mode = data.tracking_mode
    report.cpu_model = data.cpu_model or ""
    hardware = getattr(tracker, "_hardware", None)
    if hardware is not None:
        for field, value in _power_sources(hardware, data.tracking_mode).items():
            setattr(report, field, value)
        report.cpu_tdp_w = _cpu_tdp(hardware)


def _cpu_tdp(hardware) -> float:
    """The TDP (W) of codecarbon's CPU device among ``hardware``, NaN if there is none."""
    for device in hardware:
        tdp = getattr(device, "_tdp", None)
        if type(device).__name__ == "CPU" and isinstance(tdp, (int, float)):
            return float(tdp)
    return math.nan


def equivalents(kg: float) -> dict:
    """Put an amount of CO2 in perspective: car distance, and the seed article's 48-hour GPU run.

    Used by: Chapter 6.

    Parameters
    ----------
    kg : float
        kg CO2eq.

    Returns
    -------
    dict
        ``car_miles`` and ``car_km``: distance driven by a typical passenger car emitting
        the same (US EPA, :data:`CAR_G_CO2_PER_MILE`); ``seed_run_share``: the fraction of
        the seed article's run (48 h on an RTX 2080 Ti, about 12 kWh and 13 car miles,
        :data:`SEED_RUN`); ``seed_gpu_seconds``: seconds of that GPU run that emit the same.

    Examples
    --------
    >>> round(equivalents(0.4)["car_miles"], 3)
    1.0
    """
    if not kg >= 0:
        raise ValueError(f"kg must be a non-negative amount of CO2, got {kg}")
    car_miles = 1000 * kg / CAR_G_CO2_PER_MILE
    seed_share = car_miles / SEED_RUN["car_miles"]
    return {"car_miles": car_miles, "car_km": car_miles * KM_PER_MILE,
            "seed_run_share": seed_share, "seed_gpu_seconds": seed_share * SEED_RUN["hours"] * 3600}


def mean_power_w(runs: pd.DataFrame) -> float:
    """The mean power of measured runs: their total energy over their total duration, in watts.

    Where codecarbon estimates power from constants, every run's energy is close to its
    duration times this power.

    Used by: Chapters 5 and 6.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per run, with columns ``energy_kwh`` and ``wall_time_s`` (the table of
        :func:`audioprune_lite.fewer_examples.run_fewer_examples`).

    Returns
    -------
    float
    """
    seconds = float(runs["wall_time_s"].sum())
    if not seconds > 0:
        raise ValueError(f"the runs last {seconds} s in total: "
                         "there is no duration to average power over")
    return 3.6e6 * float(runs["energy_kwh"].sum()) / seconds
