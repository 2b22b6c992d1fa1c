// sched: "key = value" configuration.
#include <sstream>

#include "task.hh"

namespace sched {

void Config::load(const std::string &text)
{
	std::istringstream in(text);
	std::string line;
	while (std::getline(in, line)) {
		if (line.empty() || line[0] == '#')
			continue;
		auto eq = line.find('=');
		if (eq == std::string::npos)
			throw ConfigError(line);
		std::string key = line.substr(0, line.find_last_not_of(' ', eq - 1) + 1);
		values_[key] = std::stol(line.substr(eq + 1));
	}
}

long Config::get(const std::string &key) const
{
	return values_.at(key);
}

} // namespace sched
