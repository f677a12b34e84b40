"""The evaluation harness on a trainer's EMA generator, every ``eval_every`` steps of a run
(``reenact train`` passes it to ``reenact.training.train.train`` as ``evaluate``).

Each call writes ``run/eval/step-XXXXXX/`` (``reenact eval``'s report.json, report.md,
contact_sheet.png) and returns the headline numbers as ``eval/*`` scalars. If the harness cannot
run here (no face model, no scikit-image for the astronaut), it says so once and stays off.
"""

from __future__ import annotations

import copy
from pathlib import Path

from reenact.errors import ReenactError
from reenact.eval.report import write_report
from reenact.eval.summary import summarize_targets
from reenact.model.ganimation import GanimationEditor
from reenact.pipelines.evaluation.harness import evaluate_editor, headline


class PeriodicEval:
    """``PeriodicEval(run_dir)(trainer)`` -> scalars (see the module docstring); the sources are
    the trainer's ``config.eval_sources`` (none, or ``eval_every`` 0: off)."""

    def __init__(self, run_dir: Path):
        self.folder = Path(run_dir) / "eval"
        self.enabled = True
        self.last_step: int | None = None

    def __call__(self, trainer) -> dict[str, float]:
        config = trainer.config
        if not (self.enabled and config.eval_every and config.eval_sources) or trainer.step == self.last_step:
            return {}
        self.last_step = trainer.step
        editor = GanimationEditor(copy.deepcopy(trainer.ema).float())
        try:
            evaluation = evaluate_editor(editor, tuple(config.eval_sources), label=f"ema@{trainer.step}")
        except ReenactError as exc:
            print(f"periodic evaluation off: {exc}")
            self.enabled = False
            return {}
        write_report([evaluation], self.folder / f"step-{trainer.step:06d}", meta={"step": trainer.step})
        return {f"eval/{k}": v for k, v in headline(summarize_targets(evaluation)).items()}
