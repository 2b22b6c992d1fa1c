// sched: tasks and the scheduler that runs them.
#pragma once

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace sched {

class Task {
public:
	explicit Task(int id) : id_(id) {}
	virtual ~Task();
	virtual const char *name() const = 0;
	virtual bool run(long now) = 0; // false: finished
	int id() const { return id_; }
	bool cancelled = false;
	bool traced = false; // log the end of the task

protected:
	void log_end() const;

private:
	int id_;
};

class Periodic : public Task {
public:
	Periodic(int id, long period) : Task(id), period_(period) {}
	const char *name() const override { return "periodic"; }
	bool run(long now) override;

private:
	long period_;
	long runs_ = 0;
};

class OneShot : public Task {
public:
	OneShot(int id, long at, bool self_delete) : Task(id), at_(at), self_delete_(self_delete) {}
	const char *name() const override { return "oneshot"; }
	bool run(long now) override;

private:
	long at_;
	bool self_delete_;
};

class Scheduler {
public:
	void add(Task *task) { tasks_.push_back(task); }
	void on_finish(std::function<void(Task &)> hook) { hooks_.push_back(std::move(hook)); }
	void tick(long now);
	void purge();
	size_t size() const { return tasks_.size(); }

private:
	std::list<Task *> tasks_;
	std::vector<std::function<void(Task &)>> hooks_;
};

class ConfigError : public std::runtime_error {
public:
	ConfigError(const std::string &line) : std::runtime_error("bad config line: " + line) {}
};

class Config {
public:
	void load(const std::string &text);
	long get(const std::string &key) const;

private:
	std::map<std::string, long> values_;
};

} // namespace sched
