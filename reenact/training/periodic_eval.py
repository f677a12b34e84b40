"""The evaluation harness on a trainer's EMA generator, every ``eval_every`` steps of a run.

Each call writes ``run/eval/step-XXXXXX/`` (``reenact eval``'s report.json, report.md,
contact_sheet.png) and returns the headline numbers as ``eval/*`` scalars. If the harness cannot
run here (no face model, no scikit-image for the astronaut), it says so once and stays off.
"""

from __future__ import annotations

import copy
from pathlib import Path

from reenact.errors import ReenactError
from reenact.eval.harness import evaluate_editor, headline
from reenact.eval.report import write_report
from reenact.eval.summary import summarize_targets
from reenact.model.ganimation import GanimationEditor


class PeriodicEval:
    """``PeriodicEval(run_dir, sources)(trainer)`` -> scalars (see the module docstring)."""

    def __init__(self, run_dir: Path, sources: tuple[str, ...]):
        self.folder = Path(run_dir) / "eval"
        self.sources = sources
        self.enabled = bool(sources)
        self.last_step: int | None = None

    def __call__(self, trainer) -> dict[str, float]:
        if not self.enabled or trainer.step == self.last_step:
            return {}
        self.last_step = trainer.step
        editor = GanimationEditor(copy.deepcopy(trainer.ema).float())
        try:
            evaluation = evaluate_editor(editor, self.sources, label=f"ema@{trainer.step}")
        except ReenactError as exc:
            print(f"periodic evaluation off: {exc}")
            self.enabled = False
            return {}
        write_report([evaluation], self.folder / f"step-{trainer.step:06d}", meta={"step": trainer.step})
        return {f"eval/{k}": v for k, v in headline(summarize_targets(evaluation)).items()}
