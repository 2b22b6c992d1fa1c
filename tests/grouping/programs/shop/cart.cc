// shop: adding to and removing from a cart.
#include "cart.hh"

#include <cstdio>

namespace shop {

Line *Cart::find_line(const std::string &sku)
{
	for (Line &line : lines_)
		if (line.item->sku == sku)
			return &line;
	return nullptr;
}

void Cart::add(const std::string &sku, int quantity)
{
	const Item *item = catalog_.find(sku);
	if (item->discontinued) {
		std::fprintf(stderr, "%s is discontinued\n", sku.c_str());
		return;
	}
	if (Line *line = find_line(sku))
		line->quantity += quantity;
	else
		lines_.push_back(Line{item, quantity});
}

void Cart::remove(const std::string &sku, int quantity)
{
	Line *line = find_line(sku);
	line->quantity -= quantity;
	if (line->quantity <= 0)
		lines_.erase(lines_.begin() + (line - lines_.data()));
}

long Cart::total() const
{
	long sum = 0;
	for (const Line &line : lines_)
		sum += line.item->price_cents * line.quantity;
	return sum;
}

} // namespace shop
