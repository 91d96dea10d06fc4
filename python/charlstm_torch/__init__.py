"""charlstm_torch: charlstm's training arithmetic in PyTorch, in one home for
scripts/pytorch_ddp.py, bench/torch_charrnn.py and the PyTorch test helpers (tests/_torch_*.py).

There is no install step: a script puts this package's folder (python/, beside scripts/, bench/
and tests/) first on sys.path, found from the script's own file:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

Modules (the torch-free ones import without PyTorch, so that bad input fails fast):
    errors       Refusal: bad input, one line `Cannot <action>: <what is wrong>` (torch-free)
    safetensors  safetensors read, encoded and written atomically, by hand (torch-free)
    checkpoint   charlstm's checkpoint read and checked, written back (torch-free)
    vocab        the text as charlstm reads it; a checkpoint's vocabulary (torch-free)
    tokens       token files (issue #22): read by position with numpy.memmap (torch-free)
    schedule     learning-rate schedules and the warm-up (torch-free)
    flags        pytorch_ddp.py's flags (torch-free)
    batches      the tutorial's get_batches, line mode's batches and line order
    model        the tutorial's CharRNN; checkpoint tensors to and from PyTorch's
    optim        charlstm's Adam(W) and SGD arithmetic in float32; gradient clipping
    evaluate     charlstm's evaluate(): the mean cross-entropy of a checkpoint on a text
"""
