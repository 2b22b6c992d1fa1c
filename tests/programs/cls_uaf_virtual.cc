// use-after-free through a C++ object: a virtual call on a deleted object loads the vtable
// pointer from the freed block, where glibc's tcache has stored its safe-linked `next`.
#include <cstdio>

struct Handler {
	virtual ~Handler() {}
	virtual int handle(int v) { return v + 1; }
};

static int
dispatch(Handler *h, int v)
{
	return h->handle(v);
}

int
main()
{
	Handler *h = new Handler();
	delete h;
	std::printf("%d\n", dispatch(h, 1));
	return 0;
}
