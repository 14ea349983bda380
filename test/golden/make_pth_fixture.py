"""Writes test/golden/small_net.pth (a torch.save'd state_dict) and pth_expected.json
(an input and the network's eval-mode output), for the .pth loader test.

Run with Debian's PyTorch: /usr/bin/python3 test/golden/make_pth_fixture.py
"""
import json
import os

import torch
import torch.nn as nn

torch.manual_seed(3)
net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
with torch.no_grad():  # non-trivial running statistics
    net.train()
    for _ in range(3):
        net(torch.randn(8, 2, 6, 6))
net.eval()
x = torch.randn(2, 2, 6, 6)
here = os.path.dirname(os.path.abspath(__file__))
torch.save(net.state_dict(), os.path.join(here, "small_net.pth"))
# A whole-checkpoint dict, as training scripts save them, with a float64 and an int tensor.
torch.save({"model": net.state_dict(), "epoch": 7, "extra": torch.arange(6, dtype=torch.float64).reshape(2, 3)[:, 1:]},
           os.path.join(here, "checkpoint_dict.pth"))
with open(os.path.join(here, "pth_expected.json"), "w") as f:
    json.dump({"x": {"shape": list(x.shape), "data": x.flatten().tolist()},
               "out": {"shape": [2, 5], "data": net(x).detach().flatten().tolist()}}, f)
print("wrote small_net.pth, checkpoint_dict.pth, pth_expected.json")
