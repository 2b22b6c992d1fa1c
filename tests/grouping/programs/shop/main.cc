// shop: a shop session driven by commands on stdin.
//
//   item SKU PRICE NAME | discontinue SKU | customer ID NAME DISCOUNT
//   add SKU QTY | remove SKU QTY | inventory | checkout [CUSTOMER_ID]
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "cart.hh"
#include "catalog.hh"
#include "order.hh"

namespace {

struct Session {
	shop::Catalog catalog;
	shop::Cart cart{catalog};
	std::map<int, shop::Customer> customers;
};

const shop::Customer *customer_of(const Session &s, std::istringstream &in)
{
	int id = 0;
	if (!(in >> id))
		return nullptr; // a guest
	auto it = s.customers.find(id);
	return it == s.customers.end() ? nullptr : &it->second;
}

void command(Session &s, const std::string &verb, std::istringstream &in)
{
	std::string sku, name, price;
	int n = 0;
	if (verb == "item" && in >> sku >> price >> name)
		s.catalog.add(sku, name, shop::parse_price(price));
	else if (verb == "discontinue" && in >> sku)
		s.catalog.discontinue(sku);
	else if (verb == "customer" && in >> n >> name) {
		int discount = 0;
		in >> discount;
		s.customers[n] = shop::Customer{n, name, discount};
	} else if (verb == "add" && in >> sku >> n)
		s.cart.add(sku, n);
	else if (verb == "remove" && in >> sku >> n)
		s.cart.remove(sku, n);
	else if (verb == "inventory")
		std::printf("%zu items worth %ld cents\n", s.catalog.size(), s.catalog.total());
	else if (verb == "checkout")
		shop::checkout(customer_of(s, in), s.cart);
}

} // namespace

int main()
{
	Session s;
	std::string line;
	while (std::getline(std::cin, line)) {
		std::istringstream in(line);
		std::string verb;
		if (in >> verb)
			command(s, verb, in);
	}
	return 0;
}
