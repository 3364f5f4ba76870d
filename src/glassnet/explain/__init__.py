"""Explain one prediction neuron by neuron, and one step of learning number by number.

How it works, in short:

- :func:`explain` runs the sample through float64 copies of the network's layers with their own
  ``forward`` (``Dense``: ``z = x @ W.T + b``; an activation: its ``function``): it never reads
  values cached by an earlier pass, never touches the network's layers, and has no copy of any
  layer's maths. For every neuron of every layer it keeps
  the weighted sum ``z_j = sum_i w_ji x_i + b_j`` as its terms: the inputs that pushed the neuron
  up most and down most, and the exact sums of the positive and negative terms, so
  ``z_j == positive + negative + b_j``. Then the activation ``a_j = f(z_j)``.
- The output is shown as it really is: its ``z`` are the logits and its values the probabilities,
  after the softmax the network applies, or the one the loss applies inside (then the layer's
  ``activation`` reads ``"softmax (in the loss)"``). Why the winner beat the runner-up: the
  difference of their logits, ``sum_i a_i (w_win,i - w_run,i) + (b_win - b_run)``, term by term.
- Each activation is replaced by its tangent line at this sample, ``f(z) = s z + c`` with slope
  ``s = f'(z)`` (its own ``derivative``; for ReLU ``s`` is 1 or 0 and ``c`` is 0). The network is
  then exactly an affine map of the input: ``logits = W_eff x + b_eff``, with ``W_eff`` the
  *effective weight matrix* of the path this sample takes. ``x * W_eff[c]`` is the contribution
  map: its pixels add up to the logit of class ``c`` minus ``b_eff[c]``, exactly. For ReLU
  networks ``W_eff`` is the matrix of the active paths and ``b_eff`` carries only the biases; for
  smooth activations ``b_eff`` also carries the tangents' intercepts.
- The saliency map is ``d p_c / d x``: how the predicted probability changes with each pixel
  (and ``log_saliency``, ``d log p_c / d x``, the same direction without fading when ``p_c`` is near 1).
- With ``reference=(X_train, y_train)`` it finds the training examples nearest to the sample
  in every layer's representation ("your digit looks like these"), and the nearest examples of
  the class it chose (with a wrong prediction: the neighbours behind the mistake).
- :func:`explain_step` traces the backward pass of one plain SGD step on a labelled example or
  small batch: ``delta = dL/dz`` per neuron, ``dW``, ``db`` (the layers' own ``backward`` on the
  float64 copies: ``Dense.backward`` fills ``dW``, ``db``, an activation's is its ``backprop``) and
  the update ``-lr * dW``.
- :func:`nudges` ranks that step for a reader, going backwards: how much each output should move,
  which neurons should go up or down (largest ``|delta|``), which weights change most (largest
  ``|dW|``, with their pixel as ``(row, col)``), and the loss of the example before and after the step.

Everything returned is plain data (NumPy arrays and numbers), with ``to_dict()`` for JSON and
``str()`` for a terminal. Not here: pictures (``glassnet.plot``), convolutional or recurrent
layers, attribution methods that need a baseline (integrated gradients, SHAP).

The modules: ``forward`` (the float64 forward pass and the way back, from the layers' own
definitions; the app's Draw and Inside views read it too), ``trace`` (per layer and per neuron),
``prediction`` (:func:`explain`, :func:`effective_affine`, the maps), ``reference`` (nearest
examples), ``step`` (:func:`explain_step`), ``nudges`` (:func:`nudges`), ``text`` (``str()``).
"""

from .forward import (
    OutputHead,
    activate,
    activation_name,
    back_through,
    forward_values,
    group_values,
    jacobian,
    layer_copies,
    layer_outputs,
    logits_index,
    neuron_groups,
    output_head,
    shown_activation,
    weights_and_biases,
)
from .nudges import LayerNudges, NeuronNudge, Nudges, OutputNudge, WeightNudge, nudges
from .prediction import IMAGE_SHAPES, Explanation, Margin, effective_affine, explain, winner_and_runner_up
from .reference import Reference
from .step import LayerStep, StepTrace, explain_step, trace_backward
from .trace import LayerTrace, NeuronTrace, Term, layer_name, neuron_traces, trace_layers

__all__ = ["IMAGE_SHAPES",
           "Explanation", "LayerTrace", "NeuronTrace", "Term", "Margin", "Reference", "StepTrace", "LayerStep",
           "OutputHead", "explain", "explain_step", "trace_backward", "effective_affine", "forward_values",
           "trace_layers", "neuron_traces", "neuron_groups", "logits_index", "activation_name", "output_head",
           "activate", "back_through", "jacobian", "weights_and_biases", "layer_name", "winner_and_runner_up",
           "layer_copies", "layer_outputs", "group_values", "shown_activation",
           "nudges", "Nudges", "OutputNudge", "NeuronNudge", "WeightNudge", "LayerNudges"]
