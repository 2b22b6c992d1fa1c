// cxx-uncaught-exception: a std::runtime_error nobody catches.
#include <stdexcept>
#include <string>

static int
parse_port(const std::string &text)
{
	if (text.empty())
		throw std::runtime_error("empty port");
	return std::stoi(text);
}

int
main()
{
	return parse_port("");
}
