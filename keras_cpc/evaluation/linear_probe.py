"""Linear probe: logistic regression on frozen features, regularisation chosen on validation.

The standard evaluation of self-supervised representations (SimCLR, CPC): features come from
a frozen backbone; a multinomial logistic regression is fitted on them for each inverse
regularisation strength ``C`` in a grid; the ``C`` with the best accuracy on a held-out
validation split of the training set wins, and the probe is refitted on the whole training set
with it before the test set is scored. Needs scikit-learn (``pip install keras-cpc[examples]``).

`keras_cpc.evaluation.protocols` runs this probe over the protocols of a preset (preset,
random init and raw-input columns); this module is the probe itself.
"""

import dataclasses
import time

import numpy as np

DEFAULT_C_VALUES = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


@dataclasses.dataclass
class ProbeResult:
    """Outcome of `linear_probe`; ``model`` predicts labels from raw (unscaled) features.

    ``fit_seconds_by_c`` and ``refit_seconds`` say where the probe's time went: each
    validation fit of the ``C`` grid, then the final fit on the whole training set.
    """

    best_c: float
    val_accuracy: float
    val_accuracy_by_c: dict
    train_accuracy: float
    test_accuracy: float | None
    num_train: int
    num_val: int
    num_classes: int
    fit_seconds_by_c: dict
    refit_seconds: float
    model: object = dataclasses.field(repr=False, default=None)

    def to_dict(self):
        """The result as a JSON-ready dict (everything but the fitted ``model``)."""
        result = dataclasses.asdict(self)
        result.pop("model")
        return result


def _check(features, labels, what):
    features = np.asarray(features)
    labels = np.asarray(labels)
    if features.ndim != 2:
        raise ValueError(
            f"{what} features must be a 2-D array (samples, dim); received shape {features.shape}."
        )
    if labels.ndim != 1 or len(labels) != len(features):
        raise ValueError(
            f"{what} labels must be a 1-D array with one label per feature row "
            f"({len(features)}); received shape {labels.shape}."
        )
    # float32 halves the memory traffic of every solver pass (the probe is memory-bound on
    # wide inputs such as 3072 raw pixels) and lbfgs keeps it.
    return features.astype("float32"), labels


def _make_probe(c, seed, max_iter, warm_start=False):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=max_iter, random_state=seed, warm_start=warm_start)


def linear_probe(
    train_features,
    train_labels,
    test_features=None,
    test_labels=None,
    val_fraction=0.2,
    c_values=DEFAULT_C_VALUES,
    seed=0,
    max_iter=1000,
    patience=2,
    callback=None,
):
    """Fit a logistic-regression probe, choosing ``C`` on a validation split.

    Args:
        train_features: (n, dim) frozen features of the labelled training set.
        train_labels: (n,) integer or string labels.
        test_features, test_labels: optional test set, scored once with the chosen ``C``.
        val_fraction: share of the training set held out (stratified) to choose ``C``.
        c_values: inverse regularisation strengths tried.
        seed: seed of the split and of the solver.
        max_iter: solver iterations.
        patience: the grid is climbed from the smallest ``C`` up, each fit starting from the
            last solution; it stops after this many successive values score below the best
            so far (validation accuracy rises then falls with ``C``). None tries every value.
        callback: optional ``callback(c, val_accuracy, seconds)`` called after each
            validation fit, e.g. to show progress (fits on wide features take minutes).

    Returns:
        A `ProbeResult` (``to_dict()`` gives a JSON-ready summary).

    Example:
        >>> features = backbone.predict(images)
        >>> result = linear_probe(features[:800], labels[:800], features[800:], labels[800:])
        >>> result.best_c, result.test_accuracy
    """
    try:
        from sklearn.model_selection import train_test_split
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "linear_probe needs scikit-learn: pip install 'keras-cpc[examples]'."
        ) from error
    features, labels = _check(train_features, train_labels, "Training")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"`val_fraction` must be in (0, 1); received {val_fraction!r}.")
    if not c_values:
        raise ValueError(f"`c_values` must hold at least one value; received {c_values!r}.")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError(
            f"A probe needs at least 2 classes; received labels with {len(classes)} class."
        )
    stratify = labels if counts.min() >= 2 else None
    x_fit, x_val, y_fit, y_val = train_test_split(
        features, labels, test_size=val_fraction, random_state=seed, stratify=stratify
    )
    scaler = StandardScaler().fit(x_fit)
    x_fit, x_val = scaler.transform(x_fit), scaler.transform(x_val)
    probe = _make_probe(None, seed, max_iter, warm_start=True)
    scores, seconds, worse = {}, {}, 0
    for c in sorted(float(c) for c in c_values):
        # Warm start: the solution for the previous (stronger) regularisation is a close
        # starting point, so each fit takes far fewer iterations.
        started = time.perf_counter()
        probe.set_params(C=c).fit(x_fit, y_fit)
        seconds[c] = round(time.perf_counter() - started, 3)
        scores[c] = float(probe.score(x_val, y_val))
        if callback is not None:
            callback(c, scores[c], seconds[c])
        worse = worse + 1 if scores[c] < max(scores.values()) else 0
        if patience is not None and worse >= patience:
            break
    # Ties go to the strongest regularisation (smallest C): the simpler probe.
    best_c = max(scores, key=lambda c: (scores[c], -c))
    model = make_pipeline(StandardScaler(), _make_probe(best_c, seed, max_iter))
    started = time.perf_counter()
    model.fit(features, labels)
    refit_seconds = round(time.perf_counter() - started, 3)
    test_accuracy = None
    if test_features is not None:
        x_test, y_test = _check(test_features, test_labels, "Test")
        if x_test.shape[1] != features.shape[1]:
            raise ValueError(
                f"Test features must have the training dimension {features.shape[1]}; "
                f"received {x_test.shape[1]}."
            )
        test_accuracy = float(model.score(x_test, y_test))
    return ProbeResult(
        best_c=best_c,
        val_accuracy=scores[best_c],
        val_accuracy_by_c=scores,
        train_accuracy=float(model.score(features, labels)),
        test_accuracy=test_accuracy,
        num_train=len(y_fit),
        num_val=len(y_val),
        num_classes=len(classes),
        fit_seconds_by_c=seconds,
        refit_seconds=refit_seconds,
        model=model,
    )
