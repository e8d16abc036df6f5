// A non-owning reference to a callable (as std::function_ref of C++26, P0792). The integrators take
// their right-hand side and observer this way: any lambda or functor binds without a heap
// allocation, and the stepping code stays in src/ instead of in templates in the headers.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace lrnn {

template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  /// An empty reference; calling it is undefined, test it with operator bool.
  FunctionRef() = default;

  /// Refers to f, which must outlive every call (a temporary lives to the end of the full
  /// expression, so `solve([&](...) {...}, ...)` is fine).
  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> &&
           std::is_invocable_r_v<R, F&, Args...>) FunctionRef(F&& f)
  noexcept  // NOLINT(google-explicit-constructor): binds like a reference
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_(&invoke<std::remove_reference_t<F>>) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }
  explicit operator bool() const { return call_ != nullptr; }

 private:
  template <typename F>
  static R invoke(void* object, Args... args) {
    return (*static_cast<F*>(object))(std::forward<Args>(args)...);
  }

  void* object_ = nullptr;
  R (*call_)(void*, Args...) = nullptr;
};

}  // namespace lrnn
