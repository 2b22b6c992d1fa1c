// sched: the tasks.
#include <cstdio>

#include "task.hh"

namespace sched {

Task::~Task()
{
	if (traced)
		log_end();
}

void Task::log_end() const
{
	std::fprintf(stderr, "task %d (%s) ended\n", id_, name());
}

bool Periodic::run(long now)
{
	runs_++;
	return now < 100 * period_;
}

bool OneShot::run(long now)
{
	if (now < at_)
		return true;
	if (self_delete_)
		delete this; // but the scheduler still holds it
	return false;
}

} // namespace sched
