"""The delivery mode of a wave: what the fieldwork company handed over, declared in design.yaml.

    delivery:
      mode: full                # full | no_contacts | design_weight | final_weight
      interview_times: true     # false: no interview start/end times; the duration check is skipped
      response_table: null      # no_contacts / design_weight: per-class completed and eligible counts (CSV)
      recalibrate: true         # final_weight: calibrate the delivered weight to the controls again

A mode decides which design columns the instrument names (three stage probabilities, one design weight,
or the company's final weight), whether ingest reads a contact sheet, and which weighting steps run:

| mode | design columns | contact sheet | base weight | non-response | calibration, trimming |
|---|---|---|---|---|---|
| full | p_psu, p_ssu, p_hh | yes | n_adults / (p_psu·p_ssu·p_hh) | AAPOR classes from the sheet | yes |
| no_contacts | p_psu, p_ssu, p_hh | no | same | from `response_table`, or none | yes |
| design_weight | design_weight | no | the delivered design weight | from `response_table`, or none | yes |
| final_weight | final_weight | no | the delivered final weight | none | only with `recalibrate` |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import SpecError

MODES = ("full", "no_contacts", "design_weight", "final_weight")
DESIGN_ROLES = {
    "full": ("p_psu", "p_ssu", "p_hh"),
    "no_contacts": ("p_psu", "p_ssu", "p_hh"),
    "design_weight": ("design_weight",),
    "final_weight": ("final_weight",),
}
# respondents.parquet column that carries a delivered weight
WEIGHT_COLUMN = {"design_weight": "w_design", "final_weight": "w_delivered"}
STAGE_PROBABILITIES = DESIGN_ROLES["full"]

# A column a statistics office would call a weight, by name or label (权数 and 权重 are both in use).
_WEIGHT_LIKE = re.compile(r"权数|权重|加权|weight|wgt|wt", re.IGNORECASE)
_FINAL_LIKE = re.compile(r"最终|校准|事后|final|calib|post", re.IGNORECASE)


def weight_instead_of_probabilities(admin, have, spare: dict[str, str]) -> list[tuple[str, str]]:
    """(column, mode) for every spare column whose name or label reads like a weight, with the delivery mode
    it suggests (final_weight when the label says final or calibrated, design_weight otherwise), when the
    instrument names the three stage probabilities (`admin`: its (role, column) pairs) and the file (`have`)
    holds none of them; otherwise nothing.

    The hint for a re-saved or office-prepared file, which usually carries the company's weight and not the
    probabilities."""
    probabilities = {c for role, c in admin if role in STAGE_PROBABILITIES}
    if not probabilities or probabilities & set(have):
        return []
    out = []
    for col, label in spare.items():
        text = f"{col} {label or ''}"
        if _WEIGHT_LIKE.search(text):
            out.append((col, "final_weight" if _FINAL_LIKE.search(text) else "design_weight"))
    return out


@dataclass(frozen=True)
class Delivery:
    mode: str = "full"
    interview_times: bool = True
    response_table: str | None = None  # file under data/raw/<wave>/
    recalibrate: bool = True

    @property
    def contacts(self) -> bool:
        return self.mode == "full"

    @property
    def design_roles(self) -> tuple[str, ...]:
        return DESIGN_ROLES[self.mode]

    @property
    def variant(self) -> str:
        """The simulator's name for the delivery (`simulate --variant`)."""
        return "no_times" if self.mode == "full" and not self.interview_times else self.mode


def parse_delivery(raw: object, path: str | Path) -> Delivery:
    """The `delivery:` section of design.yaml (read by pipeline/survey_design); absent = a full delivery."""
    if raw is None:
        return Delivery()
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: delivery must be a mapping (mode, interview_times, response_table, recalibrate).")
    unknown = sorted(set(raw) - {"mode", "interview_times", "response_table", "recalibrate"})
    if unknown:
        raise SpecError(f"{path}: delivery: unknown key(s) {unknown}; use mode, interview_times, response_table, "
                        "recalibrate (survey_instruments/README.md, Delivery modes).")
    mode = str(raw.get("mode", "full"))
    if mode not in MODES:
        raise SpecError(f"{path}: delivery.mode {mode!r} is not one of {list(MODES)}.")
    times = raw.get("interview_times", True)
    if not isinstance(times, bool):
        raise SpecError(f"{path}: delivery.interview_times must be true or false, found {times!r}.")
    table = raw.get("response_table")
    if table is not None and mode not in ("no_contacts", "design_weight"):
        raise SpecError(f"{path}: delivery.response_table is for modes no_contacts and design_weight (a full delivery "
                        f"adjusts from its contact sheet; a final weight is not adjusted again), not {mode!r}.")
    recal = raw.get("recalibrate", True)
    if not isinstance(recal, bool):
        raise SpecError(f"{path}: delivery.recalibrate must be true or false, found {recal!r}.")
    return Delivery(mode, times, None if table is None else str(table), recal)


def check_instrument(delivery: Delivery, design_roles: list[str], time_roles: list[str], where: str) -> None:
    """The instrument names exactly the design columns and interview times the mode says were delivered."""
    want = set(delivery.design_roles)
    if set(design_roles) != want:
        raise SpecError(f"{where}: design.yaml declares delivery mode {delivery.mode!r}, which needs design_columns "
                        f"{sorted(want)} in instrument.yaml; it names {sorted(design_roles)}. Make the two agree.")
    if delivery.interview_times and len(time_roles) < 2:
        raise SpecError(f"{where}: admin lacks start_time/end_time. If the delivery has no interview times, declare "
                        "`delivery: {interview_times: false}` in design.yaml (the duration check is then skipped).")
    if not delivery.interview_times and time_roles:
        raise SpecError(f"{where}: design.yaml says the delivery has no interview times, but instrument.yaml names "
                        f"{sorted(time_roles)}; remove them or set delivery.interview_times: true.")
