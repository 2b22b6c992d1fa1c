// shop: checkout.
#include "order.hh"

#include <cstdio>

namespace shop {

Order checkout(const Customer *customer, const Cart &cart)
{
	Order order(customer, cart);
	std::printf("order for customer %d: %ld cents\n", order.customer_id(), order.total());
	return order;
}

} // namespace shop
