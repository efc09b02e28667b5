"""The app's half that watches the training folder: poll it in a thread once a second, show what
changed, follow a live run (load each new checkpoint), start and stop runs from the start form.
A mixin of ``NietzscheApp``: it uses the app's ``settings``, ``training``, ``models``,
``training_screen``, ``chat_screen`` and ``load_model``.
"""

from __future__ import annotations

from textual import work

from nietzsche_tui.contracts.training_form import StartSettings
from nietzsche_tui.tui.screens.start_form import StartForm


class TrainingWiring:
    """The training folder and its runs, for ``NietzscheApp``."""

    @work(thread=True, group="poll", exit_on_error=False)
    def poll_training_folder(self) -> None:
        """Once a second, in a thread (it reads the folder): what changed reaches the screens and the model.

        Polls never overlap (the lock): a thread worker cannot be cancelled halfway, and two
        readers of the events file at once would apply its lines twice."""
        with self._poll_lock:
            first = not self._polled
            self._polled = True
            changed = self.training.poll()
            for watch in list(self.training_screen.compared):  # runs plotted beside this one (F5, c)
                changed = watch.poll() or changed
        if changed:
            self.call_from_thread(self._folder_changed, first)

    def _folder_changed(self, first: bool = False) -> None:
        if first and self.training.watch.latest is not None:
            # What is there at start-up is what the app loads: follow mode waits for newer epochs.
            self._followed_up_to = max(self._followed_up_to, self.training.watch.latest.epoch)
        if self.training_screen.is_mounted:
            self.training_screen.show()
        self._follow_latest()
        self._show_follow()

    def _show_follow(self) -> None:
        """The chat's status line says whether a live run is followed (nothing when none is live)."""
        live = self.training.watch.state.live
        self.chat_screen.follow_note = ("following the run" if self.follow else "follow off") if live else ""

    def _follow_latest(self) -> None:
        """Load the folder's newest checkpoint when following and it is newer than the model in use.

        A generation that is streaming keeps the model it started with; the next prompt uses the new one.
        """
        latest = self.training.watch.latest
        if not self.follow or latest is None or latest.epoch <= self._followed_up_to:
            return
        current = self.models.engine.checkpoint if self.models.engine else None
        ours = current is None or current.metadata_path.parent.resolve() == self.training.folder.resolve()
        if not ours and self.settings.checkpoint is not None:
            return  # the user named another checkpoint: never swap it behind their back
        if current is None or not ours or latest.epoch > current.epoch:
            self.load_model(str(self.training.folder))

    def action_training(self) -> None:
        if self.screen is self.training_screen:
            self.pop_screen()
            return
        self.switch_to_chat()
        self.push_screen("training")

    @property
    def shown_folder(self) -> str:
        """The training folder as the screens name it: served, its name only (not the operator's path)."""
        return self.training.folder.name if self.settings.served else str(self.training.folder)

    TRAINING_OFF = "Training is off in this served app; whoever runs the server can allow it with --allow-training."

    def action_start_training(self) -> None:
        if not self.settings.allow_training:
            self.notify(self.TRAINING_OFF, severity="warning")
            return
        if self.training.watch.state.live:
            self.notify("A run is already training in this folder.", severity="warning")
            return
        resumes = bool(self.training.watch.checkpoints)
        defaults = self.training.defaults()
        if self.settings.served:
            # The corpus is the operator's (--corpus on the server's command line): no path from the browser.
            defaults = defaults.replace(corpus=self.settings.corpus or "")
        bounds = self.settings.training_bounds
        defaults = bounds.clamp(defaults)
        saved = self.training.watch.latest.epoch if resumes else 0
        form = StartForm(
            defaults,
            self.shown_folder,
            resumes,
            corpus_fixed=self.settings.served,
            bounds=bounds,
            saved_epoch=saved,
            typed=self.start_form_typed,
        )

        def closed(settings: StartSettings | None) -> None:
            self.start_form_typed = form.closed_with  # the next form opens with what was typed
            self._start_training(settings)

        self.push_screen(form, closed)

    def _start_training(self, settings: StartSettings | None) -> None:
        if settings is None:
            return
        if self.settings.served and settings["corpus"] != (self.settings.corpus or ""):
            self.notify("The corpus is fixed by whoever runs the server.", severity="error")
            return
        try:
            trainer = self.training.start(settings)
        except (OSError, RuntimeError) as error:
            self.notify(f"Could not start training: {error}", severity="error", markup=False)
            return
        self.notify(trainer.describe(), title="Training started", markup=False)
        self.poll_training_folder()

    def action_stop_training(self) -> None:
        if not self.settings.allow_training:
            self.notify(self.TRAINING_OFF, severity="warning")
            return
        self.notify(self.training.stop(), markup=False)

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.notify(f"Follow the training run: {'on' if self.follow else 'off'}", timeout=2)
        if self.follow:
            self._follow_latest()
        self._show_follow()
