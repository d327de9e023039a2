"""Evaluation the field's way: InterGen's metrics, its InterCLIP evaluator and its replicated protocol.

    from intermamba.evaluation import Evaluator, evaluate, resolve_settings
    evaluator = Evaluator.load("evaluators/demo/evaluator.safetensors")      # or InterGen's interclip.ckpt
    result = evaluate(test_set, evaluator, {"mine": generate}, resolve_settings(cfg.eval), collate_fn=collate)
    print(result.to_markdown())                                              # Table 1's layout

`generate(texts, lengths, seed) -> (B, T, 2, 262)` unnormalised features; `pipeline_generator(pipe)` makes one
from an InterMambaPipeline. `metrics` holds the pure metric functions.
"""

from . import metrics
from .evaluator import DEFAULT_EVALUATOR, EVALUATOR_PRESETS, Evaluator, EvaluatorConfig, InterCLIP
from .protocol import EvalResult, ProtocolSettings, evaluate, pipeline_generator, resolve_settings
from .contrastive import fit, retrieval_accuracy, train_evaluator

__all__ = ["metrics", "DEFAULT_EVALUATOR", "EVALUATOR_PRESETS", "Evaluator", "EvaluatorConfig", "InterCLIP", "EvalResult",
           "ProtocolSettings", "evaluate", "pipeline_generator", "resolve_settings", "fit", "retrieval_accuracy",
           "train_evaluator"]
