# One rank of a mixed group: PyTorch's torch.distributed (Gloo) beside a Loom rank 0.
# Usage: torch_rank.py PORT. Prints what the collectives gave, as JSON.
import json
import sys
from datetime import timedelta

import torch
import torch.distributed as dist

port = int(sys.argv[1])
dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=1, world_size=2, timeout=timedelta(seconds=30))
summed = torch.tensor([1.0, 2.0, 3.0]) * 10  # Loom's rank 0 sends [1, 2, 3]
dist.all_reduce(summed)
largest = torch.tensor([5.0, -1.0])  # Loom sends [2, 7]
dist.all_reduce(largest, op=dist.ReduceOp.MAX)
shared = torch.zeros(4, dtype=torch.float64)
dist.broadcast(shared, src=0)
dist.barrier()
print(json.dumps({"sum": summed.tolist(), "max": largest.tolist(), "broadcast": shared.tolist()}))
dist.destroy_process_group()
