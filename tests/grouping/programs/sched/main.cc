// sched: a configuration, then task commands, read from stdin; a blank line separates them.
//
//   periodic ID PERIOD | oneshot ID AT | selfdelete ID AT | cancel ID | trace ID
//   tick NOW | purge
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "task.hh"

namespace {

std::string read_config()
{
	std::string text, line;
	while (std::getline(std::cin, line) && !line.empty())
		text += line + "\n";
	return text;
}

void command(sched::Scheduler &s, std::map<int, sched::Task *> &byid, const std::string &verb,
	     long a, long b)
{
	sched::Task *t = nullptr;
	if (verb == "periodic")
		t = new sched::Periodic(static_cast<int>(a), b);
	else if (verb == "oneshot" || verb == "selfdelete")
		t = new sched::OneShot(static_cast<int>(a), b, verb == "selfdelete");
	else if (verb == "cancel" && byid.count(static_cast<int>(a)))
		byid[static_cast<int>(a)]->cancelled = true;
	else if (verb == "trace" && byid.count(static_cast<int>(a)))
		byid[static_cast<int>(a)]->traced = true;
	else if (verb == "tick")
		s.tick(a);
	else if (verb == "purge")
		s.purge();
	if (t) {
		byid[t->id()] = t;
		s.add(t);
	}
}

} // namespace

int main()
{
	sched::Config config;
	config.load(read_config());
	long max_tasks = config.get("max_tasks");
	sched::Scheduler s;
	long finished = 0;
	s.on_finish([&finished](sched::Task &t) {
		finished++;
		std::fprintf(stderr, "finished %d\n", t.id());
	});
	std::map<int, sched::Task *> byid;
	std::string line;
	while (std::getline(std::cin, line) && static_cast<long>(s.size()) <= max_tasks) {
		std::istringstream in(line);
		std::string verb;
		long a = 0, b = 0;
		if (in >> verb) {
			in >> a >> b;
			command(s, byid, verb, a, b);
		}
	}
	std::printf("%ld finished\n", finished);
	return 0;
}
