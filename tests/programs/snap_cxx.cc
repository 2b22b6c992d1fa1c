// C++ crash through a namespace, a class method, a template and a lambda (snapshot tests).
#include <cstdio>
#include <string>
#include <vector>

namespace shapes {

struct Widget {
    int id;
    std::string label;
    int *slot;

    __attribute__((noinline)) int explode(int factor)
    {
        int scaled = id * factor;
        const char *name = label.c_str();
        *slot = scaled;  // slot is NULL: SIGSEGV
        std::printf("%s %d\n", name, scaled);
        return scaled;
    }
};

template <typename T>
__attribute__((noinline)) int apply_all(std::vector<T> &items, int factor)
{
    int total = 0;
    for (auto &item : items)
        total += item.explode(factor);
    return total;
}

}  // namespace shapes

int main(int argc, char **argv)
{
    std::vector<shapes::Widget> widgets;
    widgets.push_back(shapes::Widget{17, "first widget", nullptr});
    auto run = [&](int factor) { return shapes::apply_all(widgets, factor); };
    int result = run(argc + 2);
    std::printf("%d %s\n", result, argv[0]);
    return 0;
}
