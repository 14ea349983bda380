"""Writes test/golden/framework.json: every layer's output and gradients with given weights,
and each optimizer's parameter trajectory, from PyTorch on this machine.

Run with Debian's PyTorch: /usr/bin/python3 test/golden/make_framework_golden.py
"""
import json
import os

import torch
import torch.nn as nn

torch.manual_seed(0)
torch.set_num_threads(1)


def enc(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": t.flatten().tolist()}


def layer_case(module, inputs, train=True):
    """Output and gradients of sum(out * G) for the inputs and every parameter."""
    module.train(train)
    for p in module.parameters():
        with torch.no_grad():
            p.add_(torch.randn_like(p) * 0.1)  # move off the defaults so every weight matters
    state = {k: enc(v) for k, v in module.state_dict().items()}
    xs = [x.clone().requires_grad_(x.is_floating_point()) for x in inputs]
    out = module(*xs)
    if isinstance(out, tuple):  # LSTM: (output, (h, c))
        out = out[0]
    g = torch.randn_like(out)
    (out * g).sum().backward()
    return {
        "state": state,
        "inputs": [enc(x) for x in xs],
        "g": enc(g),
        "out": enc(out),
        "dinputs": [enc(x.grad) if x.grad is not None else None for x in xs],
        "dparams": {k: enc(p.grad) for k, p in module.named_parameters()},
        "after": {k: enc(v) for k, v in module.state_dict().items()},
    }


layers = {
    "Linear": layer_case(nn.Linear(5, 3), [torch.randn(4, 5)]),
    "Conv2d": layer_case(nn.Conv2d(3, 4, 3, stride=2, padding=1), [torch.randn(2, 3, 7, 7)]),
    "ConvTranspose2d": layer_case(nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1), [torch.randn(2, 4, 5, 5)]),
    "BatchNorm2d": layer_case(nn.BatchNorm2d(3), [torch.randn(4, 3, 5, 5)]),
    "InstanceNorm2d": layer_case(nn.InstanceNorm2d(3, affine=True), [torch.randn(2, 3, 6, 6)]),
    "LSTM": layer_case(nn.LSTM(4, 6, num_layers=2, batch_first=True), [torch.randn(3, 5, 4)]),
    "Embedding": layer_case(nn.Embedding(10, 4), [torch.tensor([[1, 2, 3], [9, 0, 2]])]),
    "Upsample": layer_case(nn.Upsample(scale_factor=2, mode="nearest"), [torch.randn(1, 2, 3, 3)]),
    "ReflectionPad2d": layer_case(nn.ReflectionPad2d(2), [torch.randn(1, 2, 4, 4)]),
    "LeakyReLU": layer_case(nn.LeakyReLU(0.2), [torch.randn(3, 4)]),
}

# Optimizers: 20 steps on a least-squares problem, float64 so that only the algorithm differs.
A = torch.randn(8, 4, dtype=torch.float64)
b = torch.randn(8, dtype=torch.float64)
x0 = torch.randn(4, dtype=torch.float64)


def least_squares(make, steps=20):
    x = x0.clone().requires_grad_()
    opt = make([x])
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        ((A @ x - b) ** 2).sum().backward()
        opt.step()
        traj.append(x.detach().tolist())
    return traj


optims = {
    "SGD": ({"lr": 0.01, "momentum": 0.9, "nesterov": True, "weightDecay": 0.01},
            least_squares(lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01))),
    "SGDplain": ({"lr": 0.02}, least_squares(lambda p: torch.optim.SGD(p, lr=0.02))),
    "Adam": ({"lr": 0.1, "weightDecay": 0.01},
             least_squares(lambda p: torch.optim.Adam(p, lr=0.1, weight_decay=0.01))),
    "AdamW": ({"lr": 0.1, "weightDecay": 0.1}, least_squares(lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.1))),
    "RMSprop": ({"lr": 0.01}, least_squares(lambda p: torch.optim.RMSprop(p, lr=0.01))),
    "RMSpropCentered": ({"lr": 0.01, "momentum": 0.5, "centered": True},
                        least_squares(lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True))),
}


def lbfgs(fn, start, steps, **kw):
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([x], **kw)

    def closure():
        opt.zero_grad()
        loss = fn(x)
        loss.backward()
        return loss

    traj = []
    for _ in range(steps):
        opt.step(closure)
        traj.append(x.detach().tolist())
    return traj, opt.state[opt._params[0]]["func_evals"]


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


lbfgs_cases = {}
for name, fn, start, kw in [
    ("rosenbrock_wolfe", rosenbrock, [-1.5, 2.0], {"lr": 1, "max_iter": 5, "line_search_fn": "strong_wolfe"}),
    ("rosenbrock_plain", rosenbrock, [-1.2, 1.0], {"lr": 0.05, "max_iter": 3}),
    ("least_squares_wolfe", lambda x: ((A @ x - b) ** 2).sum(), x0.tolist(), {"lr": 1, "max_iter": 2, "history_size": 3, "line_search_fn": "strong_wolfe"}),
]:
    traj, evals = lbfgs(fn, start, 20, **kw)
    lbfgs_cases[name] = {"start": start, "options": kw, "trajectory": traj, "funcEvals": evals}

out = {"torch": torch.__version__, "layers": layers,
       "leastSquares": {"A": enc(A), "b": enc(b), "x0": x0.tolist()},
       "optimizers": {k: {"options": o, "trajectory": t} for k, (o, t) in optims.items()},
       "lbfgs": lbfgs_cases}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "framework.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path)
