"""Reports of a probe run: a text table, a Markdown table (for model cards) and a figure.

Each takes the ``summary`` dict of `keras_cpc.evaluation.probe_preset`'s results: ``columns``
(feature sets, e.g. preset / random init / raw pixels), ``accuracy[task][column]`` (0..1),
``split`` and ``preset``.
"""

from pathlib import Path

import numpy as np

from keras_cpc.training.records import relative_to_data_root, write_json

# Folder names that say which split a folder is, not which data set: a task is named after
# the folder above them ("cifar10 classes" for .../cifar10/train).
_SPLIT_NAMES = {"train", "training", "test", "testing", "val", "valid", "validation", "images"}


def describe_source(source):
    """A machine-independent name of a data source or preset, for results and model cards.

    Names (``"digits"``, ``"tfds:NAME"``, preset names) are kept; a local path is written as
    `keras_cpc.training.records` writes commands: relative to the data root
    (``$DATA/cifar10/train``) or the working directory, else ``<local>/name``.

    Example:
        >>> describe_source("~/data/fsdd/recordings")
        '$DATA/fsdd/recordings'
    """
    return relative_to_data_root([str(source)])[0]


def image_task_name(source):
    """The probe task of an image source: ``"<data set> classes"``.

    Example:
        >>> image_task_name("~/data/cifar10/train")
        'cifar10 classes'
    """
    text = str(source)
    if text.startswith("tfds:"):
        return f"{text.removeprefix('tfds:')} classes"
    path = Path(text).expanduser().resolve()
    name = path.parent.name if path.name.lower() in _SPLIT_NAMES else path.name
    return f"{name or path.name} classes"


def format_table(summary):
    """A fixed-width text table: one row per task, one accuracy column per feature set.

    Args:
        summary: a probe summary (``results["summary"]``).

    Returns:
        str, lines joined by newlines.

    Example:
        >>> print(format_table(results["summary"]))
    """
    columns = summary["columns"]
    width = max(len(t) for t in summary["accuracy"]) + 2
    header = "task".ljust(width) + "".join(c.rjust(16) for c in columns)
    lines = [header, "-" * len(header)]
    for task, row in summary["accuracy"].items():
        lines.append(task.ljust(width) + "".join(f"{100 * row[c]:15.1f}%" for c in columns))
    return "\n".join(lines)


def probe_table_markdown(summary):
    """The split and a Markdown accuracy table, as a list of lines (for a model card).

    Args:
        summary: a probe summary (``results["summary"]``).

    Returns:
        list of str.

    Example:
        >>> card_lines = probe_table_markdown(results["summary"])
    """
    columns = summary["columns"]
    lines = [
        f"Split: {summary['split']}.",
        "",
        "| task | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for task, row in summary["accuracy"].items():
        lines.append(f"| {task} | " + " | ".join(f"{100 * row[c]:.1f}%" for c in columns) + " |")
    return lines


def project_2d(features, method="pca", seed=0):
    """A 2-D projection of ``features`` for plotting: PCA of standardised features, or t-SNE.

    Args:
        features: float array ``(n, dim)``.
        method: ``"pca"`` or ``"tsne"``.
        seed: seed of the projection.

    Returns:
        float array ``(n, 2)``.

    Example:
        >>> points = project_2d(features, "pca")
    """
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(2, random_state=seed, init="pca").fit_transform(features)
    if method != "pca":
        raise ValueError(f"Expected projection 'pca' or 'tsne'; received {method!r}.")
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    return PCA(2, random_state=seed).fit_transform(StandardScaler().fit_transform(features))


def save_plot(path, summary, features, labels, projection="pca", seed=0, class_names=None):
    """Save a figure: accuracy bars per task and column, and a 2-D projection by class.

    Both legends sit outside their axes, so neither hides a bar or a cluster.

    Args:
        path: where to write the image (PNG by suffix).
        summary: a probe summary (``results["summary"]``).
        features: ``(n, dim)`` features to project, e.g. the preset's held-out features.
        labels: ``(n,)`` integer labels of those rows (the colours).
        projection: ``"pca"`` or ``"tsne"``.
        seed: seed of the projection.
        class_names: ``class_names[label]`` names each label in the legend (None: the label).

    Example:
        >>> save_plot("probe.png", summary, features[test], labels[test], class_names=classes)
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    labels = np.asarray(labels)
    if len(labels) != len(features):
        raise ValueError(
            f"Expected one label per feature row ({len(features)}); received {len(labels)}."
        )
    figure, (bars, scatter) = plt.subplots(1, 2, figsize=(14, 5.5))
    tasks = list(summary["accuracy"])
    columns = summary["columns"]
    width = 0.8 / len(columns)
    for i, column in enumerate(columns):
        values = [100 * summary["accuracy"][t][column] for t in tasks]
        positions = np.arange(len(tasks)) + (i - (len(columns) - 1) / 2) * width
        drawn = bars.bar(positions, values, width, label=column)
        bars.bar_label(drawn, fmt="%.1f", fontsize=8)
    bars.set_xticks(np.arange(len(tasks)), tasks, fontsize=8)
    bars.set_ylabel("held-out accuracy (%)")
    bars.set_ylim(0, 105)
    # Above the axes, in one row: inside them it would cover the tallest bars.
    bars.legend(
        fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=len(columns), frameon=False
    )
    bars.set_title(f"Linear probe: {summary['preset']}", fontsize=9, pad=24)

    points = project_2d(features, projection, seed)
    classes = sorted(set(labels.tolist()))
    colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for k, label in enumerate(classes):
        chosen = labels == label
        name = class_names[label] if class_names is not None else label
        scatter.scatter(*points[chosen].T, s=6, color=colours(k % colours.N), label=str(name))
    axis = "PC" if projection == "pca" else "t-SNE"
    scatter.set_xlabel(f"{axis} 1")
    scatter.set_ylabel(f"{axis} 2")
    scatter.legend(
        fontsize=7, markerscale=2, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="class"
    )
    scatter.set_title(f"{projection.upper()} of the preset's held-out features", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def write_results(
    output_dir, results, features, labels, class_names=None, projection="pca", seed=0
):
    """Write ``results.json`` (every number) and ``probe.png`` (`save_plot`) to a folder.

    Args:
        output_dir: folder to write into (created when missing).
        results: `probe_preset`'s results dict.
        features, labels, class_names: the rows the figure projects (see `save_plot`).
        projection: ``"pca"`` or ``"tsne"``.
        seed: seed of the projection.

    Example:
        >>> write_results("probe_results", results, features[test], labels[test])
    """
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    write_json(output / "results.json", results)
    save_plot(
        output / "probe.png", results["summary"], features, labels, projection, seed, class_names
    )
