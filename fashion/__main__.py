"""One command line: python -m fashion {train,evaluate,predict,bench,export,...}."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# TensorFlow's C++ start-up chatter is noise on a command line.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _cmd_train(args: argparse.Namespace) -> int:
    from fashion.training.pipeline import train
    from fashion.training.train_config import config_from_args

    train(config_from_args(args))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from fashion.analysis.evaluate import evaluate_classifier
    from fashion.serving.classifier import Classifier

    clf = Classifier.load(args.model, **_models_dir(args))
    report = evaluate_classifier(clf)
    if args.json:
        print(json.dumps(report))
    else:
        from fashion.classes import CLASS_NAMES

        print(
            f"{report['model']}: test accuracy {report['test_accuracy']:.4f} "
            f"({report['n_params']:,} params)"
        )
        for name, acc in zip(CLASS_NAMES, report["per_class_accuracy"]):
            print(f"  {name:<12} {acc:.4f}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from fashion.serving.predict import predict_files

    return predict_files(
        args.files, model=args.model, as_json=args.json, raw=args.raw, **_models_dir(args)
    )


def _cmd_bench(args: argparse.Namespace) -> int:
    from fashion.serving import bench

    result = bench.run(
        args.model,
        repeats=args.repeats,
        predict_repeats=args.predict_repeats,
        batch_repeats=args.batch_repeats,
    )
    print(json.dumps(result) if args.json else bench.to_markdown(result))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from fashion.serving.classifier import Classifier
    from fashion.serving.export import EXPORT_DIR, export

    clf = Classifier.load(args.model, **_models_dir(args))
    path = export(clf.model, args.format, args.out or EXPORT_DIR, clf.name)
    print(path)
    return 0


def _models_dir(args: argparse.Namespace) -> dict:
    from pathlib import Path

    return {"models_dir": Path(args.models_dir)} if getattr(args, "models_dir", None) else {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fashion", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    from fashion.training.train_config import cli_arguments  # light: no TensorFlow

    p = sub.add_parser("train", help="train a registered model and write its card")
    cli_arguments(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="accuracy and confusion matrix on the 10k test set")
    _model_arguments(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="classify image files")
    p.add_argument("files", nargs="+")
    _model_arguments(p)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--raw",
        action="store_true",
        help="the files are already 28x28 Fashion-MNIST images (bright garment on black): "
        "skip the photo pipeline",
    )
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("bench", help="serving speed: latency, throughput, load and import time")
    p.add_argument("--model", help="shipped model name (default: the best one)")
    p.add_argument("--json", action="store_true", help="one JSON object (else a markdown table)")
    p.add_argument("--repeats", type=int, default=200, help="single-image calls per fast path")
    p.add_argument("--predict-repeats", type=int, default=50, help="single model.predict calls")
    p.add_argument("--batch-repeats", type=int, default=3, help="full 10k passes per path")
    p.set_defaults(func=_cmd_bench)

    from fashion.serving import export  # light: numpy only; TensorFlow loads when the command runs

    p = sub.add_parser("export", help="export a model as a SavedModel or a TFLite file")
    p.add_argument(
        "--format",
        choices=export.FORMATS,
        required=True,
        help="twin: the file the app serves (logits + features), e.g. --out assets/models; "
        "tflite-int8: int8 inside, a quarter of the size and CPU time (not served)",
    )
    _model_arguments(p)
    p.add_argument("--out", help="output folder (default: exports/)")
    p.set_defaults(func=_cmd_export)
    _model_commands(sub)
    return parser


def _model_commands(sub: argparse._SubParsersAction) -> None:
    """The commands that write or serve what sits beside a shipped model."""
    from fashion.training import calibrate  # light: TensorFlow loads only when the command runs

    p = sub.add_parser(
        "calibrate",
        help="fit the temperature and the not-a-garment threshold; write them into the card",
    )
    _model_arguments(p, every=True)
    p.add_argument("--json", action="store_true", help="one JSON object per model")
    p.set_defaults(func=calibrate.cli)

    p = sub.add_parser(
        "map", help="the 2-D map of the test set the app's Map page shows (NAME.map.npz)"
    )
    _model_arguments(p, every=True)
    p.add_argument("--seed", type=int, default=0, help="t-SNE's random state")
    p.add_argument("--limit", type=int, help="map only the first N test images (a quick check)")
    p.set_defaults(func=_cmd_map)

    p = sub.add_parser(
        "precompute",
        help="store a model's answers on the 10k test images beside it (NAME.test.npz)",
    )
    _model_arguments(p, every=True)
    p.set_defaults(func=_cmd_precompute)

    from fashion.serving import serve  # light: starts processes, imports neither TF nor Streamlit

    p = sub.add_parser("serve", help="run the app for visitors: one process, or K behind nginx")
    serve.cli_arguments(p)
    p.set_defaults(func=serve.main)

    p = sub.add_parser("models", help="list registered and shipped models")
    p.add_argument("--markdown", action="store_true", help="the README's table of shipped models")
    p.set_defaults(func=_cmd_models)


def _model_arguments(p: argparse.ArgumentParser, every: bool = False) -> None:
    """--model (or, with `every`, --model / --all) and --models-dir."""
    which = p.add_mutually_exclusive_group() if every else p
    which.add_argument("--model", help="shipped model name (default: the best one)")
    if every:
        which.add_argument("--all", action="store_true", help="every shipped model")
    p.add_argument("--models-dir")


def _cmd_map(args: argparse.Namespace) -> int:
    from fashion.analysis import feature_map
    from fashion.card import MODELS_DIR, shipped

    models_dir = args.models_dir or MODELS_DIR
    names = [c.name for c in shipped(models_dir)] if args.all else [args.model]
    for name in names:
        path = feature_map.write(name, models_dir, limit=args.limit, seed=args.seed)
        print(f"wrote {path} ({feature_map.TestMap.load(path).seconds:.0f} s)", flush=True)
    return 0


def _cmd_precompute(args: argparse.Namespace) -> int:
    import time

    from fashion.analysis import test_outputs
    from fashion.card import MODELS_DIR, default_name, shipped
    from fashion.data.official import test_set
    from fashion.serving.classifier import Classifier

    models_dir = args.models_dir or MODELS_DIR
    names = [c.name for c in shipped(models_dir)] if args.all else [args.model]
    images = test_set().as_float()
    for name in names:
        t0 = time.perf_counter()
        clf = Classifier.load(name or default_name(models_dir), Path(models_dir))
        path = test_outputs.write(clf, images, models_dir)
        print(f"wrote {path} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from fashion.card import shipped as shipped_cards
    from fashion.training.registry import MODELS

    shipped = {c.name: c for c in shipped_cards()}
    if args.markdown:
        print(_models_markdown(shipped))
        return 0
    for name, entry in MODELS.items():
        card = shipped.get(name)
        acc = f"{card.test_accuracy:.4f}" if card else "not trained"
        print(f"{name:<16} {acc:<12} {entry.description}")
    return 0


def _models_markdown(cards: dict) -> str:
    """The README's model table, from the cards (so it is never typed in by hand)."""
    from fashion.training.registry import MODELS

    rows = [
        "| model | test accuracy | floor | params | epochs | training time (2 CPU cores) |",
        "|---|---|---|---|---|---|",
    ]
    for name, card in sorted(cards.items(), key=lambda kv: -kv[1].test_accuracy):
        floor = MODELS[name].floor if name in MODELS else float("nan")
        rows.append(
            f"| `{name}` | {card.test_accuracy:.2%} | {floor:.1%} | {card.n_params:,} "
            f"| {card.epochs} | {card.train_seconds / 60:.0f} min |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
