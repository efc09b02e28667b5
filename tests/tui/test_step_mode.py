"""Step mode (F8): each step lists the likeliest characters; a digit takes one, Enter the drawn
one, a typed key the user's own, Backspace one back; Esc keeps the exchange like any other."""

from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.engine.stepping import StepSession
from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.screens.history import StoredView
from nietzsche_tui.tui.screens.step import StepScreen
from tests.helpers import WIDE, history_ready, notified, saved, settle


def test_enter_at_every_step_writes_what_generate_writes(app_model):
    engine = Engine.load(app_model)
    session = StepSession.start(engine, "Truth is", 0.5, 11)
    for _ in range(25):
        session.take(session.choices().sampled)
    generated = engine.generate(GenerationRequest("Truth is", (0.5,), 25, 11))
    assert session.text == "".join(step.chars[0] for step in generated)
    listed = session.choices()
    assert [p for _, p, _ in listed.top] == sorted((p for _, p, _ in listed.top), reverse=True)
    assert len(listed.top) == 9 and sum(q for _, _, q in listed.top) <= 1 + 1e-9


async def test_step_mode_picks_types_takes_back_and_keeps_the_exchange(app_model, tmp_path):
    app = make_app(
        checkpoint=str(app_model), seed=11, temperatures=(0.5,), history=str(tmp_path / "h.db"), keep_history=True
    )
    async with app.run_test(size=WIDE) as pilot:
        await history_ready(app, pilot)
        app.prompt_input.value = "Truth is"
        await pilot.press("f8")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, StepScreen)
        drawn = screen.current.sampled
        await pilot.press("enter")
        await settle(app, pilot)
        second = screen.current.top[2][0]
        await pilot.press("3")
        await settle(app, pilot)
        await pilot.press("w", "x")  # the user's own characters ("x" is not in this model's vocabulary)
        await settle(app, pilot)
        assert screen.session.text == drawn + second + "w"
        await pilot.press("backspace")
        await settle(app, pilot)
        assert screen.session.text == drawn + second
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, StepScreen)
        view = app.query(StoredView).last()
        assert view.stored.kind == "steps" and view.stored.columns[0].text == drawn + second
        assert app.prompt_input.value == ""
        await saved(app, pilot, 1)
        (stored,) = app.history.exchanges(limit=None)
        assert stored.kind == "steps" and stored.prompt == "Truth is" and stored.seed == 11
        assert stored.columns[0].text == drawn + second and stored.weights_sha256
        app.chat_screen.replay(stored)
        await settle(app, pilot)
        assert notified(app, "has no replay")
