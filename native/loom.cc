// Loom's native shim: the smallest bridge from Node-API to libtorch.
// It holds no model logic. Ops are called by schema through the dispatcher's boxed
// path, so every aten:: op is reachable without C++ per op; TypeScript does the rest.
#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/GradMode.h>
#include <c10/core/impl/alloc_cpu.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/version.h>

#include <cmath>

#include <dlfcn.h>
#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#ifdef LOOM_DIST
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef LOOM_REDUCER
#include <torch/csrc/distributed/c10d/reducer.hpp>
#endif
#include <sstream>
#include <thread>
#include <string>
#include <unordered_map>
#include <vector>

// ---- libtorch versions ----------------------------------------------------------------
// The shim builds against libtorch 1.13 (Debian) and 2.x (PyTorch wheels, libtorch zips).
// Every API difference it meets is settled here; test/engines.test.ts exercises each one.
//  - c10::Allocator: 2.3 made allocate() non-const and added the pure virtual copy_data().
//  - Seeding: the CUDA hooks' getDefaultCUDAGenerator() is gone in 2.x; at::manual_seed()
//    (CPU and every CUDA generator, in both) is used instead, so it needs no switch here.
//  - torch.distributed's default group, which Loom's ranks join as PyTorch's ranks of the
//    same version do: 1.13 puts Gloo's keys under "default_pg/0/" and ends
//    init_process_group with a store-based barrier; 2.x puts them under "default_pg/0//cpu/"
//    (a prefix per group and per device) and has no barrier (TORCH_DIST_INIT_BARRIER=0).
//    Checked against PyTorch 1.13 and 2.13.
//  - CPU autocast: 2.4 replaced set_cpu_enabled/set_autocast_cpu_dtype (and their getters)
//    with set_autocast_enabled/set_autocast_dtype taking a device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define LOOM_ALLOCATE_CONST
#define LOOM_ALLOCATOR_COPY_DATA 1
#else
#define LOOM_ALLOCATE_CONST const
#define LOOM_ALLOCATOR_COPY_DATA 0
#endif
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define LOOM_AUTOCAST_BY_DEVICE 1
#else
#define LOOM_AUTOCAST_BY_DEVICE 0
#endif
#if TORCH_VERSION_MAJOR >= 2
#define LOOM_PG_PREFIXES {"0/", "cpu/"}
#define LOOM_PG_INIT_BARRIER 0
#else
#define LOOM_PG_PREFIXES {"0"}
#define LOOM_PG_INIT_BARRIER 1
#endif

namespace {

// ---- tensor handles -------------------------------------------------------------------

// A handle owns one reference to a tensor until dispose() or, as a safety net, GC.
struct Box {
  at::Tensor t;
  int64_t bytes = 0;
  bool alive = true;
  // Whether V8 was told of the bytes (collectable()): only handles the GC could free count,
  // since reported memory the GC cannot free only starts collections that free nothing.
  bool counted = false;
};

int64_t g_live = 0;
// Handles the GC released before dispose(): with g_live, a count that GC timing cannot move.
int64_t g_collected = 0;
int64_t g_live_bytes = 0;
// Of those, the bytes V8 is told of (Box::counted).
int64_t g_counted_bytes = 0;

int64_t tensorBytes(const at::Tensor& t) {
  return t.defined() ? static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size()) : 0;
}

void release(Napi::BasicEnv env, Box* box) {
  if (!box->alive) return;
  box->alive = false;
  g_live -= 1;
  g_live_bytes -= box->bytes;
  if (box->counted) {
    g_counted_bytes -= box->bytes;
    Napi::MemoryManagement::AdjustExternalMemory(env, -box->bytes);
  }
  box->t = at::Tensor();
}

Napi::Value wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  auto* box = new Box();
  box->bytes = tensorBytes(t);
  box->t = std::move(t);
  g_live += 1;
  g_live_bytes += box->bytes;
  // A basic finalizer (it calls no JS) runs inside the GC. Node defers the others to the
  // event loop, which a synchronous loop never reaches: each disposed handle's bookkeeping
  // (~180 bytes) then piled up with every generated character.
  return Napi::External<Box>::New(env, box, [](Napi::BasicEnv e, Box* b) {
    if (b->alive) g_collected += 1;
    release(e, b);
    delete b;
  });
}

Box* boxOf(const Napi::Value& v) {
  if (!v.IsExternal()) throw std::invalid_argument("expected a tensor");
  return v.As<Napi::External<Box>>().Data();
}

const at::Tensor& tensorOf(const Napi::Value& v) {
  Box* b = boxOf(v);
  if (!b->alive) throw std::invalid_argument("this tensor was disposed and cannot be used again");
  return b->t;
}

std::vector<int64_t> intList(const Napi::Value& v) {
  std::vector<int64_t> out;
  if (v.IsNumber()) {
    out.push_back(v.As<Napi::Number>().Int64Value());
    return out;
  }
  if (!v.IsArray()) throw std::invalid_argument("expected a number or an array of numbers");
  auto a = v.As<Napi::Array>();
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a[i];
    if (!e.IsNumber()) throw std::invalid_argument("expected an array of numbers");
    out.push_back(e.As<Napi::Number>().Int64Value());
  }
  return out;
}

std::vector<at::Tensor> tensorList(const Napi::Value& v) {
  if (!v.IsArray()) throw std::invalid_argument("expected an array of tensors");
  auto a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(tensorOf(a[i]));
  return out;
}

// ---- operator handles -----------------------------------------------------------------

enum class Kind {
  Tensor, OptTensor, TensorList, OptTensorList,
  Int, IntList, Float, FloatList, Bool, BoolList, Scalar, Str, Device,
  Generator, Unsupported
};

struct Arg {
  Kind kind;
  bool optional;  // None is a valid value
  std::string name;
  c10::optional<c10::IValue> def;
};

struct Op {
  c10::OperatorHandle handle;
  std::vector<Arg> args;
  std::vector<int> returnAlias;  // per return: index of the argument it aliases (a!), or -1
  std::string name;
};

Kind kindOf(const c10::TypePtr& ty) {
  using K = c10::TypeKind;
  switch (ty->kind()) {
    case K::TensorType: return Kind::Tensor;
    case K::IntType: case K::SymIntType: return Kind::Int;
    case K::FloatType: return Kind::Float;
    case K::BoolType: return Kind::Bool;
    case K::NumberType: return Kind::Scalar;
    case K::StringType: return Kind::Str;
    case K::DeviceObjType: return Kind::Device;
    case K::GeneratorType: return Kind::Generator;
    case K::ListType: {
      auto el = ty->expectRef<c10::ListType>().getElementType();
      switch (el->kind()) {
        case K::TensorType: return Kind::TensorList;
        case K::OptionalType: return Kind::OptTensorList;
        case K::IntType: case K::SymIntType: return Kind::IntList;
        case K::FloatType: return Kind::FloatList;
        case K::BoolType: return Kind::BoolList;
        default: return Kind::Unsupported;
      }
    }
    default: return Kind::Unsupported;
  }
}

Op* findOp(const std::string& name, const std::string& overload) {
  static std::unordered_map<std::string, Op*> cache;
  std::string key = name + "." + overload;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto handle = c10::Dispatcher::singleton().findSchemaOrThrow(name.c_str(), overload.c_str());
  const auto& schema = handle.schema();
  auto* op = new Op{handle, {}, {}, key};
  for (const auto& a : schema.arguments()) {
    Arg arg;
    arg.name = a.name();
    arg.optional = a.type()->kind() == c10::TypeKind::OptionalType;
    auto ty = arg.optional ? a.type()->expectRef<c10::OptionalType>().getElementType() : a.type();
    arg.kind = kindOf(ty);
    if (arg.optional && arg.kind == Kind::Tensor) arg.kind = Kind::OptTensor;
    arg.def = a.default_value();
    op->args.push_back(arg);
  }
  for (const auto& r : schema.returns()) {
    int alias = -1;
    if (r.alias_info() && r.alias_info()->isWrite()) {
      for (size_t i = 0; i < schema.arguments().size(); i++) {
        const auto& ai = schema.arguments()[i].alias_info();
        if (ai && ai->isWrite() && ai->beforeSets() == r.alias_info()->beforeSets()) {
          alias = static_cast<int>(i);
          break;
        }
      }
    }
    op->returnAlias.push_back(alias);
  }
  cache[key] = op;
  return op;
}

c10::IValue toIValue(const Arg& arg, const Napi::Value& v) {
  if (v.IsUndefined()) {
    if (arg.def) return *arg.def;
    if (arg.optional || arg.kind == Kind::Generator) return c10::IValue();
    throw std::invalid_argument("missing argument '" + arg.name + "'");
  }
  if (v.IsNull()) {
    if (arg.optional || arg.kind == Kind::Generator) return c10::IValue();
    throw std::invalid_argument("argument '" + arg.name + "' may not be null");
  }
  switch (arg.kind) {
    case Kind::Tensor:
    case Kind::OptTensor: return tensorOf(v);
    case Kind::TensorList: return tensorList(v);
    case Kind::OptTensorList: {
      auto a = v.As<Napi::Array>();
      c10::List<c10::optional<at::Tensor>> list;
      for (uint32_t i = 0; i < a.Length(); i++) {
        Napi::Value e = a[i];
        if (e.IsNull() || e.IsUndefined()) list.push_back(c10::nullopt);
        else list.push_back(tensorOf(e));
      }
      return list;
    }
    case Kind::Int: return v.ToNumber().Int64Value();
    case Kind::IntList: return intList(v);
    case Kind::Float: return v.ToNumber().DoubleValue();
    case Kind::FloatList: {
      std::vector<double> out;
      if (v.IsNumber()) { out.push_back(v.As<Napi::Number>().DoubleValue()); return out; }
      auto a = v.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) out.push_back(Napi::Value(a[i]).ToNumber().DoubleValue());
      return out;
    }
    case Kind::Bool: return v.ToBoolean().Value();
    case Kind::BoolList: {
      auto a = v.As<Napi::Array>();
      c10::List<bool> list;
      for (uint32_t i = 0; i < a.Length(); i++) list.push_back(Napi::Value(a[i]).ToBoolean().Value());
      return list;
    }
    case Kind::Scalar: {
      if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
      double d = v.ToNumber().DoubleValue();
      // Integral JS numbers are int scalars, as 2 is in Python: int tensors stay int.
      if (std::floor(d) == d && std::abs(d) < 9.007199254740992e15) return c10::Scalar(static_cast<int64_t>(d));
      return c10::Scalar(d);
    }
    case Kind::Str: return v.ToString().Utf8Value();
    case Kind::Device: return c10::Device(v.ToString().Utf8Value());
    case Kind::Generator: throw std::invalid_argument("explicit generators are not supported; seed with manualSeed()");
    case Kind::Unsupported: break;
  }
  throw std::invalid_argument("argument '" + arg.name + "' has a type Loom cannot pass yet");
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return wrap(env, v.toTensor());
  if (v.isNone()) return env.Undefined();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out[i] = wrap(env, list.get(i));
    return out;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    auto out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) out[i] = fromIValue(env, elems[i]);
    return out;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out[i] = fromIValue(env, list[i]);
    return out;
  }
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  throw std::invalid_argument("an op returned a value of a type Loom cannot read: " + v.tagKind());
}

// ---- entry points ---------------------------------------------------------------------

// Every entry point goes through here, so a C++ exception becomes a JS Error with
// libtorch's message and never a backtrace or an abort.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  } catch (...) {
    throw Napi::Error::New(info.Env(), "unknown native error");
  }
}

// op(name, overload) -> op handle
Napi::Value OpHandle(const Napi::CallbackInfo& info) {
  Op* op = findOp(info[0].ToString().Utf8Value(), info[1].ToString().Utf8Value());
  return Napi::External<Op>::New(info.Env(), op);
}

// call(op, ...args): positional schema arguments; undefined takes the schema default.
Napi::Value Call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Op* op = info[0].As<Napi::External<Op>>().Data();
  size_t given = info.Length() - 1;
  if (given > op->args.size()) {
    throw std::invalid_argument(op->name + " takes " + std::to_string(op->args.size()) + " arguments, got " +
                                std::to_string(given));
  }
  torch::jit::Stack stack;
  stack.reserve(op->args.size());
  for (size_t i = 0; i < op->args.size(); i++) {
    try {
      stack.push_back(toIValue(op->args[i], i < given ? info[i + 1] : env.Undefined()));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(op->name + ": argument '" + op->args[i].name + "': " + e.what());
    }
  }
  op->handle.callBoxed(&stack);
  size_t n = op->returnAlias.size();
  if (n == 0) return env.Undefined();
  if (n == 1) return op->returnAlias[0] >= 0 ? env.Undefined() : fromIValue(env, stack[0]);
  auto out = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) out[i] = op->returnAlias[i] >= 0 ? env.Undefined() : fromIValue(env, stack[i]);
  return out;
}

Napi::Value Schema(const Napi::CallbackInfo& info) {
  auto handle = c10::Dispatcher::singleton().findSchemaOrThrow(info[0].ToString().Utf8Value().c_str(),
                                                                info[1].ToString().Utf8Value().c_str());
  std::ostringstream s;
  s << handle.schema();
  return Napi::String::New(info.Env(), s.str());
}

Napi::Value AllSchemas(const Napi::CallbackInfo& info) {
  auto names = c10::Dispatcher::singleton().getAllOpNames();
  auto out = Napi::Array::New(info.Env());
  uint32_t k = 0;
  for (const auto& n : names) {
    auto h = c10::Dispatcher::singleton().findOp(n);
    if (!h || !h->hasSchema()) continue;
    std::ostringstream s;
    s << h->schema();
    out[k++] = Napi::String::New(info.Env(), s.str());
  }
  return out;
}

// fromBuffer(typedArray, shape, dtype) copies the bytes into a new CPU tensor.
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  auto ta = info[0].As<Napi::TypedArray>();
  auto shape = intList(info[1]);
  auto dtype = static_cast<c10::ScalarType>(info[2].ToNumber().Int32Value());
  int64_t numel = 1;
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("shape sizes must be non-negative");
    numel *= d;
  }
  size_t need = static_cast<size_t>(numel) * c10::elementSize(dtype);
  if (ta.ByteLength() != need) {
    throw std::invalid_argument("data has " + std::to_string(ta.ByteLength()) + " bytes but shape and dtype need " +
                                std::to_string(need));
  }
  auto t = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (need > 0) {
    auto* src = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    std::memcpy(t.data_ptr(), src, need);
  }
  return wrap(info.Env(), t);
}

// toBuffer(t) copies a tensor's elements, in row-major order, into a new ArrayBuffer.
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  at::Tensor t = tensorOf(info[0]).detach().to(at::kCPU).contiguous();
  size_t n = t.numel() * t.element_size();
  auto buf = Napi::ArrayBuffer::New(info.Env(), n);
  if (n > 0) std::memcpy(buf.Data(), t.data_ptr(), n);
  return buf;
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  release(info.Env(), boxOf(info[0]));
  return info.Env().Undefined();
}

// collectable(t): no scope will free this handle now, only dispose() or the GC; its bytes
// count as external memory from here on, so that V8 collects in proportion to them.
Napi::Value Collectable(const Napi::CallbackInfo& info) {
  Box* box = boxOf(info[0]);
  if (box->alive && !box->counted && box->bytes > 0) {
    box->counted = true;
    g_counted_bytes += box->bytes;
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), box->bytes);
  }
  return info.Env().Undefined();
}

Napi::Value IsAlive(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), boxOf(info[0])->alive);
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  const auto& t = tensorOf(info[0]);
  auto sizes = t.sizes();
  auto out = Napi::Array::New(info.Env(), sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) out[i] = Napi::Number::New(info.Env(), static_cast<double>(sizes[i]));
  return out;
}

Napi::Value Dtype(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int>(tensorOf(info[0]).scalar_type()));
}

Napi::Value DeviceOf(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), tensorOf(info[0]).device().str());
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), tensorOf(info[0]).item().toDouble());
}

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tensorOf(info[0]).requires_grad());
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tensorOf(info[0]).is_leaf());
}

Napi::Value Grad(const Napi::CallbackInfo& info) {
  return wrap(info.Env(), tensorOf(info[0]).grad());
}

Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  const auto& t = tensorOf(info[0]);
  t.mutable_grad() = info[1].IsNull() || info[1].IsUndefined() ? at::Tensor() : tensorOf(info[1]);
  return info.Env().Undefined();
}

// setData(t, src) replaces t's storage in place, so optimizers keep the live parameter.
Napi::Value SetData(const Napi::CallbackInfo& info) {
  tensorOf(info[0]).set_data(tensorOf(info[1]));
  return info.Env().Undefined();
}

std::vector<at::Tensor> optionalTensorList(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return {};
  auto a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a[i];
    out.push_back(e.IsNull() || e.IsUndefined() ? at::Tensor() : tensorOf(e));
  }
  return out;
}

// backward(tensors, grads|null, retainGraph, createGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  auto tensors = tensorList(info[0]);
  auto grads = optionalTensorList(info[1]);
  bool retain = info[2].ToBoolean().Value();
  bool create = info[3].ToBoolean().Value();
  torch::autograd::backward(tensors, grads, retain, create);
  return info.Env().Undefined();
}

// grad(outputs, inputs, gradOutputs|null, retainGraph, createGraph, allowUnused)
Napi::Value AutogradGrad(const Napi::CallbackInfo& info) {
  auto outputs = tensorList(info[0]);
  auto inputs = tensorList(info[1]);
  auto grads = optionalTensorList(info[2]);
  bool create = info[4].ToBoolean().Value();
  c10::optional<bool> retain;
  if (!info[3].IsUndefined() && !info[3].IsNull()) retain = info[3].ToBoolean().Value();
  auto res = torch::autograd::grad(outputs, inputs, grads, retain, create, info[5].ToBoolean().Value());
  auto out = Napi::Array::New(info.Env(), res.size());
  for (size_t i = 0; i < res.size(); i++) out[i] = wrap(info.Env(), res[i]);
  return out;
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// CPU autocast, entered and left as torch.autocast('cpu', dtype) does. Ops called through
// the boxed dispatcher pass the AutocastCPU key like any other, so this state is all it takes.
bool autocastCpuEnabled() {
#if LOOM_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}
at::ScalarType autocastCpuDtype() {
#if LOOM_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(at::kCPU);
#else
  return at::autocast::get_autocast_cpu_dtype();
#endif
}
void setAutocastCpu(bool enabled, at::ScalarType dtype) {
#if LOOM_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(at::kCPU, enabled);
  at::autocast::set_autocast_dtype(at::kCPU, dtype);
#else
  at::autocast::set_cpu_enabled(enabled);
  at::autocast::set_autocast_cpu_dtype(dtype);
#endif
}

Napi::Value AutocastState(const Napi::CallbackInfo& info) {
  auto out = Napi::Array::New(info.Env(), 2);
  out[0u] = Napi::Boolean::New(info.Env(), autocastCpuEnabled());
  out[1u] = Napi::Number::New(info.Env(), static_cast<int>(autocastCpuDtype()));
  return out;
}

// autocastEnter(dtype) -> [wasEnabled, previousDtype], for autocastExit to restore.
Napi::Value AutocastEnter(const Napi::CallbackInfo& info) {
  auto dtype = static_cast<at::ScalarType>(info[0].ToNumber().Int32Value());
  if (dtype != at::kBFloat16) throw std::invalid_argument("CPU autocast supports bfloat16 only");
  Napi::Value prev = AutocastState(info);
  setAutocastCpu(true, dtype);
  at::autocast::increment_nesting();
  return prev;
}

// autocastExit(wasEnabled, previousDtype): leaving the outermost region drops the cached
// low-precision copies of the weights, which would otherwise outlive their updates.
Napi::Value AutocastExit(const Napi::CallbackInfo& info) {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  setAutocastCpu(info[0].ToBoolean().Value(), static_cast<at::ScalarType>(info[1].ToNumber().Int32Value()));
  return info.Env().Undefined();
}

// setAutocastCacheEnabled(enabled) -> whether it was: whether autocast keeps the low-precision
// copies of weights it casts, for reuse within the region.
Napi::Value SetAutocastCacheEnabled(const Napi::CallbackInfo& info) {
  bool prev = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_cache_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  at::manual_seed(static_cast<uint64_t>(info[0].ToNumber().Int64Value()));
  return info.Env().Undefined();
}

Napi::Value GetRngState(const Napi::CallbackInfo& info) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return wrap(info.Env(), gen.get_state());
}

Napi::Value SetRngState(const Napi::CallbackInfo& info) {
  const auto& state = tensorOf(info[0]);
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
  return info.Env().Undefined();
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int n = info[0].ToNumber().Int32Value();
  if (n < 1) throw std::invalid_argument("the thread count must be at least 1");
  at::set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

// OpenBLAS keeps its own thread pool, which at::set_num_threads does not touch. Its
// threads make tiny matrix-vector products slower (sync and sched_yield spinning), so
// callers on such paths can turn them down. Found among the loaded libraries, if any.
using BlasSetThreads = void (*)(int);
using BlasGetThreads = int (*)();
struct BlasThreads {
  BlasSetThreads set = nullptr;
  BlasGetThreads get = nullptr;
};

BlasThreads& blasThreads() {
  static BlasThreads fns = [] {
    BlasThreads f;
    dl_iterate_phdr(
        [](struct dl_phdr_info* info, size_t, void* data) -> int {
          auto* out = static_cast<BlasThreads*>(data);
          if (info->dlpi_name == nullptr || std::strstr(info->dlpi_name, "openblas") == nullptr) return 0;
          void* h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
          if (h == nullptr) return 0;
          out->set = reinterpret_cast<BlasSetThreads>(dlsym(h, "openblas_set_num_threads"));
          out->get = reinterpret_cast<BlasGetThreads>(dlsym(h, "openblas_get_num_threads"));
          return out->set != nullptr && out->get != nullptr ? 1 : 0;
        },
        &f);
    return f;
  }();
  return fns;
}

// setBlasThreads(n) -> the previous count, or -1 when the BLAS is not OpenBLAS.
Napi::Value SetBlasThreads(const Napi::CallbackInfo& info) {
  auto& b = blasThreads();
  if (b.set == nullptr) return Napi::Number::New(info.Env(), -1);
  int prev = b.get();
  int n = info[0].ToNumber().Int32Value();
  if (n < 1) throw std::invalid_argument("the BLAS thread count must be at least 1");
  b.set(n);
  return Napi::Number::New(info.Env(), prev);
}

// ---- interrupts ---------------------------------------------------------------------------

// Node runs a 'SIGINT' listener only when the event loop turns, and a training loop is
// synchronous between steps, so Ctrl-C would wait for the whole run. This handler counts
// signals where the loop can poll them; a second one ends the process at once. It chains
// to the handler it replaced (libuv's), so Node's listeners still run when the loop is free.
std::atomic<int> g_interrupts{0};
struct sigaction g_prev_int, g_prev_term;

void onInterrupt(int sig, siginfo_t* si, void* ctx) {
  if (g_interrupts.fetch_add(1) >= 1) _exit(128 + sig);
  const struct sigaction& prev = sig == SIGINT ? g_prev_int : g_prev_term;
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction != nullptr) prev.sa_sigaction(sig, si, ctx);
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN && prev.sa_handler != nullptr) {
    prev.sa_handler(sig);
  }
}

// watchInterrupts(): install the handler for SIGINT and SIGTERM (once).
Napi::Value WatchInterrupts(const Napi::CallbackInfo& info) {
  static bool installed = false;
  if (!installed) {
    struct sigaction sa {};
    sa.sa_sigaction = onInterrupt;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &g_prev_int);
    sigaction(SIGTERM, &sa, &g_prev_term);
    installed = true;
  }
  return info.Env().Undefined();
}

// interrupts() -> how many SIGINT/SIGTERM arrived since watchInterrupts().
Napi::Value Interrupts(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), g_interrupts.load());
}

// ---- CPU memory for large tensors ---------------------------------------------------------

// glibc serves blocks under its mmap threshold (which raises itself up to 32 MiB after the
// first large free) from the main heap. A training step frees and reallocates the same
// large blocks, while small objects that live until V8 collects them (N-API references,
// handle boxes) are carved out of the freed space; the heap then cannot reuse it and grows
// by most of a step's memory per step (docs/benchmarks.md, the soak). Large tensors
// therefore get pages of their own, and freed ones wait in a bounded cache for a block of
// the same size, so a loop reuses them without page faults or heap growth.
constexpr size_t kLargeBlock = size_t(64) << 10;
constexpr size_t kPage = 4096;

struct LargeBlocks {
  std::mutex mutex;
  std::unordered_map<void*, size_t> inUse;         // pointer -> mapped size
  std::vector<std::pair<size_t, void*>> cached;    // freed blocks, oldest first
  // The cache holds at most twice the most ever in use at once (at least 256 MiB). A freed
  // block serves only its own size, so a step's distinct blocks add up to more than its peak
  // (backward's buffers differ from forward's); bounded by the peak alone, the cache unmapped
  // and mapped blocks every step, and their page faults made a DeepDream step 1.3x PyTorch's
  // time. So a loop's every step is served from the cache, and the process never holds more
  // than three times its peak.
  size_t inUseBytes = 0, peakInUse = 0, cachedBytes = 0;
  size_t limit() const { return std::max(size_t(256) << 20, 2 * peakInUse); }
  int64_t maps = 0, reuses = 0;
};
LargeBlocks& largeBlocks() {
  static auto* b = new LargeBlocks();  // never destroyed: tensors may be freed at exit
  return *b;
}

void releaseLarge(void* p) {
  auto& b = largeBlocks();
  std::lock_guard<std::mutex> lock(b.mutex);
  auto it = b.inUse.find(p);
  if (it == b.inUse.end()) return c10::free_cpu(p);  // a small block, via raw_deallocate
  size_t size = it->second;
  b.inUse.erase(it);
  b.inUseBytes -= size;
  if (size > b.limit()) {
    munmap(p, size);
    return;
  }
  b.cached.emplace_back(size, p);
  b.cachedBytes += size;
  while (b.cachedBytes > b.limit()) {
    munmap(b.cached.front().second, b.cached.front().first);
    b.cachedBytes -= b.cached.front().first;
    b.cached.erase(b.cached.begin());
  }
}

struct LargeBlockAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) LOOM_ALLOCATE_CONST override {
    if (n < kLargeBlock) {
      void* p = c10::alloc_cpu(n);
      return {p, p, &c10::free_cpu, c10::Device(c10::DeviceType::CPU)};
    }
    size_t size = (n + kPage - 1) / kPage * kPage;
    auto& b = largeBlocks();
    std::lock_guard<std::mutex> lock(b.mutex);
    void* p = nullptr;
    for (size_t i = b.cached.size(); i-- > 0;) {  // the most recently freed first
      if (b.cached[i].first != size) continue;
      p = b.cached[i].second;
      b.cached.erase(b.cached.begin() + static_cast<std::ptrdiff_t>(i));
      b.cachedBytes -= size;
      b.reuses++;
      break;
    }
    if (p == nullptr) {
      p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) {
        throw std::runtime_error("out of memory: " + std::to_string(size >> 20) + " MiB more could not be allocated");
      }
      b.maps++;
    }
    b.inUse.emplace(p, size);
    b.inUseBytes += size;
    b.peakInUse = std::max(b.peakInUse, b.inUseBytes);
    return {p, p, &releaseLarge, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &releaseLarge; }
#if LOOM_ALLOCATOR_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
#endif
};

LargeBlockAllocator g_allocator;

// cpuMemory() -> bytes of large tensors in use and cached, and how often blocks were
// mapped anew or reused: what the leak tests watch besides live handles.
Napi::Value CpuMemory(const Napi::CallbackInfo& info) {
  auto& b = largeBlocks();
  std::lock_guard<std::mutex> lock(b.mutex);
  auto out = Napi::Object::New(info.Env());
  out.Set("largeInUse", Napi::Number::New(info.Env(), static_cast<double>(b.inUseBytes)));
  out.Set("largeCached", Napi::Number::New(info.Env(), static_cast<double>(b.cachedBytes)));
  out.Set("maps", Napi::Number::New(info.Env(), static_cast<double>(b.maps)));
  out.Set("reuses", Napi::Number::New(info.Env(), static_cast<double>(b.reuses)));
  // The C heap (every arena): bytes taken from the system, and how many of them are in use.
  struct mallinfo2 m = mallinfo2();
  out.Set("heapSystem", Napi::Number::New(info.Env(), static_cast<double>(m.arena)));
  out.Set("heapInUse", Napi::Number::New(info.Env(), static_cast<double>(m.uordblks)));
  return out;
}

// emptyCache(): unmaps every cached block and forgets the peak (between jobs, or to measure).
Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  auto& b = largeBlocks();
  std::lock_guard<std::mutex> lock(b.mutex);
  for (auto& [size, p] : b.cached) munmap(p, size);
  b.cached.clear();
  b.cachedBytes = 0;
  b.peakInUse = b.inUseBytes;
  return info.Env().Undefined();
}

Napi::Value LiveTensors(const Napi::CallbackInfo& info) {
  auto out = Napi::Object::New(info.Env());
  out.Set("count", Napi::Number::New(info.Env(), static_cast<double>(g_live)));
  out.Set("bytes", Napi::Number::New(info.Env(), static_cast<double>(g_live_bytes)));
  out.Set("gcBytes", Napi::Number::New(info.Env(), static_cast<double>(g_counted_bytes)));
  out.Set("undisposed", Napi::Number::New(info.Env(), static_cast<double>(g_live + g_collected)));
  return out;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("torchVersion", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                              std::to_string(TORCH_VERSION_PATCH));
  out.Set("cuda", at::hasCUDA());
  out.Set("cudaDevices", at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0);
  out.Set("mkldnn", at::hasMKLDNN());
  out.Set("openmp", at::hasOpenMP());
  out.Set("threads", at::get_num_threads());
  out.Set("parallelInfo", at::get_parallel_info());
  out.Set("config", at::show_config());
  out.Set("cxx11Abi", static_cast<bool>(_GLIBCXX_USE_CXX11_ABI));
  return out;
}


// ---- distributed: libtorch's c10d (TCPStore rendezvous, Gloo collectives) -------------

#ifdef LOOM_DIST
// One process group per process: the store that found the ranks and Gloo's group over it.
struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
#ifdef LOOM_REDUCER
  // The Reducer's view of the same Gloo group.
  c10::intrusive_ptr<c10d::ProcessGroup> wrapped;
#endif
};

Group* groupOf(const Napi::Value& v) {
  auto* g = v.As<Napi::External<Group>>().Data();
  if (!g->pg) throw std::invalid_argument("the process group is closed");
  return g;
}

// distInit(rank, world, host, port, timeoutMs): rank 0 serves the store; all meet there.
Napi::Value DistInit(const Napi::CallbackInfo& info) {
  int rank = info[0].As<Napi::Number>().Int32Value();
  int world = info[1].As<Napi::Number>().Int32Value();
  std::string host = info[2].ToString().Utf8Value();
  auto timeout = std::chrono::milliseconds(info[4].As<Napi::Number>().Int64Value());
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(info[3].As<Napi::Number>().Uint32Value());
  so.isServer = rank == 0;
  so.numWorkers = world;
  so.timeout = timeout;
  auto* g = new Group();
  try {
    // Keys as torch.distributed's default group has them (the compat section above), so
    // that Loom ranks and PyTorch ranks of the same libtorch can meet in one group.
    auto tcp = c10::make_intrusive<c10d::TCPStore>(host, so);
    auto defaultPg = c10::make_intrusive<c10d::PrefixStore>("default_pg", tcp);
    c10::intrusive_ptr<c10d::Store> store = defaultPg;
    for (const char* prefix : LOOM_PG_PREFIXES) store = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
    g->store = store;
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    const char* iface = std::getenv("GLOO_SOCKET_IFNAME");
    opts->devices.push_back(iface ? c10d::ProcessGroupGloo::createDeviceForInterface(iface)
                                  : c10d::ProcessGroupGloo::createDeviceForHostname(host));
    g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, rank, world, opts);
#if LOOM_PG_INIT_BARRIER
    // 1.13's init_process_group ends with this store-based barrier; a group with PyTorch
    // ranks in it waits for both.
    const std::string key = "store_based_barrier_key:1";
    defaultPg->add(key, 1);
    auto start = std::chrono::steady_clock::now();
    while (defaultPg->add(key, 0) < world) {
      if (std::chrono::steady_clock::now() - start > timeout) throw std::runtime_error("timed out in the start-up barrier");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
#endif
    g->pg->setSequenceNumberForGroup();  // as init_process_group does next: rank 0 sets, the others read
  } catch (...) {
    delete g;
    throw;
  }
  return Napi::External<Group>::New(info.Env(), g, [](Napi::BasicEnv, Group* g) { delete g; });
}

c10d::ReduceOp reduceOp(const std::string& name) {
  if (name == "sum") return c10d::ReduceOp::SUM;
  if (name == "max") return c10d::ReduceOp::MAX;
  if (name == "min") return c10d::ReduceOp::MIN;
  throw std::invalid_argument("unknown reduction " + name);
}

// distAllReduce(group, tensor, op): in place, on every rank; returns when done.
Napi::Value DistAllReduce(const Napi::CallbackInfo& info) {
  std::vector<at::Tensor> ts{tensorOf(info[1])};
  c10d::AllreduceOptions o;
  o.reduceOp = reduceOp(info[2].ToString().Utf8Value());
  groupOf(info[0])->pg->allreduce(ts, o)->wait();
  return info.Env().Undefined();
}

// distBroadcast(group, tensor, root): every rank's tensor becomes root's, in place.
Napi::Value DistBroadcast(const Napi::CallbackInfo& info) {
  std::vector<at::Tensor> ts{tensorOf(info[1])};
  c10d::BroadcastOptions o;
  o.rootRank = info[2].As<Napi::Number>().Int64Value();
  groupOf(info[0])->pg->broadcast(ts, o)->wait();
  return info.Env().Undefined();
}

Napi::Value DistBarrier(const Napi::CallbackInfo& info) {
  groupOf(info[0])->pg->barrier()->wait();
  return info.Env().Undefined();
}

#ifdef LOOM_REDUCER
// DDP's Reducer: autograd hooks copy each parameter's gradient into its bucket as the backward
// pass makes it, and a full bucket's all-reduce (divided by the world size) starts at once,
// on Gloo's threads, while the backward pass goes on; the pass ends with the averages copied
// back into the gradients. It needs a c10d::ProcessGroup with Gloo as its CPU backend.
struct Reducer {
  std::unique_ptr<c10d::Reducer> r;
};

// distReducer(group, params, bucketBytes, firstBucketBytes): buckets in the parameters'
// reverse order, as DDP's (gradients are made roughly last layer first), the first smaller.
Napi::Value DistReducer(const Napi::CallbackInfo& info) {
  auto* g = groupOf(info[0]);
  auto list = info[1].As<Napi::Array>();
  std::vector<at::Tensor> params;
  for (uint32_t i = 0; i < list.Length(); i++) params.push_back(tensorOf(list.Get(i)));
  const int64_t cap = info[2].As<Napi::Number>().Int64Value();
  const int64_t first = info[3].As<Napi::Number>().Int64Value();
  if (!g->wrapped) {
    g->wrapped = c10::make_intrusive<c10d::ProcessGroup>(g->store, g->pg->getRank(), g->pg->getSize());
    g->wrapped->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, g->pg);
    g->wrapped->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
  }
  std::vector<bool> sparse(params.size(), false);
  auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(
      params, {static_cast<size_t>(first), static_cast<size_t>(cap)}, sparse);
  std::reverse(buckets.begin(), buckets.end());
  auto* red = new Reducer();
  // Every parameter must get a gradient in every backward pass (DDP's default, without the
  // graph search and its warning); the caller makes a Reducer only for such parameters.
  red->r = std::make_unique<c10d::Reducer>(params, buckets, g->wrapped, sparse, cap, /*find_unused_parameters=*/false,
                                           /*gradient_as_bucket_view=*/false, std::unordered_map<size_t, std::string>{},
                                           first, /*skip_all_reduce_unused_params=*/false,
                                           /*use_python_reducer=*/false, std::vector<int64_t>{first, cap});
  return Napi::External<Reducer>::New(info.Env(), red, [](Napi::BasicEnv, Reducer* red) { delete red; });
}

Reducer* reducerOf(const Napi::Value& v) {
  auto* red = v.As<Napi::External<Reducer>>().Data();
  if (!red->r) throw std::invalid_argument("the gradient reducer is closed");
  return red;
}

// distReducerPrepare(reducer, loss): before each backward pass from loss, on every rank.
Napi::Value DistReducerPrepare(const Napi::CallbackInfo& info) {
  auto& r = *reducerOf(info[0])->r;
  // As DDP before each forward pass: this throws where the last pass left a bucket unreduced,
  // and after the first pass re-buckets once in the order the gradients came (a collective).
  r.rebuild_buckets();
  r.prepare_for_backward({tensorOf(info[1])});
  return info.Env().Undefined();
}

// distReducerClose(reducer): removes its hooks from the parameters now.
Napi::Value DistReducerClose(const Napi::CallbackInfo& info) {
  info[0].As<Napi::External<Reducer>>().Data()->r.reset();
  return info.Env().Undefined();
}
#endif

// distClose(group): leaves the group now rather than at GC.
Napi::Value DistClose(const Napi::CallbackInfo& info) {
  auto* g = info[0].As<Napi::External<Group>>().Data();
#ifdef LOOM_REDUCER
  g->wrapped.reset();
#endif
  g->pg.reset();
  g->store.reset();
  return info.Env().Undefined();
}
#endif

#define FN(name, f) exports.Set(name, Napi::Function::New<guarded<f>>(env, name))

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // LOOM_ALLOCATOR=system keeps libtorch's own, to measure what this one changes.
  const char* which = std::getenv("LOOM_ALLOCATOR");
  if (which == nullptr || std::strcmp(which, "system") != 0) c10::SetCPUAllocator(&g_allocator);
  FN("op", OpHandle);
  FN("call", Call);
  FN("schema", Schema);
  FN("allSchemas", AllSchemas);
  FN("fromBuffer", FromBuffer);
  FN("toBuffer", ToBuffer);
  FN("dispose", Dispose);
  FN("collectable", Collectable);
  FN("isAlive", IsAlive);
  FN("shape", Shape);
  FN("dtype", Dtype);
  FN("device", DeviceOf);
  FN("item", Item);
  FN("requiresGrad", RequiresGrad);
  FN("isLeaf", IsLeaf);
  FN("grad", Grad);
  FN("setGrad", SetGrad);
  FN("setData", SetData);
  FN("backward", Backward);
  FN("autogradGrad", AutogradGrad);
  FN("setGradEnabled", SetGradEnabled);
  FN("isGradEnabled", IsGradEnabled);
  FN("autocastEnter", AutocastEnter);
  FN("autocastExit", AutocastExit);
  FN("autocastState", AutocastState);
  FN("setAutocastCacheEnabled", SetAutocastCacheEnabled);
  FN("manualSeed", ManualSeed);
  FN("getRngState", GetRngState);
  FN("setRngState", SetRngState);
  FN("setNumThreads", SetNumThreads);
  FN("getNumThreads", GetNumThreads);
  FN("liveTensors", LiveTensors);
  FN("cpuMemory", CpuMemory);
  FN("emptyCache", EmptyCache);
  FN("watchInterrupts", WatchInterrupts);
  FN("interrupts", Interrupts);
  FN("setBlasThreads", SetBlasThreads);
  FN("info", Info);
#ifdef LOOM_DIST
  FN("distInit", DistInit);
  FN("distAllReduce", DistAllReduce);
  FN("distBroadcast", DistBroadcast);
  FN("distBarrier", DistBarrier);
  FN("distClose", DistClose);
#ifdef LOOM_REDUCER
  FN("distReducer", DistReducer);
  FN("distReducerPrepare", DistReducerPrepare);
  FN("distReducerClose", DistReducerClose);
#endif
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(loom, Init)
