// cxx-pure-virtual: a base constructor reaches a pure virtual method through a helper.
struct Shape {
	Shape() { describe(); }
	void describe() { area(); }
	virtual double area() = 0;
	virtual ~Shape() {}
};

struct Square : Shape {
	double area() override { return 4.0; }
};

int
main()
{
	Square s;
	return (int)s.area();
}
