"""The PyTorch char-RNN tutorial's model, shared by bench/torch_charrnn.py and the optional
PyTorch tests: one-hot input (or nn.Embedding), nn.LSTM / nn.GRU / nn.RNN (batch_first),
dropout, nn.Linear."""
import numpy as np
from torch import nn


class CharRNN(nn.Module):
    """cell: "lstm" | "gru" | "rnn" (tanh), stored under that attribute name as charlstm's
    checkpoint names it; embedding > 0 adds nn.Embedding as `encoder` (input: token ids)."""

    def __init__(self, vocab_size, n_hidden, n_layers, drop_prob=0.5, cell="lstm", embedding=0):
        super().__init__()
        self.cell, self.embedding = cell, embedding
        if embedding:
            self.encoder = nn.Embedding(vocab_size, embedding)
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        setattr(self, cell, rnn(embedding or vocab_size, n_hidden, n_layers, dropout=drop_prob,
                                batch_first=True))
        self.dropout = nn.Dropout(drop_prob)
        self.fc = nn.Linear(n_hidden, vocab_size)

    def forward(self, x, hidden):
        if self.embedding:
            x = self.encoder(x)
        r_output, hidden = getattr(self, self.cell)(x, hidden)
        out = self.dropout(r_output).contiguous().view(-1, self.fc.in_features)
        return self.fc(out), hidden


def one_hot(arr, n):
    """The tutorial's one_hot_encode: int array of any shape -> float32 [..., n]."""
    out = np.zeros((arr.size, n), dtype=np.float32)
    out[np.arange(arr.size), arr.flatten()] = 1.0
    return out.reshape((*arr.shape, n))
