// A member function whose throw GCC moves to a cold part at -O2 (`app::Config::load(...)
// [clone .cold]`): the uncaught exception aborts with that part on the stack. Its frame must
// carry the function's qualified name, as gdb shows it, not the DWARF DIE's bare `load`.
#include <stdexcept>
#include <string>

namespace app {
struct Config {
	int entries = 0;
	void load(const std::string &text);
};

void
Config::load(const std::string &text)
{
	for (char c : text) {
		if (c == '\n')
			entries++;
		else if (c == '!')
			throw std::runtime_error("syntax error in config");
	}
}
}  // namespace app

int
main(int argc, char **argv)
{
	app::Config config;
	config.load(argc > 1 ? argv[1] : "a=1\n!");
	return config.entries;
}
