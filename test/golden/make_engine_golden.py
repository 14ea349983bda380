"""Writes test/golden/engine.json: op outputs and gradients from PyTorch on this machine.

Run with Debian's PyTorch: /usr/bin/python3 test/golden/make_engine_golden.py
Inputs are stored beside outputs, so the tests rebuild exactly the same tensors.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
out = {}


def enc(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": t.flatten().tolist()}


def rnd(*shape):
    return torch.randn(*shape)


# matmul
a, b = rnd(3, 4), rnd(4, 5)
out["matmul"] = {"a": enc(a), "b": enc(b), "out": enc(a @ b)}

# conv2d with input, weight and bias gradients through a weighted sum
x = rnd(2, 3, 6, 6).requires_grad_()
w = rnd(4, 3, 3, 3).requires_grad_()
bias = rnd(4).requires_grad_()
y = F.conv2d(x, w, bias, stride=2, padding=1)
g = rnd(*y.shape)
(y * g).sum().backward()
out["conv2d"] = {"x": enc(x), "w": enc(w), "b": enc(bias), "g": enc(g), "stride": 2, "padding": 1,
                 "out": enc(y), "dx": enc(x.grad), "dw": enc(w.grad), "db": enc(bias.grad)}

# conv_transpose2d
x = rnd(1, 2, 4, 4).requires_grad_()
w = rnd(2, 3, 3, 3).requires_grad_()
y = F.conv_transpose2d(x, w, None, stride=2, padding=1, output_padding=1)
g = rnd(*y.shape)
(y * g).sum().backward()
out["conv_transpose2d"] = {"x": enc(x), "w": enc(w), "g": enc(g), "out": enc(y), "dx": enc(x.grad), "dw": enc(w.grad)}

# LSTM through the fused aten::lstm, with given weights (gate order i, f, g, o)
T, B, I, H = 5, 2, 3, 4
lstm = torch.nn.LSTM(I, H)
inp = rnd(T, B, I).requires_grad_()
h0, c0 = rnd(1, B, H), rnd(1, B, H)
o, (hn, cn) = lstm(inp, (h0, c0))
g = rnd(*o.shape)
((o * g).sum() + hn.sum() + 2 * cn.sum()).backward()
out["lstm"] = {"input": enc(inp), "h0": enc(h0), "c0": enc(c0), "g": enc(g),
               "w_ih": enc(lstm.weight_ih_l0), "w_hh": enc(lstm.weight_hh_l0),
               "b_ih": enc(lstm.bias_ih_l0), "b_hh": enc(lstm.bias_hh_l0),
               "out": enc(o), "hn": enc(hn), "cn": enc(cn), "dinput": enc(inp.grad),
               "dw_ih": enc(lstm.weight_ih_l0.grad), "dw_hh": enc(lstm.weight_hh_l0.grad),
               "db_ih": enc(lstm.bias_ih_l0.grad)}

# softmax, log_softmax and cross-entropy with its gradient
logits = rnd(4, 5).requires_grad_()
target = torch.tensor([1, 0, 4, 2])
loss = F.cross_entropy(logits, target)
loss.backward()
out["cross_entropy"] = {"logits": enc(logits), "target": target.tolist(),
                        "softmax": enc(F.softmax(logits, 1)), "log_softmax": enc(F.log_softmax(logits, 1)),
                        "loss": loss.item(), "dlogits": enc(logits.grad)}

# random numbers under a seed: the same libtorch generator, so the same draws
torch.manual_seed(1234)
probs = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]])
m = torch.multinomial(probs, 16, replacement=True)
r = torch.randn(6)
out["random"] = {"seed": 1234, "probs": enc(probs), "multinomial": m.flatten().tolist(), "randn": enc(r)}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "engine.json")
with open(path, "w") as f:
    json.dump({"torch": torch.__version__, **out}, f)
print("wrote", path)
