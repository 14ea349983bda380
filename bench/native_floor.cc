// The floor under Loom's per-call overhead: the same 1-element add called from C++
// through the dispatcher's boxed path, as the addon calls it. Built by bench/engine.ts.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 200000;
  auto a = at::ones({1});
  auto op = c10::Dispatcher::singleton().findSchemaOrThrow("aten::add", "Tensor");
  double best = 1e9;
  for (int rep = 0; rep < 5; rep++) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; i++) {
      torch::jit::Stack s;
      s.reserve(3);
      s.push_back(a);
      s.push_back(a);
      s.push_back(c10::Scalar(1));
      op.callBoxed(&s);
    }
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
    if (us < best) best = us;
  }
  std::printf("%f\n", best);
}
