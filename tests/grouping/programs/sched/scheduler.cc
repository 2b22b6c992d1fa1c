// sched: running and purging tasks.
#include <cstdio>

#include "task.hh"

namespace sched {

void Scheduler::tick(long now)
{
	for (Task *task : tasks_) {
		if (!task->run(now))
			for (auto &hook : hooks_)
				hook(*task);
	}
}

void Scheduler::purge()
{
	for (auto it = tasks_.begin(); it != tasks_.end(); ++it) {
		if ((*it)->cancelled) {
			delete *it;
			tasks_.erase(it);
		}
	}
}

} // namespace sched
