"""Models side by side: one prompt, one seed, one temperature, one column per checkpoint, of any
architectures and vocabularies.

Each model reads the prompt with its own vocabulary and case rule (a character one lacks is
dropped for its column only) and draws from the random stream a one-temperature ``generate``
with the same seed uses, so every column equals that model generating alone. Models that share
an architecture, a vocabulary and a window length run as one stacked network (as a folder's
epochs do); the others run side by side, one step each per character.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from nietzsche_tui.contracts.checkpoint import CheckpointMetadata
from nietzsche_tui.engine.epochs import generate_epochs
from nietzsche_tui.engine.generation import Engine, Generation, GenerationRequest, Step
from nietzsche_tui.engine.prompts import PromptError
from nietzsche_tui.engine.request import TEMPERATURES, Columns


def model_label(name: str, metadata: CheckpointMetadata) -> str:
    """A column label for one model: its name, size and held-out loss."""
    parameters = metadata.architecture.parameters(len(metadata.vocabulary))
    size = f"{parameters / 1e6:.2f} M" if parameters >= 1e5 else f"{parameters / 1e3:.0f} k"
    loss = metadata.metrics.val_loss
    return f"{name} · {size}" + (f" · {loss:.3f}" if loss is not None else "")


def _shape(engine: Engine) -> tuple:
    """What models must share to run as one stacked network."""
    return (engine.metadata.architecture, tuple(engine.vocabulary), engine.maxlen, engine.lowercase)


def generate_models(engines: Sequence[Engine], names: Sequence[str], request: GenerationRequest) -> Generation:
    """One column per engine at the request's one temperature (see the module's docstring).

    Raises PromptError naming the model that can read nothing of the prompt, ValueError for a
    request with several temperatures."""
    if len(request.temperatures) != 1:
        raise ValueError("models side by side use one temperature")
    groups: dict[tuple, list[int]] = {}
    for column, engine in enumerate(engines):
        groups.setdefault(_shape(engine), []).append(column)
    prompts = []
    for engine, name in zip(engines, names, strict=True):
        try:
            prompts.append(engine.prepare_prompt(request.prompt))
        except PromptError as error:  # say which model cannot read it
            raise PromptError(f"{name}: {error}") from None
    labels = tuple(model_label(name, engine.metadata) for name, engine in zip(names, engines, strict=True))

    def make_steps(keep: bool) -> Iterator[Step]:
        parts = []
        for columns in groups.values():
            members = [engines[c] for c in columns]
            generation = generate_epochs(members, request) if len(members) > 1 else members[0].generate(request)
            parts.append((columns, iter(generation.with_distributions() if keep else generation)))
        for _ in range(request.length):
            chars: list[str] = [""] * len(engines)
            probabilities: list[float] = [0.0] * len(engines)
            distributions: list = [None] * len(engines)
            for columns, steps in parts:
                step = next(steps)  # every part numbers its steps alike: the last one's number is theirs
                for place, column in enumerate(columns):
                    chars[column], probabilities[column] = step.chars[place], step.probabilities[place]
                    if step.distributions is not None:
                        distributions[column] = step.distributions[place]
            yield Step(step.number, tuple(chars), tuple(probabilities), distributions if keep else None)

    return Generation(request, prompts[0], make_steps(False), labels, make_steps, tuple(prompts))


def generate_columns(
    engines: Sequence[Engine], request: GenerationRequest, columns: Columns = TEMPERATURES
) -> Generation:
    """The generation a chat turn means (the app, its generation child and replays alike):
    ``engines[0]``'s temperatures, the engines as epochs, or the engines as models."""
    if columns.kind == "models":
        return generate_models(engines, columns.names, request)
    if columns.kind == "epochs":
        return generate_epochs(engines, request)
    return engines[0].generate(request)
