"""Scoring: item credit, dimension and total scores, classes, literacy rules, item analysis and DIF."""

from pipeline.scoring.items import ItemSet, compile_items, credit
from pipeline.scoring.rules import SCORING_RULES, classify, exact
from pipeline.scoring.run import ScoreResult, run_score
from pipeline.scoring.scores import Scored, score

__all__ = ["SCORING_RULES", "ItemSet", "ScoreResult", "Scored", "classify", "compile_items", "credit", "exact",
           "run_score", "score"]
