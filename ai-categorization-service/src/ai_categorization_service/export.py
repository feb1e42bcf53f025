"""Export a fitted ``stacking.StackedLinearClassifier`` into the arrays ``inference`` serves.

Runs where the model was trained (scikit-learn, and LightGBM for boosters, are loaded there
already); it only reads the fitted attributes. Anything the NumPy path cannot reproduce
exactly (another analyzer, a custom tokenizer, stop words...) is refused with a ValueError.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .inference import FORMAT, FORMAT_VERSION, PREPROCESSORS, encode_terms

Arrays = dict[str, np.ndarray]


def _preprocessor_name(vectorizer: Any) -> str | None:
    preprocessor = vectorizer.preprocessor
    if preprocessor is None:
        return None
    for name, function in PREPROCESSORS.items():
        if preprocessor is function:
            return name
    raise ValueError(f"preprocessor {preprocessor!r} cannot be exported")


def export_view(vectorizer: Any, classifier: Any, prefix: str, arrays: Arrays) -> dict[str, Any]:
    """A fitted ``TfidfVectorizer`` and linear classifier: their config, ``arrays`` filled."""
    unsupported = {
        "input": vectorizer.input != "content", "tokenizer": vectorizer.tokenizer is not None,
        "stop_words": vectorizer.stop_words is not None, "binary": vectorizer.binary,
        "analyzer": vectorizer.analyzer not in ("word", "char_wb"),
        "strip_accents": vectorizer.strip_accents not in (None, "unicode"),
        "norm": vectorizer.norm not in (None, "l2"),
    }
    if any(unsupported.values()):
        raise ValueError(f"vectorizer settings {[k for k, v in unsupported.items() if v]} "
                         "cannot be served by the NumPy path")
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    arrays[f"{prefix}.terms"], arrays[f"{prefix}.term_ends"] = encode_terms(terms)
    if vectorizer.use_idf:
        arrays[f"{prefix}.idf"] = np.asarray(vectorizer.idf_)
    coef = np.asarray(classifier.coef_, dtype=np.float64)
    arrays[f"{prefix}.coef"] = coef.reshape(-1, len(terms))
    arrays[f"{prefix}.intercept"] = np.asarray(classifier.intercept_, dtype=np.float64).ravel()
    return {
        "analyzer": vectorizer.analyzer,
        "ngram_range": list(vectorizer.ngram_range),
        "lowercase": bool(vectorizer.lowercase),
        "strip_accents": vectorizer.strip_accents,
        "preprocessor": _preprocessor_name(vectorizer),
        "token_pattern": vectorizer.token_pattern,
        "sublinear_tf": bool(vectorizer.sublinear_tf),
        "norm": vectorizer.norm,
        "dtype": np.dtype(vectorizer.dtype).name,
    }


_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


def export_trees(booster: Any, prefix: str, arrays: Arrays) -> dict[str, Any]:
    """A fitted ``LGBMClassifier``'s trees as node arrays (``inference.Trees``)."""
    dump = booster.booster_.dump_model()
    objective = str(dump["objective"]).split()[0]
    if objective not in ("multiclass", "binary"):
        raise ValueError(f"LightGBM objective {objective!r} cannot be exported")
    nodes: dict[str, list[Any]] = {k: [] for k in ("feature", "threshold", "default_left",
                                                   "missing", "left", "right")}
    leaf_values: list[float] = []

    def walk(node: dict[str, Any]) -> int:
        """Index of ``node`` (a leaf: -1 - its leaf index), its subtree appended."""
        if "leaf_value" in node:
            leaf_values.append(float(node["leaf_value"]))
            return -len(leaf_values)
        if node["decision_type"] != "<=":
            raise ValueError(f"split {node['decision_type']!r} cannot be exported")
        index = len(nodes["feature"])
        nodes["feature"].append(int(node["split_feature"]))
        nodes["threshold"].append(float(node["threshold"]))
        nodes["default_left"].append(bool(node["default_left"]))
        nodes["missing"].append(_MISSING[node["missing_type"]])
        nodes["left"].append(0)
        nodes["right"].append(0)
        nodes["left"][index] = walk(node["left_child"])
        nodes["right"][index] = walk(node["right_child"])
        return index

    roots = [walk(tree["tree_structure"]) for tree in dump["tree_info"]]
    arrays[f"{prefix}.feature"] = np.asarray(nodes["feature"], dtype=np.int64)
    arrays[f"{prefix}.threshold"] = np.asarray(nodes["threshold"], dtype=np.float64)
    arrays[f"{prefix}.default_left"] = np.asarray(nodes["default_left"], dtype=bool)
    arrays[f"{prefix}.missing"] = np.asarray(nodes["missing"], dtype=np.uint8)
    arrays[f"{prefix}.left"] = np.asarray(nodes["left"], dtype=np.int64)
    arrays[f"{prefix}.right"] = np.asarray(nodes["right"], dtype=np.int64)
    arrays[f"{prefix}.leaf_value"] = np.asarray(leaf_values, dtype=np.float64)
    arrays[f"{prefix}.roots"] = np.asarray(roots, dtype=np.int64)
    return {"num_class": int(dump["num_class"]), "objective": objective}


def compile_pipeline(pipeline: Any) -> tuple[dict[str, Any], Arrays]:
    """The header (JSON-able) and arrays of a fitted ``StackedLinearClassifier``."""
    arrays: Arrays = {}
    views = [export_view(vectorizer, classifier, f"view{i}", arrays)
             for i, (vectorizer, classifier) in enumerate(zip(pipeline.vectorizers_,
                                                              pipeline.models_))]
    arrays["scaler.mean"] = np.asarray(pipeline.scaler_.mean_, dtype=np.float64)
    arrays["scaler.scale"] = np.asarray(pipeline.scaler_.scale_, dtype=np.float64)
    arrays["combiner.coef"] = np.asarray(pipeline.combiner_.coef_, dtype=np.float64)
    arrays["combiner.intercept"] = np.asarray(pipeline.combiner_.intercept_, dtype=np.float64)
    header: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION,
                              "views": views, "boosters": None}
    boosters = getattr(pipeline, "boosters_", None)  # absent from models pickled before them
    if boosters is not None:
        if len(boosters.boosters_) != 2:
            raise ValueError(f"{len(boosters.boosters_)} boosters; BoostedStack has two")
        names = [name for name, _vectorizer, _classifier in pipeline.views]
        n_scores = arrays["scaler.mean"].size
        arrays["boosters.columns"] = np.asarray(boosters.columns_, dtype=np.int64)
        # BoostedStack: the first booster sees the views' scores then the chosen columns,
        # the second the chosen columns alone.
        header["boosters"] = {"view": names.index(pipeline.booster_view), "trees": [
            {"n_scores": scores, **export_trees(booster, f"booster{i}", arrays)}
            for i, (scores, booster) in enumerate(zip((n_scores, 0), boosters.boosters_))]}
    return header, arrays
