"""The recurrent network in NumPy: LSTM and GRU layers stepped exactly as Keras computes them, batched."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nietzsche_tui.engine.weights import ModelWeights, RecurrentWeights

_BLAS = None  # threadpoolctl's controller, made on first use (it inspects the loaded libraries once)


def one_blas_thread():
    """A context in which NumPy's BLAS uses one thread: a generation step multiplies a few rows
    by a small matrix, where more threads only fight the UI and the generation thread for the
    cores (the large model ran 3-5× slower with OpenBLAS's default on a busy 2-core machine). Set
    here, per call site, never through an environment variable a user may have set for other work."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def window_batches(indices: np.ndarray, ends: np.ndarray, maxlen: int, batch: int = 2048):
    """Yield (rows, windows): for each ``ends[row]`` (≥ 1), the window ``indices[end - maxlen:end]``
    (shorter at the start of the text). Full windows come in batches; shorter ones one by one, as
    each has its own length."""
    full = np.flatnonzero(ends >= maxlen)
    for start in range(0, len(full), batch):
        rows = full[start : start + batch]
        yield rows, indices[ends[rows, None] - maxlen + np.arange(maxlen)]
    for row in np.flatnonzero(ends < maxlen):
        yield np.array([row]), indices[None, : ends[row]]


# Where the features lie: along the last axis (ROWS: a row per sequence, the usual layout), or
# along axis 1 after a group axis (COLUMNS: (group, features, sequences...), a column per sequence,
# as ``windows.WindowPipeline`` keeps its hundreds of runs, so that each gate is one contiguous
# block for the elementwise steps).
ROWS, COLUMNS = -1, 1


def _block(a: np.ndarray, start: int, stop: int, axis: int = ROWS) -> np.ndarray:
    """Features ``start:stop`` of ``a`` (a view), in either layout."""
    return a[..., start:stop] if axis == ROWS else a[:, start:stop]


def _gates(z: np.ndarray, c: np.ndarray, units: int, axis: int = ROWS) -> tuple[np.ndarray, np.ndarray]:
    """The LSTM's gates from pre-scaled pre-activations ``z`` (i, f, c, o along ``axis``): the new (h, c)."""
    np.tanh(z, out=z)
    i_and_f, o = _block(z, 0, 2 * units, axis), _block(z, 3 * units, 4 * units, axis)
    i_and_f += 1  # sigmoid = (1 + tanh) / 2, the halving folded in below
    o += 1
    i, f, g = (_block(z, k * units, (k + 1) * units, axis) for k in range(3))
    c = (f * c + i * g) * 0.5
    h = np.tanh(c)
    h *= o
    h *= 0.5
    return h, c


def _softmax_rows(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


def _project(x: np.ndarray, matrix: np.ndarray, transposed: np.ndarray | None = None) -> np.ndarray:
    """x @ matrix, or row by row when ``matrix`` has one matrix per row (epochs side by side).

    Given ``transposed`` (the matrix's transpose), ``x`` is in the COLUMNS layout, (group, units,
    ...), as ``windows.WindowPipeline`` holds its runs: group g is multiplied by model g's matrix
    (one matrix for every group when ``matrix`` is not stacked), one matrix product per group."""
    if transposed is not None:
        product = np.matmul(transposed, x.reshape(x.shape[0], x.shape[1], -1))
        return product.reshape(product.shape[:2] + x.shape[2:])
    if matrix.ndim == 2:
        return x @ matrix
    return np.matmul(x[:, None, :], matrix)[:, 0, :]


def _bias(bias: np.ndarray, x: np.ndarray, axis: int = ROWS) -> np.ndarray:
    """A bias shaped to add to ``x``: as it is in the ROWS layout, standing as a column (one per
    model when stacked) in the COLUMNS layout, where ``x`` is (group, features, ...)."""
    return bias.reshape(bias.shape + (1,) * (x.ndim - 2)) if axis == COLUMNS else bias


def _lookup(table: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Rows of an input table (one-hot × kernel), or of each row's own table when stacked."""
    if table.ndim == 2:
        return table[indices]
    return table[np.arange(len(indices)), indices]


# A layer's state is (h, c) for an LSTM and (h,) for a GRU; a model's state is one per layer.
State = list[tuple[np.ndarray, ...]]


class RecurrentLayer:
    """One recurrent layer prepared for stepping, from its Keras arrays.

    The first layer reads one-hot characters: a one-hot row times the kernel is a row of the
    kernel, so its input projection (bias included) is a table lookup. Higher layers read the
    layer below's h through their kernel. LSTM: sigmoid(x) = (1 + tanh(x / 2)) / 2, so with the
    i, f, o columns pre-scaled by 1/2 a single tanh serves all four gates. GRU (Keras's
    ``reset_after=True``): z, r = sigmoid(x W + b_in + h U + b_rec); candidate
    tanh(x W_h + b_in,h + r * (h U_h + b_rec,h)); h' = z h + (1 - z) candidate.
    """

    def __init__(self, layer: RecurrentWeights, first: bool) -> None:
        self.cell, self.units, self.first = layer.cell, layer.units, first
        if layer.cell == "lstm":
            scale = np.full(4 * self.units, 0.5, dtype=np.float32)
            scale[2 * self.units : 3 * self.units] = 1.0
            kernel, bias = layer.kernel * scale, layer.bias * scale
            self.recurrent = np.ascontiguousarray(layer.recurrent_kernel * scale, dtype=np.float32)
            self.recurrent_bias = np.zeros(4 * self.units, dtype=np.float32)
        else:
            kernel, bias = layer.kernel, layer.bias[0]
            self.recurrent = np.ascontiguousarray(layer.recurrent_kernel, dtype=np.float32)
            self.recurrent_bias = layer.bias[1].astype(np.float32)
        self.kernel = (kernel + bias if first else kernel).astype(np.float32)
        self.bias = np.zeros_like(bias) if first else bias.astype(np.float32)

    @classmethod
    def stacked(cls, layers: Sequence[RecurrentLayer]) -> RecurrentLayer:
        """Several models' versions of one layer as one: row e of a batch uses model e's arrays."""
        stack = cls.__new__(cls)
        stack.cell, stack.units, stack.first = layers[0].cell, layers[0].units, layers[0].first
        for name in ("kernel", "bias", "recurrent", "recurrent_bias"):
            setattr(stack, name, np.stack([getattr(layer, name) for layer in layers]))
        return stack

    def zeros(self, batch: int) -> tuple[np.ndarray, ...]:
        h = np.zeros((batch, self.units), dtype=np.float32)
        return (h, np.zeros_like(h)) if self.cell == "lstm" else (h,)

    def step(self, inputs: np.ndarray, state: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """One time step: ``inputs`` are character indices (first layer) or the layer below's h."""
        return self.recur(self.project(inputs), state)

    def project(self, inputs: np.ndarray, axis: int = ROWS) -> np.ndarray:
        """The inputs' part of the pre-activations (bias included): a table row per character index
        for the first layer (always in the ROWS layout), the layer below's h times the kernel for
        the others (in ``axis``'s layout)."""
        if self.first:
            return _lookup(self.kernel, inputs)
        x = _project(inputs, self.kernel, self._transposed("kernel") if axis == COLUMNS else None)
        x += _bias(self.bias, x, axis)
        return x

    def recur(self, x: np.ndarray, state: tuple[np.ndarray, ...], axis: int = ROWS) -> tuple[np.ndarray, ...]:
        """The recurrence from projected inputs ``x``, in either layout (see ``_project``)."""
        h = state[0]
        transposed = self._transposed("recurrent") if axis == COLUMNS else None
        if self.cell == "lstm":
            z = _project(h, self.recurrent, transposed)
            z += x
            return _gates(z, state[1], self.units, axis)
        u = self.units
        r = _project(h, self.recurrent, transposed)
        r += _bias(self.recurrent_bias, r, axis)
        # sigmoid as (1 + tanh(x / 2)) / 2, as the LSTM: 1 / (1 + exp(-x)) overflows float32 for x < -88
        gates = 0.5 * (1.0 + np.tanh(0.5 * (_block(x, 0, 2 * u, axis) + _block(r, 0, 2 * u, axis))))
        update, reset = _block(gates, 0, u, axis), _block(gates, u, 2 * u, axis)
        candidate = np.tanh(_block(x, 2 * u, 3 * u, axis) + reset * _block(r, 2 * u, 3 * u, axis))
        return ((update * h + (1.0 - update) * candidate).astype(np.float32),)

    def _transposed(self, name: str) -> np.ndarray:
        """A matrix's transpose, made once, for the COLUMNS layout."""
        key = f"_{name}_transposed"
        if key not in self.__dict__:
            self.__dict__[key] = np.ascontiguousarray(np.swapaxes(getattr(self, name), -1, -2))
        return self.__dict__[key]


class Network:
    """The recurrent stack and the softmax; ``stacked`` runs several checkpoints as one batch."""

    def __init__(self, layers: Sequence[RecurrentLayer], dense_kernel: np.ndarray, dense_bias: np.ndarray) -> None:
        self.layers = list(layers)
        self.dense_kernel, self.dense_bias = dense_kernel, dense_bias

    @classmethod
    def of(cls, weights: ModelWeights) -> Network:
        layers = [RecurrentLayer(layer, first=i == 0) for i, layer in enumerate(weights.layers)]
        return cls(layers, weights.dense_kernel, weights.dense_bias)

    @property
    def is_stacked(self) -> bool:
        """Whether row e of a batch runs model e (``stacked``) rather than one model for every row."""
        return self.dense_kernel.ndim == 3

    @classmethod
    def stacked(cls, networks: Sequence[Network]) -> Network:
        layers = [RecurrentLayer.stacked(group) for group in zip(*(n.layers for n in networks), strict=True)]
        return cls(
            layers,
            np.stack([n.dense_kernel for n in networks]),
            np.stack([n.dense_bias for n in networks]),
        )

    def step(self, inputs: np.ndarray, state: State) -> State:
        new: State = []
        for layer, layer_state in zip(self.layers, state, strict=True):
            layer_state = layer.step(inputs, layer_state)
            new.append(layer_state)
            inputs = layer_state[0]
        return new

    def run(self, indices: np.ndarray, state: State | None = None) -> State:
        """Run a (batch, time) index array from ``state`` (zeros by default)."""
        if state is None:
            state = [layer.zeros(indices.shape[0]) for layer in self.layers]
        first = self.layers[0]
        if len(self.layers) == 1 and first.cell == "lstm" and first.kernel.ndim == 2:
            # The book's model, the app's every step: the same maths as ``step``, without its
            # per-layer bookkeeping (window mode runs 60 steps per character).
            (h, c), units = state[0], first.units
            for t in range(indices.shape[1]):
                z = h @ first.recurrent
                z += first.kernel[indices[:, t]]
                h, c = _gates(z, c, units)
            return [(h, c)]
        for t in range(indices.shape[1]):
            state = self.step(indices[:, t], state)
        return state

    def probabilities(self, state: State) -> np.ndarray:
        """The softmax output (float64) read from the top layer's h."""
        return _softmax_rows(_project(state[-1][0], self.dense_kernel) + self.dense_bias)
