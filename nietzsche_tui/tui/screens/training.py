"""The training screen (F5): a folder's epochs, a loss plot, each epoch's samples, the live run.

The screen shows what a ``FolderWatch`` (runs.py) knows and never reads files itself: the app
polls the folder and calls ``show`` when something changed, so a run started in another terminal
appears exactly like one started here. Starting (s) and stopping (x) ask the app, which owns the
trainer process.

The plot is ``textual-plotext``: a maintained widget over plotext, which draws line plots with
axes, labels and a legend in braille characters and follows the app's theme; a loss curve needs
exactly that and nothing more (no zoom or pan).
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, ProgressBar, Static

from nietzsche_tui.contracts.checkpoint import Checkpoint, CheckpointMetadata
from nietzsche_tui.contracts.events import RunState
from nietzsche_tui.runs import FolderWatch
from nietzsche_tui.text import visible
from nietzsche_tui.tui.screens.dialogs import RunsDialog


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def run_summary(folder: str, state: RunState, checkpoints: list[Checkpoint]) -> str:
    """One line: the folder, the run's state and where it is."""
    latest = f"{len(checkpoints)} epochs saved" if checkpoints else "no checkpoint yet"
    if state.status == "running":
        epoch = f"epoch {state.epoch} of {state.epochs_target}" if state.epochs_target else f"epoch {state.epoch}"
        progress = f" · batch {state.batch}/{state.batches}" if state.batches else ""
        loss = f" · loss {state.loss:.3f}" if state.loss is not None else ""
        eta = state.eta_seconds()
        eta_text = f" · ETA {eta:.0f} s" if eta is not None else ""
        return f"{folder} · training: {epoch}{progress}{loss}{eta_text} · {latest}"
    words = {
        "none": "no run recorded",
        "finished": "the run finished",
        "stopped": "the run was stopped",
        "failed": "the run failed",
        "starting": "a run is starting",
    }
    message = f": {state.message}" if state.message else ""
    return f"{folder} · {words.get(state.status, state.status)}{message} · {latest}"


def copied_cell(longest: float | None, fraction: float | None) -> str:
    """The table's "copied" column: the samples' longest span found in the training text, and
    the share of their characters inside spans of 20 or more."""
    if longest is None or fraction is None:
        return "—"
    return f"{int(longest)} · {fraction:.0%}"


# One colour per run when several are plotted (plotext's names); a run's train curve shares it.
RUN_COLOURS = ("cyan", "orange", "magenta", "green", "yellow", "blue", "red", "white")


def run_settings(metadata: CheckpointMetadata | None, settings: dict) -> str:
    """A run's main settings, for the runs table: recipe, cell, layers × units, dropout (from its
    latest checkpoint; from the run's start event before it has one)."""
    if metadata is not None:
        arch, recipe = metadata.architecture, metadata.training.get("recipe", "?")
        cell, layers, units, dropout = arch.cell, arch.layers, arch.units, arch.dropout
    else:
        recipe, cell = settings.get("recipe", "?"), settings.get("cell", "lstm")
        layers, units, dropout = settings.get("layers", 1), settings.get("units", "?"), settings.get("dropout") or 0
    return f"{recipe} · {str(cell).upper()} {layers}×{units}" + (f" · dropout {dropout:g}" if dropout else "")


def best_epoch(checkpoints: list[Checkpoint]) -> Checkpoint | None:
    """The checkpoint with the lowest held-out loss (the first of equals)."""
    scored = [c for c in checkpoints if c.val_loss is not None]
    return min(scored, key=lambda c: c.val_loss) if scored else None


def loss_axis(losses: list[float]) -> tuple[float, float]:
    """The loss axis's range: the curves start high at the left, where plotext draws its legend,
    so the axis reaches a third above the highest loss and the legend sits over empty space."""
    low, high = min(losses), max(losses)
    span = (high - low) or max(abs(high) * 0.1, 0.1)
    return low - 0.05 * span, high + 0.35 * span


class TrainingScreen(Screen[None]):
    """Every complete epoch of the folder, the loss curve, the samples of the selected epoch."""

    BINDINGS = [
        Binding("f5,escape", "app.pop_screen", "Chat", id="training-close"),
        Binding("s", "start_run", "Start training", id="training-start"),
        Binding("x", "stop_run", "Stop run", id="training-stop"),
        Binding("t", "toggle_axis", "Epoch/time axis", id="training-axis"),
        Binding("c", "compare_runs", "Compare runs", id="training-compare"),
    ]

    def __init__(self, watch: FolderWatch, shown_folder: str | None = None, runs: Path | None = None) -> None:
        super().__init__()
        self.watch = watch
        self.shown_folder = shown_folder or str(watch.folder)  # served: the folder's name, not its path
        self.runs = runs  # where "Compare runs…" looks for other folders (None: not offered)
        self.compared: list[FolderWatch] = []  # other runs plotted beside this one (the app polls them)
        self.plotted: list[tuple[str, list[float], list[float]]] = []  # each curve drawn: label, x, y
        self.against_time = False
        self.selected_epoch: int | None = None
        self._rows: list[int] = []

    def compose(self) -> ComposeResult:
        # Imported here: plotext costs ~40 ms, which the app's start-up should not pay.
        from textual_plotext import PlotextPlot

        yield Static(id="run-status", markup=False)
        yield ProgressBar(id="epoch-progress", show_eta=False)
        with Horizontal(id="training-top"):
            yield DataTable(id="epochs", cursor_type="row", zebra_stripes=True)
            yield PlotextPlot(id="loss-plot")
        runs = DataTable(id="runs", cursor_type="none", zebra_stripes=True)
        runs.display = False
        yield runs
        with VerticalScroll(id="samples"):
            yield Static(id="samples-text", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#epochs", DataTable)
        for label, key in (
            ("epoch", "epoch"),
            ("train", "train"),
            ("held-out", "val"),
            ("bits/char", "bpc"),
            ("copied", "copied"),  # before the rate and seconds: a half-width table shows it
            ("learning rate", "lr"),
            ("seconds", "seconds"),
        ):
            table.add_column(label, key=key)
        runs = self.query_one("#runs", DataTable)
        for label in ("run", "settings", "epochs", "best held-out", "at epoch", "minutes to it", "state"):
            runs.add_column(label)
        self.show()
        table.focus()

    def on_screen_resume(self) -> None:
        """Shown again (the screen is installed once and keeps its axis and selection): catch up."""
        self.show()

    # -- what the folder says ----------------------------------------------------------------

    def show(self) -> None:
        """Bring every part of the screen up to date with the folder (UI thread)."""
        state, checkpoints = self.watch.state, self.watch.checkpoints
        self.query_one("#run-status", Static).update(Text(run_summary(self.shown_folder, state, checkpoints)))
        bar = self.query_one("#epoch-progress", ProgressBar)
        bar.display = state.live
        if state.live and state.batches:
            bar.update(total=state.batches, progress=state.batch)
        self._update_table(checkpoints)
        self._update_plot(checkpoints)
        self._update_runs()
        self._update_samples()

    def _update_table(self, checkpoints: list[Checkpoint]) -> None:
        table = self.query_one("#epochs", DataTable)
        epochs = [c.epoch for c in checkpoints]
        if epochs[: len(self._rows)] != self._rows:  # the folder was replaced: start over
            table.clear()
            self._rows = []
        follow = not self._rows or table.cursor_row == len(self._rows) - 1
        for checkpoint in checkpoints[len(self._rows) :]:
            metrics = checkpoint.metadata.metrics
            table.add_row(
                str(checkpoint.epoch),
                _number(metrics.train_loss),
                _number(metrics.val_loss),
                _number(metrics.held_out_bits),
                copied_cell(metrics.copied_longest, metrics.copied_fraction),
                _number(metrics.learning_rate, 5),
                _number(metrics.epoch_seconds, 1),
                key=str(checkpoint.epoch),
            )
            self._rows.append(checkpoint.epoch)
        if follow and self._rows:  # the cursor stays on the newest epoch while it was there
            table.move_cursor(row=len(self._rows) - 1)
            self.selected_epoch = self._rows[-1]

    def _x(self, checkpoints: list[Checkpoint]) -> list[float]:
        """Each checkpoint's place on the x axis: its epoch, or its minutes of training."""
        if self.against_time:
            return [(c.metadata.metrics.total_seconds or 0.0) / 60 for c in checkpoints]
        return [float(c.epoch) for c in checkpoints]

    def _update_plot(self, checkpoints: list[Checkpoint]) -> None:
        plot = self.query_one("#loss-plot")
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("minutes of training" if self.against_time else "epoch")
        self.plotted = []
        if self.compared:
            for watch, colour in zip((self.watch, *self.compared), RUN_COLOURS, strict=False):
                run, name = watch.checkpoints, watch.folder.name
                xs = self._x(run)
                settings = run_settings(run[-1].metadata if run else None, watch.state.settings)
                # Held-out in bold dots (what runs are judged by), train in fine braille.
                self._curve(plt, f"{name} · {settings}", xs, [c.val_loss for c in run], colour, "dot")
                self._curve(plt, f"{name} train", xs, [c.metadata.metrics.train_loss for c in run], colour, "braille")
            title = "held-out (dots) and train (fine), nats/char"
        else:
            xs = self._x(checkpoints)
            self._curve(plt, "train", xs, [c.metadata.metrics.train_loss for c in checkpoints], None, "braille")
            self._curve(plt, "held-out", xs, [c.val_loss for c in checkpoints], None, "braille")
            # Memorisation seen as copying, on the right-hand axis: the share of the epoch's samples
            # found word for word in the training text rises as the held-out loss turns up.
            copied = [
                (x, 100 * c.metadata.metrics.copied_fraction)
                for x, c in zip(xs, checkpoints, strict=True)
                if c.metadata.metrics.copied_fraction is not None
            ]
            if copied:
                plt.plot(
                    [x for x, _ in copied], [y for _, y in copied], label="copied %", marker="braille", yside="right"
                )
                plt.ylim(0, max(10.0, max(y for _, y in copied) * 1.35), yside="right")
            title = "loss (nats/char)" if checkpoints else "no epochs yet: press s to start training"
        losses = [y for _, _, ys in self.plotted for y in ys]
        if losses:
            plt.ylim(*loss_axis(losses))
        plt.title(title)
        plot.refresh()

    def _curve(self, plt, label: str, xs: list[float], ys: list[float | None], colour: str | None, marker: str) -> None:
        points = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
        if not points:
            return
        options = {"label": label, "marker": marker} | ({"color": colour} if colour else {})
        plt.plot([x for x, _ in points], [y for _, y in points], **options)
        self.plotted.append((label, [x for x, _ in points], [y for _, y in points]))

    def _update_runs(self) -> None:
        """The runs table: each run's best held-out loss and the time it took to reach it."""
        table = self.query_one("#runs", DataTable)
        table.display = bool(self.compared)
        if not self.compared:
            return
        table.clear()
        for watch in (self.watch, *self.compared):
            checkpoints = watch.checkpoints
            latest = checkpoints[-1].metadata if checkpoints else None
            best = best_epoch(checkpoints)
            minutes = None if best is None else (best.metadata.metrics.total_seconds or 0.0) / 60
            table.add_row(
                watch.folder.name,
                run_settings(latest, watch.state.settings),
                str(len(checkpoints)),
                _number(best.val_loss if best else None),
                str(best.epoch) if best else "—",
                _number(minutes, 1),
                watch.state.status if watch.state.status != "none" else "no run recorded",
            )

    def _update_samples(self) -> None:
        record = self.watch.state.epochs.get(self.selected_epoch) if self.selected_epoch is not None else None
        if self.selected_epoch is None:
            text = "Select an epoch to read its samples."
        elif record is None or not record.samples:
            text = f"Epoch {self.selected_epoch}: no samples recorded (the events file has none for it)."
        else:
            parts = [f"Epoch {record.epoch} · seed: “{visible(record.seed_text)}”"]
            for temperature, sample in record.samples:
                parts.append(f"\n── temperature {temperature:g} ──\n{visible(record.seed_text + sample)}")
            text = "\n".join(parts)
        self.query_one("#samples-text", Static).update(Text(text))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value is not None:
            self.selected_epoch = int(event.row_key.value)
            self._update_samples()

    # -- actions -----------------------------------------------------------------------------

    def action_start_run(self) -> None:
        self.app.action_start_training()

    def action_stop_run(self) -> None:
        self.app.action_stop_training()

    def action_toggle_axis(self) -> None:
        self.against_time = not self.against_time
        self._update_plot(self.watch.checkpoints)

    def action_compare_runs(self) -> None:
        """Plot other training folders beside this one (none chosen: this one alone again)."""
        if self.runs is None:
            self.notify("Comparing runs in a served tab needs the operator's `serve --runs DIR`.", severity="warning")
            return

        def chosen(picked: list[str] | None) -> None:
            if picked is None:
                return
            self.compared = [FolderWatch(folder) for folder in picked]
            self.app.poll_training_folder()  # read them now, not at the next second
            self.show()

        current = [str(watch.folder) for watch in self.compared]
        self.app.push_screen(RunsDialog(self.runs, self.watch.folder, current), chosen)
