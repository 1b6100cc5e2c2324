"""Search spaces of HPO studies: defaults, every refusal and the field it names, grids, and seeded samplers."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import optuna
import pytest

from trainforge.errors import InvalidInput
from trainforge.hpo import space as space_module
from trainforge.hpo.samplers import make_sampler
from trainforge.hpo.space import MAX_GRID_POINTS, STRATEGIES, SearchParam, SearchSpace, parse_search_space
from trainforge.models import get_family

FAMILY = get_family("lightgbm")


# --- defaults and the normalised form ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, {}])
def test_no_space_searches_the_familys_default_space(raw):
    space = parse_search_space("lightgbm", raw)
    assert space.family == "lightgbm"
    assert space.fixed == {}
    assert space.as_json() == FAMILY.default_search_space()
    # Every parameter with a declared search range is tuned, and only those.
    assert set(space.searched) == {name for name, spec in FAMILY.params.items() if spec.search is not None}


def test_default_distributions_follow_the_declarations():
    distributions = parse_search_space("lightgbm", None).distributions()
    assert distributions["n_estimators"] == optuna.distributions.IntDistribution(50, 1000, log=True)
    assert distributions["learning_rate"] == optuna.distributions.FloatDistribution(0.01, 0.3, log=True)
    assert distributions["max_depth"] == optuna.distributions.IntDistribution(3, 12)
    assert distributions["subsample"] == optuna.distributions.FloatDistribution(0.5, 1.0)
    assert distributions["reg_alpha"] == optuna.distributions.FloatDistribution(1e-8, 10.0, log=True)
    assert "max_bin" not in distributions and "early_stopping_rounds" not in distributions


def test_a_user_space_is_normalised_and_reads_back_to_itself():
    raw = {
        "subsample": {"type": "float", "low": 0.5, "high": 1, "step": 0.25},
        "max_depth": {"type": "int", "low": 3.0, "high": 12, "step": 3},
        "num_leaves": {"type": "categorical", "choices": [31, 63.0, 127]},
        "n_estimators": 200.0,
        "learning_rate": 0.05,
    }
    space = parse_search_space("lightgbm", raw)
    # The family's declaration order, whatever the order of the request.
    assert list(space.searched) == ["max_depth", "num_leaves", "subsample"]
    assert space.as_json() == {
        "max_depth": {"type": "int", "low": 3, "high": 12, "log": False, "step": 3},
        "num_leaves": {"type": "categorical", "choices": [31, 63, 127]},
        "subsample": {"type": "float", "low": 0.5, "high": 1.0, "log": False, "step": 0.25},
        "n_estimators": 200,
        "learning_rate": 0.05,
    }
    assert isinstance(space.fixed["n_estimators"], int)
    assert all(isinstance(choice, int) for choice in space.searched["num_leaves"].choices)
    assert parse_search_space("lightgbm", space.as_json()) == space


def test_search_param_objects_are_accepted_as_values():
    param = SearchParam(type="int", low=3, high=8)
    space = parse_search_space("lightgbm", {"max_depth": param})
    assert space.distributions() == {"max_depth": optuna.distributions.IntDistribution(3, 8)}


def test_trial_hyperparams_are_defaults_then_fixed_then_sampled():
    space = parse_search_space("lightgbm", {"max_depth": {"type": "int", "low": 3, "high": 8}, "n_estimators": 99})
    params = space.hyperparams({"max_depth": 5})
    assert params == {**FAMILY.defaults(), "n_estimators": 99, "max_depth": 5}


# --- refusals: each names its field ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("n_trees", {"type": "int", "low": 1, "high": 3}, "not a hyperparameter of lightgbm"),
        ("max_depth", {"type": "int", "low": 9, "high": 3}, "low (9) is greater than high (3)"),
        ("reg_alpha", {"type": "float", "low": 0, "high": 1, "log": True}, "log range needs low > 0"),
        ("subsample", {"type": "float", "low": 0.5, "high": 1, "step": 0}, "step must be greater than 0"),
        ("max_depth", {"type": "int", "low": 3, "high": 9, "step": -3}, "step must be greater than 0"),
        ("n_estimators", {"type": "int", "low": 50, "high": 100, "log": True, "step": 10}, "cannot be combined"),
        ("num_leaves", {"type": "categorical", "choices": []}, "at least one value"),
        ("num_leaves", {"type": "categorical", "choices": [31, 63, 31.0]}, "choice 31.0 is given twice"),
        ("max_depth", {"type": "int", "low": 2.5, "high": 9}, "low must be an integer"),
        ("max_depth", {"type": "int", "low": 2, "high": 9.5}, "high must be an integer"),
        ("max_depth", {"type": "int", "low": 2, "high": 8, "step": 1.5}, "step must be an integer"),
        ("learning_rate", {"type": "float", "low": 0, "high": 0.3}, "low 0 is outside the valid range (0, 1]"),
        ("subsample", {"type": "float", "low": 0.5, "high": 2}, "high 2 is outside the valid range (0, 1]"),
        ("max_depth", {"type": "int", "low": -5, "high": 3}, "outside the valid range [-1, 64]"),
        ("num_leaves", {"type": "categorical", "choices": [1, 63]}, "choice 1 is not valid"),
        ("num_leaves", {"type": "categorical", "choices": ["63"]}, "must be an integer, got str"),
        ("num_leaves", {"type": "categorical", "choices": [True]}, "got bool"),
        ("num_leaves", {"type": "categorical", "choices": [31.5]}, "must be an integer"),
        ("num_leaves", {"type": "categorical", "choices": [None]}, "choices[0] must be a string, number or boolean"),
        ("max_depth", {"type": "float", "low": 3, "high": 9}, "max_depth is an int parameter"),
        ("learning_rate", {"type": "int", "low": 1, "high": 1}, "learning_rate is a float parameter"),
        ("max_depth", {"type": "int", "low": 3}, "needs both low and high"),
        ("max_depth", {"type": "int", "low": 3, "high": 9, "lo": 1}, "unknown key 'lo'"),
        ("max_depth", {"low": 3, "high": 9}, "type is required"),
        ("max_depth", {"type": "integer", "low": 3, "high": 9}, "type:"),
        ("max_depth", {"type": "categorical", "choices": [3], "low": 3}, "takes choices, not low"),
        ("max_depth", {"type": "categorical", "choices": [3], "log": True}, "takes choices, not log"),
        ("max_depth", {"type": "int", "low": 3, "high": 9, "choices": [3]}, "choices need type 'categorical'"),
        ("learning_rate", {"type": "float", "low": math.nan, "high": 0.3}, "finite"),
        ("learning_rate", {"type": "float", "low": 0.01, "high": math.inf}, "finite"),
        ("learning_rate", {"type": "float", "low": "0.01", "high": 0.3}, "low: Input should be a valid number"),
        ("max_depth", {"type": "int", "low": 3, "high": 9, "log": "yes"}, "log:"),
        ("max_depth", {"type": "int", "low": 3, "high": 10, "step": 3}, "must be a multiple of step (3); e.g. high 9"),
        ("subsample", {"type": "float", "low": 0.5, "high": 1, "step": 0.2}, "e.g. high 0.9"),
        ("learning_rate", {"type": "float", "low": 0.01, "high": 0.3, "step": 1e-300}, "step (1e-300) is too small"),
        ("n_estimators", 0, "n_estimators must be in [1, 10000]"),
        ("n_estimators", [50, 100], "must be an integer, got list"),
        ("learning_rate", "0.1", "must be a number, got str"),
        ("learning_rate", True, "got bool"),
    ],
)
def test_bad_parameters_are_refused_naming_their_field(name, value, words):
    raw = {"subsample": {"type": "float", "low": 0.5, "high": 1.0}, name: value}
    with pytest.raises(InvalidInput) as caught:
        parse_search_space("lightgbm", raw)
    assert caught.value.field == f"search_space.{name}"
    assert words in caught.value.message


def test_an_unknown_name_lists_the_ones_the_family_takes():
    with pytest.raises(InvalidInput) as caught:
        parse_search_space("lightgbm", {"eta": 0.1})
    assert str(sorted(FAMILY.params)) in caught.value.message


def test_the_field_prefix_is_the_callers():
    with pytest.raises(InvalidInput) as caught:
        parse_search_space(
            "lightgbm", {"max_depth": {"type": "int", "low": 9, "high": 3}}, field_prefix="config.hyperparams"
        )
    assert caught.value.field == "config.hyperparams.max_depth"
    with pytest.raises(InvalidInput) as caught:
        parse_search_space("lightgbm", {"max_depth": 100}, field_prefix="config.hyperparams")
    assert caught.value.field == "config.hyperparams.max_depth"


@pytest.mark.parametrize("raw", [{"n_estimators": 100}, {"n_estimators": 100, "learning_rate": 0.05}])
def test_a_space_that_searches_nothing_is_refused(raw):
    with pytest.raises(InvalidInput, match="tunes no hyperparameter") as caught:
        parse_search_space("lightgbm", raw)
    assert caught.value.field == "search_space"


@pytest.mark.parametrize("raw", [[{"type": "int"}], "max_depth", 3])
def test_a_space_that_is_not_an_object_is_refused(raw):
    with pytest.raises(InvalidInput, match="must be an object") as caught:
        parse_search_space("lightgbm", raw)
    assert caught.value.field == "search_space"


def test_an_unknown_family_is_refused_naming_the_config_field():
    with pytest.raises(InvalidInput, match="unknown model family") as caught:
        parse_search_space("xgboost", None)
    assert caught.value.field == "config.model_family"


# --- strategies ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["bayes", "TPE", "", None])
def test_an_unknown_strategy_is_refused(strategy):
    with pytest.raises(InvalidInput, match="unknown optimization_strategy") as caught:
        parse_search_space("lightgbm", None, strategy=strategy)
    assert caught.value.field == "optimization_strategy"
    space = parse_search_space("lightgbm", None)
    with pytest.raises(InvalidInput) as caught:
        make_sampler(strategy, space, seed=1)
    assert caught.value.field == "optimization_strategy"


def test_gp_is_not_offered_without_the_pytorch_it_needs():
    # Optuna's GPSampler needs PyTorch, which trainforge does not install: it is not advertised, and refused.
    assert "gp" not in STRATEGIES
    with pytest.raises(InvalidInput, match="unknown optimization_strategy") as caught:
        parse_search_space("lightgbm", None, strategy="gp")
    assert caught.value.field == "optimization_strategy"


def test_a_strategy_whose_package_is_missing_is_refused_naming_it(monkeypatch):
    monkeypatch.setattr(space_module, "_installed", lambda module: module != "cmaes")
    with pytest.raises(InvalidInput, match="needs the cmaes package") as caught:
        parse_search_space("lightgbm", None, strategy="cmaes")
    assert caught.value.field == "optimization_strategy"


def test_every_strategy_is_available_here():
    space = parse_search_space("lightgbm", {"max_depth": {"type": "int", "low": 3, "high": 6}})
    for strategy in STRATEGIES:
        parse_search_space("lightgbm", space.as_json(), strategy=strategy)
        assert isinstance(make_sampler(strategy, space, seed=0), optuna.samplers.BaseSampler)


# --- grids -----------------------------------------------------------------------------------------------------


def test_the_grid_enumerates_every_point():
    space = parse_search_space(
        "lightgbm",
        {
            "max_depth": {"type": "int", "low": 3, "high": 12, "step": 3},
            "min_child_samples": {"type": "int", "low": 5, "high": 8, "log": True},
            "subsample": {"type": "float", "low": 0.5, "high": 1.0, "step": 0.1},
            "num_leaves": {"type": "categorical", "choices": [31, 63]},
            "learning_rate": {"type": "float", "low": 0.05, "high": 0.05, "step": 0.01},
        },
        strategy="grid",
    )
    assert space.grid() == {
        "learning_rate": [0.05],
        "max_depth": [3, 6, 9, 12],
        "num_leaves": [31, 63],
        "subsample": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0],  # exact decimals, not 0.6000000000000001
        "min_child_samples": [5, 6, 7, 8],
    }
    assert space.grid_size() == 1 * 4 * 2 * 6 * 4
    # Every grid point lies in its parameter's distribution (Optuna warns about those that do not).
    distributions = space.distributions()
    for name, points in space.grid().items():
        assert all(distributions[name]._contains(distributions[name].to_internal_repr(p)) for p in points)


def test_an_int_range_without_step_is_every_integer():
    space = parse_search_space("lightgbm", {"max_depth": {"type": "int", "low": -1, "high": 2}}, strategy="grid")
    assert space.grid() == {"max_depth": [-1, 0, 1, 2]}


def test_a_float_range_without_step_has_no_grid():
    raw = {
        "max_depth": {"type": "int", "low": 3, "high": 5},
        "learning_rate": {"type": "float", "low": 0.01, "high": 0.3},
    }
    space = parse_search_space("lightgbm", raw)  # fine for a sampling strategy
    assert space.grid_size() is None
    with pytest.raises(ValueError, match="learning_rate"):
        space.grid()
    with pytest.raises(InvalidInput, match="grid search needs a step") as caught:
        parse_search_space("lightgbm", raw, strategy="grid")
    assert caught.value.field == "search_space.learning_rate"
    with pytest.raises(InvalidInput) as caught:
        make_sampler("grid", space, seed=None)
    assert caught.value.field == "search_space.learning_rate"


def test_the_default_space_cannot_be_a_grid():
    with pytest.raises(InvalidInput, match="grid search needs a step") as caught:
        parse_search_space("lightgbm", None, strategy="grid")
    assert caught.value.field == "search_space.learning_rate"


def test_a_grid_over_the_limit_is_refused():
    raw = {
        "n_estimators": {"type": "int", "low": 1, "high": 1000},
        "num_leaves": {"type": "int", "low": 2, "high": 101},
        "max_depth": {"type": "int", "low": 1, "high": 2},
    }
    assert parse_search_space("lightgbm", raw).grid_size() == 200_000 > MAX_GRID_POINTS
    with pytest.raises(InvalidInput, match="the grid has 200000 points") as caught:
        parse_search_space("lightgbm", raw, strategy="grid")
    assert caught.value.field == "search_space"
    raw["max_depth"] = 3  # fixed: 100_000 points, the most allowed
    assert parse_search_space("lightgbm", raw, strategy="grid").grid_size() == MAX_GRID_POINTS


def test_the_grid_sampler_visits_each_point_once():
    space = parse_search_space(
        "lightgbm",
        {
            "max_depth": {"type": "int", "low": 3, "high": 9, "step": 3},
            "subsample": {"type": "float", "low": 0.8, "high": 1.0, "step": 0.1},
            "num_leaves": {"type": "categorical", "choices": [31, 63]},
        },
        strategy="grid",
    )
    sampler = make_sampler("grid", space, seed=3)
    study = optuna.create_study(sampler=sampler)
    seen = []
    while not sampler.is_exhausted(study):
        trial = study.ask(space.distributions())
        seen.append(tuple(trial.params[name] for name in space.grid()))
        study.tell(trial, 0.0)  # Optuna's own GridSampler raises RuntimeError here at the last point
    assert sorted(seen) == sorted(itertools.product(*space.grid().values()))
    assert len(seen) == space.grid_size()


# --- seeded samplers reproduce ---------------------------------------------------------------------------------

_SAMPLED_SPACE = {
    "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
    "max_depth": {"type": "int", "low": 3, "high": 12},
    "subsample": {"type": "float", "low": 0.5, "high": 1.0, "step": 0.1},
    "num_leaves": {"type": "categorical", "choices": [31, 63, 127]},
}


def _objective(params: dict) -> float:
    return (
        (math.log(params["learning_rate"]) - math.log(0.05)) ** 2
        + (params["max_depth"] - 6) ** 2 / 10
        + (params["subsample"] - 0.8) ** 2
        + params["num_leaves"] / 1000
    )


def _sampled_params(strategy: str, seed: int | None, n_trials: int = 14) -> list[dict]:
    space = parse_search_space("lightgbm", _SAMPLED_SPACE, strategy="tpe")
    study = optuna.create_study(sampler=make_sampler(strategy, space, seed))
    sequence = []
    for _ in range(n_trials):
        trial = study.ask(space.distributions())
        sequence.append(trial.params)
        study.tell(trial, _objective(trial.params))
    return sequence


@pytest.fixture(autouse=True)
def _quiet_optuna():
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    yield
    optuna.logging.set_verbosity(level)


@pytest.mark.parametrize("strategy", ["tpe", "random", "cmaes", "qmc"])
def test_a_seeded_sampler_reproduces_the_same_params(strategy):
    first = _sampled_params(strategy, seed=7)
    assert _sampled_params(strategy, seed=7) == first
    assert len({tuple(sorted(params.items())) for params in first}) > 1


@pytest.mark.parametrize("strategy", ["tpe", "random", "cmaes"])
def test_another_seed_samples_other_params(strategy):
    assert _sampled_params(strategy, seed=7, n_trials=3) != _sampled_params(strategy, seed=8, n_trials=3)


def test_search_space_is_a_frozen_value():
    space = parse_search_space("lightgbm", {"max_depth": {"type": "int", "low": 3, "high": 5}})
    assert isinstance(space, SearchSpace)
    with pytest.raises(AttributeError):
        space.family = "seasonal_naive"  # type: ignore[misc]


def test_qmc_draws_the_same_sobol_points_for_any_seed_after_the_first_trial():
    # As docs/hpo.md says: unscrambled Sobol points do not depend on the seed; only the first (random) trial does.
    assert _sampled_params("qmc", seed=7, n_trials=5)[1:] == _sampled_params("qmc", seed=8, n_trials=5)[1:]


def test_the_documented_defaults_are_the_codes():
    text = (Path(__file__).parents[3] / "docs" / "hpo.md").read_text()
    section = text[text.index("### Defaults per family") : text.index("### Strategies")]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = cells[1:]
    expected = {}
    for name, spec in FAMILY.params.items():
        search = spec.search_space()
        searched = "not searched"
        if search is not None:
            searched = f"{search['low']} \N{EN DASH} {search['high']}" + (", log" if search["log"] else "")
        expected[name] = [spec.kind, spec.range_text(), str(spec.default), searched]
    assert rows == expected
