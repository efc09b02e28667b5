"""Two other ways to run a recurrent layer's time loop on a CPU, tried for issue 21's training
speed and not adopted (``train_options.py``'s ``project`` and ``block-lstm``; RESULTS.md).

Each replaces ``layer.inner_loop`` on a built Keras LSTM (or GRU) layer, the way the trainer's
``unroll_on_cpu`` sets ``unroll``, so the saved model stays a plain Keras layer:

* ``projected_loop``: the inputs' share of every step (``x·W``, for GRU ``x·W + b_in``) computed
  for all steps in one product first, then the loop written out over the recurrent part. The
  same sums in the same order as Keras's cell.
* ``block_loop``: TensorFlow's fused ``BlockLSTM`` op (one op for the whole sequence, with its
  own gradient op). Its gates are ordered i, c, f, o where Keras's are i, f, c, o, so the kernel
  and bias columns are reordered in the graph; ``forget_bias=0`` and no cell clipping give
  Keras's maths. (``BlockLSTMV2`` takes Keras's order, but TensorFlow 2.20 registers the first
  version's gradient for it: its forward pass agrees with Keras and its gradients do not.)

``check`` compares a layer run each way against Keras's own loop: outputs and every weight's
gradient (run ``python benchmarks/loop_variants.py``).
"""

from __future__ import annotations

import keras


def projected_loop(layer: keras.layers.Layer):
    """``layer.inner_loop`` with the input projection taken out of the step (no mask, no dropout)."""
    cell = layer.cell
    lstm = isinstance(layer, keras.layers.LSTM)

    def inner_loop(sequences, initial_state, mask, training=False):
        steps, width = sequences.shape[1], sequences.shape[2]
        # Time first, one two-dimensional product (a batched one with a broadcast kernel takes a
        # slow gradient), so each step's slice is contiguous.
        time_major = keras.ops.reshape(keras.ops.transpose(sequences, (1, 0, 2)), (-1, width))
        projected = keras.ops.reshape(keras.ops.matmul(time_major, cell.kernel), (steps, -1, cell.kernel.shape[1]))
        if lstm:

            def step(x_w, states):
                h, c = states
                z = keras.ops.add(keras.ops.add(x_w, keras.ops.matmul(h, cell.recurrent_kernel)), cell.bias)
                c, o = cell._compute_carry_and_output_fused(keras.ops.split(z, 4, axis=1), c)
                h = o * cell.activation(c)
                return h, [h, c]

            states = list(initial_state)
        else:
            projected = projected + cell.bias[0]
            units = cell.units

            def step(x_w, states):
                h = states[0]
                x_z, x_r, x_h = keras.ops.split(x_w, 3, axis=-1)
                inner = keras.ops.matmul(h, cell.recurrent_kernel) + cell.bias[1]
                z = cell.recurrent_activation(x_z + inner[:, :units])
                r = cell.recurrent_activation(x_r + inner[:, units : units * 2])
                hh = cell.activation(x_h + r * inner[:, units * 2 :])
                h = z * h + (1 - z) * hh
                return h, [h]

            states = [initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state]
        outputs = []
        for x_w in keras.ops.unstack(projected, axis=0):
            h, states = step(x_w, states)
            outputs.append(h)
        every = keras.ops.stack(outputs, axis=1) if layer.return_sequences else keras.ops.expand_dims(h, 1)
        return h, every, states

    return inner_loop


def block_loop(layer: keras.layers.Layer):
    """``layer.inner_loop`` (an LSTM's) as one ``BlockLSTM`` op over the whole sequence."""
    import tensorflow as tf

    cell = layer.cell

    def keras_to_block_order(matrix):
        i, f, c, o = tf.split(matrix, 4, axis=-1)
        return tf.concat([i, c, f, o], axis=-1)

    def inner_loop(sequences, initial_state, mask, training=False):
        h0, c0 = initial_state
        weights = keras_to_block_order(tf.concat([cell.kernel, cell.recurrent_kernel], axis=0))
        no_peephole = tf.zeros((cell.units,), sequences.dtype)
        _, cs, _, _, _, _, h = tf.raw_ops.BlockLSTM(
            seq_len_max=tf.constant(sequences.shape[1], tf.int64),
            x=tf.transpose(sequences, (1, 0, 2)),
            cs_prev=c0,
            h_prev=h0,
            w=weights,
            wci=no_peephole,
            wcf=no_peephole,
            wco=no_peephole,
            b=keras_to_block_order(cell.bias),
            forget_bias=0.0,
            cell_clip=-1.0,
            use_peephole=False,
        )
        return h[-1], tf.transpose(h, (1, 0, 2)), [h[-1], cs[-1]]

    return inner_loop


def check() -> None:
    """Each variant against Keras's own loop: the largest difference in outputs and gradients."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    one_hot = np.eye(11, dtype="float32")[rng.integers(0, 11, size=(5, 7))]
    for name, variant, cells in (("project", projected_loop, ("LSTM", "GRU")), ("block-lstm", block_loop, ("LSTM",))):
        for cell in cells:
            keras.utils.set_random_seed(3)
            kind = keras.layers.LSTM if cell == "LSTM" else keras.layers.GRU
            reference = kind(16, return_sequences=True)
            reference(one_hot)
            other = kind(16, return_sequences=True, unroll=True)
            other(one_hot)
            other.set_weights(reference.get_weights())
            other.inner_loop = variant(other)
            weighting = np.linspace(-1, 1, 16, dtype="float32")
            results = []
            for layer in (reference, other):
                with tf.GradientTape() as tape:
                    out = layer(one_hot, training=True)
                    loss = tf.reduce_sum(out * weighting)
                results.append((out.numpy(), [g.numpy() for g in tape.gradient(loss, layer.trainable_weights)]))
            (expected, expected_gradients), (got, got_gradients) = results
            pairs = zip(got_gradients, expected_gradients, strict=True)
            gradient_gap = max(float(np.abs(a - b).max()) for a, b in pairs)
            output_gap = float(np.abs(got - expected).max())
            print(f"{name} {cell}: outputs within {output_gap:.1e}, gradients within {gradient_gap:.1e}")


if __name__ == "__main__":
    check()
