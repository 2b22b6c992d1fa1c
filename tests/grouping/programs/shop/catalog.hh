// shop: the catalog of items, by SKU.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace shop {

struct Item {
	std::string sku;
	std::string name;
	long price_cents;
	bool discontinued = false;
};

class Catalog {
public:
	void add(const std::string &sku, const std::string &name, long price_cents);
	void discontinue(const std::string &sku);
	const Item *find(const std::string &sku) const;
	long total() const;
	size_t size() const { return items_.size(); }

private:
	std::vector<Item *> items_;
	std::map<std::string, size_t> index_;
};

long parse_price(const std::string &text);

} // namespace shop
