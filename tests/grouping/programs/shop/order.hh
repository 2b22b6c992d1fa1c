// shop: an order made from a cart at checkout.
#pragma once

#include <string>

#include "cart.hh"

namespace shop {

struct Customer {
	int id;
	std::string name;
	int discount_pct;
};

class Order {
public:
	Order(const Customer *customer, const Cart &cart)
		: customer_id_(customer->id), discount_pct_(customer->discount_pct),
		  subtotal_(cart.total())
	{
	}
	long total() const { return subtotal_ - subtotal_ * discount_pct_ / 100; }
	int customer_id() const { return customer_id_; }

private:
	int customer_id_;
	int discount_pct_;
	long subtotal_;
};

Order checkout(const Customer *customer, const Cart &cart);

} // namespace shop
