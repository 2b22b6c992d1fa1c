// shop: the catalog; a discontinued item's slot is emptied (its index entry stays).
#include "catalog.hh"

#include <cmath>
#include <string>

namespace shop {

void Catalog::add(const std::string &sku, const std::string &name, long price_cents)
{
	index_[sku] = items_.size();
	items_.push_back(new Item{sku, name, price_cents});
}

void Catalog::discontinue(const std::string &sku)
{
	auto it = index_.find(sku);
	if (it == index_.end())
		return;
	delete items_[it->second];
	items_[it->second] = nullptr;
}

const Item *Catalog::find(const std::string &sku) const
{
	auto it = index_.find(sku);
	return it == index_.end() ? nullptr : items_[it->second];
}

long Catalog::total() const
{
	long sum = 0;
	for (const Item *item : items_)
		sum += item->price_cents;
	return sum;
}

long parse_price(const std::string &text)
{
	double value = std::stod(text);
	return std::lround(value * 100);
}

} // namespace shop
