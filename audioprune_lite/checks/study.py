"""Checks of the coding exercises of Chapters 6 and 7: energy and CO2, and intervals over seeds.

- :func:`energy` -- Chapter 6's ``energy_kwh(power_w, seconds)``, against codecarbon's own
  accumulation (``Energy.from_power_and_time`` for each measuring interval, summed), which
  gives the energy :func:`audioprune_lite.carbon.track` reports;
- :func:`emissions` -- Chapter 6's ``emissions_kg(energy_kwh, intensity_g_per_kwh)``,
  against codecarbon's conversion at the intensity ``track`` gives it, with intensities from
  :func:`audioprune_lite.carbon.carbon_intensities`;
- :func:`t_interval` -- Chapter 7's ``t_interval(values, confidence)``, against
  :func:`audioprune_lite.metrics.seed_interval`;
- :func:`paired_drop` -- Chapter 7's ``drop_from_tuned_alike(runs, pruned, method)``,
  against :func:`audioprune_lite.reproduce.summarise_pruning` on a small hand-made table of
  runs.

codecarbon is imported inside the checks of Chapter 6 only, so that importing
:mod:`audioprune_lite.checks` stays quick.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..carbon import SEED_RUN, carbon_intensities
from ..metrics import seed_interval
from ..reproduce import DROP_INTERVAL, summarise_pruning
from .runner import Case, CheckResult, close, run_cases

__all__ = ["emissions", "energy", "paired_drop", "t_interval"]

GRIDS = ["NOR", "FRA", "GBR", "USA", "DEU", "CHN", "POL", "IND"]
"""The national grids Chapter 6 compares (three-letter ISO codes)."""

DROP = "drop from unpruned fine-tuned alike (points)"
"""The column of :func:`~audioprune_lite.reproduce.summarise_pruning` holding the drop."""


def _relatively_close(got, expected) -> str | None:
    """:func:`~audioprune_lite.checks.runner.close` with no absolute tolerance: the energies
    and masses of CO2 here can be tiny numbers (3e-7 kWh, 2e-8 kg), which only a relative
    tolerance tells apart from each other and from 0."""
    return close(got, expected, atol=0.0)


def _tidy(value, decimals: int = 12) -> float:
    """``value`` as a float rounded to ``decimals`` decimals, far below the comparison's
    tolerance, so that a failing case shows ``0.0`` or ``2.851068`` rather than the
    reference's rounding noise (``-1.1e-14``, ``2.8510679999999997``)."""
    return round(float(value), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


# Chapter 6 --------------------------------------------------------------------------------

def _codecarbon_kwh(power_w, seconds) -> float:
    """Energy in kWh as codecarbon adds it up: ``Energy.from_power_and_time`` (kW x hours)
    for each interval's power (W) and length (s), summed; scalars and arrays broadcast."""
    from codecarbon.core.units import Energy, Power, Time

    total = Energy(0.0)
    for watts, length in np.broadcast(np.asarray(power_w, dtype=float), np.asarray(seconds, dtype=float)):
        total += Energy.from_power_and_time(power=Power.from_watts(float(watts)),
                                            time=Time.from_seconds(float(length)))
    return total.kWh


def energy(function) -> CheckResult:
    """Check Chapter 6's ``energy_kwh`` against codecarbon's sum of power x time per interval.

    The reference is codecarbon's own arithmetic (``Energy.from_power_and_time`` for each
    measuring interval, added up), by which :func:`audioprune_lite.carbon.track`'s energy
    is made. Cases: 250 W for no time at all (no energy, whatever the power: an answer that
    ignores the durations shows); the seed article's 48 hours at 250 W
    (:data:`~audioprune_lite.carbon.SEED_RUN`, 12 kWh: the factor from watt-seconds to kWh
    shows); an hour of readings every 15 s, as codecarbon takes them, at the powers of its
    estimate for loads drawn at random (one number for the whole trace); and readings at
    uneven intervals, each power held for its own length (the mean power times the total
    time is not the answer).

    Used by: Chapter 6.

    Parameters
    ----------
    function : callable
        The student's ``energy_kwh(power_w, seconds)``: ``power_w`` the mean power in W
        over each interval, a float or an array of shape ``(intervals,)``; ``seconds`` each
        interval's length in s, a float (every interval as long) or an array of the same
        shape; returns the total energy in kWh, a float.

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(6)
    tdp_w, ram_w = 8.0, 10.0  # a CPU codecarbon does not know (2 threads x 4 W), the RAM floor
    hour = ram_w + tdp_w * (0.1 + 0.9 * rng.uniform(0, 1, 240) ** 3)
    uneven_w = ram_w + tdp_w * (0.1 + 0.9 * rng.uniform(0, 1, 12) ** 3)
    uneven_s = rng.uniform(5.0, 120.0, 12)
    cases = [Case(name, args, _tidy(_codecarbon_kwh(*args)), hint=hint, compare=_relatively_close)
             for name, args, hint in [
        ("250 W for no time at all", (SEED_RUN["gpu_power_w"], 0.0),
         "A block that lasts no time uses no energy: does your answer depend on `seconds`?"),
        ("the article's 48 hours at 250 W", (SEED_RUN["gpu_power_w"], SEED_RUN["hours"] * 3600),
         "A watt held for a second is a joule: how many joules make one kWh?"),
        ("an hour of readings every 15 s", (hour, 15.0),
         "The whole trace used one amount of energy: does your function add up its intervals?"),
        ("readings at uneven intervals", (uneven_w, uneven_s),
         "Is each interval's power multiplied by that interval's own length?"),
    ]]
    return run_cases("energy from power and time", function, cases)


def _codecarbon_kg(energy_kwh, countries, table: pd.DataFrame) -> np.ndarray:
    """kg CO2eq as codecarbon computes it inside :func:`~audioprune_lite.carbon.track`: at the
    intensity ``track`` forces (the country's in ``table``, :func:`carbon_intensities`), for
    each energy (kWh) and country code; arrays broadcast, a 0-d array for scalars."""
    from codecarbon.core.emissions import Emissions
    from codecarbon.core.units import Energy
    from codecarbon.external.geography import GeoMetadata
    from codecarbon.input import DataSource

    data = DataSource()

    def one(kwh: float, country: str) -> float:
        grid = Emissions(data, force_carbon_intensity_g_co2e_kwh=float(table.loc[country, "g_per_kwh"]))
        return grid.get_private_infra_emissions(Energy.from_energy(kWh=float(kwh)), GeoMetadata(country))

    return np.vectorize(one, otypes=[float])(energy_kwh, countries)


def emissions(function) -> CheckResult:
    """Check Chapter 6's ``emissions_kg`` against codecarbon's conversion in ``track``.

    The reference is what codecarbon computes inside :func:`audioprune_lite.carbon.track`,
    which hands it a country's intensity from
    :func:`~audioprune_lite.carbon.carbon_intensities`; the student's function gets the
    intensity itself. Cases: the seed article's 12 kWh on the UK grid (grams per kWh, an answer
    in kilograms); a grid the table lists at 0 g/kWh (nothing is emitted: an intensity
    divided instead of multiplied shows); 2.5 Wh, about Chapter 5's whole study, on the
    eight grids Chapter 6 compares (an array of intensities, one answer per grid); and the
    energies of three phases (two epochs of training, pruning, a fine-tuning run) on the
    French grid (an array of energies, one answer per phase). Answers are compared with a
    relative tolerance only: a few milligrams of CO2 are not 0.

    Used by: Chapter 6.

    Parameters
    ----------
    function : callable
        The student's ``emissions_kg(energy_kwh, intensity_g_per_kwh)``: ``energy_kwh`` in
        kWh and ``intensity_g_per_kwh`` in g CO2eq per kWh, each a float or an array
        (a float and an array, or two arrays of the same shape); returns kg CO2eq,
        elementwise: a float, or an array of the arrays' shape.

    Returns
    -------
    CheckResult
    """
    table = carbon_intensities()
    zero_grid = table.index[table["g_per_kwh"] == 0][0]
    phases_kwh = np.array([1e-4, 3e-7, 5e-4])  # two epochs of training, pruning, a fine-tuning run
    study_kwh = 2.5e-3  # about what Chapter 5's whole study uses

    def case(name: str, kwh, countries, hint: str) -> Case:
        intensity = table.loc[countries, "g_per_kwh"]
        intensity = intensity.to_numpy(dtype=float) if isinstance(countries, list) else float(intensity)
        expected = _codecarbon_kg(kwh, countries, table)
        return Case(name, (kwh, intensity), _tidy(expected, 15) if expected.ndim == 0 else expected,
                    hint=hint, compare=_relatively_close)

    cases = [
        case("the article's 12 kWh on the UK grid", SEED_RUN["energy_kwh"], "GBR",
             "The intensity is in grams per kWh and the answer in kilograms: what does kWh "
             "times g/kWh leave, and how many grams make a kilogram?"),
        case("a grid listed at 0 g/kWh", study_kwh, zero_grid,
             "How much CO2 can any energy emit on a grid that emits nothing per kWh?"),
        case("one energy on eight grids", study_kwh, GRIDS,
             "Given an array of intensities, does your function give one answer per grid?"),
        case("three phases on the French grid", phases_kwh, "FRA",
             "Given an array of energies, does your function give one answer per phase?"),
    ]
    return run_cases("CO2 from energy and the grid", function, cases)


# Chapter 7 --------------------------------------------------------------------------------

def t_interval(function) -> CheckResult:
    """Check Chapter 7's ``t_interval`` against :func:`~audioprune_lite.metrics.seed_interval`.

    Cases: three seeds' accuracies in an array (two degrees of freedom: Student's t, not
    the normal 1.96, and the sample standard deviation, ``ddof=1``); two seeds in a list
    (t of one degree of freedom, 12.7); five seeds in a pandas Series, as a ``groupby``
    hands them over (pandas' ``std`` and numpy's differ by default); one seed (no
    interval: NaN); three identical values (no spread: 0, not NaN); and a 90 % interval
    (``confidence`` is used, and the interval is two-sided).

    Used by: Chapter 7.

    Parameters
    ----------
    function : callable
        The student's ``t_interval(values, confidence=0.95)``: ``values`` one number per
        seed (array, list or Series, shape ``(seeds,)``), ``confidence`` a fraction;
        returns the half-width of the t-interval of their mean, a float in the units of
        ``values`` (NaN for fewer than two values).

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(7)
    three = np.round(70 + 2.5 * rng.standard_normal(3), 2)
    two = [float(v) for v in np.round(0.7 + 0.02 * rng.standard_normal(2), 4)]
    five = pd.Series(np.round(65 + 3 * rng.standard_normal(5), 2), index=[0, 1, 2, 3, 4],
                     name="accuracy")
    cases = [Case(name, args, seed_interval(*args), hint=hint)
             for name, args, hint in [
        ("three seeds", (three, 0.95),
         "Three seeds leave two degrees of freedom: do both the quantile (two-sided) and "
         "the standard deviation take that into account?"),
        ("two seeds in a list", (two, 0.95),
         "Does your function take a list? With two values, which t quantile applies?"),
        ("five seeds in a pandas Series", (five, 0.95),
         "Is your standard deviation the same whether `values` is an array or a Series?"),
        ("one seed", (np.array([71.3]), 0.95),
         "What does the docstring ask for when there are fewer than two values?"),
        ("three identical values", (np.full(3, 69.5), 0.95),
         "Values that agree exactly have no spread: is your half-width zero?"),
        ("a 90 % interval", (three, 0.90),
         "Is `confidence` used, and which quantile leaves (1 - confidence) / 2 in each tail?"),
    ]]
    return run_cases("the t-interval over seeds", function, cases)


def _runs() -> pd.DataFrame:
    """A hand-made table of runs, as :func:`~audioprune_lite.reproduce.pruning_study` returns it.

    The unpruned network as trained (one run), then fine-tuned runs whose seed's luck is
    shared by every row (so pairing by seed matters): the unpruned network fine-tuned
    alike, C2 by cosine (a drop), C3 by l1 (a gain) and C1+C2+C3 by cosine (listed in the
    seed order 2, 0, 1) with three seeds each, and C1 by random pruning with one seed.
    Accuracies are fractions.
    """
    rng = np.random.default_rng(3)
    luck = 0.02 * rng.standard_normal(3)
    rows = [{"pruned": "none", "method": "none", "seed": 0, "params": 100_000, "accuracy": 0.700}]
    rows += [{"pruned": pruned, "method": method, "seed": seed, "params": params,
              "accuracy": round(level + luck[seed] + 0.004 * rng.standard_normal(), 4)}
             for pruned, method, seeds, level, params in [
                 ("none", "fine-tuned", [0, 1, 2], 0.705, 100_000),
                 ("C2", "cosine", [0, 1, 2], 0.690, 60_000),
                 ("C3", "l1", [0, 1, 2], 0.712, 80_000),
                 ("C1+C2+C3", "cosine", [2, 0, 1], 0.640, 30_000),
                 ("C1", "random", [0], 0.660, 95_000)]
             for seed in seeds]
    runs = pd.DataFrame(rows)
    return runs.assign(params_keras=runs["params"] + 500, macs=40 * runs["params"], clip_s=1.0,
                       accuracy_before=runs["accuracy"] - 0.1)


def paired_drop(function) -> CheckResult:
    """Check Chapter 7's ``drop_from_tuned_alike`` against
    :func:`~audioprune_lite.reproduce.summarise_pruning` (its drop from the unpruned network
    fine-tuned alike, and that drop's interval).

    Each case is a row of the summary of a hand-made table of runs (:func:`_runs`; a
    seed's luck is shared by every row, so pairing the runs by seed narrows the interval).
    Cases: the unpruned network fine-tuned alike itself (a drop of 0 with an interval of 0:
    the reference is not the network as trained, and the interval is taken over the
    seed-by-seed differences, not over one row's accuracies); C2 by cosine (unpruned minus
    pruned, in points); C3 by l1, which gains (a negative drop); C1+C2+C3 by cosine, its
    runs listed in another seed order (paired by seed, not by position); and C1 by random
    pruning with one seed (no interval; the drop compares the mean accuracies).

    Used by: Chapter 7.

    Parameters
    ----------
    function : callable
        The student's ``drop_from_tuned_alike(runs, pruned, method)``: ``runs`` a
        DataFrame with one row per run and columns ``pruned``, ``method``, ``seed`` and
        ``accuracy`` (a fraction), among others; ``pruned`` and ``method`` name the rows
        to compare; returns ``(drop, half_width)`` in points, two floats (``half_width``
        NaN where there is no interval).

    Returns
    -------
    CheckResult
    """
    runs = _runs()
    summary = summarise_pruning(runs, n_eval=300)
    cases = [Case(name, (runs, pruned, method),
                  tuple(_tidy(v) for v in summary.loc[(pruned, method), [DROP, DROP_INTERVAL]]),
                  hint=hint)
             for name, pruned, method, hint in [
        ("the unpruned network fine-tuned alike itself", "none", "fine-tuned",
         "Compared with itself, seed by seed, a network has no drop and no spread: which "
         "rows are your reference, and is the interval taken over the differences?"),
        ("C2 by cosine", "C2", "cosine",
         "Is the drop the reference minus the pruned network, and in points?"),
        ("C3 by l1 (a gain)", "C3", "l1",
         "A pruned network that scores higher has a negative drop: does your sign survive?"),
        ("C1+C2+C3 by cosine with its seeds out of order", "C1+C2+C3", "cosine",
         "Are the runs paired by their seed, or by where they stand in the table?"),
        ("C1 by random pruning with one seed", "C1", "random",
         "One run gives no interval; and is the drop the difference of the two mean "
         "accuracies, the reference's over all its seeds?"),
    ]]
    return run_cases("the drop from the unpruned network fine-tuned alike", function, cases)
