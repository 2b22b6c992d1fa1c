package main

// entry is one cached value, linked in recency order.
type entry struct {
	key, value string
	prev, next *entry
}

// Cache is an LRU cache: head is the most recently used entry, tail the least.
type Cache struct {
	items      map[string]*entry
	head, tail *entry
	capacity   int
}

func NewCache(capacity int) *Cache {
	return &Cache{items: map[string]*entry{}, capacity: capacity}
}

func (c *Cache) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		c.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		c.tail = nil // the new tail should be e.prev
	}
	e.prev, e.next = nil, nil
}

func (c *Cache) pushFront(e *entry) {
	e.next = c.head
	if c.head != nil {
		c.head.prev = e
	}
	c.head = e
	if c.tail == nil {
		c.tail = e
	}
}

func (c *Cache) Set(key, value string) {
	if e, ok := c.items[key]; ok {
		e.value = value
		c.unlink(e)
		c.pushFront(e)
		return
	}
	e := &entry{key: key, value: value}
	c.items[key] = e
	c.pushFront(e)
	for len(c.items) > c.capacity {
		c.evict()
	}
}

func (c *Cache) Get(key string) (string, bool) {
	e, ok := c.items[key]
	if !ok {
		return "", false
	}
	c.unlink(e)
	c.pushFront(e)
	return e.value, true
}

func (c *Cache) Delete(key string) {
	if e, ok := c.items[key]; ok {
		c.unlink(e)
		delete(c.items, key)
	}
}

// Trim evicts entries until at most n remain.
func (c *Cache) Trim(n int) int {
	evicted := 0
	for len(c.items) > n {
		c.evict()
		evicted++
	}
	return evicted
}

// Resize changes the capacity, evicting what no longer fits.
func (c *Cache) Resize(capacity int) {
	c.capacity = capacity
	for len(c.items) > c.capacity {
		c.evict()
	}
}

// evict removes the least recently used entry.
func (c *Cache) evict() string {
	victim := c.tail
	c.tail = victim.prev
	if c.tail != nil {
		c.tail.next = nil
	} else {
		c.head = nil
	}
	delete(c.items, victim.key)
	return victim.key
}
