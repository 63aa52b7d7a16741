"""One config per algorithm, with its paper's setting; the registry; the learner's inner loop."""

import dataclasses

import pytest
import torch

from metagan_lab.meta import (
    ALGORITHMS,
    ANILConfig,
    FOMAMLConfig,
    MAMLConfig,
    MetaConfig,
    MetaSGDConfig,
    ReptileConfig,
    config_for,
    new_learner,
)

CLASSES = {"maml": MAMLConfig, "fomaml": FOMAMLConfig, "metasgd": MetaSGDConfig,
           "anil": ANILConfig, "reptile": ReptileConfig}


def test_reptile_config_is_the_papers_omniglot_setting():
    """Nichol, Achiam & Schulman 2018, Omniglot: Adam inner steps (β1 = 0) of 0.001, 5 inner
    iterations on 10-shot training tasks, meta-batch 5, ε = 1 annealed to 0, 50 steps at test."""
    cfg = ReptileConfig()
    assert cfg.algorithm == "reptile"
    assert (cfg.inner_optimizer, cfg.inner_lr, cfg.inner_steps) == ("adam", 0.001, 5)
    assert cfg.train_shots == 10 and cfg.shots_while_training == 10 and cfg.k_shot == 1
    assert cfg.meta_batch == 5 and cfg.epsilon == 1.0 and cfg.eval_inner_steps == 50
    assert ReptileConfig.first_order and not ReptileConfig.learns_alpha
    assert config_for("reptile") == cfg
    assert config_for("reptile", iterations=200) == dataclasses.replace(cfg, iterations=200)


def test_maml_configs_are_finn_et_al_omniglot_setting():
    for cls in (MAMLConfig, FOMAMLConfig, MetaSGDConfig, ANILConfig):
        cfg = cls()
        assert (cfg.inner_lr, cfg.inner_steps, cfg.eval_inner_steps) == (0.4, 1, 3)
        assert (cfg.meta_batch, cfg.meta_lr, cfg.inner_optimizer) == (32, 1e-3, "sgd")
    assert FOMAMLConfig.first_order and not MAMLConfig.first_order
    assert ANILConfig.head_only and MetaSGDConfig.learns_alpha
    assert MetaConfig() == MetaConfig(algorithm="maml")
    assert dataclasses.asdict(MetaConfig()) == dataclasses.asdict(MAMLConfig())


def test_metaconfig_for_reptile_is_refused_naming_reptileconfig():
    with pytest.raises(ValueError,
                       match=r"MetaConfig\(algorithm='reptile'\).*ReptileConfig\(") as info:
        MetaConfig(algorithm="reptile")
    assert "config_for('reptile'" in str(info.value)
    with pytest.raises(ValueError, match="ReptileConfig"):
        MetaConfig(algorithm="reptile", inner_lr=0.001, inner_steps=5, inner_optimizer="adam")


@pytest.mark.parametrize("algorithm", ["fomaml", "metasgd", "anil"])
def test_metaconfig_cannot_name_an_algorithm_whose_inner_loop_it_lacks(algorithm):
    """MetaConfig(algorithm='fomaml') would run second order, 'metasgd' learn no α, 'anil' adapt
    every layer: refused, naming the class that is the algorithm."""
    with pytest.raises(ValueError, match=CLASSES[algorithm].__name__):
        MetaConfig(algorithm=algorithm)
    with pytest.raises(ValueError, match=CLASSES[algorithm].__name__):
        dataclasses.replace(MAMLConfig(), algorithm=algorithm)
    with pytest.raises(ValueError, match="MAMLConfig"):
        CLASSES[algorithm](algorithm="maml")


@pytest.mark.parametrize("algorithm", list(CLASSES))
def test_registry_configs_and_checkpoint_round_trip(algorithm):
    entry = ALGORITHMS[algorithm]
    assert entry.name == algorithm and entry.config is CLASSES[algorithm]
    assert entry.help and entry.paper and callable(entry.outer_step)
    cfg = config_for(algorithm, hidden=4, n_way=3)
    assert type(cfg) is CLASSES[algorithm] and cfg.hidden == 4
    assert config_for(**dataclasses.asdict(cfg)) == cfg           # what checkpoints store


def test_unknown_algorithms_are_named():
    with pytest.raises(ValueError, match="algorithm='mamal'"):
        config_for("mamal")
    assert set(ALGORITHMS) == set(CLASSES)


def test_each_learner_builds_its_algorithms_inner_loop():
    inner = {a: new_learner(config_for(a, hidden=4, n_way=3)).inner() for a in CLASSES}
    assert (inner["maml"].lr, inner["maml"].steps, inner["maml"].first_order) == (0.4, 1, False)
    assert inner["maml"].adapted is None and inner["maml"].optimizer == "sgd"
    assert inner["fomaml"].first_order
    assert inner["anil"].adapted == ("head.weight", "head.bias")
    assert isinstance(inner["metasgd"].lr, dict)
    assert all(torch.all(a == 0.4) for a in inner["metasgd"].lr.values())
    assert (inner["reptile"].optimizer, inner["reptile"].steps, inner["reptile"].lr,
            inner["reptile"].first_order) == ("adam", 5, 0.001, True)
    learner = new_learner(config_for("maml", hidden=4, n_way=3, eval_inner_steps=3))
    evaluation = learner.inner(3, True)
    assert evaluation.steps == 3 and evaluation.first_order
