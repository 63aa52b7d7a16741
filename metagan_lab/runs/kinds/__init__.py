"""One module per checkpoint kind, each with the same functions:

``REQUIRED``      keys a checkpoint of the kind must hold (besides "kind")
``EVAL_OPTIONS``  the ``EvalOptions`` fields its evaluation uses
``checkpoint(…)`` the format: the dict a training run saves (``runs.save``)
``build(ckpt, device)``            the model(s) with the trained weights
``describe(ckpt)``                 kind, algorithm, iterations/steps, dataset, config
``evaluate(ckpt, options, data, device, progress)``  the kind's metric, a result dict
``sample(ckpt, n, options, data, device)``           (PNG bytes, {"shows": …}); options: seed,
                                                     ways (classifiers)
"""

from __future__ import annotations

from . import (
         cyclegan,
         episodic,
         fewshot_gan,
         gan,
         meta,
         meta_vae,
         protonet,
         restorer,
         statistician,
         vae,
)

KINDS = {"protonet": protonet, "meta": meta, "gan": gan, "fewshot_gan": fewshot_gan,
         "vae": vae, "cyclegan": cyclegan, "restorer": restorer, "episodic": episodic,
         "meta_vae": meta_vae, "statistician": statistician}

__all__ = ["KINDS"]
