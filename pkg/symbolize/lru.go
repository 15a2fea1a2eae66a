package symbolize

import "container/list"

// lru is a map that forgets its least recently used entries beyond a
// capacity, or beyond a total weight (the values' sizes).
type lru[K comparable, V any] struct {
	capacity  int
	maxWeight int
	weight    int
	order     *list.List // of *lruEntry, most recent first
	items     map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key    K
	value  V
	weight int
}

func newLRU[K comparable, V any](capacity, maxWeight int) *lru[K, V] {
	return &lru[K, V]{capacity: capacity, maxWeight: maxWeight, order: list.New(), items: map[K]*list.Element{}}
}

// get returns the value of key, now the most recently used.
func (c *lru[K, V]) get(key K) (V, bool) {
	e, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[K, V]).value, true
}

// put stores value of weight under key, then evicts the least recently
// used entries while the cache is over its bounds (never the new one).
func (c *lru[K, V]) put(key K, value V, weight int) {
	c.remove(key)
	c.items[key] = c.order.PushFront(&lruEntry[K, V]{key, value, weight})
	c.weight += weight
	for c.order.Len() > 1 && (c.order.Len() > c.capacity || c.weight > c.maxWeight) {
		c.remove(c.order.Back().Value.(*lruEntry[K, V]).key)
	}
}

func (c *lru[K, V]) remove(key K) {
	if e, ok := c.items[key]; ok {
		c.weight -= e.Value.(*lruEntry[K, V]).weight
		c.order.Remove(e)
		delete(c.items, key)
	}
}

func (c *lru[K, V]) len() int { return c.order.Len() }
