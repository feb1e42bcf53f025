"""Serving the local model with NumPy alone: the stored format, loading and prediction.

A trained ``model.TextClassifier`` is exported (``export.compile_pipeline``) into plain arrays:
per TF-IDF view its analyzer settings, vocabulary, idf and linear coefficients; the scaler and
logistic combiner; and, for large models, the LightGBM trees as node arrays. They are stored
as one ``.npz`` file (``np.savez_compressed``; read with ``allow_pickle=False``, so loading
runs no code) with a JSON header. ``CompiledClassifier`` reproduces scikit-learn's decision
(the same float32 TF-IDF values, the same sums in the same order), so the processes that only
categorize (consumer, web) never import scikit-learn, SciPy or LightGBM: about 100 MB each.

Models written before this format (joblib pickles of the scikit-learn pipeline) still load:
``load_classifier_bytes`` hands them to ``model.load_legacy``, which imports scikit-learn.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import threading
import unicodedata
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
FORMAT = "ticket-triage-numpy-model"
FORMAT_VERSION = 1
DEFAULT_EXAMPLES = "default_examples.jsonl"
DEFAULT_MODEL = "default_model.npz"
TITLE_WORDS = 8
# LightGBM treats |x| <= this as zero (``kZeroThreshold``) for a split whose missing type is Zero.
_LGBM_ZERO = 1e-35
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
# Texts predicted together: bounds a bulk prediction's temporary arrays (a few tens of MB).
_CHUNK_TEXTS = 500
# Rows predicted together by the trees: bounds the (rows x trees) node arrays to a few MB.
_TREE_CHUNK_ROWS = 256
# Words whose char_wb columns a view remembers (a few MB at most).
_WORD_CACHE_SIZE = 20_000
# How an old-format model file starts: a zlib stream (joblib's compress=3) or a pickle.
_PICKLE_STARTS = (b"\x78", b"\x80")


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float  # calibrated probability of the top label, 0..1
    probabilities: dict[str, float]


def title_words(text: str) -> str:
    """The first words of a ticket, lower-cased: its title, or the start of the text."""
    return " ".join(text.lower().split()[:TITLE_WORDS])


# Preprocessors a view may name (a function cannot be stored without pickling it).
PREPROCESSORS: dict[str, Callable[[str], str]] = {"title_words": title_words}


def strip_accents_unicode(text: str) -> str:
    """As scikit-learn's: NFKD, then without combining characters (ASCII text unchanged)."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def fingerprint(texts: Sequence[str], labels: Sequence[str]) -> str:
    """A short digest of a training set: names the models trained on it."""
    digest = hashlib.sha256()
    for text, label in zip(texts, labels):
        digest.update(label.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:12]


def default_examples() -> tuple[list[str], list[str]]:
    """The labelled examples shipped with the package, as ("title\\n\\ndescription", department)."""
    raw = resources.files(__package__).joinpath(DEFAULT_EXAMPLES).read_text(encoding="utf-8")
    rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
    return ([f"{r['title']}\n\n{r['description']}" for r in rows],
            [r["department"] for r in rows])


def default_version() -> str:
    """The name of the model trained on the shipped examples (it changes with them)."""
    return f"default-{fingerprint(*default_examples())}"


@dataclass(frozen=True)
class SparseRows:
    """A CSR-like batch: entry ``i`` is (``rows[i]``, ``cols[i]``) = ``values[i]``, sorted by row
    then column, as scikit-learn's sorted CSR matrices keep them."""

    n_rows: int
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray


class TfidfView:
    """A fitted ``TfidfVectorizer`` (word or char_wb analyzer) and the linear model on it."""

    def __init__(self, config: dict[str, Any], terms: list[str], idf: np.ndarray | None,
                 coef: np.ndarray, intercept: np.ndarray) -> None:
        self.config = config
        self.analyzer = config["analyzer"]
        if self.analyzer not in ("word", "char_wb"):
            raise ValueError(f"analyzer {self.analyzer!r} is not supported")
        self.min_n, self.max_n = config["ngram_range"]
        preprocessor = config.get("preprocessor")
        if preprocessor is not None and preprocessor not in PREPROCESSORS:
            raise ValueError(f"unknown preprocessor {preprocessor!r}")
        self._preprocessor = PREPROCESSORS[preprocessor] if preprocessor else None
        self._token_pattern = re.compile(config["token_pattern"])
        self.dtype = np.dtype(config["dtype"])
        self.vocabulary = {term: index for index, term in enumerate(terms)}
        self.idf = None if idf is None else idf.astype(self.dtype, copy=False)
        self.coef_t = np.ascontiguousarray(coef.T, dtype=np.float64)  # (features, outputs)
        self.intercept = intercept.astype(np.float64, copy=False)
        self.n_features = len(terms)
        self._word_cache: dict[str, tuple[int, ...]] = {}
        if self.coef_t.shape[0] != self.n_features:
            raise ValueError(f"{self.coef_t.shape[0]} coefficients for {self.n_features} terms")

    def _preprocess(self, text: str) -> str:
        if self._preprocessor is not None:  # as scikit-learn: replaces lowercase and accents
            return self._preprocessor(text)
        if self.config["lowercase"]:
            text = text.lower()
        if self.config["strip_accents"] == "unicode":
            text = strip_accents_unicode(text)
        return text

    def analyze(self, text: str) -> list[str]:
        """The terms of one text, as scikit-learn's ``build_analyzer()`` gives them."""
        text = self._preprocess(text)
        if self.analyzer == "char_wb":
            return self._char_wb_ngrams(text)
        return self._word_ngrams(self._token_pattern.findall(text))

    def _word_ngrams(self, tokens: list[str]) -> list[str]:
        min_n, max_n = self.min_n, self.max_n
        if max_n == 1:
            return tokens
        grams = list(tokens) if min_n == 1 else []
        for n in range(max(min_n, 2), min(max_n + 1, len(tokens) + 1)):
            grams.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
        return grams

    def _char_wb_ngrams(self, text: str) -> list[str]:
        # scikit-learn first turns runs of white space into one space, then splits on it.
        grams: list[str] = []
        for word in text.split():
            grams.extend(self._word_char_ngrams(word))
        return grams

    def _word_char_ngrams(self, word: str) -> list[str]:
        """The n-grams of `` word ``; a word no longer than n is one n-gram, and the last."""
        word = f" {word} "
        length = len(word)
        grams: list[str] = []
        for n in range(self.min_n, self.max_n + 1):
            if length <= n:
                grams.append(word)
                break
            grams.extend([word[i:i + n] for i in range(length - n + 1)])
        return grams

    def _term_ids(self, text: str) -> list[int]:
        """Vocabulary columns of the terms of ``text``, repeated as often as they occur."""
        lookup = self.vocabulary.get
        if self.analyzer != "char_wb":
            return [j for j in map(lookup, self.analyze(text)) if j is not None]
        # A char_wb term never spans two words: each word's columns are looked up once and
        # remembered (words repeat a lot; the cache is emptied when it grows too large).
        cache = self._word_cache
        ids: list[int] = []
        for word in self._preprocess(text).split():
            found = cache.get(word)
            if found is None:
                found = tuple(j for j in map(lookup, self._word_char_ngrams(word))
                              if j is not None)
                if len(cache) >= _WORD_CACHE_SIZE:
                    cache.clear()
                cache[word] = found
            ids.extend(found)
        return ids

    def transform(self, texts: Sequence[str]) -> SparseRows:
        """The l2-normalized TF-IDF rows of ``texts``, value for value as scikit-learn's."""
        columns: list[int] = []
        counts = np.zeros(len(texts), dtype=np.int64)
        for row, text in enumerate(texts):
            found = self._term_ids(text)
            counts[row] = len(found)
            columns.extend(found)
        keys = np.repeat(np.arange(len(texts), dtype=np.int64), counts) * self.n_features
        keys += np.asarray(columns, dtype=np.int64)
        keys, term_counts = np.unique(keys, return_counts=True)
        rows, cols = np.divmod(keys, self.n_features)
        values = term_counts.astype(self.dtype)
        if self.config["sublinear_tf"]:
            np.log(values, out=values)
            values += self.dtype.type(1.0)
        if self.idf is not None:
            values *= self.idf[cols]
        if self.config["norm"] == "l2":
            # As sklearn's _inplace_csr_row_normalize_l2: squares in the data's dtype, summed in
            # float64 in column order (bincount adds in order), the division in float64.
            squares = (values * values).astype(np.float64)
            norms = np.sqrt(np.bincount(rows, weights=squares, minlength=len(texts)))
            values = (values / norms[rows]).astype(self.dtype)
        elif self.config["norm"] is not None:
            raise ValueError(f"norm {self.config['norm']!r} is not supported")
        return SparseRows(len(texts), rows, cols, values)

    def decision(self, features: SparseRows) -> np.ndarray:
        """``features @ coef.T + intercept`` summed in the order SciPy's CSR product uses."""
        values = features.values.astype(np.float64)
        scores = np.empty((features.n_rows, self.coef_t.shape[1]))
        for k in range(scores.shape[1]):
            scores[:, k] = np.bincount(features.rows, minlength=features.n_rows,
                                       weights=values * self.coef_t[features.cols, k])
        return scores + self.intercept


class Trees:
    """One LightGBM booster as node arrays; ``predict_raw`` walks every tree at once."""

    def __init__(self, arrays: dict[str, np.ndarray], num_class: int, objective: str) -> None:
        self.feature = arrays["feature"]
        self.threshold = arrays["threshold"]
        self.default_left = arrays["default_left"]
        self.missing = arrays["missing"]
        self.left = arrays["left"]          # >= 0: a node, < 0: leaf ~value (-1 - leaf index)
        self.right = arrays["right"]
        self.leaf_value = arrays["leaf_value"]
        self.roots = arrays["roots"]
        self.num_class = num_class
        self.objective = objective
        self.used = np.unique(self.feature)  # the input columns the splits read
        self._column = np.full(int(self.used.max(initial=-1)) + 1, -1, dtype=np.int64)
        self._column[self.used] = np.arange(self.used.size)
        if len(self.roots) % num_class:
            raise ValueError(f"{len(self.roots)} trees for {num_class} classes")

    def predict_raw(self, inputs: np.ndarray) -> np.ndarray:
        """Summed leaf values per class of ``inputs`` (rows x ``used`` columns, float64), the
        trees added in LightGBM's order (iteration by iteration)."""
        raw = np.zeros((inputs.shape[0], self.num_class))
        for start in range(0, inputs.shape[0], _TREE_CHUNK_ROWS):
            chunk = inputs[start:start + _TREE_CHUNK_ROWS]
            leaves = self._leaves(chunk)
            values = self.leaf_value[leaves].reshape(chunk.shape[0], -1, self.num_class)
            out = raw[start:start + chunk.shape[0]]
            for iteration in range(values.shape[1]):
                out += values[:, iteration]
        return raw

    def _leaves(self, inputs: np.ndarray) -> np.ndarray:
        nodes = np.tile(self.roots, (inputs.shape[0], 1))
        rows, trees = np.nonzero(nodes >= 0)
        while rows.size:
            node = nodes[rows, trees]
            value = inputs[rows, self._column[self.feature[node]]]
            missing = self.missing[node]
            nan = np.isnan(value)
            value = np.where(nan & (missing != _MISSING["NaN"]), 0.0, value)
            to_default = (((missing == _MISSING["Zero"]) & (np.abs(value) <= _LGBM_ZERO))
                          | ((missing == _MISSING["NaN"]) & np.isnan(value)))
            go_left = np.where(to_default, self.default_left[node], value <= self.threshold[node])
            nodes[rows, trees] = np.where(go_left, self.left[node], self.right[node])
            inner = nodes[rows, trees] >= 0
            rows, trees = rows[inner], trees[inner]
        return -1 - nodes

    def predict_proba(self, inputs: np.ndarray) -> np.ndarray:
        raw = self.predict_raw(inputs)
        if self.objective == "binary":
            positive = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1)
        raw -= raw.max(axis=1, keepdims=True)
        np.exp(raw, out=raw)
        return raw / raw.sum(axis=1, keepdims=True)


class BoosterStack:
    """``boosted.BoostedStack`` without LightGBM: the mean of its boosters' probabilities."""

    def __init__(self, columns: np.ndarray, boosters: list[tuple[int, Trees]]) -> None:
        self.columns = columns          # the booster view's chosen TF-IDF columns
        self.boosters = boosters        # (score columns in front of the word columns, trees)
        self._position = np.full(int(columns.max(initial=-1)) + 1, -1, dtype=np.int64)
        self._position[columns] = np.arange(columns.size)

    def predict_proba(self, scores: np.ndarray, words: SparseRows) -> np.ndarray:
        # LightGBM gets float32 inputs (scores cast, TF-IDF as is) and compares them as doubles.
        scores = scores.astype(np.float32).astype(np.float64)
        inside = words.cols < self._position.size
        rows, cols, values = words.rows[inside], words.cols[inside], words.values[inside]
        chosen = self._position[cols]
        rows, chosen, values = rows[chosen >= 0], chosen[chosen >= 0], values[chosen >= 0]
        results = []
        for n_scores, trees in self.boosters:
            inputs = np.zeros((words.n_rows, trees.used.size))
            from_scores = trees.used < n_scores
            inputs[:, from_scores] = scores[:, trees.used[from_scores]]
            # Input column of each chosen word column, -1 where these trees never split on it.
            where = np.full(self.columns.size, -1, dtype=np.int64)
            word_used = trees.used[~from_scores] - n_scores
            where[word_used] = np.nonzero(~from_scores)[0]
            target = where[chosen]
            keep = target >= 0
            inputs[rows[keep], target[keep]] = values[keep].astype(np.float64)
            results.append(trees.predict_proba(inputs))
        return np.mean(results, axis=0)


class CompiledPipeline:
    """``stacking.StackedLinearClassifier.predict_proba`` in NumPy."""

    def __init__(self, classes: list[str], views: list[TfidfView], scaler_mean: np.ndarray,
                 scaler_scale: np.ndarray, combiner_coef: np.ndarray,
                 combiner_intercept: np.ndarray, booster_view: int | None = None,
                 boosters: BoosterStack | None = None) -> None:
        self.classes_ = np.asarray(classes)
        self.views = views
        self.scaler_mean = scaler_mean
        self.scaler_scale = scaler_scale
        self.combiner_coef = combiner_coef
        self.combiner_intercept = combiner_intercept
        self.booster_view = booster_view
        self.boosters = boosters

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities of ``texts``, in chunks: a bulk prediction's memory stays bounded."""
        if len(texts) <= _CHUNK_TEXTS:
            return self._predict_proba(texts)
        return np.vstack([self._predict_proba(texts[start:start + _CHUNK_TEXTS])
                          for start in range(0, len(texts), _CHUNK_TEXTS)])

    def _predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        features = [view.transform(texts) for view in self.views]
        stacked = np.hstack([view.decision(f) for view, f in zip(self.views, features)])
        if self.boosters is not None:
            assert self.booster_view is not None
            return self.boosters.predict_proba(stacked, features[self.booster_view])
        scaled = (stacked - self.scaler_mean) / self.scaler_scale
        decision = scaled @ self.combiner_coef.T + self.combiner_intercept
        if len(self.classes_) <= 2:   # as LogisticRegression: a sigmoid of the one score
            positive = 1.0 / (1.0 + np.exp(-decision[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1)
        decision -= decision.max(axis=1, keepdims=True)
        np.exp(decision, out=decision)
        decision /= decision.sum(axis=1, keepdims=True)
        return decision


class Classifier:
    """A model's pipeline with its labels, version and (optional) evaluation metrics, and the
    prediction interface the categorizers use (``labels``, ``version``, ``predict``,
    ``predict_many``, ``predict_proba``). ``model.TextClassifier`` (scikit-learn, trains) and
    ``CompiledClassifier`` (NumPy, serves) differ only in their pipeline."""

    def __init__(self, pipeline: Any, labels: list[str], version: str,
                 metrics: dict[str, Any] | None = None, trained_at: str | None = None) -> None:
        self._labels = [str(label) for label in labels]
        if [str(label) for label in pipeline.classes_] != self._labels:
            raise ValueError(f"labels {labels} differ from the model's {list(pipeline.classes_)}")
        self.pipeline = pipeline
        self._version = version
        self._metrics = metrics
        self.trained_at = trained_at

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    @property
    def version(self) -> str:
        return self._version

    @property
    def metrics(self) -> dict[str, Any] | None:
        return self._metrics

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, one row per text, columns in ``labels`` order."""
        return self.pipeline.predict_proba(list(texts))

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        if len(texts) == 0:
            return []
        return predictions(self._labels, self.predict_proba(texts))

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def metadata(self) -> dict[str, Any]:
        return {"version": self._version, "labels": self._labels, "metrics": self._metrics,
                "trained_at": self.trained_at, "sklearn_version": self._sklearn_version()}

    def _sklearn_version(self) -> str | None:
        """The scikit-learn release the model was trained with (None if unknown)."""
        return None


class CompiledClassifier(Classifier):
    """A stored model ready to predict with NumPy: what the categorizers use. Training stays
    in ``model``."""

    def __init__(self, pipeline: CompiledPipeline, labels: list[str], version: str,
                 metrics: dict[str, Any] | None = None, trained_at: str | None = None,
                 arrays: dict[str, np.ndarray] | None = None,
                 header: dict[str, Any] | None = None) -> None:
        super().__init__(pipeline, labels, version, metrics, trained_at)
        self._arrays = arrays or {}
        self._header = header or {}

    @property
    def boosted(self) -> bool:
        return self.pipeline.boosters is not None

    def _sklearn_version(self) -> str | None:
        return self._header.get("sklearn_version")

    def renamed(self, version: str, metrics: dict[str, Any] | None) -> "CompiledClassifier":
        """The same model under its stored name (and metrics, when the store has them)."""
        return CompiledClassifier(self.pipeline, self._labels, version,
                                  metrics if metrics is not None else self._metrics,
                                  self.trained_at, self._arrays, self._header)

    def to_bytes(self) -> bytes:
        """The ``.npz`` file of this model (no pickles)."""
        header = {**self._header, **self.metadata(), "format": FORMAT,
                  "format_version": FORMAT_VERSION}
        buffer = io.BytesIO()
        np.savez_compressed(buffer, header=np.frombuffer(json.dumps(header).encode(), np.uint8),
                            **self._arrays)
        return buffer.getvalue()

    def save(self, path: PathLike) -> None:
        """Write the model to ``path``, and its metadata to ``<path>.json`` beside it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_bytes())
        path.with_name(path.name + ".json").write_text(
            json.dumps(self.metadata(), indent=2, sort_keys=True) + "\n")
        logger.info("saved model %s to %s", self._version, path)


def predictions(labels: list[str], probabilities: np.ndarray) -> list[Prediction]:
    """One ``Prediction`` per row of ``probabilities`` (columns in ``labels`` order)."""
    best = probabilities.argmax(axis=1)
    return [Prediction(label=labels[i], confidence=float(row[i]),
                       probabilities={label: float(p) for label, p in zip(labels, row)})
            for i, row in zip(best, probabilities)]


def encode_terms(terms: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Terms as UTF-8 bytes end to end and their end offsets (no fixed-width string arrays)."""
    encoded = [term.encode("utf-8") for term in terms]
    ends = np.cumsum([len(e) for e in encoded], dtype=np.int64)
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), ends


def decode_terms(data: np.ndarray, ends: np.ndarray) -> list[str]:
    raw = data.tobytes()
    starts = np.concatenate([[0], ends[:-1]]).tolist()
    return [raw[s:e].decode("utf-8") for s, e in zip(starts, ends.tolist())]


def build(header: dict[str, Any], arrays: dict[str, np.ndarray],
          version: str | None = None) -> CompiledClassifier:
    """The classifier described by an exported header and its arrays."""
    if header.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    if header.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"model format version {header.get('format_version')} is not "
                         f"{FORMAT_VERSION}; re-export the model")
    try:
        views = [TfidfView(config, decode_terms(arrays[f"view{i}.terms"],
                                                arrays[f"view{i}.term_ends"]),
                           arrays.get(f"view{i}.idf"), arrays[f"view{i}.coef"],
                           arrays[f"view{i}.intercept"])
                 for i, config in enumerate(header["views"])]
        boosters = None
        if header.get("boosters") is not None:
            spec = header["boosters"]
            boosters = BoosterStack(arrays["boosters.columns"], [
                (b["n_scores"], Trees({name: arrays[f"booster{i}.{name}"] for name in (
                    "feature", "threshold", "default_left", "missing", "left", "right",
                    "leaf_value", "roots")}, b["num_class"], b["objective"]))
                for i, b in enumerate(spec["trees"])])
        pipeline = CompiledPipeline(
            header["labels"], views, arrays["scaler.mean"], arrays["scaler.scale"],
            arrays["combiner.coef"], arrays["combiner.intercept"],
            booster_view=None if boosters is None else header["boosters"]["view"],
            boosters=boosters)
    except KeyError as exc:
        raise ValueError(f"the model file lacks {exc}") from exc
    return CompiledClassifier(pipeline, header["labels"], version or header["version"],
                              header.get("metrics"), header.get("trained_at"), arrays, header)


def is_numpy_format(data: bytes | memoryview) -> bool:
    """Whether ``data`` is an ``.npz`` file (a zip); older models are joblib pickles."""
    return bytes(data[:4]) == b"PK\x03\x04"


def load_classifier_bytes(data: bytes | memoryview, origin: str) -> CompiledClassifier:
    """A model from the bytes of a saved file; ``origin`` names it in messages.

    A model in the older joblib format is loaded by scikit-learn (imported now, so this
    process then holds it: about 100 MB) and compiled; store it again to avoid that.
    """
    data = bytes(data)   # the database driver may give a memoryview
    if is_numpy_format(data):
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"{origin} is not a saved model: {exc!r}") from exc
        if "header" not in arrays:
            raise ValueError(f"{origin} is not a saved model (no header)")
        try:
            header = json.loads(arrays.pop("header").tobytes())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{origin}: unreadable model header: {exc}") from exc
        return build(header, arrays)
    if data[:1] not in _PICKLE_STARTS:
        raise ValueError(f"{origin} is not a saved model")
    logger.warning("%s is in the old joblib format: loading it imports scikit-learn (about "
                   "100 MB); store it again (ticketctl model upgrade) to serve it with NumPy",
                   origin)
    from .model import load_legacy   # scikit-learn: only for models in the old format

    return load_legacy(data, origin).compiled()


def load_classifier(path: PathLike) -> CompiledClassifier:
    """Read a model written by ``save`` (either format). Old-format files run pickles: only
    load trusted files."""
    return load_classifier_bytes(Path(path).read_bytes(), str(path))


_default_lock = threading.Lock()
_default: CompiledClassifier | None = None


def default_model() -> CompiledClassifier:
    """The model trained on the shipped examples, shipped beside them (``default_model.npz``);
    kept for the process. If the file does not match the examples (edited without running
    ``model.export_default_model()``), it is trained now, with scikit-learn, and a warning."""
    global _default
    with _default_lock:
        if _default is None:
            _default = _shipped_default()
        return _default


def _shipped_default() -> CompiledClassifier:
    expected = default_version()
    shipped = resources.files(__package__).joinpath(DEFAULT_MODEL)
    if shipped.is_file():
        classifier = load_classifier_bytes(shipped.read_bytes(), DEFAULT_MODEL)
        if classifier.version == expected:
            return classifier
        logger.warning("%s is model %s but the shipped examples make %s", DEFAULT_MODEL,
                       classifier.version, expected)
    logger.warning("training the default model now (scikit-learn); run "
                   "model.export_default_model() to ship it")
    from .model import train_default   # scikit-learn: only when the shipped file is stale

    return train_default().compiled()
