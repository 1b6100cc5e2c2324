"""Plots of a tuning study: the optimisation history and the parameters' importance.

Optuna's own ``optuna.visualization.matplotlib`` draws these through ``pyplot``, whose global figure registry is
shared by every thread of the worker process and keeps figures alive until closed; like :mod:`plots`, these are
drawn on explicit Agg canvases instead. The importances themselves are Optuna's (``get_param_importances``, fANOVA).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["optimisation_history", "param_importances"]


def optimisation_history(
    numbers: Sequence[int], values: Sequence[float], states: Sequence[str], *, metric: str = "validation MAE"
) -> Figure:
    """Each finished trial's value by trial number, with the best value so far as a step line.

    Pruned trials are drawn hollow at their last reported value (if any): they show where the pruner stopped
    spending time. Failed trials have no value and are left out.
    """
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    points = [(n, v, s) for n, v, s in zip(numbers, values, states, strict=True) if v is not None and math.isfinite(v)]
    complete = [(n, v) for n, v, s in points if s == "COMPLETE"]
    pruned = [(n, v) for n, v, s in points if s == "PRUNED"]
    if complete:
        xs, ys = zip(*sorted(complete), strict=True)
        axes.scatter(xs, ys, s=18, color="tab:blue", label="complete trial")
        axes.step(xs, np.minimum.accumulate(ys), where="post", color="tab:red", label="best so far")
    if pruned:
        xs, ys = zip(*sorted(pruned), strict=True)
        axes.scatter(xs, ys, s=18, facecolors="none", edgecolors="tab:gray", label="pruned (last report)")
    if not points:
        axes.text(0.5, 0.5, "no finished trial", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel("trial")
    axes.set_ylabel(metric)
    axes.set_title("Optimisation history")
    if points:
        axes.legend(loc="upper right")
    return figure


def param_importances(importances: Mapping[str, float]) -> Figure:
    """A horizontal bar per parameter, most important on top (values from ``optuna.importance``)."""
    figure = Figure(figsize=(7, 0.5 + 0.45 * max(1, len(importances))), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if importances:
        ordered = sorted(importances.items(), key=lambda item: item[1])
        axes.barh([name for name, _ in ordered], [value for _, value in ordered], color="tab:blue")
        axes.set_xlabel("importance (fANOVA, share of the value's variance)")
    else:
        axes.text(0.5, 0.5, "too few finished trials to rank parameters", ha="center", va="center")
        axes.set_axis_off()
    axes.set_title("Hyperparameter importance")
    return figure
