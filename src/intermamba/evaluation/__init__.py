"""Evaluation the field's way: InterGen's metrics, its InterCLIP evaluator and its replicated protocol.

    from intermamba.evaluation import Evaluator, evaluate, resolve_settings
    evaluator = Evaluator.load("evaluators/demo/evaluator.safetensors")      # or InterGen's interclip.ckpt
    result = evaluate(test_set, evaluator, {"mine": generate}, resolve_settings(cfg.eval), collate_fn=collate)
    print(result.to_markdown())                                              # Table 1's layout

`generate(texts, lengths, seed) -> (B, T, 2, 262)` unnormalised features; `pipeline_generator(pipe)` makes one
from an InterMambaPipeline. `metrics` holds the field's pure metric functions, `physical` the interaction-quality
ones on joints (interpenetration, merged people, hand contact, foot skating, floor penetration, jitter, bone drift).
"""

from . import metrics, physical
from .evaluator import DEFAULT_EVALUATOR, EVALUATOR_PRESETS, Evaluator, EvaluatorConfig, InterCLIP
from .protocol import EvalResult, ProtocolSettings, evaluate, pipeline_generator, resolve_settings
from .contrastive import fit, retrieval_accuracy, train_evaluator

__all__ = ["metrics", "physical", "DEFAULT_EVALUATOR", "EVALUATOR_PRESETS", "Evaluator", "EvaluatorConfig", "InterCLIP", "EvalResult",
           "ProtocolSettings", "evaluate", "pipeline_generator", "resolve_settings", "fit", "retrieval_accuracy",
           "train_evaluator"]
