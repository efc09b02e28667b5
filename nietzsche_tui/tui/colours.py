"""Colour scales for looking inside the model, and text painted with them.

Confidence and surprisal use five steps of viridis (perceptually ordered, readable by people with
the common colour-vision deficiencies) as *background* colours with black or white text chosen
for contrast, so they read on dark and light themes alike. Characters the model was sure of
(p ≥ 0.5) stay unpainted: the eye goes to the doubtful ones. Cell activations use a diverging
blue-white-red scale (negative, zero, positive).

NumPy is imported inside the painting functions: they run once characters arrive, by when the
engine has imported it, and the app's first frame does not wait for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.style import Style
from rich.text import Span, Text

from nietzsche_tui.text import visible
from nietzsche_tui.verbatim.spans import Copying

# (lowest probability of the bucket, label, background, text colour), most confident first.
CONFIDENCE = (
    (0.5, "≥50%", None, None),
    (0.2, "20-50%", "#5ec962", "black"),
    (0.05, "5-20%", "#21918c", "white"),
    (0.01, "1-5%", "#3b528b", "white"),
    (0.0, "<1%", "#440154", "white"),
)
_STYLES = [Style(bgcolor=bg, color=fg) if bg else Style() for _, _, bg, fg in CONFIDENCE]


def confidence_bucket(probability: float | None) -> int:
    """Which CONFIDENCE bucket a probability falls in (None, e.g. the prompt: the first)."""
    if probability is None:
        return 0
    for index, (lowest, _, _, _) in enumerate(CONFIDENCE):
        if probability >= lowest:
            return index
    return len(CONFIDENCE) - 1


_LOWEST = [lowest for lowest, _, _, _ in CONFIDENCE[:-1]]


def confidence_buckets(probabilities: Sequence[float]) -> bytes:
    """``confidence_bucket`` of many probabilities at once (one byte each), for streaming columns."""
    import numpy as np

    values = np.asarray(probabilities, dtype=np.float64)
    return (values[:, None] < np.asarray(_LOWEST)[None, :]).sum(axis=1).astype(np.uint8).tobytes()


def painted_buckets(text: str, buckets: bytes) -> Text:
    """``text`` (made visible) painted from precomputed bucket bytes (as ``confidence_buckets``).

    Spans are built from runs found with NumPy, not per character in Python: this is what keeps
    colouring while streaming nearly as fast as plain text.
    """
    import numpy as np

    shown = visible(text)
    codes = np.frombuffer(buckets[-len(shown) :] if shown else b"", dtype=np.uint8)
    if len(codes) < len(shown):  # characters without a probability (never while streaming) stay plain
        codes = np.concatenate([np.zeros(len(shown) - len(codes), dtype=np.uint8), codes])
    if not len(codes):
        return Text(shown)
    starts = np.flatnonzero(np.diff(codes, prepend=255))
    ends = np.append(starts[1:], len(codes))
    runs = zip(starts.tolist(), ends.tolist(), codes[starts].tolist(), strict=True)
    spans = [Span(a, b, _STYLES[code]) for a, b, code in runs if code]
    return Text(shown, spans=spans)


def surprisal_buckets(bits: Sequence[float | None]) -> bytes:
    """The confidence buckets of surprisals in bits (p = 2^-bits); None (nothing scored) stays plain."""
    return confidence_buckets([1.0 if b is None else 2.0**-b for b in bits])


def confidence_legend() -> Text:
    """A one-line legend of the confidence colours."""
    legend = Text("model's probability of each character: ")
    for (_, label, _, _), style in zip(CONFIDENCE, _STYLES, strict=True):
        legend.append(f" {label} ", style=style or Style(underline=True))
        legend.append(" ")
    return legend


# Copied spans are underlined in bold: the confidence colours are backgrounds, so both read at once.
COPIED_STYLE = Style(underline=True, bold=True)


def paint_copied(text: Text, copying: Copying, offset: int = 0) -> Text:
    """Underline ``copying``'s spans in ``text``, which shows the copied text from ``offset`` on."""
    for span in copying.spans:
        start, end = max(0, span.start - offset), span.end - offset
        if end > start:
            text.stylize(COPIED_STYLE, start, end)
    return text


def copied_legend(min_span: int) -> Text:
    legend = Text("  ")
    legend.append("underlined", style=COPIED_STYLE)
    legend.append(f": in the training text word for word ({min_span}+ characters)")
    return legend


def activation_style(value: float) -> Style:
    """Blue (−1) through white (0) to red (+1), black text."""
    value = max(-1.0, min(1.0, value)) if math.isfinite(value) else 0.0
    weaker = int(255 * (1 - abs(value)))
    colour = f"#{weaker:02x}{weaker:02x}ff" if value < 0 else f"#ff{weaker:02x}{weaker:02x}"
    return Style(bgcolor=colour, color="black")


def painted_activations(text: str, values: Sequence[float | None]) -> Text:
    """``text`` with each character's background from a cell activation in [-1, 1]."""
    result = Text(visible(text))
    for index, value in enumerate(values[: len(result)]):
        if value is not None:
            # Eleven levels are as many as the eye tells apart, and keep the spans few.
            result.stylize(activation_style(round(value * 5) / 5), index, index + 1)
    return result
