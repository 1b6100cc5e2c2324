"""The plots stored with every tuning study: optimisation history and parameter importance."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from trainforge.tracking.study_plots import optimisation_history, param_importances


def test_history_draws_complete_trials_and_the_best_so_far_line() -> None:
    values = [5.0, 3.0, 4.0, 2.0, None, 9.0]
    states = ["COMPLETE", "COMPLETE", "COMPLETE", "COMPLETE", "FAIL", "PRUNED"]
    figure = optimisation_history(range(6), values, states)
    (axes,) = figure.get_axes()
    (best_line,) = axes.get_lines()
    assert list(best_line.get_ydata()) == [5.0, 3.0, 3.0, 2.0]
    complete, pruned = axes.collections
    assert complete.get_offsets().shape == (4, 2)
    assert np.allclose(pruned.get_offsets(), [[5, 9.0]])  # the failed trial (no value) is left out
    assert axes.get_ylabel() == "validation MAE"


def test_history_of_a_study_with_no_finished_trial_says_so() -> None:
    figure = optimisation_history([0], [None], ["FAIL"])
    (axes,) = figure.get_axes()
    assert [text.get_text() for text in axes.texts] == ["no finished trial"]


def test_importances_are_sorted_with_the_most_important_on_top() -> None:
    figure = param_importances({"learning_rate": 0.7, "max_depth": 0.1, "subsample": 0.2})
    (axes,) = figure.get_axes()
    labels = [tick.get_text() for tick in axes.get_yticklabels()]
    assert labels == ["max_depth", "subsample", "learning_rate"]  # barh draws bottom-up
    assert isinstance(figure.canvas, FigureCanvasAgg)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_no_importances_gives_an_explanatory_panel() -> None:
    (axes,) = param_importances({}).get_axes()
    assert "too few finished trials" in axes.texts[0].get_text()
