"""The score stage: responses + instrument + scoring rule → scores, item scores, item statistics."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline import stages
from pipeline.errors import InputError
from pipeline.instruments import load_frameworks, load_instrument, load_scoring
from pipeline.paths import FRAMEWORKS, WavePaths
from pipeline.progress import Timer, log
from pipeline.schemas import ITEM_SCORES, ITEM_STATS, RESPONDENTS, SCORES
from pipeline.scoring.item_stats import item_basis, item_table
from pipeline.scoring.items import compile_items
from pipeline.scoring.responses import read_answer_codes
from pipeline.scoring.scores import item_scores_pieces, missing_counts, score, scored_mask, scores_frame
from pipeline.tableio import ROW_GROUP_ROWS, read_table, stage_commit, write_table, write_table_pieces

MISSING_POLICY = "missing items within the allowance score 0; beyond it the respondent is unscored"


@dataclass(frozen=True)
class ScoreResult:
    wave: int
    rule: str
    n_respondents: int
    n_scored: int
    n_unscored: int
    max_missing_items: int
    share_literate_unweighted: float
    alpha_total: float
    n_flag_key_error: int
    n_flag_negative: int
    n_dif_c: int
    seconds: float
    outputs: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        share = ("无" if not np.isfinite(self.share_literate_unweighted)
                 else f"{100 * self.share_literate_unweighted:.2f}%")
        return (f"计分 {self.n_scored} 人，无法计分 {self.n_unscored} 人（缺答超过 {self.max_missing_items} 题；"
                f"允许范围内的缺答计 0 分）；未加权具备科学素质比例 {share}；总分 α 系数 {self.alpha_total:.3f}；"
                f"需复核的题目：疑似答案错误 {self.n_flag_key_error} 道，区分度为负 {self.n_flag_negative} 道，"
                f"C 级 DIF {self.n_dif_c} 道")


def _respondents(path: Path, wave: int):
    try:
        df = read_table(path, RESPONDENTS)
    except FileNotFoundError:
        raise InputError(f"{path} does not exist. Run `python -m pipeline ingest --wave <wave>` first.") from None
    except ValueError as err:
        raise InputError(str(err)) from None
    waves = sorted(set(df["wave"].tolist()))
    if waves and waves != [wave]:
        raise InputError(f"{path}: holds wave(s) {waves}, but the stage was asked for wave {wave}; "
                         "check --wave or re-run ingest for this wave.")
    probs = df[["p_psu", "p_ssu", "p_hh"]].to_numpy(dtype=np.float64)
    bad = ~((probs > 0) & (probs <= 1)).all(axis=1)
    if _delivered_weight(df) is not None:  # a delivery mode with a weight instead of the probabilities
        bad[:] = False
    if bad.any():
        row = df.loc[bad].iloc[0]
        raise InputError(f"{path}: respondent {row['respondent_id']} has selection probabilities "
                         f"{row['p_psu']}, {row['p_ssu']}, {row['p_hh']}; each must lie in (0, 1]. "
                         f"{int(bad.sum())} respondent(s) affected: fix the frame or the ingest step.")
    adults = df["n_adults"].to_numpy(dtype=np.float64)
    if (adults < 1).any():
        rid = df.loc[adults < 1, "respondent_id"].iloc[0]
        raise InputError(f"{path}: respondent {rid} has n_adults < 1; a selected adult lives in the household.")
    return df.sort_values("respondent_id", kind="mergesort").reset_index(drop=True)


def _delivered_weight(df) -> np.ndarray | None:
    """The design (or final) weight a delivery mode gives instead of the stage probabilities."""
    for col in ("w_design", "w_delivered"):
        if col in df.columns:
            return df[col].to_numpy(dtype=np.float64)
    return None


def run_score(paths: WavePaths, progress: bool = True) -> ScoreResult:
    timer = Timer()
    say = log if progress else (lambda _msg: None)
    stages.begin("score", paths)
    fw_path = paths.frameworks
    frameworks = load_frameworks(fw_path if fw_path.exists() else FRAMEWORKS)
    instrument = load_instrument(paths.instrument, frameworks)
    rule = load_scoring(paths.scoring)
    iset = compile_items(instrument.items, str(paths.instrument))
    respondents = _respondents(paths.out / "respondents.parquet", paths.wave)
    ids = respondents["respondent_id"].to_numpy(dtype=object)
    say(f"   reading responses for {len(ids)} respondents × {iset.k} items")
    source = paths.out / "responses.parquet"
    respondent_ids, codes = read_answer_codes(source, iset, ids)
    ok = scored_mask(missing_counts(iset, codes), iset.k, rule)
    say(f"   item statistics and DIF on {int(ok.sum())} scored respondents")
    weight = _delivered_weight(respondents)
    if weight is None:
        weight = (respondents["n_adults"].to_numpy(dtype=np.float64)
                  / respondents[["p_psu", "p_ssu", "p_hh"]].to_numpy(dtype=np.float64).prod(axis=1))
    groups = {g: respondents[g].array[ok] for g in ("sex", "urban")}
    del respondents  # all the stage needs of it is taken: its memory goes back before the big steps
    codes_ok = codes[ok]
    basis = item_basis(iset, codes_ok, weight[ok])
    meta = {"stage": "score", "wave": paths.wave, "rule": rule.rule, "params": dict(rule.params),
            "max_missing_items": rule.max_missing_items, "max_missing_share": rule.max_missing_share,
            "missing_policy": MISSING_POLICY, "reliability": basis.reliability}
    out = paths.out
    # The long item table needs only the answer codes and the metadata, so a second thread writes it
    # while this one scores, builds the item table and writes the other outputs: its encoding runs
    # outside the interpreter lock. The pool is left (and the thread joined) before the commit ends, also
    # on an error, so no write outlives the commit.
    with stage_commit("score", stages.target("score", paths)), ThreadPoolExecutor(max_workers=1) as pool:
        long = pool.submit(write_table_pieces, item_scores_pieces(iset, codes, respondent_ids, ROW_GROUP_ROWS),
                           out / "item_scores.parquet", ITEM_SCORES, metadata=meta)
        say("   scoring")
        s = score(iset, codes, respondent_ids, rule, frameworks, str(paths.scoring))
        stats = item_table(iset, basis, codes_ok, s.raw_total[ok], groups)
        written = (write_table(scores_frame(s), out / "scores.parquet", SCORES, metadata=meta),
                   long.result(),  # waits for the thread and raises what it raised
                   write_table(stats, out / "item_stats.csv", ITEM_STATS))
    lit = s.literate[ok].astype(bool)
    dif_c = sum(int((stats[c] == "C").sum()) for c in stats.columns if c.startswith("dif_") and c.endswith("_class"))
    return ScoreResult(
        wave=paths.wave, rule=rule.rule, n_respondents=len(ids), n_scored=int(ok.sum()),
        n_unscored=int((~ok).sum()), max_missing_items=rule.max_missing_items,
        share_literate_unweighted=float(lit.mean()) if lit.size else float("nan"),
        alpha_total=float(basis.reliability["total"]["alpha"]), n_flag_key_error=int(stats["flag_key_error"].sum()),
        n_flag_negative=int(stats["flag_negative_discrimination"].sum()), n_dif_c=dif_c,
        seconds=timer.seconds, outputs=tuple(str(p) for p in written),
    )
