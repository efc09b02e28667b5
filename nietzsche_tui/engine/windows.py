"""Window mode as a pipeline: every window the coming characters will need, run at once.

Window mode (the book's way) reads each next character from a run of the network over the last
``maxlen`` characters from a zero state. Done literally, every character costs ``maxlen``
sequential steps of a few rows each: NumPy's per-call overhead, not arithmetic, sets the pace
(about 9 GFLOP/s, where one matrix product of a few hundred rows reaches 90 on one core).

The windows overlap, and all but their last character are known in advance: the window that will
give character n+k starts at n+k-maxlen, so its run can already read every character up to n. So
``maxlen`` runs are kept in flight, one starting at each of the last ``maxlen`` positions. Each new
character is fed to all of them in one step of ``maxlen`` × rows; the oldest has then read a full
window and gives the next distribution, and its slot starts the newest run. Every window is still
run alone from a zero state over exactly its characters, so the distributions are window mode's
(the same products, summed by a larger matrix product: equal within float32 rounding), at one
step per character instead of ``maxlen``.

Runs are stored grouped and as columns, ``(groups, units, rows, slots)``: one group for one
model (its rows are the temperatures), one per model for several stacked (epochs side by side,
one row each), so each group multiplies by its own model's matrices; a column per run puts each
gate's values in one contiguous block (``network.COLUMNS``), which the elementwise steps run
through 2-5× faster than the strided slices of a row per run.
"""

from __future__ import annotations

import numpy as np

from nietzsche_tui.engine.network import COLUMNS, Network


class WindowPipeline:
    """The next distribution of every row in window mode, one network step per character.

    ``indices`` is the text so far (only its last ``maxlen`` characters matter); every row starts
    from it. Then ``probabilities()`` gives the next distributions and ``advance(chosen)`` appends
    one character to every row.

    The first distribution comes from the first window's run alone, as few rows as possible, so
    the first character is as quick as before; the runs for the windows after it (about half a
    window's worth of full steps) start on the first ``advance``.
    """

    def __init__(self, network: Network, indices: np.ndarray, rows: int, maxlen: int) -> None:
        self.network, self.maxlen, self.rows = network, maxlen, rows
        self.groups = rows if network.is_stacked else 1
        self.per_slot = rows // self.groups  # one slot holds one run of every row
        self.states = [
            tuple(np.zeros((self.groups, layer.units, self.per_slot, maxlen), dtype=np.float32) for _ in layer.zeros(1))
            for layer in network.layers
        ]
        self.window = np.asarray(indices[-maxlen:])
        self.length = len(self.window)  # characters read, counted from the window's first
        # The first window's run: every row of one model reads the same characters, so one row does.
        self.first_state = network.run(np.tile(self.window, (rows if network.is_stacked else 1, 1)))
        self.primed = False

    @property
    def running(self) -> int:
        """How many runs are in flight: one per position until a full window's worth."""
        return min(self.length, self.maxlen)

    def probabilities(self) -> np.ndarray:
        """The next character's distribution for every row (float64), from the run over its window."""
        if not self.primed:
            first = self.network.probabilities(self.first_state)
            return first if len(first) == self.rows else np.repeat(first, self.rows, axis=0)
        slot = max(0, self.length - self.maxlen) % self.maxlen
        h = self.states[-1][0][..., slot]  # (groups, units, rows per group)
        return self.network.probabilities([(np.swapaxes(h, 1, 2).reshape(self.rows, -1),)])

    def advance(self, chosen: np.ndarray) -> None:
        """Append ``chosen`` (one character index per row): a new run starts at this position and
        every run in flight reads it. The new run takes the slot of the one that was just read."""
        if not self.primed:
            self._prime()
        slot = self.length % self.maxlen
        for state in self.states:
            for array in state:
                array[..., slot] = 0
        self.length += 1
        self._feed(chosen, 0, self.running)

    def _prime(self) -> None:
        """Start the runs of the windows after the first: run s (slot s) reads window[s:]. The
        first run's state goes to slot 0 while the window still grows (it is read again)."""
        for position in range(1, len(self.window)):
            self._feed(np.full(self.rows, self.window[position]), 1, position + 1)
        if len(self.window) < self.maxlen:
            for state, first in zip(self.states, self.first_state, strict=True):
                for array, value in zip(state, first, strict=True):
                    view = array[..., 0]
                    # (rows read, units) as (groups, units, 1 or rows per group): one row serves every row
                    view[...] = np.swapaxes(value.reshape(self.groups, -1, value.shape[-1]), 1, 2)
        self.primed = True

    def _feed(self, chosen: np.ndarray, first_slot: int, end_slot: int) -> None:
        """Every run in slots [first_slot, end_slot) reads ``chosen``, in one step of the network."""
        below: np.ndarray | None = None
        for number, (layer, state) in enumerate(zip(self.network.layers, self.states, strict=True)):
            views = tuple(array[..., first_slot:end_slot] for array in state)  # (groups, units, rows, runs)
            if number == 0:  # every run of a row reads the same character: one table column, spread
                row = layer.project(chosen).reshape(self.groups, self.per_slot, -1)
                x = np.swapaxes(row, 1, 2)[..., None]
            else:
                assert below is not None
                x = layer.project(below, COLUMNS)
            new = layer.recur(x, views, COLUMNS)
            for view, value in zip(views, new, strict=True):
                view[...] = value
            below = new[0]
