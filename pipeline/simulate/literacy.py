"""Latent literacy, answers from an item-response model, and the population truth it implies.

The latent trait depends on education, age, urban/rural, sex, occupation and county, with township and
village effects so that clustering matters. Answers follow a two-parameter logistic model; a person who
does not know an answer says "不知道" with a fixed probability and guesses otherwise, so "不知道" is more
frequent the lower the trait (more answers unknown). The truth of a wave is the share of the population
that would reach each cut-off if tested: per person P(score ≥ c | θ), computed by simulating the test on
a grid of θ, then averaged over the whole population.

The spread of the trait (TRAIT_SCALE), the spread of item difficulties (ITEM_B_SD) and the 不知道 rate
(DK_INTERCEPT) shape the score distribution; the wave's intercept then fixes the share literate. They are
tuned so that the 2024 population classes match the national 2024 figures (DOMAIN.md §2: 2.30% advanced,
44.07% basic or better) besides the wave's share literate: on the full synthetic population 2.33% ≥ 85,
15.70% ≥ 70, 44.08% ≥ 55 (tests/simulate/test_classes.py checks it). Before this tuning the spread was
twice as wide (4.9% advanced, 31.0% basic or better).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from pipeline.instruments.model import Instrument

EDU_EFFECT = np.array([-0.95, -0.40, 0.0, 0.38, 0.68])  # 小学及以下 … 本科及以上
OCC_EFFECT = np.array([0.35, 0.15, 0.30, 0.15, 0.0, -0.20, -0.10, 0.20, 0.0, -0.15])  # codes 1..10
AGE_SLOPE = -0.016  # per year around 40
URBAN_EFFECT = 0.18
MALE_EFFECT = 0.12
SD_TOWNSHIP, SD_VILLAGE, SD_PERSON = 0.20, 0.16, 0.95
REFUSE_RATE, SKIP_RATE = 0.003, 0.002
# P(不知道 | does not know) = logistic(−DK_INTERCEPT) ≈ 0.30, the same at every θ: a rate that fell with θ
# thinned the upper tail of the scores too much for the national advanced share.
DK_INTERCEPT = 0.85
# θ = TRAIT_SCALE × (effects above + cluster and person noise) + μ: the effects keep their relative sizes,
# the whole trait is narrowed against the items' discrimination (a in 0.9–1.9).
TRAIT_SCALE = 0.548
ITEM_B_MEAN, ITEM_B_SD = -0.35, 0.30  # item difficulties b ~ N(mean, sd); the mean is absorbed by μ
TIRED_SHARE, TIRED_SKIP = 0.012, 0.40  # a few respondents give up half-way: they end up unscored

# The city's true share literate by wave: from the 2020 baseline of 11.2% to just above the 16% target
WAVE_TARGET_SHARE = {2021: 0.121, 2022: 0.132, 2023: 0.143, 2024: 0.157, 2025: 0.166}


def _item_rng(seed: int, item_id: str) -> np.random.Generator:
    # Item parameters depend on the item id, not its position, so rotating items keeps the others.
    return np.random.default_rng([seed, zlib.crc32(item_id.encode())])


@dataclass(frozen=True)
class ItemModel:
    """2PL parameters and scoring arrays for every item of an instrument, in instrument order."""

    a: np.ndarray
    b: np.ndarray
    points: np.ndarray
    n_options: np.ndarray
    key_index: list[tuple[int, ...]]  # indices (into options) of the true correct option(s)
    multiple: np.ndarray  # bool
    partial: np.ndarray  # bool
    dim_index: np.ndarray  # index into frameworks dimensions

    @property
    def n_items(self) -> int:
        return self.a.size


def item_model(inst: Instrument, seed: int, key_error_item: str | None = None) -> ItemModel:
    a, b, n_opt, keys, mult, part, dims = [], [], [], [], [], [], []
    dim_ids = [d.id for d in inst.frameworks.dimensions]
    for it in inst.items:
        r = _item_rng(seed, it.id)
        a.append(r.uniform(0.9, 1.9))
        b.append(r.normal(ITEM_B_MEAN, ITEM_B_SD))
        codes = list(it.option_codes)
        key_idx = tuple(codes.index(k) for k in it.key)
        if it.id == key_error_item:
            # The instrument's key is wrong: people who know the answer choose another option.
            wrong = [i for i in range(len(codes)) if i not in key_idx]
            key_idx = (wrong[0],) if it.type != "multiple" else tuple(sorted(set(wrong[:1]) | set(key_idx[1:])))
        n_opt.append(len(codes))
        keys.append(key_idx)
        mult.append(it.type == "multiple")
        part.append(it.scoring == "partial")
        dims.append(dim_ids.index(it.dimension))
    return ItemModel(np.array(a), np.array(b), np.array([it.points for it in inst.items]), np.array(n_opt),
                     keys, np.array(mult), np.array(part), np.array(dims))


def latent_trait(rng: np.random.Generator, persons, county_effect: np.ndarray, n_townships: int,
                 n_villages: int, township_of_village: np.ndarray, mu: float = 0.0) -> np.ndarray:
    """θ for every person (without the wave's intercept `mu`, which calibration adds)."""
    u_town = rng.normal(0, SD_TOWNSHIP, n_townships)
    u_vill = rng.normal(0, SD_VILLAGE, n_villages) + u_town[township_of_village]
    vidx = persons["vidx"].to_numpy()
    theta = (
        EDU_EFFECT[persons["edu_band"].to_numpy()]
        + AGE_SLOPE * (persons["age"].to_numpy() - 40)
        + URBAN_EFFECT * persons["urban"].to_numpy()
        + MALE_EFFECT * (persons["sex"].to_numpy() == 1)
        + OCC_EFFECT[persons["occupation"].to_numpy() - 1]
        + county_effect[persons["county_raw"].to_numpy() - 1]
        + u_vill[vidx]
        + rng.normal(0, SD_PERSON, len(persons))
    )
    return TRAIT_SCALE * theta + mu


@dataclass(frozen=True)
class Answers:
    """Simulated answers: option index chosen (−1 = none), multiple-answer bit masks, missing reasons."""

    choice: np.ndarray  # (n, J) int8: option index for single/true_false items
    mask: np.ndarray  # (n, J) int16: chosen options as bits for multiple items
    reason: np.ndarray  # (n, J) int8: 0 answered, 1 dont_know, 2 refused, 3 skipped


def simulate_answers(rng: np.random.Generator, theta: np.ndarray, model: ItemModel,
                     tired: np.ndarray | None = None) -> Answers:
    n, J = theta.size, model.n_items
    p = 1.0 / (1.0 + np.exp(-model.a * (theta[:, None] - model.b)))
    correct = rng.random((n, J)) < p
    p_dk = 1.0 / (1.0 + np.exp(DK_INTERCEPT))
    dont_know = ~correct & (rng.random((n, J)) < p_dk)
    reason = np.where(dont_know, 1, 0).astype(np.int8)
    u = rng.random((n, J))
    reason[u < REFUSE_RATE] = 2
    reason[(u >= REFUSE_RATE) & (u < REFUSE_RATE + SKIP_RATE)] = 3
    if tired is not None and tired.any():
        late = np.arange(J) >= J // 2
        skip = tired[:, None] & late[None, :] & (rng.random((n, J)) < TIRED_SKIP)
        reason[skip] = 3
    choice = np.full((n, J), -1, dtype=np.int8)
    mask = np.zeros((n, J), dtype=np.int16)
    draw = rng.random((n, J))
    for j in range(J):  # per item (≈60), vectorised over respondents
        k = model.n_options[j]
        key = model.key_index[j]
        ans = reason[:, j] == 0
        # Whoever does not know the answer and does not say 不知道 guesses among all options, the key included.
        if model.multiple[j]:
            key_mask = sum(1 << i for i in key)
            guess = rng.integers(1, 1 << k, size=n).astype(np.int16)
            mask[:, j] = np.where(ans, np.where(correct[:, j], key_mask, guess), 0)
        else:
            guess = (draw[:, j] * k).astype(np.int64).clip(0, k - 1).astype(np.int8)
            choice[:, j] = np.where(ans, np.where(correct[:, j], key[0], guess), -1)
    return Answers(choice, mask, reason)


def score_answers(ans: Answers, model: ItemModel, inst: Instrument) -> tuple[np.ndarray, np.ndarray]:
    """Points per item (n, J) as the instrument defines them, and the number of missing items per person.

    Scored against the instrument's key (not the true one), exactly as the pipeline will score.
    """
    n, J = ans.choice.shape
    pts = np.zeros((n, J))
    for j, it in enumerate(inst.items):
        codes = list(it.option_codes)
        key_idx = [codes.index(k) for k in it.key]
        if it.type == "multiple":
            key_mask = sum(1 << i for i in key_idx)
            k = len(codes)
            if it.scoring == "partial":
                agree = np.zeros(n)
                for i in range(k):
                    agree += ((ans.mask[:, j] >> i) & 1) == ((key_mask >> i) & 1)
                pts[:, j] = it.points * agree / k
            else:
                pts[:, j] = it.points * (ans.mask[:, j] == key_mask)
            pts[ans.reason[:, j] != 0, j] = 0.0
        else:
            pts[:, j] = it.points * (ans.choice[:, j] == key_idx[0])
    n_missing = (ans.reason >= 2).sum(axis=1)
    return pts, n_missing


@dataclass(frozen=True)
class TruthCurves:
    """E[outcome | θ] on a grid: P(total ≥ 85, 70, 55) and the mean dimension and total scores."""

    grid: np.ndarray
    p_ge: dict[float, np.ndarray]
    mean_total: np.ndarray
    mean_dims: np.ndarray  # (grid, dims)

    def at(self, curve: np.ndarray, theta: np.ndarray | tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Linear interpolation of `curve` at θ, or at a precomputed `locate(θ)` for many curves."""
        i, f = self.locate(theta) if isinstance(theta, np.ndarray) else theta
        return curve[i] * (1.0 - f) + curve[i + 1] * f

    def locate(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.clip(theta, self.grid[0], self.grid[-1])
        i = np.minimum(np.searchsorted(self.grid, t, side="right") - 1, self.grid.size - 2)
        return i, (t - self.grid[i]) / (self.grid[i + 1] - self.grid[i])


def truth_curves(inst: Instrument, model: ItemModel, seed: int, per_point: int = 3000,
                 cutoffs: tuple[float, ...] = (85.0, 70.0, 55.0), max_missing: int = 6) -> TruthCurves:
    """Monte Carlo of the test at each grid point, with the same missingness as the field (scored only)."""
    rng = np.random.default_rng([seed, 7])
    grid = np.linspace(-5.0, 6.0, 111)
    theta = np.repeat(grid, per_point)
    ans = simulate_answers(rng, theta, model)
    pts, n_missing = score_answers(ans, model, inst)
    total = np.round(pts.sum(axis=1), 9)
    scored = (n_missing <= max_missing).reshape(grid.size, per_point)
    tot = total.reshape(grid.size, per_point)
    cnt = scored.sum(axis=1)
    p_ge = {c: ((tot >= c) & scored).sum(axis=1) / cnt for c in cutoffs}
    mean_total = (tot * scored).sum(axis=1) / cnt
    n_dims = len(inst.frameworks.dimensions)
    dims = np.zeros((theta.size, n_dims))
    for d in range(n_dims):
        dims[:, d] = pts[:, model.dim_index == d].sum(axis=1)
    dims = dims.reshape(grid.size, per_point, n_dims)
    mean_dims = (dims * scored[:, :, None]).sum(axis=1) / cnt[:, None]
    # monotone in θ by construction of the model; enforce it against Monte Carlo noise
    p_ge = {c: np.maximum.accumulate(v) for c, v in p_ge.items()}
    return TruthCurves(grid, p_ge, mean_total, mean_dims)


def calibrate_intercept(theta0: np.ndarray, curves: TruthCurves, target: float) -> float:
    """The shift μ of the latent trait that makes the population share literate equal `target`.

    Bisection on a fine histogram of θ (bin width 0.002) rather than on millions of persons: the
    histogram error is far below the Monte Carlo error of the curve itself.
    """
    edges = np.arange(theta0.min() - 0.002, theta0.max() + 0.004, 0.002)
    counts, edges = np.histogram(theta0, bins=edges)
    centres = 0.5 * (edges[:-1] + edges[1:])
    weights = counts / counts.sum()
    curve = curves.p_ge[70.0]
    lo, hi = -4.0, 4.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        share = float(weights @ curves.at(curve, centres + mid))
        lo, hi = (mid, hi) if share < target else (lo, mid)
    return 0.5 * (lo + hi)
