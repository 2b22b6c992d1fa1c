// C++ at -O2 where the crash is in inlined code: a template member, a constructor, a lambda
// behind std::function, in namespaces (qualified inline frame names, snapshot tests).
// argv[1] picks the crash: "total" (default), "ctor", "lambda".
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace shop {

template <typename T>
struct Catalog {
    std::vector<T *> items;
    T total() const
    {
        T sum = 0;
        for (auto *p : items)
            sum += *p;  // a null item: SIGSEGV
        return sum;
    }
};

struct Widget {
    int *slot;
    std::string label;
    Widget(int *where, const char *name) : slot(where), label(name)
    {
        *slot = static_cast<int>(label.size());  // where is NULL: SIGSEGV
    }
};

namespace detail {
static int run(std::function<int()> f) { return f(); }
}  // namespace detail

}  // namespace shop

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "total";
    std::map<std::string, int> seen{{which, argc}};
    shop::Catalog<int> catalog;
    catalog.items.push_back(&seen.begin()->second);
    catalog.items.push_back(nullptr);
    if (std::strcmp(which, "ctor") == 0) {
        shop::Widget w(nullptr, which);
        std::printf("%s\n", w.label.c_str());
    }
    if (std::strcmp(which, "lambda") == 0) {
        int *target = argc > 5 ? &seen.begin()->second : nullptr;
        return shop::detail::run([&] { return *target + argc; });
    }
    return shop::detail::run([&] { return catalog.total(); });
}
