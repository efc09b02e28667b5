"""The app under load: hundreds of prompts, 100 kB pastes, resizes and switching while streaming."""

import os

import pytest

from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.widgets.chat_view import MAX_EXCHANGES, ChatView
from nietzsche_tui.tui.widgets.columns import MAX_COLUMN_CHARS, Exchange
from tests.helpers import ready, running, settle


def resident_bytes() -> int:
    """The process's resident set size now (Linux), in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
async def test_hundreds_of_prompts_pastes_and_resizes_stay_bounded(app_model):
    app = make_app(checkpoint=str(app_model), length=1_500, seed=1)
    paste = "what then? is there not ground for suspecting 🎉 [b]x[/b] " * 1_800  # ~100 kB
    sizes = [(160, 40), (60, 24), (120, 30), (40, 12), (200, 50)]
    prompts, pastes, resizes = 300, 0, 0
    async with app.run_test(size=(160, 40)) as pilot:
        await ready(app, pilot)
        chat = app.query_one(ChatView)
        baseline = resident_bytes()
        for i in range(prompts):
            pasting = i % 25 == 0
            pastes += pasting
            app.prompt_input.value = paste if pasting else f"prompt number {i}"
            await app.prompt_input.action_submit()
            if i % 7 == 0:
                await pilot.resize_terminal(*sizes[i % len(sizes)])
                resizes += 1
            if i % 3 == 0:
                chat.action_step_column(1)
                chat.toggle_solo()
            await pilot.pause(0)
            assert len(running(app)) <= 1
            if i == 100:
                baseline = resident_bytes()
        await settle(app, pilot)
        growth_mb = (resident_bytes() - baseline) / 2**20
        print(
            f"APP LOAD: {prompts} prompts, {pastes} pastes of {len(paste) // 1000} kB, {resizes} resizes; "
            f"resident memory {baseline / 2**20:.0f} MB after prompt 100, {growth_mb:+.1f} MB by the end"
        )
        exchanges = list(app.query(Exchange))
        assert len(exchanges) == MAX_EXCHANGES
        assert all(len(t) <= MAX_COLUMN_CHARS for e in exchanges for t in e.texts())
        assert growth_mb < 30  # bounded: the last 200 prompts add (almost) nothing
        assert not running(app) and app.is_running
