"""Progress of an AutoStack fit: a tqdm bar per level and log lines that do not break it."""

import sys
import time

from tqdm.auto import tqdm

__all__ = ["Progress"]


class Progress:
    """Log lines and, on a terminal, one progress bar per level of models.

    Parameters
    ----------
    verbose : int
        0 is silent; from 1 the log lines of that level or below are printed and a bar is
        shown while a level trains (only where stderr is a terminal, as tqdm decides, so
        logs written to files stay clean).
    start : float
        The fit's :func:`time.monotonic` start, for the elapsed time in each line.
    """

    def __init__(self, verbose, start):
        self.verbose = verbose
        self.start = start
        self.bar = None
        self.best = None

    def log(self, level, message):
        if self.verbose >= level:
            line = f"[skstack {time.monotonic() - self.start:7.1f}s] {message}"
            tqdm.write(line, file=sys.stdout)  # clears the bar, prints, redraws it

    def open(self, description, n_models, deadline):
        """Start the bar of a level that trains ``n_models`` until ``deadline`` (or None)."""
        self.close()
        if self.verbose < 1:
            return
        self.deadline, self.best = deadline, None
        self.bar = tqdm(total=n_models, desc=description, unit="model", leave=False,
                        disable=None, dynamic_ncols=True)

    def advance(self, score=None):
        """One more model done (fitted, skipped or failed); ``score`` is its OOF score."""
        if self.bar is None:
            return
        if score is not None and (self.best is None or score > self.best):
            self.best = score
        postfix = {} if self.best is None else {"best": f"{self.best:.4f}"}
        if self.deadline is not None:
            postfix["left"] = f"{max(0.0, self.deadline - time.monotonic()):.0f}s"
        self.bar.update()
        self.bar.set_postfix(postfix)  # redraws: a model takes longer than tqdm's interval

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
