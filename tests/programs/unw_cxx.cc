// C++ frames for the unwinder tests: namespaces, classes, a template, an anonymous namespace,
// a static member function and a virtual call, ending in a null write.
#include <cstdio>
#include <cstdlib>

volatile int *volatile null_pointer;

namespace {
__attribute__((noinline)) void hidden_helper(int depth) { *null_pointer = depth; }
}  // namespace

namespace app {
namespace detail {
template <typename T>
__attribute__((noinline)) T twice(T value) {
    hidden_helper(static_cast<int>(value));
    return value * 2;
}
}  // namespace detail

struct Base {
    virtual ~Base() = default;
    virtual int step(int x) = 0;
};

class Engine : public Base {
   public:
    __attribute__((noinline)) int step(int x) override { return detail::twice<long>(x) + 1; }
    __attribute__((noinline)) static int start(Base &b, int x) { return b.step(x + 1) * 3; }
};
}  // namespace app

int main(int argc, char **) {
    app::Engine engine;
    return app::Engine::start(engine, argc) == 7;
}
