"""NW-UCLA diagnostics behind docs/results.md (not part of the installed package).

``select``: a model-selection score that never reads the test camera. Features of the 1020
training clips (views 1 and 2); train on one view's labels, test on the other, both directions
averaged; skeletonzoo-eval's kNN (k = 20, cosine, similarity-weighted vote) and a converged
logistic regression. Used to
choose between NW-UCLA recipe variants without looking at view 3.

``ceiling``: the converged logistic regression (L-BFGS, standardised features) trained on
views 1-2 and scored on view 3 -- how much the papers' fixed SGD probe leaves on the table on a
1020-clip training set. A diagnostic only; the zoo's metrics are the papers' protocol.

    python scripts/nwucla_diagnostics.py select  --data data/nwucla skeletonclr-nwucla-xview run/x.safetensors
    python scripts/nwucla_diagnostics.py ceiling --data data/nwucla skeletonclr-nwucla-xview
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import skeletonzoo
from skeletonzoo.data import open_prepared
from skeletonzoo.evaluate import KNNConfig, knn_evaluate


def knn_accuracy(train: np.ndarray, train_y: np.ndarray, test: np.ndarray, test_y: np.ndarray) -> float:
    """Top-1 % of skeletonzoo-eval's kNN (k = 20, cosine, votes weighted by exp(cos / 0.07))."""
    return knn_evaluate(train, train_y, test, test_y, config=KNNConfig()).top1


def logreg_accuracy(
    train: np.ndarray, train_y: np.ndarray, test: np.ndarray, test_y: np.ndarray, weight_decay: float = 1e-4
) -> float:
    """Top-1 % of a multinomial logistic regression fitted to convergence (L-BFGS, float64).

    Features are standardised with the training set's mean and std; ``weight_decay`` is the
    L2 penalty on the weights.
    """
    a, b = torch.as_tensor(train, dtype=torch.float64), torch.as_tensor(test, dtype=torch.float64)
    mean, std = a.mean(0), a.std(0).clamp_min(1e-8)
    a, b = (a - mean) / std, (b - mean) / std
    labels = torch.as_tensor(train_y, dtype=torch.int64)
    torch.manual_seed(0)
    head = torch.nn.Linear(a.shape[1], int(labels.max()) + 1).double()
    opt = torch.optim.LBFGS(head.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(a), labels) + weight_decay * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(100 * (head(b).argmax(1).numpy() == test_y).mean())


def _features(model: torch.nn.Module, positions: np.ndarray) -> np.ndarray:
    return np.asarray(skeletonzoo.embed(model, positions, preprocess=False), dtype=np.float64)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["select", "ceiling"])
    parser.add_argument("models", nargs="+", help="zoo names or exported .safetensors files")
    parser.add_argument("--data", type=Path, required=True, help="prepared NW-UCLA (skeletonzoo prepare nwucla)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train = open_prepared(args.data, "train")
    train_y = np.asarray(train.labels)
    if args.mode == "select":
        names = (args.data / "train_names.txt").read_text().split()
        view = np.array([int(n.rsplit("_v", 1)[1]) for n in names])  # a01_s01_e00_v01 -> 1
        for model in args.models:
            f = _features(skeletonzoo.load(model), np.asarray(train.positions))
            scores = {}
            for label, fn in (("kNN", knn_accuracy), ("logreg", logreg_accuracy)):
                directions = ((1, 2), (2, 1))
                scores[label] = np.mean(
                    [fn(f[view == s], train_y[view == s], f[view == t], train_y[view == t]) for s, t in directions]
                )
            print(f"{model}: views 1<->2 (training split only) kNN {scores['kNN']:.2f}  logreg {scores['logreg']:.2f}")
    else:
        test = open_prepared(args.data, "test")
        for model in args.models:
            encoder = skeletonzoo.load(model)  # once for both splits
            a, b = _features(encoder, np.asarray(train.positions)), _features(encoder, np.asarray(test.positions))
            acc = logreg_accuracy(a, train_y, b, np.asarray(test.labels))
            print(f"{model}: converged logistic regression, views 1-2 -> view 3: {acc:.2f}")


if __name__ == "__main__":
    main()
