// shop: a cart of lines (item, quantity).
#pragma once

#include <string>
#include <vector>

#include "catalog.hh"

namespace shop {

struct Line {
	const Item *item;
	int quantity;
};

class Cart {
public:
	explicit Cart(const Catalog &catalog) : catalog_(catalog) {}
	void add(const std::string &sku, int quantity);
	void remove(const std::string &sku, int quantity);
	long total() const;

private:
	Line *find_line(const std::string &sku);
	const Catalog &catalog_;
	std::vector<Line> lines_;
};

} // namespace shop
