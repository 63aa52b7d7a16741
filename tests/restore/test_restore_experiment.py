"""run_experiment's budgets: the pooled baseline's iterations, and the warm start (MZSR)."""

from metagan_lab.restore.experiment import ExperimentConfig, run_experiment
from metagan_lab.restore.meta import RestoreMetaConfig

META = RestoreMetaConfig(meta_batch=1, k_shot=2, n_query=2, inner_steps=1,
                         inner_optimizer="adam", inner_lr=1e-3, adapt_lr=2e-3)


def _run(**kw):
    cfg = ExperimentConfig(meta=META, kinds=("noise",), hidden=2, depth=2, eval_tasks=2,
                           steps=(0, 1), self_supervised_rows=False, **kw)
    return run_experiment(cfg, "cpu", progress=False)


def test_pretrain_budget_and_warm_start_budgets():
    cold = _run(iterations=2, pretrain_iterations=3)
    assert len(cold["history_meta"]) == 2 and len(cold["history_pretrained"]) == 3
    warm = _run(iterations=2, pretrain_iterations=3, warm_start=True)
    assert len(warm["history_meta"]) == 2 and len(warm["history_pretrained"]) == 3 + 2
    # warm start: θ_meta moved away from θ_pre's 3-step weights by 2 meta-steps only (Adam, 1e-3)
    gap = max((warm["theta_meta"][n] - cold["theta_pretrained"][n]).abs().max().item()
              for n in warm["theta_meta"])
    assert 0 < gap <= 2.5e-3
    assert {r["method"] for r in warm["rows"]} >= {"meta-learned init", "pretrained on all"}


def test_test_time_adaptation_uses_adapt_lr_and_optimizer():
    assert META.test_lr == 2e-3 and META.test_optimizer == "adam"
    assert RestoreMetaConfig().test_lr == RestoreMetaConfig().inner_lr
